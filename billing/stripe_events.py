"""Incoming Stripe events (what the webhook endpoint stored): event type -> handler, and the processing of one stored event.

Handlers do not trust the event's copy of an object for state: they re-read the subscription from
Stripe and apply that (the newest state), so the order events arrive in does not matter. Where
Stripe no longer has the object, the event's own copy is applied with the event's time, which the
subscription row only accepts if it is newer than what it holds.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import StripeEvent, Subscription
from .services import checkout_session_apply, invoice_record, invoice_subscription_id, subscription_apply, subscription_refresh
from .stripe_client import StripeRejectedError, SubscriptionSnapshot

logger = logging.getLogger(__name__)


def _subscription_from_stripe(subscription_id: str, *, fallback: dict | None, event_created: datetime) -> Subscription | None:
    try:
        return subscription_refresh(subscription_id=subscription_id)
    except StripeRejectedError:
        if fallback is None:
            raise
        logger.warning("subscription %s is gone from Stripe: applying the event's copy", subscription_id)
        return subscription_apply(snapshot=SubscriptionSnapshot.of(fallback), observed_at=event_created)


def _on_checkout_completed(obj: dict, event_created: datetime) -> None:
    if obj.get("mode") == "subscription":
        checkout_session_apply(session=obj, observed_at=timezone.now())


def _on_subscription_changed(obj: dict, event_created: datetime) -> None:
    _subscription_from_stripe(obj["id"], fallback=obj, event_created=event_created)


def _on_invoice(obj: dict, event_created: datetime) -> None:
    """invoice.paid extends the period, invoice.payment_failed starts the grace period: both are
    the subscription's state, read from Stripe; the invoice itself is kept once per id."""
    invoice_record(invoice=obj)
    subscription_id = invoice_subscription_id(obj)
    if subscription_id:
        _subscription_from_stripe(subscription_id, fallback=None, event_created=event_created)


HANDLERS: dict[str, Callable[[dict, datetime], None]] = {
    "checkout.session.completed": _on_checkout_completed,
    "customer.subscription.created": _on_subscription_changed,
    "customer.subscription.updated": _on_subscription_changed,
    "customer.subscription.deleted": _on_subscription_changed,
    "customer.subscription.paused": _on_subscription_changed,
    "customer.subscription.resumed": _on_subscription_changed,
    "invoice.paid": _on_invoice,
    "invoice.payment_failed": _on_invoice,
}


def stripe_event_process(*, event_id: str) -> str:
    """Apply one stored event, once. Returns the event's status afterwards.

    The row is locked while it is applied (a second worker with the same event skips it) and marked
    processed in the same transaction as the changes it made. Any other error (Stripe unreachable)
    rolls the changes back, marks the event failed and propagates, so the task retries it.
    """
    try:
        return _event_apply(event_id)
    except Exception as exc:
        StripeEvent.objects.filter(pk=event_id, status__in=[StripeEvent.Status.RECEIVED, StripeEvent.Status.FAILED]).update(
            status=StripeEvent.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:255], attempts=F("attempts") + 1
        )
        raise


@transaction.atomic
def _event_apply(event_id: str) -> str:
    event = StripeEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
    if event is None or event.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED):
        return event.status if event else "busy or missing"
    handler = HANDLERS.get(event.type)
    event.attempts += 1
    if handler is None:
        event.status, event.error = StripeEvent.Status.IGNORED, ""
    else:
        try:
            with transaction.atomic():  # a refusal half-way leaves nothing half-applied
                handler(event.payload.get("data", {}).get("object", {}), event.created)
        except StripeRejectedError as exc:  # Stripe says no (e.g. unknown object): retrying will not help
            event.status, event.error = StripeEvent.Status.FAILED, str(exc)[:255]
        else:
            event.status, event.error = StripeEvent.Status.PROCESSED, ""
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "attempts", "processed_at"])
    return event.status
