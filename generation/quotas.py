"""Generation quotas: counted from the jobs themselves, taken under a per-user row lock.

A job holds `quota_units` from acceptance; a refunded job holds none. Windows are the UTC day and
the clock hour, so "resets at" is a time a user can read. The lock (the user's row, FOR UPDATE)
serialises one user's concurrent requests, so no race lets a sixth free job through.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.entitlements import Entitlements

from .errors import QuotaExceededError
from .models import GenerationJob, QuotaRefusal

WARN_AT = 0.8


@dataclass(frozen=True)
class QuotaWindow:
    name: str  # "day" or "hour"
    limit: int
    used: int
    resets_at: datetime

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True)
class QuotaStatus:
    windows: tuple[QuotaWindow, ...]

    @property
    def unlimited(self) -> bool:
        return not self.windows

    @property
    def tightest(self) -> QuotaWindow | None:
        return min(self.windows, key=lambda w: w.left, default=None)

    @property
    def warning(self) -> bool:
        """At 80% of any window."""
        return any(w.used >= WARN_AT * w.limit for w in self.windows)

    def allows(self, units: int) -> bool:
        return all(w.used + units <= w.limit for w in self.windows)

    def resets_at(self, units: int) -> datetime | None:
        """When the windows that refuse `units` have all reset."""
        blocking = [w.resets_at for w in self.windows if w.used + units > w.limit]
        return max(blocking, default=None)


def units_used_since(user_id: int, since: datetime) -> int:
    """The units a user's jobs hold since `since` (refunded jobs hold none); the one count every window makes."""
    jobs = GenerationJob.objects.filter(user_id=user_id, created_at__gte=since, quota_refunded=False)
    return jobs.aggregate(units=Sum("quota_units"))["units"] or 0


def quota_status(*, user_id: int, plan: Entitlements, now: datetime) -> QuotaStatus:
    windows = []
    if plan.daily_quota is not None:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        windows.append(QuotaWindow("day", plan.daily_quota, units_used_since(user_id, start), start + timedelta(days=1)))
    if plan.hourly_quota is not None:
        start = now.replace(minute=0, second=0, microsecond=0)
        windows.append(QuotaWindow("hour", plan.hourly_quota, units_used_since(user_id, start), start + timedelta(hours=1)))
    return QuotaStatus(tuple(windows))


def quota_counted(*, plan: Entitlements) -> bool:
    """Does the plan have a quota window (else there is nothing to count, nor to lock for)?"""
    return plan.daily_quota is not None or plan.hourly_quota is not None


def quota_check_locked(*, user_id: int, plan: Entitlements, units: int, now: datetime) -> QuotaStatus:
    """Inside a transaction: lock the user's row, then check that `units` fit. The caller creates
    the job (which is what holds the units) before the transaction ends and the lock is released.
    A plan without windows has nothing to count, so nothing to serialise: no lock (and no
    transaction needed)."""
    if not quota_counted(plan=plan):
        return QuotaStatus(())
    get_user_model().objects.select_for_update().filter(pk=user_id).first()
    status = quota_status(user_id=user_id, plan=plan, now=now)
    if units and not status.allows(units):
        raise QuotaExceededError(status, units)
    return status


def quota_refund(*, job_id) -> bool:
    """Give a job's units back, once; True if this call did it."""
    return bool(GenerationJob.objects.filter(pk=job_id, quota_refunded=False, quota_units__gt=0).update(quota_refunded=True))


def quota_refusal_record(*, plan: str) -> None:
    """Count one request refused for a spent quota, on the UTC day and the plan (the operator's
    dashboard reads it). One UPDATE with F() (concurrent refusals are all counted); the day's first
    inserts its row, in a savepoint, and one that loses that race updates. Called after the
    refused request's own transaction has rolled back, so the count is not rolled back with it."""
    day = timezone.now().date()
    if QuotaRefusal.objects.filter(day=day, plan=plan).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            QuotaRefusal.objects.create(day=day, plan=plan, count=1)
    except IntegrityError:
        QuotaRefusal.objects.filter(day=day, plan=plan).update(count=F("count") + 1)
