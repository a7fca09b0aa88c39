"""Stripe's state applied to subscriptions, and the starting plans.

The subscription row mirrors Stripe's absolute state of the customer's newest subscription and is
only written from a newer subscription or a newer observation of the same one, so events applied
twice, late, out of order or concurrently never leave it wrong.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .. import stripe_client
from ..default_plans import DEFAULT_PLANS
from ..entitlements import subscription_entitled
from ..models import Plan, StripeCustomer, Subscription
from ..stripe_client import SubscriptionSnapshot

logger = logging.getLogger(__name__)

# Stripe's statuses and what they mean for the plan.
_STATUS_OF_STRIPE = {
    "active": Subscription.Status.ACTIVE,
    "trialing": Subscription.Status.ACTIVE,
    "past_due": Subscription.Status.PAST_DUE,
    "incomplete": Subscription.Status.INCOMPLETE,
}
# Stripe's statuses a subscription never leaves.
_STRIPE_FINAL = frozenset({"canceled", "incomplete_expired"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def plan_defaults_ensure() -> None:
    """Create the starting plans that are missing (the migration does it; tests that flush the
    database, and operators who deleted one by mistake, call this)."""
    for plan in DEFAULT_PLANS:
        Plan.objects.get_or_create(slug=plan["slug"], defaults=plan)


def subscriptions_grant(*, plan_of_user: dict[int, str]) -> int:
    """Give users plans as an operator would (no Stripe, no end date), in bulk: {user id: plan slug};
    users on the default plan need no row. For users who have none yet (the traffic simulation's).
    Returns the rows written; an unknown slug raises Plan.DoesNotExist before any is written."""
    plans = {slug: Plan.objects.get(slug=slug) for slug in set(plan_of_user.values())}
    rows = [
        Subscription(user_id=user_id, plan=plans[slug], source=Subscription.Source.OPERATOR)
        for user_id, slug in plan_of_user.items()
        if not plans[slug].is_default
    ]
    return len(Subscription.objects.bulk_create(rows))


def int_or_none(value: Any) -> int | None:
    """A user id as Stripe hands it back (metadata, client_reference_id: strings); None for anything else."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _user_id_for(snapshot: SubscriptionSnapshot) -> int | None:
    known = StripeCustomer.objects.filter(customer_id=snapshot.customer_id).values_list("user_id", flat=True).first()
    if known:
        return known
    user_id = int_or_none(snapshot.metadata.get("user_id"))
    return user_id if user_id and get_user_model().objects.filter(pk=user_id).exists() else None


def _plan_for(snapshot: SubscriptionSnapshot) -> Plan | None:
    if snapshot.price_id:
        plan = Plan.objects.filter(stripe_price_id=snapshot.price_id).first()
        if plan is None and snapshot.price_id == settings.STRIPE_PREMIUM_PRICE_ID:
            plan = Plan.objects.filter(slug="premium").first()
        if plan is not None:
            return plan
    # Checkout puts the plan in the subscription's metadata (ours, signed by Stripe's delivery).
    return Plan.objects.filter(slug=snapshot.metadata.get("plan", "")).first()


def _subscription_rank(created: datetime | None, subscription_id: str | None) -> tuple[datetime, str]:
    """Which of a customer's subscriptions is newer: Stripe's `created` (whole seconds), then the id
    for two created in the same second. Unknown (a row from before `stripe_created`) is oldest."""
    return (created or _EPOCH, subscription_id or "")


def _state_rank(
    *, stripe_status: str, observed_at: datetime, period_end: datetime | None, cancel_at_period_end: bool, plan_id: int
) -> tuple:
    """Which of two observations of the same subscription is newer. Stripe's final statuses come
    first (nothing follows them, whatever the clocks say); then the time of the observation; then,
    for two in the same instant (two events of one second), the later period, and the remaining
    fields, so that any order of arrival picks the same one."""
    return (stripe_status in _STRIPE_FINAL, observed_at, period_end or _EPOCH, cancel_at_period_end, stripe_status, plan_id)


def _supersedes(current: Subscription, snapshot: SubscriptionSnapshot, plan: Plan, observed_at: datetime) -> bool:
    """Whether `snapshot` replaces the Stripe row `current`: a newer subscription, or a newer
    observation of the same one. A total order, so the row ends on the greatest of all snapshots
    applied, whatever their order and repeats."""
    if current.stripe_subscription_id != snapshot.id:
        held = _subscription_rank(current.stripe_created, current.stripe_subscription_id)
        return _subscription_rank(snapshot.created, snapshot.id) > held
    held = _state_rank(
        stripe_status=current.stripe_status,
        observed_at=current.stripe_state_at or _EPOCH,
        period_end=current.current_period_end,
        cancel_at_period_end=current.cancel_at_period_end,
        plan_id=current.plan_id,
    )
    incoming = _state_rank(
        stripe_status=snapshot.status,
        observed_at=observed_at,
        period_end=snapshot.current_period_end,
        cancel_at_period_end=snapshot.cancel_at_period_end,
        plan_id=plan.pk,
    )
    return incoming >= held  # equal: the same state again, rewritten unchanged


@transaction.atomic
def subscription_apply(*, snapshot: SubscriptionSnapshot, observed_at: datetime, user_id: int | None = None) -> Subscription | None:
    """Make the user's subscription mirror Stripe's `snapshot`, seen at `observed_at`, if it is the
    newest the user has.

    The row holds the customer's newest subscription (Stripe's `created`, then the id): an event of
    an older one never replaces it, ended or not, and an older observation of the same one is
    dropped. Each call is a compare-and-write under the user's row lock, so the order, repeats and
    interleaving of concurrent workers do not change the end state. An operator-assigned plan is
    not replaced by Stripe while it lasts. Past due keeps the plan for BILLING_GRACE_DAYS.
    """
    user_id = user_id or _user_id_for(snapshot)
    plan = _plan_for(snapshot)
    if user_id is None or plan is None:
        logger.warning("Stripe subscription %s: no user or plan here for it (customer %s)", snapshot.id, snapshot.customer_id)
        return None
    # One writer per user: the comparison below and the write after it see every committed write
    # of another worker (which waits here), also when the user has no row yet.
    get_user_model().objects.select_for_update().filter(pk=user_id).first()
    status = _STATUS_OF_STRIPE.get(snapshot.status, Subscription.Status.CANCELED)
    current = Subscription.objects.filter(user_id=user_id).first()
    if current is not None:
        if current.source == Subscription.Source.OPERATOR:
            if subscription_entitled(current, observed_at):
                logger.warning("user %s has an operator-assigned plan; Stripe subscription %s not applied", user_id, snapshot.id)
                return current
        elif not _supersedes(current, snapshot, plan, observed_at):
            return current  # an older subscription, or an older state of this one
    same = current is not None and current.source == Subscription.Source.STRIPE and current.stripe_subscription_id == snapshot.id
    subscription = current or Subscription(user_id=user_id)
    if status == Subscription.Status.PAST_DUE:
        # The grace period starts when this subscription was first seen past due (not another's).
        if not (same and current.status == Subscription.Status.PAST_DUE and current.grace_until is not None):
            subscription.grace_until = observed_at + timedelta(days=settings.BILLING_GRACE_DAYS)
    else:
        subscription.grace_until = None
    subscription.plan = plan
    subscription.source = Subscription.Source.STRIPE
    subscription.status = status
    subscription.current_period_end = snapshot.current_period_end
    subscription.cancel_at_period_end = snapshot.cancel_at_period_end
    subscription.stripe_subscription_id = snapshot.id
    subscription.stripe_created = snapshot.created
    subscription.stripe_status = snapshot.status
    subscription.stripe_state_at = observed_at
    subscription.save()
    return subscription


def subscription_refresh(*, subscription_id: str, user_id: int | None = None) -> Subscription | None:
    """Fetch a subscription's current state from Stripe and apply it (the newest state, whatever
    event brought us here)."""
    observed_at = timezone.now()
    return subscription_apply(snapshot=stripe_client.subscription_retrieve(subscription_id), observed_at=observed_at, user_id=user_id)
