"""Driving the real services with a simulated month (inside the throwaway database only): users and
plans, each request through generation_job_create and, when it is not reused, generation_job_run as
a worker would; the clock moved one day back after each simulated day; figures from the ledger."""

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, DateTimeField, F, Sum
from django.utils.module_loading import import_string

from ..errors import GenerationError, QuotaExceededError
from ..models import CostEntry, GenerationJob
from ..providers.registry import provider_build
from ..services import generation_job_create, generation_job_run
from .mix import Mix, MixConfig, SimRequest

USERNAME_PREFIX = "sim-user-"


@dataclass
class Figures:
    """What a run measured (money in USD, over its `days`; per month = x 30 / days)."""

    users: int
    days: int
    seed: int
    generating_users: int = 0
    requests: int = 0
    jobs: int = 0
    reused: int = 0
    provider_runs: int = 0
    local_runs: int = 0
    refused: int = 0
    failed: int = 0
    spend: Decimal = Decimal(0)
    spend_by_provider: dict[str, Decimal] = field(default_factory=dict)
    spend_by_plan: dict[str, Decimal] = field(default_factory=dict)
    requests_by_plan: dict[str, int] = field(default_factory=dict)
    billed_by_providers: Decimal = Decimal(0)
    seconds: float = 0.0
    # The mix's shares and Zipf exponent as this run had them (MixConfig's fields).
    mix: dict[str, float] = field(default_factory=dict)

    @property
    def cost_per_user_month(self) -> Decimal:
        return self.spend / self.users * 30 / self.days

    @property
    def reuse_share(self) -> float:
        return self.reused / self.requests if self.requests else 0.0

    @property
    def spend_month(self) -> Decimal:
        return self.spend * 30 / self.days


Progress = Callable[[int], None]


def simulate(*, config: MixConfig, mix: Mix, advance: Progress = lambda n: None) -> Figures:
    """Run the mix's requests through the services of the database in use (a throwaway one: it
    writes users, plans and jobs) and return the figures read back from the ledger and job rows."""
    started = time.monotonic()
    figures = Figures(
        users=config.users, days=config.days, seed=config.seed, generating_users=len(mix.plans), mix=dataclasses.asdict(config)
    )
    user_ids = _users_create(mix.plans)
    day = 0
    for request in mix.requests:
        while request.day > day:  # a simulated day has passed: yesterday's rows move back a day
            _clock_back_one_day()
            day += 1
        _request_run(figures, user_id=user_ids[request.user], request=request)
        advance(1)
    _figures_read(figures)
    figures.seconds = time.monotonic() - started
    return figures


def _users_create(plans: list[str]) -> list[int]:
    """One user per generating user, with an operator-assigned subscription on paid plans."""
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(username=f"{USERNAME_PREFIX}{index}", email=f"{USERNAME_PREFIX}{index}@example.invalid") for index in range(len(plans))
    )
    # Billing's service, named in settings (outside billing only its entitlements are imported).
    subscriptions_grant = import_string(settings.SIMULATION_PLAN_GRANT)
    subscriptions_grant(plan_of_user={user.pk: slug for user, slug in zip(users, plans, strict=True)})
    return [user.pk for user in users]


def _request_run(figures: Figures, *, user_id: int, request: SimRequest) -> None:
    figures.requests += 1
    try:
        job = generation_job_create(user_id=user_id, prompt=request.prompt, style=request.style, seed=request.seed)
    except (QuotaExceededError, GenerationError):
        figures.refused += 1  # the quota (or the request's checks) said no: no job, no spend
        return
    if job.reused_from_id is None:
        generation_job_run(job_id=job.pk)  # what the worker does with the job's message


def _clock_back_one_day() -> None:
    """Every date of the jobs and ledger lines moves one day back: the next simulated day then sees
    them as a day old (quota windows, the routing's health window), as it would in a real month."""
    for model in (GenerationJob, CostEntry):
        dates = [f.name for f in model._meta.concrete_fields if isinstance(f, DateTimeField)]
        model.objects.update(**{name: F(name) - timedelta(days=1) for name in dates})


def _figures_read(figures: Figures) -> None:
    """The figures from the rows: spend from the ledger, reuse and runs from the jobs."""
    jobs = GenerationJob.objects.all()
    figures.jobs = jobs.count()
    figures.reused = jobs.exclude(reused_from=None).count()
    figures.failed = jobs.filter(status=GenerationJob.Status.FAILED).count()
    chains = list(jobs.filter(reused_from=None).values_list("provider_chain", flat=True))
    figures.local_runs = sum(1 for chain in chains if chain and chain[0].startswith("local:"))
    figures.provider_runs = len(chains) - figures.local_runs
    figures.requests_by_plan = dict(jobs.values_list("plan").annotate(n=Count("id")).values_list("plan", "n"))
    lines = CostEntry.objects.all()
    figures.spend = lines.aggregate(total=Sum("cost_usd"))["total"] or Decimal(0)
    figures.spend_by_provider = dict(lines.values_list("provider").annotate(total=Sum("cost_usd")).values_list("provider", "total"))
    figures.spend_by_plan = dict(lines.values_list("plan").annotate(total=Sum("cost_usd")).values_list("plan", "total"))
    figures.billed_by_providers = sum(
        (Decimal(str(round(cost, 6))) for name in figures.spend_by_provider for cost in _billed(name)), Decimal(0)
    )


def _billed(name: str) -> list[float]:
    """What the stand-in for `name` billed, call by call summed per model (its own count)."""
    provider = provider_build(name)
    return list(getattr(provider, "billed", {}).values())
