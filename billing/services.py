"""Writes of the billing app: checkout, the portal, Stripe's state applied to subscriptions, events,
and API keys (created, revoked, checked on each API request).

The subscription row mirrors Stripe's absolute state of the customer's newest subscription and is
only written from a newer subscription or a newer observation of the same one, so events applied
twice, late, out of order or concurrently never leave it wrong; events are stored by their Stripe id
before anything is done with them, so a repeat is a no-op.
"""

import hashlib
import hmac
import logging
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from avatarsite.core.errors import ApplicationError

from . import stripe_client
from .default_plans import DEFAULT_PLANS
from .entitlements import Entitlements, entitlements, subscription_entitled
from .models import ApiKey, CheckoutAttempt, Invoice, Plan, StripeCustomer, StripeEvent, Subscription
from .selectors import plan_price_id, plans_with_api_access
from .stripe_client import StripeRejectedError, StripeUnavailableError, SubscriptionSnapshot

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
# A checkout link is reused for a repeated click this long (Stripe keeps sessions for 24 h).
CHECKOUT_REUSE = timedelta(hours=1)


class BillingError(ApplicationError):
    """A billing request that cannot be done; the message is for the user."""

    code = "billing_refused"


class BillingUnavailableError(BillingError):
    """Stripe is not configured here or cannot be reached: nothing was done, try again later."""

    code = "billing_unavailable"
    http_status = 503


def plan_defaults_ensure() -> None:
    """Create the starting plans that are missing (the migration does it; tests that flush the
    database, and operators who deleted one by mistake, call this)."""
    for plan in DEFAULT_PLANS:
        Plan.objects.get_or_create(slug=plan["slug"], defaults=plan)


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
    user_id = _int_or_none(session.get("client_reference_id"))
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


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _user_id_for(snapshot: SubscriptionSnapshot) -> int | None:
    known = StripeCustomer.objects.filter(customer_id=snapshot.customer_id).values_list("user_id", flat=True).first()
    if known:
        return known
    user_id = _int_or_none(snapshot.metadata.get("user_id"))
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


def invoice_record(*, invoice: dict) -> Invoice | None:
    """Keep an invoice Stripe told us about (once per id; a later status overwrites an earlier one)."""
    user_id = StripeCustomer.objects.filter(customer_id=invoice.get("customer") or "").values_list("user_id", flat=True).first()
    if user_id is None:
        return None
    fields = {
        "user_id": user_id,
        "stripe_subscription_id": invoice_subscription_id(invoice),
        "status": invoice.get("status") or "",
        "amount_paid": invoice.get("amount_paid") or 0,
        "amount_due": invoice.get("amount_due") or 0,
        "currency": invoice.get("currency") or "usd",
        "hosted_invoice_url": invoice.get("hosted_invoice_url") or "",
        "invoice_pdf": invoice.get("invoice_pdf") or "",
        "period_end": _from_timestamp(invoice.get("period_end")),
        "created": _from_timestamp(invoice.get("created")) or timezone.now(),
    }
    record, _ = Invoice.objects.update_or_create(stripe_invoice_id=invoice["id"], defaults=fields)
    return record


def invoice_subscription_id(invoice: dict) -> str:
    """Where the subscription sits on an invoice (moved under `parent` in API 2025-03-31)."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription = details.get("subscription") or invoice.get("subscription") or ""
    return subscription["id"] if isinstance(subscription, dict) else subscription


def _from_timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


def stripe_event_receive(*, event: dict) -> tuple[StripeEvent, bool]:
    """Store a verified event by its id; True if it is new. Processing is enqueued after commit,
    so the webhook answers at once and a duplicate delivery changes nothing."""
    from .tasks import stripe_event_process  # tasks import services; the reverse import happens at call time

    ours = bool(event.get("livemode")) == stripe_client.livemode()
    fields = {
        "type": event["type"],
        "created": _from_timestamp(event.get("created")) or timezone.now(),
        "livemode": bool(event.get("livemode")),
        "payload": event,
        "status": StripeEvent.Status.RECEIVED if ours else StripeEvent.Status.IGNORED,
        "error": "" if ours else "an event of the other mode (live/test) than our key",
    }
    # get_or_create inserts in a savepoint and, when a concurrent delivery won the insert, reads its row.
    stored, created = StripeEvent.objects.get_or_create(id=event["id"], defaults=fields)
    if created and ours:
        transaction.on_commit(lambda: stripe_event_process.apply_async((stored.id,), priority=0))
    return stored, created


@dataclass(frozen=True)
class StripeReconcileSummary:
    events_requeued: int
    subscriptions_refreshed: int
    failures: int


def stripe_reconcile(*, stuck_after: timedelta = timedelta(minutes=3), max_attempts: int = 100) -> StripeReconcileSummary:
    """Beat: re-enqueue events whose processing was lost or failed (Stripe unreachable: retried every
    run, for hours), and re-read from Stripe subscriptions whose period ended or grace ran out, so a
    missed webhook never leaves an account wrong."""
    from .tasks import stripe_event_process

    now = timezone.now()
    stuck = StripeEvent.objects.filter(
        status__in=[StripeEvent.Status.RECEIVED, StripeEvent.Status.FAILED], received_at__lt=now - stuck_after, attempts__lt=max_attempts
    ).values_list("id", flat=True)
    requeued = 0
    for event_id in stuck:
        stripe_event_process.apply_async((event_id,), priority=0)
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


# --- API keys ------------------------------------------------------------------------------------

# A key is "avk_" + 8 lowercase letters or digits (the stored, visible prefix), "_", then 40 URL-safe
# characters (30 random bytes, which may themselves hold "_" or "-"): the secret, never stored.
API_KEY_PREFIX = "avk_"
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_API_KEY_RE = re.compile(r"(avk_[a-z0-9]{8})_[A-Za-z0-9_-]{40}")
# A key's last use is written at most this often, not on every request.
API_KEY_USE_RECORD_EVERY = timedelta(minutes=1)


class ApiKeyError(BillingError):
    """An API key request that cannot be done; the message is for the user."""

    code = "invalid"


class ApiAccessUnavailableError(ApiKeyError):
    """The user's plan does not include the API (any more)."""

    code = "api_access_unavailable"
    http_status = 403


class ApiKeyLimitError(ApiKeyError):
    """The user already has as many active keys as the plan allows."""

    code = "api_key_limit"
    http_status = 409


class ApiKeyNotFoundError(ApiKeyError):
    """No such key among the user's own (someone else's key is not found either)."""

    code = "not_found"
    http_status = 404


@dataclass(frozen=True)
class ApiCredential:
    """What a valid key grants a request (DRF's `request.auth`): the key, its owner's plan now, and for
    the throttle (`avatarsite.core.api.RateCredential`) its rate and the bucket it is counted in: the
    account, so a second key never doubles the rate."""

    key: ApiKey
    plan: Entitlements

    @property
    def rate_per_minute(self) -> int:
        return self.plan.api_rate_per_minute

    @property
    def throttle_ident(self) -> str:
        return f"account-{self.key.user_id}"


def _api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_prefix_of(raw_key: str) -> str | None:
    """The prefix of a well-formed key; None for anything else (checked before any query)."""
    match = _API_KEY_RE.fullmatch(raw_key)
    return match.group(1) if match else None


def _api_access_refused(plan: Entitlements) -> ApiAccessUnavailableError:
    names = " or ".join(p.name for p in plans_with_api_access())
    where = f"it comes with the {names} plan" if names else "no plan includes it at the moment"
    return ApiAccessUnavailableError(f"Your {plan.plan_name} plan does not include the API: {where}.")


@transaction.atomic
def api_key_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiKey, str]:
    """A new key for `user` and the full key, which exists only in this return value: show it once."""
    name = name.strip()
    if not name:
        raise ApiKeyError("Give the key a name, e.g. where it will be used.", field="name")
    if len(name) > ApiKey._meta.get_field("name").max_length:
        raise ApiKeyError("Key names are 60 characters at most.", field="name")
    # The user's row is locked, so two concurrent creations cannot both take the last free place.
    get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)
    plan = entitlements(user_id=user.pk)
    if not plan.api_access:
        raise _api_access_refused(plan)
    if ApiKey.objects.filter(user_id=user.pk, revoked_at__isnull=True).count() >= plan.api_keys_max:
        raise ApiKeyLimitError(f"You already have {plan.api_keys_max} active API keys, the most your plan allows: revoke one first.")
    for _ in range(5):
        prefix = API_KEY_PREFIX + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
        raw_key = f"{prefix}_{secrets.token_urlsafe(30)}"
        try:
            with transaction.atomic():  # a savepoint: a clash of prefixes (1 in 36^8) is retried
                key = ApiKey.objects.create(user_id=user.pk, name=name, prefix=prefix, key_hash=_api_key_hash(raw_key))
        except IntegrityError:
            continue
        logger.info("API key %s created for user %s", prefix, user.pk)  # the prefix only: never the key
        return key, raw_key
    raise ApiKeyError("The key could not be created; please try again.")


@transaction.atomic
def api_key_revoke(*, user: AbstractBaseUser, key_id: int) -> ApiKey:
    """Revoke one of `user`'s keys (at once: its next request gets 401). Revoking twice changes nothing."""
    key = ApiKey.objects.select_for_update().filter(pk=key_id, user_id=user.pk).first()
    if key is None:
        raise ApiKeyNotFoundError("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        logger.info("API key %s of user %s revoked", key.prefix, user.pk)
    return key


def api_key_authenticate(*, raw_key: str, now: datetime | None = None) -> ApiCredential | None:
    """The credential of a valid key; None for a malformed, unknown or revoked key or an inactive owner.

    Raises ApiAccessUnavailableError for a valid key whose owner's plan (no longer) includes the API.
    The key's last use is recorded at most once a minute, so a busy key does not write on every request.
    """
    prefix = api_key_prefix_of(raw_key)
    if prefix is None:
        return None
    key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    # Compared in constant time: how long the answer takes says nothing about how much of a guess matched.
    if key is None or not hmac.compare_digest(key.key_hash, _api_key_hash(raw_key)):
        return None
    if key.revoked_at is not None or not key.user.is_active:
        return None
    now = now or timezone.now()
    plan = entitlements(user_id=key.user_id, now=now)
    if not plan.api_access:
        raise _api_access_refused(plan)
    stale = now - API_KEY_USE_RECORD_EVERY
    if key.last_used_at is None or key.last_used_at <= stale:
        # Conditional, so the concurrent requests of one minute write it once between them.
        ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return ApiCredential(key=key, plan=plan)
