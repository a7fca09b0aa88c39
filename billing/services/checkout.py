"""Checkout and the customer portal: a user's Stripe customer, the sessions that sell a plan, and
their confirmation on return (nothing is recorded about a subscription before Stripe confirms it)."""

import logging
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from .. import stripe_client
from ..entitlements import subscription_entitled
from ..models import CheckoutAttempt, Plan, StripeCustomer, Subscription
from ..selectors import plan_price_id
from ..stripe_client import StripeRejectedError, StripeUnavailableError, SubscriptionSnapshot
from .errors import BillingError, BillingUnavailableError
from .subscriptions import int_or_none, subscription_apply

logger = logging.getLogger(__name__)

# A checkout link is reused for a repeated click this long (Stripe keeps sessions for 24 h).
CHECKOUT_REUSE = timedelta(hours=1)


def _unavailable(exc: Exception) -> BillingUnavailableError:
    logger.warning("Stripe call failed: %s", exc)
    return BillingUnavailableError("Payments are unavailable right now: nothing was charged. Please try again in a few minutes.")


def _customer_id_for(user) -> str:
    """The user's Stripe customer, created once (a retry after a lost answer gets the same one back)."""
    known = StripeCustomer.objects.filter(user=user).values_list("customer_id", flat=True).first()
    if known:
        return known
    customer = stripe_client.customer_create(
        email=user.email, name=user.get_full_name() or user.username, user_id=user.pk, idempotency_key=f"customer-{user.pk}"
    )
    StripeCustomer.objects.get_or_create(user=user, defaults={"customer_id": customer["id"]})
    return customer["id"]


def checkout_start(*, user, plan: Plan, success_url: str, cancel_url: str) -> str:
    """The Stripe Checkout URL where `user` subscribes to `plan`.

    A repeated click within the hour gets the same session; a click that failed (Stripe down)
    is retried with the same idempotency key, so Stripe never holds two sessions for one intent.
    Nothing about the subscription is recorded here: that waits for Stripe's confirmation.
    """
    if not stripe_client.configured():
        raise BillingUnavailableError("Payments are not set up on this site yet.")
    price_id = plan_price_id(plan)
    if not price_id:
        raise BillingError(f"The {plan.name} plan is not sold online.")
    current = Subscription.objects.filter(user=user).select_related("plan").first()
    if current is not None and subscription_entitled(current) and current.plan_id == plan.pk:
        raise BillingError(f"You are already on {plan.name}.")
    attempt = (
        CheckoutAttempt.objects.filter(
            user=user, plan=plan, price_id=price_id, status=CheckoutAttempt.Status.OPEN, created_at__gte=timezone.now() - CHECKOUT_REUSE
        )
        .order_by("-created_at")
        .first()
    )
    if attempt is not None and attempt.url:
        return attempt.url
    if attempt is None:
        attempt = CheckoutAttempt.objects.create(user=user, plan=plan, price_id=price_id)
    try:
        customer_id = _customer_id_for(user)
        session = stripe_client.checkout_session_create(
            customer_id=customer_id,
            price_id=price_id,
            success_url=success_url,
            cancel_url=cancel_url,
            user_id=user.pk,
            plan=plan.slug,
            idempotency_key=f"checkout-session-{attempt.pk}",
        )
    except StripeUnavailableError as exc:
        raise _unavailable(exc) from exc
    except StripeRejectedError as exc:
        logger.error("Stripe refused a checkout for user %s: %s", user.pk, exc)
        raise BillingError("Checkout could not be opened; the team has been told. Nothing was charged.") from exc
    attempt.stripe_session_id = session["id"]
    attempt.url = session["url"]
    attempt.save(update_fields=["stripe_session_id", "url"])
    return session["url"]


def checkout_confirm(*, user, session_id: str) -> Subscription | None:
    """On return from Checkout: if Stripe says the session is paid, apply its subscription now
    (the webhook will say the same later). None when Stripe has not confirmed (yet)."""
    attempt = CheckoutAttempt.objects.filter(user=user, stripe_session_id=session_id).first()
    if attempt is None or not stripe_client.configured():
        return None
    observed_at = timezone.now()
    try:
        session = stripe_client.checkout_session_retrieve(session_id)
    except (StripeUnavailableError, StripeRejectedError) as exc:
        logger.warning("checkout %s not confirmed on return: %s", session_id, exc)
        return None
    return checkout_session_apply(session=session, observed_at=observed_at)


def checkout_session_apply(*, session: dict, observed_at: datetime) -> Subscription | None:
    user_id = int_or_none(session.get("client_reference_id"))
    if session.get("status") != "complete" or user_id is None:
        return None
    CheckoutAttempt.objects.filter(stripe_session_id=session["id"]).update(status=CheckoutAttempt.Status.COMPLETE)
    subscription = session.get("subscription")
    if isinstance(subscription, dict):
        snapshot = SubscriptionSnapshot.of(subscription)
    elif subscription:
        snapshot = stripe_client.subscription_retrieve(subscription)
    else:
        return None
    if snapshot.customer_id and get_user_model().objects.filter(pk=user_id).exists():
        StripeCustomer.objects.get_or_create(user_id=user_id, defaults={"customer_id": snapshot.customer_id})
    return subscription_apply(snapshot=snapshot, observed_at=observed_at, user_id=user_id)


def portal_start(*, user, return_url: str) -> str:
    """A Customer Portal link (change card, see invoices, cancel) for a user who has paid before."""
    customer_id = StripeCustomer.objects.filter(user=user).values_list("customer_id", flat=True).first()
    if not customer_id:
        raise BillingError("There is no billing account to manage yet.")
    if not stripe_client.configured():
        raise BillingUnavailableError("Payments are not set up on this site yet.")
    try:
        # One key per click: the library's own retries reuse it.
        session = stripe_client.portal_session_create(
            customer_id=customer_id, return_url=return_url, idempotency_key=f"portal-{user.pk}-{timezone.now().timestamp():.6f}"
        )
    except StripeUnavailableError as exc:
        raise _unavailable(exc) from exc
    except StripeRejectedError as exc:
        logger.error("Stripe refused a portal session for user %s: %s", user.pk, exc)
        raise BillingError("The billing portal could not be opened; the team has been told.") from exc
    return session["url"]
