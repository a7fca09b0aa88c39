"""The reconciler: lost or failed event processing enqueued again, and subscriptions due a change
re-read from Stripe, so a missed webhook never leaves an account wrong."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from .. import dispatch, stripe_client
from ..models import StripeEvent, Subscription
from ..stripe_client import StripeRejectedError, StripeUnavailableError
from .subscriptions import subscription_refresh

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StripeReconcileSummary:
    events_requeued: int
    subscriptions_refreshed: int
    failures: int


def stripe_reconcile(*, stuck_after: timedelta = timedelta(minutes=3), max_attempts: int = 100) -> StripeReconcileSummary:
    """Beat: re-enqueue events whose processing was lost or failed (Stripe unreachable: retried every
    run, for hours), and re-read from Stripe subscriptions whose period ended or grace ran out, so a
    missed webhook never leaves an account wrong."""
    now = timezone.now()
    stuck = StripeEvent.objects.filter(
        status__in=[StripeEvent.Status.RECEIVED, StripeEvent.Status.FAILED], received_at__lt=now - stuck_after, attempts__lt=max_attempts
    ).values_list("id", flat=True)
    requeued = 0
    for event_id in stuck:
        dispatch.stripe_event_process(event_id=event_id)
        requeued += 1
    if not stripe_client.configured():
        return StripeReconcileSummary(requeued, 0, 0)
    due = Subscription.objects.filter(_due_for_refresh(now), source=Subscription.Source.STRIPE, stripe_subscription_id__isnull=False)
    refreshed = failures = 0
    for subscription in due[:200]:
        try:
            subscription_refresh(subscription_id=subscription.stripe_subscription_id, user_id=subscription.user_id)
            refreshed += 1
        except (StripeUnavailableError, StripeRejectedError) as exc:
            logger.warning("reconcile: subscription %s not refreshed: %s", subscription.stripe_subscription_id, exc)
            failures += 1
    return StripeReconcileSummary(requeued, refreshed, failures)


def _due_for_refresh(now: datetime) -> Q:
    """Stripe subscriptions whose state should have moved on by `now` (and was not re-read since)."""
    period_over = Q(status=Subscription.Status.ACTIVE, current_period_end__lt=now) & Q(stripe_state_at__lt=F("current_period_end"))
    grace_over = Q(status=Subscription.Status.PAST_DUE, grace_until__lt=now) & Q(stripe_state_at__lt=F("grace_until"))
    return period_over | grace_over
