"""Reads of what generation costs and delivers: provider spend from the cost ledger, and what the
API's usage endpoint reports (this month's jobs, images, quota units and payments)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.entitlements import Entitlements
from billing.revenue import paid_by_currency

from .models import CostEntry, GeneratedImage, GenerationJob
from .quotas import QuotaStatus, quota_status


@dataclass(frozen=True)
class SpendLine:
    """Provider spend: calls, images delivered and dollars, for one (day, provider, plan) or one provider."""

    provider: str
    calls: int
    images: int
    cost_usd: Decimal
    day: date | None = None
    plan: str = ""


def spend_by_day(*, since: datetime, until: datetime | None = None) -> list[SpendLine]:
    """The ledger summed per day, provider and plan (UTC days)."""
    entries = CostEntry.objects.filter(created_at__gte=since)
    if until is not None:
        entries = entries.filter(created_at__lt=until)
    rows = (
        entries.annotate(day=TruncDate("created_at"))
        .values("day", "provider", "plan")
        .annotate(calls=Count("id"), images=Sum("images"), cost=Sum("cost_usd"))
        .order_by("day", "provider", "plan")
    )
    return [SpendLine(r["provider"], r["calls"], r["images"] or 0, r["cost"] or Decimal(0), r["day"], r["plan"]) for r in rows]


def spend_totals(*, queryset: QuerySet[CostEntry] | None = None) -> list[SpendLine]:
    """The ledger (or part of it) summed per provider, most spent first."""
    entries = CostEntry.objects.all() if queryset is None else queryset
    rows = entries.order_by().values("provider").annotate(calls=Count("id"), images=Sum("images"), cost=Sum("cost_usd")).order_by("-cost")
    return [SpendLine(r["provider"], r["calls"], r["images"] or 0, r["cost"] or Decimal(0)) for r in rows]


@dataclass(frozen=True)
class ApiUsage:
    """What GET /api/v1/usage reports: the plan, its quota windows, and this calendar month (UTC)."""

    plan: Entitlements
    quota: QuotaStatus
    period_start: datetime
    period_end: datetime
    jobs: int
    images: int
    quota_units: int
    spend: dict[str, int]  # currency -> amount paid this month, in its smallest unit (cents)


def api_usage(*, user_id: int, plan: Entitlements, now: datetime | None = None) -> ApiUsage:
    """Quotas as the next request would meet them; jobs, images delivered and units charged (refunds
    excluded) this month; invoices paid this month, per currency."""
    now = now or timezone.now()
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    jobs = GenerationJob.objects.filter(user_id=user_id, created_at__gte=start, created_at__lt=end)
    totals = jobs.aggregate(jobs=Count("id"), units=Sum("quota_units", filter=Q(quota_refunded=False)))
    images = GeneratedImage.objects.filter(job__in=jobs).count()
    spend = {paid.currency: paid.amount for paid in paid_by_currency(user_id=user_id, since=start, until=end)}
    return ApiUsage(
        plan=plan,
        quota=quota_status(user_id=user_id, plan=plan, now=now),
        period_start=start,
        period_end=end,
        jobs=totals["jobs"],
        images=images,
        quota_units=totals["units"] or 0,
        spend=spend,
    )
