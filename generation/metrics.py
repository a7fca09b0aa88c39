"""Generation's Prometheus metrics: job durations observed by the worker that finished the job, and
jobs, provider calls, errors, spend and breaker states read from the job rows, the ledger and the
cache at each scrape (registered with avatarsite.core.metrics in GenerationConfig.ready())."""

import logging
from collections import defaultdict
from collections.abc import Iterator

from django.db.models import Case, CharField, Count, F, Sum, Value, When
from django.db.models.fields.json import KeyTextTransform
from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from avatarsite.core.infrastructure import INFRASTRUCTURE_ERRORS
from avatarsite.core.metrics import source_up

from .breaker import CLOSED, HALF_OPEN, OPEN, breaker_state
from .models import CostEntry, GenerationJob
from .providers.registry import provider_names

logger = logging.getLogger(__name__)

REUSED = "reused"  # the provider label of a job that took an earlier or in-flight job's result

# Observed where the job ends, in the worker process that ran it: in multiprocess mode every pool
# child's observations reach the scrape. Rows hold the same times, but a histogram over every row at
# each scrape would grow with the table; this costs nothing per scrape.
JOB_SECONDS = Histogram(
    "avatarsite_generation_job_duration_seconds",
    "Jobs finished by a worker's run, from acceptance to their end (the wait in the lane included), by lane, "
    "the first provider of their chain and outcome.",
    ["lane", "provider", "outcome"],
    buckets=(1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600),
)


def _provider_of(chain: list[str]) -> str:
    return chain[0].partition(":")[0] if chain else "none"


def job_finished_observe(*, job: GenerationJob | None) -> None:
    """Count a job that this run brought to its end into JOB_SECONDS (a job still open is left alone)."""
    if job is None or job.status not in GenerationJob.TERMINAL_STATUSES or job.finished_at is None:
        return
    seconds = max(0.0, (job.finished_at - job.created_at).total_seconds())
    try:
        JOB_SECONDS.labels(lane=job.queue or "none", provider=_provider_of(job.provider_chain), outcome=job.status).observe(seconds)
    except Exception:  # a full disk under the multiprocess folder must not fail a finished job
        logger.exception("metrics: job %s's duration could not be recorded", job.pk)


def _jobs() -> Iterator[Metric]:
    finished = CounterMetricFamily(
        "avatarsite_generation_jobs",
        "Finished jobs in the database (every row, whichever process ran it) by lane, the first provider of their "
        "chain ('reused': answered with another job's result, no provider call) and outcome.",
        labels=["lane", "provider", "outcome"],
    )
    in_flight = GaugeMetricFamily(
        "avatarsite_generation_jobs_in_flight", "Jobs waiting in their lane or running now, by lane and status.", labels=["lane", "status"]
    )
    provider = Case(
        When(reused_from__isnull=False, then=Value(REUSED)), default=KeyTextTransform("0", "provider_chain"), output_field=CharField()
    )
    rows = GenerationJob.objects.order_by().values("queue", "status", entry=provider).annotate(count=Count("id"))
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    open_jobs: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        lane = row["queue"] or "none"
        if row["status"] in GenerationJob.TERMINAL_STATUSES:
            name = row["entry"] if row["entry"] == REUSED else _provider_of([row["entry"]] if row["entry"] else [])
            totals[lane, name, row["status"]] += row["count"]
        else:
            open_jobs[lane, row["status"]] += row["count"]
    for labels, count in sorted(totals.items()):
        finished.add_metric(list(labels), count)
    for labels, count in sorted(open_jobs.items()):
        in_flight.add_metric(list(labels), count)
    return iter([finished, in_flight])


def _ledger() -> Iterator[Metric]:
    calls = CounterMetricFamily(
        "avatarsite_provider_calls",
        "Settled provider calls in the ledger by provider, model and outcome.",
        labels=["provider", "model", "outcome"],
    )
    pending = GaugeMetricFamily("avatarsite_provider_calls_pending", "Provider calls sent and not settled yet.", labels=["provider"])
    errors = CounterMetricFamily(
        "avatarsite_provider_errors", "Provider calls that failed, by provider and error kind (ledger rows).", labels=["provider", "kind"]
    )
    spend = CounterMetricFamily(
        "avatarsite_spend_usd",
        "What the providers billed, in US dollars, by provider and plan (sum of the ledger).",
        labels=["provider", "plan"],
    )
    rows = (
        CostEntry.objects.order_by()
        .values("provider", "model", "plan", "outcome", "error_kind")
        .annotate(count=Count("id"), usd=Sum(F("cost_usd")))
    )
    by = {"calls": defaultdict(int), "pending": defaultdict(int), "errors": defaultdict(int), "spend": defaultdict(float)}
    for row in rows:
        if row["outcome"] == CostEntry.Outcome.PENDING:
            by["pending"][(row["provider"],)] += row["count"]
        else:
            by["calls"][row["provider"], row["model"], row["outcome"]] += row["count"]
        if row["error_kind"]:
            by["errors"][row["provider"], row["error_kind"]] += row["count"]
        by["spend"][row["provider"], row["plan"] or "none"] += float(row["usd"] or 0)
    for family, key in ((calls, "calls"), (pending, "pending"), (errors, "errors"), (spend, "spend")):
        for labels, value in sorted(by[key].items()):
            family.add_metric(list(labels), value)
    return iter([calls, pending, errors, spend])


def _breakers() -> Iterator[Metric]:
    state = GaugeMetricFamily(
        "avatarsite_provider_breaker_state",
        "Each provider's circuit breaker: 1 for the state it is in (closed, open, half-open), 0 for the others.",
        labels=["provider", "state"],
    )
    failures = GaugeMetricFamily(
        "avatarsite_provider_breaker_failures", "Transient failures counted in the breaker's current window.", labels=["provider"]
    )
    for provider in sorted(provider_names()):
        found = breaker_state(provider=provider)
        for name in (CLOSED, OPEN, HALF_OPEN):
            state.add_metric([provider, name], 1.0 if found.state == name else 0.0)
        failures.add_metric([provider], found.failures)
    return iter([state, failures])


class GenerationCollector:
    """Read at each scrape: a few GROUP BY queries over the jobs and the ledger, and the breakers in
    the cache. A source that is down is reported by avatarsite_metrics_source_up, never a 500."""

    def collect(self) -> Iterator[Metric]:
        for source, read in (("database", lambda: [*_jobs(), *_ledger()]), ("cache", lambda: list(_breakers()))):
            try:
                families = read()
            except INFRASTRUCTURE_ERRORS as exc:
                logger.warning("metrics: %s could not be read (%r)", source, exc)
                yield source_up(source, False)
                continue
            yield from families
            yield source_up(source, True)
