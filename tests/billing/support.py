"""Helpers of the billing tests: settings for a worker, signed deliveries, a paying customer."""

import json

from django.urls import reverse

from billing.models import StripeCustomer, StripeEvent
from billing.stripe_events import stripe_event_process
from tests.fakes.stripe import FakeStripe
from tests.fakes.stripe_signing import signed_headers

WEBHOOK_SECRET = "whsec_test_secret"
WEBHOOK_PATH = "/billing/stripe/webhook/"


def stripe_env(fake: FakeStripe) -> dict[str, str]:
    """The same, for a worker or server process."""
    return {
        "STRIPE_SECRET_KEY": fake.api_key,
        "STRIPE_API_BASE": fake.url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_PREMIUM_PRICE_ID": fake.price_id,
    }


def post_event(client, event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """Deliver an event to the webhook view as Stripe would (pretty-printed, signed)."""
    payload = json.dumps(event, indent=2).encode()
    headers = signed_headers(payload, secret, timestamp)
    return client.post(
        reverse("billing:stripe_webhook"), data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"]
    )


def process_received() -> list[str]:
    """Apply the stored events in arrival order, as the worker would (the task is a thin wrapper)."""
    pending = StripeEvent.objects.filter(status=StripeEvent.Status.RECEIVED).order_by("received_at").values_list("id", flat=True)
    return [stripe_event_process(event_id=event_id) for event_id in list(pending)]


def paying_customer(fake: FakeStripe, user, *, status: str = "active") -> dict:
    """A user who already subscribed: a customer of ours and a subscription at Stripe."""
    customer = fake.customer_create(email=user.email, metadata={"user_id": str(user.pk)})
    StripeCustomer.objects.create(user=user, customer_id=customer["id"])
    return fake.subscription_create(customer["id"], status=status, metadata={"user_id": str(user.pk), "plan": "premium"})
