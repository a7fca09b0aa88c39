"""Where a request would stand and when it would be done: lanes, places in line, measured run
times and ETAs, and what a request with given choices would cost. Returns dataclasses; pages and
bodies put them into words (`presenters`, `payloads`)."""

import itertools
import os
import statistics
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from billing.entitlements import Entitlements

from .models import GenerationJob
from .providers.registry import entry_get
from .quotas import quota_status
from .styles import LOCAL_CHAIN, LOCAL_PROVIDER, LOCAL_STYLES, style_label, style_unavailable_reason

# The name of each queue's lane, as messages and pages say it.
LANE_LABELS = {"enterprise": "dedicated lane", "premium": "priority lane", "standard": "standard lane", "batch": "batch lane"}


@dataclass(frozen=True)
class LaneEstimate:
    """Where a request would stand: its lane, its place in line and when it should be done."""

    queue: str
    lane: str
    position: int
    eta: float  # seconds from now

    @property
    def eta_seconds(self) -> int:
        """The ETA in whole seconds, as pages show it (at least 1)."""
        return max(1, round(self.eta))


def ai_available(*, chain: tuple[str, ...] | list[str]) -> bool:
    """Is any provider of this chain set up here (with its key)?"""
    return any(entry_get(entry) is not None for entry in chain)


# How far back the ETA looks for measurements, and how many it needs before it trusts them.
ETA_WINDOW = timedelta(hours=1)
ETA_MIN_SAMPLES = 3
ETA_CACHE_SECONDS = 5
# A job that waited less than this for a worker did not wait for one (the broker's own delivery).
ETA_WAITED_SECONDS = 0.2
LANE_JOBS_READ = 1000  # jobs of a lane read for an ETA; a longer line is counted


def _work(*, provider: str, size: int, num_images: int) -> float:
    """A job's work in units of one 1024 px image: the local generator draws (and the pipeline
    encodes) every pixel of every image in turn; a remote model's time hardly depends on either."""
    return num_images * (size / 1024) ** 2 if provider == LOCAL_PROVIDER else 1.0


@dataclass(frozen=True)
class RunTimes:
    """A provider's measured time per unit of work: from acceptance to the result in an idle lane
    (pickup included), and from a worker's claim to the result."""

    idle: float
    run: float


def provider_run_times(*, provider: str) -> RunTimes:
    """The medians over the provider's recent succeeded jobs (those that ran it first, in the last
    hour), per unit of work; the configured expectation while there are too few. Cached for a few
    seconds. `idle` counts only jobs that found a worker free, so it holds the broker's pickup but no
    wait in line."""
    # A read-through cache of a value computed from the jobs table (not state of its own): every
    # page and websocket state asks, and a few seconds' staleness changes no ETA that matters.
    key = f"generation:run-times:{provider}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    jobs = (
        GenerationJob.objects.filter(
            status=GenerationJob.Status.SUCCEEDED,
            reused_from=None,
            started_at__isnull=False,
            finished_at__gte=timezone.now() - ETA_WINDOW,
            provider_chain__0__startswith=f"{provider}:",
        )
        .order_by("-finished_at")
        .values_list("created_at", "started_at", "finished_at", "size", "num_images")[:200]
    )
    runs, idle = [], []
    for created, started, finished, size, count in jobs:
        work = _work(provider=provider, size=size, num_images=count)
        runs.append((finished - started).total_seconds() / work)
        if (started - created).total_seconds() < ETA_WAITED_SECONDS:
            idle.append((finished - created).total_seconds() / work)
    expected = float(settings.GENERATION_EXPECTED_SECONDS.get(provider, 10))
    run = statistics.median(runs) if len(runs) >= ETA_MIN_SAMPLES else expected
    times = RunTimes(idle=statistics.median(idle) if len(idle) >= ETA_MIN_SAMPLES else run, run=run)
    cache.set(key, times, ETA_CACHE_SECONDS)
    return times


def _provider_of(chain: list[str] | tuple[str, ...]) -> str:
    return chain[0].split(":", 1)[0] if chain else ""


def lane_paces(*, queue: str) -> dict[str, float]:
    """The lane's measured pace per provider while it was busy: the mean time between two jobs
    ending, counted only while another job of the lane stood waiting for a worker (the lane could do
    no more), per unit of work of the job that ended, by that job's provider. It holds what a worker
    count cannot: how many workers there really are, how much of the machine they share, and the
    other work they do (each result's other sizes). A provider missing has not kept the lane busy
    lately. Cached for a few seconds."""
    # A read-through cache, as in provider_run_times: the pace is recomputed from the jobs table.
    key = f"generation:paces:{queue}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    rows = list(
        GenerationJob.objects.filter(queue=queue, reused_from=None, started_at__isnull=False, finished_at__gte=timezone.now() - ETA_WINDOW)
        .order_by("-finished_at")
        .values_list("created_at", "started_at", "finished_at", "provider_chain", "size", "num_images")[:200]
    )
    rows.sort(key=lambda row: row[2])
    waits = [(row[0], row[1]) for row in rows if (row[1] - row[0]).total_seconds() > ETA_WAITED_SECONDS]
    gaps: dict[str, list[float]] = {}
    for before, after in itertools.pairwise(rows):
        if any(created < before[2] < started for created, started in waits):  # someone was waiting for this slot
            provider = _provider_of(after[3])
            work = _work(provider=provider, size=after[4], num_images=after[5])
            gaps.setdefault(provider, []).append((after[2] - before[2]).total_seconds() / work)
    # The mean, not the median: workers that start together end together, so the gaps alternate
    # short and long, and the mean of those is the lane's real pace (a median picks one kind).
    paces = {provider: statistics.fmean(found[-50:]) for provider, found in gaps.items() if len(found) >= ETA_MIN_SAMPLES}
    cache.set(key, paces, ETA_CACHE_SECONDS)
    return paces


@dataclass(frozen=True)
class LaneJob:
    """A job a worker of the lane runs, or will run, before the one being estimated."""

    provider: str
    work: float
    running: bool


def lane_jobs_ahead(*, queue: str, before=None) -> tuple[list[LaneJob], int]:
    """The jobs of the lane running now and those waiting (accepted before `before`, when given),
    and the place in line that gives: one after every waiting job (those waiting for an identical
    request take a place but no worker)."""
    waiting = Q(status=GenerationJob.Status.QUEUED) & (Q(created_at__lt=before) if before is not None else Q())
    lane = GenerationJob.objects.filter(Q(queue=queue) & (Q(status=GenerationJob.Status.RUNNING) | waiting))
    rows = list(lane.values_list("status", "provider_chain", "size", "num_images", "reused_from_id")[:LANE_JOBS_READ])
    jobs, queued = [], 0
    for status, chain, size, count, leader in rows:
        running = status == GenerationJob.Status.RUNNING
        queued += not running
        if leader is None:
            provider = _provider_of(chain)
            jobs.append(LaneJob(provider, _work(provider=provider, size=size, num_images=count), running))
    if len(rows) == LANE_JOBS_READ:  # a line this long: its length is counted, the work of the rest assumed alike
        queued = lane.filter(waiting).count()
        jobs *= max(1, round(lane.count() / LANE_JOBS_READ))
    return jobs, queued + 1


def lane_estimate(*, queue: str, chain: list[str] | tuple[str, ...], size: int = 1024, num_images: int = 1, before=None) -> LaneEstimate:
    """When a request would be done, behind the lane's jobs running now and those waiting (accepted
    before `before`, when given). Alone it takes its own time (its provider's, measured, scaled to
    its work); beside running jobs, its provider's running time (jobs sharing a machine slow each
    other); behind others it ends one lane pace after each of them and its own, each job's pace by
    its provider (measured while the lane was busy; before that, its time shared by the lane's workers)."""
    jobs, position = lane_jobs_ahead(queue=queue, before=before)
    workers = max(1, settings.GENERATION_QUEUE_CONCURRENCY.get(queue, 1))
    paces = lane_paces(queue=queue)

    def pace(provider: str) -> float:
        # The local generator draws on the workers' processors: no more at once than the machine has.
        sharing = min(workers, os.cpu_count() or 1) if provider == LOCAL_PROVIDER else workers
        return paces.get(provider) or provider_run_times(provider=provider).run / sharing

    provider = _provider_of(chain)
    times = provider_run_times(provider=provider)
    work = _work(provider=provider, size=size, num_images=num_images)
    own = max(times.idle, times.run) if any(job.running for job in jobs) else times.idle
    behind = sum(pace(job.provider) * job.work for job in jobs) + pace(provider) * work
    return LaneEstimate(queue=queue, lane=LANE_LABELS.get(queue, f"{queue} lane"), position=position, eta=max(own * work, behind))


def job_estimate(*, job: GenerationJob) -> LaneEstimate | None:
    """For a queued job: its place in line and ETA; for a running one: the rest of its run."""
    size, count = job.size, job.num_images
    if job.status == GenerationJob.Status.QUEUED:
        return lane_estimate(queue=job.queue, chain=job.provider_chain, size=size, num_images=count, before=job.created_at)
    if job.status == GenerationJob.Status.RUNNING:
        provider = _provider_of(job.provider_chain)
        run = provider_run_times(provider=provider).run * _work(provider=provider, size=size, num_images=count)
        elapsed = (timezone.now() - job.started_at).total_seconds() if job.started_at else 0.0
        # Past its usual time it is nearly done, not overdue: a little longer, never a negative ETA.
        left = max(run - elapsed, min(run, 1.0) / 2)
        return LaneEstimate(queue=job.queue, lane=LANE_LABELS.get(job.queue, job.queue), position=1, eta=left)
    return None


@dataclass(frozen=True)
class GenerateEstimate:
    """What a request with these choices would cost and when it would be ready, before it is made."""

    style: str
    style_label: str
    available: bool
    reason: str  # why the style cannot be made here
    instant: bool
    units: int  # quota units it takes
    quota_left: int | None  # in the tightest window; None: no quota
    quota_window: str  # that window ("day", "hour")
    lane: LaneEstimate | None  # None when the style cannot be made

    @property
    def enough_quota(self) -> bool:
        return self.quota_left is None or self.units <= self.quota_left


def generate_estimate(*, user_id: int, plan: Entitlements, style: str, size: int, num_images: int) -> GenerateEstimate:
    """Cost, lane, place in line and ETA of a request with these choices (`style` known, `size` and
    `num_images` within the plan: the caller checks), or why its style cannot be made here."""
    reason = style_unavailable_reason(style=style, plan=plan)
    instant = style in LOCAL_STYLES
    units = 0 if instant else num_images
    window = quota_status(user_id=user_id, plan=plan, now=timezone.now()).tightest if units else None
    lane = None
    if not reason:
        chain = LOCAL_CHAIN if instant else tuple(e for e in plan.provider_chain if entry_get(e) is not None)
        lane = lane_estimate(queue=plan.queue, chain=chain, size=size, num_images=num_images)
    return GenerateEstimate(
        style=style,
        style_label=style_label(style),
        available=not reason,
        reason=reason,
        instant=instant,
        units=units,
        quota_left=window.left if window else None,
        quota_window=window.name if window else "",
        lane=lane,
    )
