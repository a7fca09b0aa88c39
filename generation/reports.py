"""Generation's public read for the operator's dashboard (ops): spend, jobs, reuse, health, lanes,
quota refusals and styles over a range of UTC days, as plain values and dataclasses, so no other app
reads generation's models.

Daily series are lists of (day, key, value), sorted by day then key; a day without rows is absent.
Days are UTC days (settings.TIME_ZONE is UTC) of `created_at`: a call's or a job's day is the day
it was made. `start` and `end` are both included.

What counts:
- spend: every CostEntry (the ledger: one provider call) in the range, whatever its outcome; a call
  with no plan (an operator's "try it" call is booked with plan "try-it") shows under its plan as
  booked, an empty plan as "(none)".
- generations: every GenerationJob (an accepted request) in the range, by its plan or its status.
- reuse: a job answered without a provider call is one with `reused_from` set (an identical stored
  result, or an identical request in flight that it followed); an instant-style job is drawn by our
  own generator (the local chain): no paid call, but a call of ours. Every other job went to an AI
  provider. The shares are over all the range's jobs.
- quota refusals: requests refused because the plan's quota was spent (QuotaRefusal, counted when
  the refusal is made: such a request makes no job).
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from .budget import BudgetStatus, budget_status
from .estimates import LANE_LABELS
from .health import ModelHealth, model_health
from .models import CostEntry, GenerationJob, QuotaRefusal
from .styles import LOCAL_CHAIN, style_label

DailySeries = list[tuple[date, str, Decimal | int]]
NO_PLAN = "(none)"
REUSED, INSTANT, PROVIDER = "reused", "instant", "provider"
WAIT_SAMPLE = 5000  # the latest started jobs per lane the wait percentiles are taken over


def range_bounds(*, start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, the day after end 00:00 UTC): the range's instants."""
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)


def _series(rows, key: str, value: str) -> DailySeries:
    return [(row["day"], row[key] or NO_PLAN, row[value] or 0) for row in rows]


def spend_by_day(*, start: date, end: date, by: str) -> DailySeries:
    """The ledger's dollars per day and `by` ("provider" or "plan")."""
    if by not in ("provider", "plan"):
        raise ValueError(f"spend by {by!r}")
    since, until = range_bounds(start=start, end=end)
    rows = (
        CostEntry.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", by)
        .annotate(total=Sum("cost_usd"))
        .order_by("day", by)
    )
    return _series(rows, by, "total")


def jobs_by_day(*, start: date, end: date, by: str) -> DailySeries:
    """Accepted requests (jobs) per day and `by` ("plan" or "status", the outcome)."""
    if by not in ("plan", "status"):
        raise ValueError(f"jobs by {by!r}")
    since, until = range_bounds(start=start, end=end)
    rows = (
        GenerationJob.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", by)
        .annotate(total=Count("id"))
        .order_by("day", by)
    )
    return _series(rows, by, "total")


def reuse_by_day(*, start: date, end: date) -> DailySeries:
    """Jobs per day by how they were answered: "reused" (no provider call), "instant" (our own
    generator), "provider" (an AI provider's call)."""
    since, until = range_bounds(start=start, end=end)
    reused = Q(reused_from__isnull=False)
    instant = ~reused & Q(provider_chain=list(LOCAL_CHAIN))
    rows = (
        GenerationJob.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(all=Count("id"), reused=Count("id", filter=reused), instant=Count("id", filter=instant))
        .order_by("day")
    )
    series: DailySeries = []
    for row in rows:
        provider = row["all"] - row["reused"] - row["instant"]
        series += [(row["day"], key, n) for key, n in ((INSTANT, row["instant"]), (PROVIDER, provider), (REUSED, row["reused"])) if n]
    return series


@dataclass(frozen=True)
class ReuseShare:
    jobs: int
    reused: int
    instant: int

    @property
    def reused_share(self) -> float | None:
        """Share of requests answered without any provider call."""
        return self.reused / self.jobs if self.jobs else None

    @property
    def no_paid_call_share(self) -> float | None:
        """Share answered without a paid provider call (reused, or an instant style)."""
        return (self.reused + self.instant) / self.jobs if self.jobs else None


def reuse_share(*, start: date, end: date, series: DailySeries | None = None) -> ReuseShare:
    """The range's totals (from `series` when the caller has read reuse_by_day already)."""
    totals: dict[str, int] = {}
    for _day, key, n in reuse_by_day(start=start, end=end) if series is None else series:
        totals[key] = totals.get(key, 0) + int(n)
    return ReuseShare(jobs=sum(totals.values()), reused=totals.get(REUSED, 0), instant=totals.get(INSTANT, 0))


def provider_health(*, start: date, end: date) -> list[ModelHealth]:
    """Success rate and latency per provider and model over the range (generation.health)."""
    since, until = range_bounds(start=start, end=end)
    now = min(until, timezone.now())
    return model_health(window=max(now - since, timedelta(seconds=1)), now=now)


@dataclass(frozen=True)
class LaneFigures:
    """One lane: its queue now, and how long the range's jobs waited for a worker."""

    queue: str
    lane: str
    queued: int  # waiting now
    running: int  # running now
    started: int  # the range's jobs that a worker started (reused ones never wait: left out)
    wait_p50_s: float | None  # started_at - created_at, nearest-rank, over the lane's latest WAIT_SAMPLE
    wait_p95_s: float | None
    wait_mean_s: float | None


def _percentile(values: list[float], share: float) -> float | None:
    return values[max(0, math.ceil(share * len(values)) - 1)] if values else None


def lane_figures(*, start: date, end: date) -> list[LaneFigures]:
    """Per lane (queue): the depth now and the wait of the range's started jobs."""
    since, until = range_bounds(start=start, end=end)
    depth = {
        (row["queue"], row["status"]): row["n"]
        for row in GenerationJob.objects.filter(status__in=["queued", "running"], reused_from=None)
        .values("queue", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    started = GenerationJob.objects.filter(created_at__gte=since, created_at__lt=until, started_at__isnull=False, reused_from=None)
    wait = ExpressionWrapper(F("started_at") - F("created_at"), output_field=DurationField())
    totals = {row["queue"]: row for row in started.values("queue").annotate(n=Count("id"), mean=Avg(wait)).order_by()}
    # The percentiles over at most WAIT_SAMPLE of each lane's latest jobs (one windowed query), as
    # generation.health does for latency: the read stays bounded however busy the range was.
    latest_first = Window(RowNumber(), partition_by=[F("queue")], order_by=[F("created_at").desc(), F("id").desc()])
    waits: dict[str, list[float]] = {}
    sample = started.annotate(rank=latest_first).filter(rank__lte=WAIT_SAMPLE)
    for queue, created, began in sample.values_list("queue", "created_at", "started_at"):
        waits.setdefault(queue, []).append(max(0.0, (began - created).total_seconds()))
    lanes = sorted({queue for queue, _status in depth} | set(totals))
    figures = []
    for queue in lanes:
        found = sorted(waits.get(queue, []))
        mean = totals[queue]["mean"] if queue in totals else None
        figures.append(
            LaneFigures(
                queue=queue or NO_PLAN,
                lane=LANE_LABELS.get(queue, queue or NO_PLAN),
                queued=depth.get((queue, "queued"), 0),
                running=depth.get((queue, "running"), 0),
                started=totals[queue]["n"] if queue in totals else 0,
                wait_p50_s=_percentile(found, 0.50),
                wait_p95_s=_percentile(found, 0.95),
                wait_mean_s=max(0.0, mean.total_seconds()) if mean is not None else None,
            )
        )
    return figures


def quota_refusals_by_day(*, start: date, end: date) -> DailySeries:
    """Requests refused for a spent quota, per day and plan."""
    rows = QuotaRefusal.objects.filter(day__gte=start, day__lte=end).order_by("day", "plan").values("day", "plan", "count")
    return [(row["day"], row["plan"] or NO_PLAN, row["count"]) for row in rows]


@dataclass(frozen=True)
class StyleCount:
    style: str
    label: str
    jobs: int


def top_styles(*, start: date, end: date, limit: int = 10) -> list[StyleCount]:
    """The styles most asked for in the range, most first."""
    since, until = range_bounds(start=start, end=end)
    rows = (
        GenerationJob.objects.filter(created_at__gte=since, created_at__lt=until)
        .values("style")
        .annotate(n=Count("id"))
        .order_by("-n", "style")[:limit]
    )
    return [StyleCount(style=row["style"], label=style_label(row["style"]), jobs=row["n"]) for row in rows]


def budget_standing() -> BudgetStatus:
    """This month's spend against the budget (generation.budget), for the dashboard's banner."""
    return budget_status()
