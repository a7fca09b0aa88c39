"""Celery tasks of the billing app: thin wrappers around services."""

import logging
from dataclasses import asdict

from celery import shared_task

from .services import stripe_reconcile as stripe_reconcile_run
from .stripe_client import StripeUnavailableError
from .stripe_events import stripe_event_process as stripe_event_apply

logger = logging.getLogger(__name__)


@shared_task(name="billing.tasks.stripe_event_process", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def stripe_event_process(event_id: str) -> str:
    """Apply one stored Stripe event; a repeat (redelivery, duplicate webhook) is a no-op. When
    Stripe cannot be reached the event stays failed and the reconciler enqueues it again (no
    countdown here: a delayed message on Redis is redelivered once the visibility timeout passes)."""
    try:
        return stripe_event_apply(event_id=event_id)
    except StripeUnavailableError as exc:
        logger.warning("Stripe event %s not applied yet: %s", event_id, exc)
        return "failed"


@shared_task(name="billing.tasks.stripe_reconcile", acks_late=True)
def stripe_reconcile() -> dict:
    """Beat, every 5 minutes: re-run lost or failed event processing, re-read subscriptions due a change."""
    return asdict(stripe_reconcile_run())
