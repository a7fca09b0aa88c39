"""Who runs first: one queue per plan tier and Redis priority steps, with real worker subprocesses
on the real Redis broker (jobs' `started_at` is written by the worker when it claims the job)."""

import pytest

from avatarsite.accounts.services import user_create
from billing.models import Plan, Subscription
from generation.models import GenerationJob
from generation.services import generation_job_create
from generation.tasks import job_run
from tests.fakes.fal import FakeFal
from tests.support.processes import running
from tests.support.workers import fal_providers, log_tail, wait_for, worker_args, worker_env

PROMPT = "A cheerful robot with round eyes"
LOCAL_STYLE = "flat"  # drawn by the local generator: instant, no provider, no quota
# A premium job may wait this long for an idle premium worker while the free lane is busy.
PREMIUM_START_BOUND_SECONDS = 5.0


def _user(name: str, *, premium: bool = False):
    user = user_create(username=name, email=f"{name}@example.com", password="a-long-password-1")
    if premium:
        Subscription.objects.create(user=user, plan=Plan.objects.get(slug="premium"))
    return user


def _all_succeeded(jobs: list[GenerationJob]) -> bool:
    return GenerationJob.objects.filter(pk__in=[job.pk for job in jobs], status="succeeded").count() == len(jobs)


def _fresh(jobs: list[GenerationJob]) -> list[GenerationJob]:
    return list(GenerationJob.objects.filter(pk__in=[job.pk for job in jobs]))


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_premium_and_standard_queues_starts_every_premium_job_before_any_free_one(broker, artifacts_dir):
    """Premium before free (shared worker). Free jobs are queued first, premium ones after, all before the
    worker starts; `-Q premium,standard -c 1` starts every premium job before any free job.
    (kombu polls priority-major across queues: the plans' priorities, premium 1 and free 5, decide
    this; the `-Q` order only breaks ties between equal priorities.)"""
    free_user, premium_user = _user("free-ada"), _user("premium-bo", premium=True)
    free = [generation_job_create(user_id=free_user.pk, prompt=f"{PROMPT} {n}", style=LOCAL_STYLE, size=256) for n in range(4)]
    # Other words than the free ones: identical requests would wait for each other (single flight).
    premium = [
        generation_job_create(user_id=premium_user.pk, prompt=f"{PROMPT} premium {n}", style=LOCAL_STYLE, size=256) for n in range(3)
    ]
    assert {job.queue for job in free} == {"standard"}
    assert {job.queue for job in premium} == {"premium"}

    log = artifacts_dir / "p-cel-5-shared-worker.log"
    with running(worker_args("premium", "standard", name="pcel5-shared"), env=worker_env(), log=log):
        wait_for(lambda: _all_succeeded(free + premium), timeout=60, what="every job to run")

    last_premium = max(job.started_at for job in _fresh(premium))
    first_free = min(job.started_at for job in _fresh(free))
    assert last_premium < first_free, log_tail(log)


@pytest.mark.django_db(transaction=True)
def test_with_a_worker_per_tier_a_free_backlog_does_not_delay_a_premium_job(settings, broker, artifacts_dir):
    """Premium before free (dedicated pools). A worker on `premium` and one on `standard` (`-c 1` each); ten free
    jobs on fal (about 1 s each) keep the standard worker busy. A premium job made meanwhile starts
    within a few seconds, while free jobs are still waiting."""
    fal = FakeFal(latency=1.0).start()
    try:
        fal_providers(settings, fal)
        free_users = [_user("free-cy"), _user("free-di")]  # five free generations a day each
        backlog = [generation_job_create(user_id=free_users[n % 2].pk, prompt=f"{PROMPT} {n}", size=256) for n in range(10)]
        assert {job.provider_chain[0] for job in backlog} == {"fal:fal-ai/flux/schnell"}
        premium_user = _user("premium-ed", premium=True)

        logs = artifacts_dir / "p-cel-5-premium-worker.log", artifacts_dir / "p-cel-5-standard-worker.log"
        with (
            running(worker_args("premium", name="pcel5-premium"), env=worker_env(fal=fal), log=logs[0]),
            running(worker_args("standard", name="pcel5-standard"), env=worker_env(fal=fal), log=logs[1]),
        ):
            # The premium worker is up once a first premium job has run; the free lane is busy by then.
            warm_up = generation_job_create(user_id=premium_user.pk, prompt=f"{PROMPT} warm-up", style=LOCAL_STYLE, size=256)
            wait_for(lambda: _all_succeeded([warm_up]), timeout=60, what="the premium worker's first job")
            wait_for(lambda: GenerationJob.objects.filter(status="running", plan="free").exists(), timeout=60, what="a free job running")
            waiting = GenerationJob.objects.filter(pk__in=[job.pk for job in backlog], status="queued").count()
            assert waiting >= 3, "the free backlog drained before the premium job was made: make it longer"

            job = generation_job_create(user_id=premium_user.pk, prompt=f"{PROMPT} measured", style=LOCAL_STYLE, size=256)
            wait_for(lambda: GenerationJob.objects.filter(pk=job.pk, started_at__isnull=False).exists(), timeout=60, what="premium start")
            job.refresh_from_db()
            still_waiting = GenerationJob.objects.filter(pk__in=[j.pk for j in backlog], status="queued").count()
            wait_for(lambda: _all_succeeded(backlog), timeout=120, what="the free backlog to drain")
    finally:
        fal.stop()

    delay = (job.started_at - job.created_at).total_seconds()
    assert delay < PREMIUM_START_BOUND_SECONDS, log_tail(*logs)
    assert still_waiting >= 1  # the free lane was still backed up when the premium job started
    assert job.started_at < max(j.started_at for j in _fresh(backlog))


@pytest.mark.django_db(transaction=True)
def test_in_one_queue_priority_0_runs_first_then_unlabelled_tasks_then_priority_9(broker, artifacts_dir, monkeypatch):
    """Tasks sent without a priority do not jump ahead of higher-priority ones. Real job_run tasks sent
    through the project's Celery app to one queue before the worker starts: three at priority 9, then three at
    priority 0, then two with no priority. The unlabelled ones take task_default_priority (5): they run after
    the 0s and before the 9s, instead of jumping the queue from Redis' base list."""
    monkeypatch.setattr("generation.dispatch.job_run_enqueue", lambda job: None)  # the test sends the tasks itself
    user = _user("free-fe")
    sent: dict[str, str] = {}
    for label, priority in (("9", 9), ("0", 0), ("unlabelled", None)):
        for n in range(2 if priority is None else 3):
            job = generation_job_create(user_id=user.pk, prompt=f"{PROMPT} {label} {n}", style=LOCAL_STYLE, size=256)
            options = {"queue": "standard"} if priority is None else {"queue": "standard", "priority": priority}
            job_run.apply_async(args=[str(job.pk)], **options)
            sent[str(job.pk)] = label
    assert GenerationJob.objects.filter(status="queued").count() == 8

    log = artifacts_dir / "p-cel-6-worker.log"
    with running(worker_args("standard", name="pcel6"), env=worker_env(), log=log):
        wait_for(lambda: GenerationJob.objects.filter(status="succeeded").count() == 8, timeout=60, what="all eight jobs to run")

    order = [sent[str(pk)] for pk in GenerationJob.objects.order_by("started_at").values_list("pk", flat=True)]
    assert order == ["0"] * 3 + ["unlabelled"] * 2 + ["9"] * 3, log_tail(log)
