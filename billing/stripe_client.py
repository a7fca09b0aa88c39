"""The only module that imports `stripe`: calls through the official library, answers as plain dicts.

A client is built per call from settings (key, API base, timeout), so tests can point it at a local
fake and operators can rotate keys without a restart. Every create carries an idempotency key the
caller derives from its own durable row, so a retried request gets Stripe's first answer back
instead of a second object. Errors become two kinds the rest of the code understands: Stripe could
not be reached or failed on its side (try again later), or it refused the request.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings


class StripeUnavailableError(Exception):
    """Stripe could not be reached, timed out, throttled us or failed on its side: nothing was done."""


class StripeRejectedError(Exception):
    """Stripe refused the request (bad parameters, unknown object, bad key)."""


class WebhookSignatureError(Exception):
    """The payload is not a Stripe event signed with our endpoint secret (or is too old)."""


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """The parts of a Stripe subscription object the product acts on."""

    id: str
    customer_id: str
    status: str  # Stripe's word: active, trialing, past_due, unpaid, canceled, incomplete, ...
    price_id: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    metadata: dict[str, str]
    # When Stripe created the subscription (never changes): of a customer's subscriptions, the one
    # created last is the one the account follows.
    created: datetime | None = None

    @classmethod
    def of(cls, subscription: dict) -> "SubscriptionSnapshot":
        # Since API 2025-03-31 the period lives on the items, not on the subscription.
        items = (subscription.get("items") or {}).get("data") or [{}]
        period_end = items[0].get("current_period_end") or subscription.get("current_period_end")
        customer = subscription.get("customer")
        created = subscription.get("created")
        return cls(
            id=subscription["id"],
            customer_id=customer["id"] if isinstance(customer, dict) else (customer or ""),
            status=subscription.get("status") or "",
            price_id=(items[0].get("price") or {}).get("id", ""),
            current_period_end=datetime.fromtimestamp(period_end, UTC) if period_end else None,
            cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
            metadata=dict(subscription.get("metadata") or {}),
            created=datetime.fromtimestamp(created, UTC) if isinstance(created, int | float) else None,
        )


def configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def livemode() -> bool:
    """Live keys start with sk_live_/rk_live_; events of the other mode are not ours."""
    return "_live_" in settings.STRIPE_SECRET_KEY


def _client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        # The library retries network errors and 409/429/5xx itself, with the same idempotency key.
        max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


def _call(method, *args: Any, **kwargs: Any) -> dict:
    try:
        return method(*args, **kwargs).to_dict()
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise StripeUnavailableError(f"Stripe could not be reached ({type(exc).__name__})") from exc
    except stripe.StripeError as exc:
        if exc.http_status is not None and exc.http_status >= 500:
            raise StripeUnavailableError(f"Stripe failed on its side (HTTP {exc.http_status})") from exc
        raise StripeRejectedError(exc.user_message or str(exc)) from exc


def customer_create(*, email: str, name: str, user_id: int, idempotency_key: str) -> dict:
    params = {"email": email, "name": name, "metadata": {"user_id": str(user_id)}}
    return _call(_client().v1.customers.create, params, {"idempotency_key": idempotency_key})


def checkout_session_create(
    *, customer_id: str, price_id: str, success_url: str, cancel_url: str, user_id: int, plan: str, idempotency_key: str
) -> dict:
    metadata = {"user_id": str(user_id), "plan": plan}
    params = {
        "mode": "subscription",
        "customer": customer_id,
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": str(user_id),
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
    }
    return _call(_client().v1.checkout.sessions.create, params, {"idempotency_key": idempotency_key})


def checkout_session_retrieve(session_id: str) -> dict:
    """The session with its subscription expanded (the state to apply once it is complete)."""
    return _call(_client().v1.checkout.sessions.retrieve, session_id, {"expand": ["subscription"]})


def portal_session_create(*, customer_id: str, return_url: str, idempotency_key: str) -> dict:
    params = {"customer": customer_id, "return_url": return_url}
    return _call(_client().v1.billing_portal.sessions.create, params, {"idempotency_key": idempotency_key})


def subscription_retrieve(subscription_id: str) -> SubscriptionSnapshot:
    return SubscriptionSnapshot.of(_call(_client().v1.subscriptions.retrieve, subscription_id))


def event_construct(*, payload: bytes, signature: str) -> dict:
    """Verify the signature over the raw bytes (Stripe's default 300 s tolerance) and return the event."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        # An empty secret would let anyone sign: refuse everything until one is set.
        raise WebhookSignatureError("webhooks are not configured on this site (STRIPE_WEBHOOK_SECRET is empty)")
    try:
        stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureError("the Stripe-Signature header does not match this payload or is too old") from exc
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # signed, but not a JSON event object
        raise WebhookSignatureError("the body is not a Stripe event") from exc
    # The verified bytes as plain JSON (the library's objects turn some amounts into Decimal).
    return json.loads(payload)
