"""The monthly spend budget: what the month has committed, the check made before every paid call,
the 50/80/100 % alerts and the hard stop.

Committed spend is the ledger's: settled calls at what they cost, calls still pending at what they
were expected to cost when opened (CostEntry.expected_usd). A paid call is checked and its pending
line opened in one transaction under the budget row's lock (SELECT ... FOR UPDATE), committed
before the provider is called: every job sees every other job's calls in flight, so concurrent jobs
overrun the budget by at most the one call that crossed it (plus what calls bill beyond their
expected price). Each threshold's alert is a unique (month, threshold) row, its mail sent on commit.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.entitlements import plan_paid

from .chains import entry_price
from .ledger import call_open
from .models import CostEntry, GenerationJob, SpendAlert, SpendBudget
from .providers.base import PermanentProviderError

logger = logging.getLogger(__name__)

THRESHOLDS = (50, 80, 100)
BUDGET_SPENT_MESSAGE = (
    "This month's budget for AI photos is spent, so our own generator drew this avatar instead (free, and not counted against your quota)."
)
BUDGET_SPENT_RUN_MESSAGE = (
    "This month's budget for AI photos ran out before your image was made. Your quota was not used; an instant style still works."
)
USER_CAP_MESSAGE = (
    "You have reached today's spending limit for AI photos (it resets at midnight UTC)."
    " Your quota was not used; an instant style still works."
)
USER_CAP_ROUTED_MESSAGE = (
    "You have reached today's spending limit for AI photos (it resets at midnight UTC), so our own generator drew this avatar instead."
)
_ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=12, decimal_places=5))


class SpendRefusedError(PermanentProviderError):
    """A paid call the budget (hard stop) or the user's daily cap does not allow: never sent."""


@dataclass(frozen=True)
class BudgetStatus:
    """The month's budget as the dashboard's banner and the admin show it."""

    month: date
    budget_usd: Decimal  # 0: no budget
    committed_usd: Decimal
    thresholds_crossed: tuple[int, ...]
    hard_stop_free: bool
    hard_stop_paid: bool
    user_daily_usd: Decimal | None

    @property
    def share(self) -> float | None:
        """Committed spend as a share of the budget (1.0 = all of it); None without a budget."""
        return float(self.committed_usd / self.budget_usd) if self.budget_usd else None

    @property
    def over(self) -> bool:
        return bool(self.budget_usd) and self.committed_usd >= self.budget_usd

    @property
    def stopping_free(self) -> bool:
        """Free users get the local generator now."""
        return self.over and self.hard_stop_free

    @property
    def stopping_paid(self) -> bool:
        """Premium and enterprise users get the local generator now too."""
        return self.over and self.hard_stop_paid

    @property
    def level(self) -> str:
        """The banner's: "" (below 50 % or no budget), "notice" (50 %), "warning" (80 %), "danger" (100 %)."""
        highest = max(self.thresholds_crossed, default=0)
        return {0: "", 50: "notice", 80: "warning", 100: "danger"}[highest]

    @property
    def summary(self) -> str:
        if not self.budget_usd:
            return "No monthly spend budget is set."
        text = f"{self.month:%B %Y}: ${self.committed_usd:.2f} of ${self.budget_usd:.2f} committed ({self.share:.0%})."
        if self.stopping_free or self.stopping_paid:
            who = "every user" if self.stopping_paid and self.hard_stop_free else "free users" if self.stopping_free else "paying users"
            text += f" Hard stop: {who} get the local generator."
        return text


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def committed_usd(*, since: datetime, until: datetime | None = None, user_id: int | None = None) -> Decimal:
    """Spend committed by the calls opened in [since, until): settled ones at their cost, pending
    ones at their expected cost (a pending line's cost_usd is 0). `user_id`: that user's jobs only."""
    entries = CostEntry.objects.filter(created_at__gte=since)
    if until is not None:
        entries = entries.filter(created_at__lt=until)
    if user_id is not None:
        entries = entries.filter(job__user_id=user_id)
    totals = entries.aggregate(
        cost=Coalesce(Sum("cost_usd"), _ZERO),
        pending=Coalesce(Sum("expected_usd", filter=Q(outcome=CostEntry.Outcome.PENDING)), _ZERO),
    )
    return totals["cost"] + totals["pending"]


def _crossed(*, budget_usd: Decimal, committed: Decimal) -> tuple[int, ...]:
    if not budget_usd:
        return ()
    return tuple(t for t in THRESHOLDS if committed * 100 >= budget_usd * t)


def budget_get() -> SpendBudget:
    """The budget row (an unsaved one with no budget when it is missing)."""
    return SpendBudget.objects.filter(pk=1).first() or SpendBudget(pk=1)


def budget_status(now: datetime | None = None) -> BudgetStatus:
    """This month's budget, committed spend and thresholds crossed."""
    now = now or timezone.now()
    budget = budget_get()
    month = month_start(now)
    committed = committed_usd(since=month, until=(month + timedelta(days=32)).replace(day=1))
    return BudgetStatus(
        month=month.date(),
        budget_usd=budget.monthly_usd,
        committed_usd=committed,
        thresholds_crossed=_crossed(budget_usd=budget.monthly_usd, committed=committed),
        hard_stop_free=budget.hard_stop_free,
        hard_stop_paid=budget.hard_stop_paid,
        user_daily_usd=budget.user_daily_usd,
    )


def _stops(budget: SpendBudget, *, paid: bool) -> bool:
    return budget.hard_stop_paid if paid else budget.hard_stop_free


def _enforced(budget: SpendBudget) -> bool:
    return bool(budget.monthly_usd) or budget.user_daily_usd is not None


def budget_request_notice(*, user_id: int, paid: bool, now: datetime | None = None) -> str:
    """At request time: why a request for AI photos is drawn by the local generator instead (this
    month's budget spent under a hard stop for the user's plan class, or the user's daily cap
    reached); empty when it goes to the providers."""
    budget = budget_get()
    if not _enforced(budget):
        return ""
    now = now or timezone.now()
    if budget.monthly_usd and _stops(budget, paid=paid) and committed_usd(since=month_start(now)) >= budget.monthly_usd:
        return BUDGET_SPENT_MESSAGE
    if budget.user_daily_usd is not None and committed_usd(since=day_start(now), user_id=user_id) >= budget.user_daily_usd:
        return USER_CAP_ROUTED_MESSAGE
    return ""


def call_expected_usd(*, provider, model: str, size: int, count: int) -> Decimal:
    """What a call is expected to bill: the adapter's own price (as it bills, e.g. per started
    megapixel), else the catalogue's (per GPU-second at the provider's expected time); 0 for the
    local generator and for a provider without a price."""
    cost = getattr(provider, "cost", None)
    price = float(cost(model, width=size, height=size, count=count)) if cost is not None else 0.0
    if not price and provider.name != "local":
        seconds = float(settings.GENERATION_EXPECTED_SECONDS.get(provider.name, 10)) * count
        price = entry_price(f"{provider.name}:{model}", size=size, num_images=count, seconds=seconds) or 0.0
    return Decimal(str(round(price, 5)))


def call_open_budgeted(
    *, job: GenerationJob, provider: str, model: str, lease: str, expected_usd: Decimal, now: datetime | None = None
) -> CostEntry | None:
    """Open the pending line of a call about to be sent, booked at `expected_usd`, if the budget
    allows it (else SpendRefusedError, and nothing is opened); None as ledger.call_open. A paid
    call, when a budget or a daily cap is set, is checked and opened in one transaction under the
    budget row's lock, so that no other job's check runs between this one's and its booking."""
    budget = budget_get()
    if expected_usd <= 0 or not _enforced(budget):
        return call_open(job=job, provider=provider, model=model, lease=lease, expected_usd=expected_usd)
    with transaction.atomic():
        budget = SpendBudget.objects.select_for_update().filter(pk=1).first()
        if budget is None:  # removed meanwhile: nothing to enforce
            return call_open(job=job, provider=provider, model=model, lease=lease, expected_usd=expected_usd)
        now = now or timezone.now()
        month = month_start(now)
        committed = committed_usd(since=month) if budget.monthly_usd else Decimal(0)
        if budget.monthly_usd and committed >= budget.monthly_usd and _stops(budget, paid=plan_paid(slug=job.plan)):
            raise SpendRefusedError(BUDGET_SPENT_RUN_MESSAGE)
        if budget.user_daily_usd is not None and committed_usd(since=day_start(now), user_id=job.user_id) >= budget.user_daily_usd:
            raise SpendRefusedError(USER_CAP_MESSAGE)
        call = call_open(job=job, provider=provider, model=model, lease=lease, expected_usd=expected_usd)
        if call is not None and budget.monthly_usd:
            _alerts_raise(budget=budget, month=month.date(), committed=committed + expected_usd)
    return call


def budget_alerts_check(*, now: datetime | None = None) -> list[SpendAlert]:
    """Raise the alerts of thresholds the month has crossed without a paid call being checked (a
    call billed above its expected price, an operator's "try it"); under the budget's lock."""
    now = now or timezone.now()
    with transaction.atomic():
        budget = SpendBudget.objects.select_for_update().filter(pk=1).first()
        if budget is None or not budget.monthly_usd:
            return []
        month = month_start(now)
        return _alerts_raise(budget=budget, month=month.date(), committed=committed_usd(since=month))


def _alerts_raise(*, budget: SpendBudget, month: date, committed: Decimal) -> list[SpendAlert]:
    """One row per threshold crossed this month, created once (the unique (month, threshold) is the
    guard, the budget's lock the usual one); each new row's mail goes once the transaction commits."""
    crossed = _crossed(budget_usd=budget.monthly_usd, committed=committed)
    if not crossed:
        return []
    known = set(SpendAlert.objects.filter(month=month, threshold__in=crossed).values_list("threshold", flat=True))
    raised = []
    for threshold in crossed:
        if threshold in known:
            continue
        recipients = _recipients(budget)
        try:
            with transaction.atomic():
                alert = SpendAlert.objects.create(
                    month=month,
                    threshold=threshold,
                    budget_usd=budget.monthly_usd,
                    committed_usd=committed,
                    recipients=", ".join(recipients),
                )
        except IntegrityError:  # raised by another transaction meanwhile: its mail is the one
            continue
        transaction.on_commit(lambda alert=alert, budget=budget: _alert_mail(alert=alert, budget=budget))
        raised.append(alert)
    return raised


def _recipients(budget: SpendBudget) -> list[str]:
    listed = [part.strip() for part in budget.alert_emails.replace("\n", ",").split(",") if part.strip()]
    return listed or list(settings.GENERATION_BUDGET_ALERT_EMAILS)


def _alert_mail(*, alert: SpendAlert, budget: SpendBudget) -> None:
    recipients = [part.strip() for part in alert.recipients.split(",") if part.strip()]
    if not recipients:
        logger.warning(
            "spend budget: %s %% of %s crossed, and nobody to tell (set the budget's e-mails or GENERATION_BUDGET_ALERT_EMAILS)",
            alert.threshold,
            alert.month,
        )
        return
    stop = []
    if alert.threshold >= 100:
        if budget.hard_stop_free:
            stop.append("free users now get the local generator instead of paid providers")
        stop.append(
            "premium and enterprise users are stopped too"
            if budget.hard_stop_paid
            else "premium and enterprise users go on with paid providers"
        )
    body = (
        f"Provider spend for {alert.month:%B %Y} has reached {alert.threshold} % of the budget: "
        f"${alert.committed_usd:.2f} committed of ${alert.budget_usd:.2f}.\n"
        + (f"Hard stop: {'; '.join(stop)}.\n" if stop else "")
        + "The budget is edited in the admin (Generation > Spend budget)."
    )
    try:
        send_mail(f"[avatarsite] Spend at {alert.threshold} % of the {alert.month:%B} budget", body, None, recipients)
    except Exception:  # the alert row stands (the banner shows it); a lost mail is logged, not retried
        logger.exception("spend budget: the %s %% alert mail for %s could not be sent", alert.threshold, alert.month)
