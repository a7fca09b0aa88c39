"""A slow provider holds no worker process: the standard lane's worker, started with the pool and
concurrency docker-compose.yml gives it (the thread pool), runs many provider waits at once in one
process. Real Redis, PostgreSQL, S3 server, a real worker subprocess and the fake fal answering
after L seconds."""

import os
import signal
import time
from pathlib import Path

import pytest
import yaml

from avatarsite.accounts.services import user_create
from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.services import generation_job_create, generation_jobs_reconcile
from tests.fakes.fal import FakeFal
from tests.support.processes import running
from tests.support.tcp_proxy import TcpProxy
from tests.support.workers import child_pids, fal_providers, log_tail, log_text, wait_for, worker_args, worker_env

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
LATENCY = 3.0  # seconds from submission to COMPLETED at the fake
JOBS = 20  # far more than the 2 processes a prefork lane gets on this machine's 2 cores
POOL_MAX = 6  # the worker's psycopg pool: fewer connections than jobs waiting at once
STORE_LATENCY = 0.5  # seconds the slow object store takes to answer each request


def lane_env() -> dict[str, str]:
    """The standard lane's worker settings as docker-compose.yml deploys it."""
    environment = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["worker-standard"]["environment"]
    return {name: str(environment[name]) for name in ("CELERY_WORKER_POOL", "CELERY_WORKER_CONCURRENCY")}


@pytest.fixture
def slow_fal(settings):
    server = FakeFal(latency=LATENCY).start()
    fal_providers(settings, server)
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_one_lane_process_runs_many_slow_provider_waits_at_once_and_keeps_the_books(slow_fal, broker, artifacts_dir):
    """20 jobs of a 3 s provider, submitted at once to a standard-lane worker started as deployed:
    all end `succeeded` within 2 x L of the first submission (a pool of processes, one job each,
    would need 20 x L / processes), in the worker's one process (no pool children), each run once
    (no database connection wait turned into an infrastructure retry, although the worker's pool
    has 6 connections for 20 waits), with one fal submission, one ledger line and one quota unit
    per job."""
    log = artifacts_dir / "capacity-worker.log"
    users = [user_create(username=f"capacity{n}", email=f"capacity{n}@example.com", password="a-long-password-1") for n in range(JOBS)]
    env = worker_env(fal=slow_fal, DATABASE_POOL_MAX_SIZE=str(POOL_MAX), **lane_env())
    with running(worker_args("standard", name="capacity", concurrency=None), env=env, log=log) as worker:
        wait_for(lambda: " ready." in log_text(log), timeout=60, what="the worker to be ready")
        started = time.monotonic()
        jobs = [
            generation_job_create(user_id=user.pk, prompt=f"A portrait of lighthouse keeper number {n}", size=256)
            for n, user in enumerate(users)
        ]
        wait_for(
            lambda: (
                GenerationJob.objects.filter(pk__in=[job.pk for job in jobs], status__in=GenerationJob.TERMINAL_STATUSES).count() == JOBS
            ),
            timeout=JOBS * LATENCY + 60,
            interval=0.05,
            what="every job to end",
        )
        span = time.monotonic() - started
        children = child_pids(worker.pid)

    assert children == [], "the lane's worker runs its jobs on threads of its own process"
    finished = list(GenerationJob.objects.filter(pk__in=[job.pk for job in jobs]))
    assert {(job.status, job.runs, job.quota_units, job.quota_refunded) for job in finished} == {("succeeded", 1, 1, False)}, log_tail(log)
    assert span < 2 * LATENCY, f"{JOBS} jobs of {LATENCY:g} s took {span:.1f} s\n{log_tail(log)}"
    assert "infrastructure fault" not in log_text(log)
    assert slow_fal.submissions == JOBS
    entries = list(CostEntry.objects.filter(job__in=finished).values_list("job_id", "outcome"))
    assert sorted(entries) == sorted((job.pk, "succeeded") for job in finished)
    assert GeneratedImage.objects.filter(job__in=finished).count() == JOBS


@pytest.mark.django_db(transaction=True)
def test_a_killed_thread_pool_worker_leaves_every_job_it_ran_to_be_taken_over_by_lease_and_paid_once(slow_fal, broker, artifacts_dir):
    """SIGKILL of a thread-pool lane worker while 5 jobs wait on fal in its one process: every one of them
    dies at once (no pool child to replace). With short leases (3 s), the reconciler sends each job's
    message again once its lease has expired; a new thread-pool worker takes them over (a second run),
    resumes the fal request each first run recorded, and all end `succeeded`: one fal submission, one
    ledger line and one quota unit per job."""
    count = 5
    users = [user_create(username=f"killed{n}", email=f"killed{n}@example.com", password="a-long-password-1") for n in range(count)]
    env = worker_env(fal=slow_fal, GENERATION_LEASE_SECONDS="3", **lane_env())
    first_log, second_log = artifacts_dir / "capacity-killed-worker.log", artifacts_dir / "capacity-new-worker.log"
    with running(worker_args("standard", name="capacity-first", concurrency=None), env=env, log=first_log) as worker:
        wait_for(lambda: " ready." in log_text(first_log), timeout=60, what="the worker to be ready")
        jobs = [
            generation_job_create(user_id=user.pk, prompt=f"A keeper of the light, number {n}", size=256) for n, user in enumerate(users)
        ]
        wait_for(
            lambda: CostEntry.objects.filter(job__in=jobs).exclude(request_id="").count() == count,
            timeout=60,
            interval=0.05,
            what="every fal request id to be recorded",
        )
        calls = {call.job_id: call.request_id for call in CostEntry.objects.filter(job__in=jobs)}
        assert all(slow_fal.phase(request_id) != "COMPLETED" for request_id in calls.values()), "fal finished before the kill"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    assert GenerationJob.objects.filter(pk__in=[job.pk for job in jobs], status="running").count() == count

    with running(worker_args("standard", name="capacity-second", concurrency=None), env=env, log=second_log):
        deadline = time.monotonic() + 90
        while GenerationJob.objects.filter(pk__in=[job.pk for job in jobs], status__in=GenerationJob.TERMINAL_STATUSES).count() < count:
            assert time.monotonic() < deadline, f"not every job settled\n{log_tail(first_log, second_log)}"
            generation_jobs_reconcile()
            time.sleep(0.5)

    finished = list(GenerationJob.objects.filter(pk__in=[job.pk for job in jobs]))
    assert {(job.status, job.runs, job.quota_units, job.quota_refunded) for job in finished} == {("succeeded", 2, 1, False)}, log_tail(
        first_log, second_log
    )
    assert slow_fal.submissions == count
    entries = sorted(CostEntry.objects.filter(job__in=finished).values_list("job_id", "outcome", "request_id"))
    assert entries == sorted((job_id, "succeeded", request_id) for job_id, request_id in calls.items())
    assert GeneratedImage.objects.filter(job__in=finished).count() == count


@pytest.mark.django_db(transaction=True)
def test_jobs_ending_together_store_their_results_side_by_side_on_a_slow_object_store(slow_fal, broker, services, artifacts_dir):
    """16 jobs of a 3 s provider end together on a thread-pool worker whose object store takes 0.5 s to
    answer (a proxy in front of the S3 server holds each answer). Each job commits its success once
    its file is stored, holding a database connection meanwhile: queued behind one upload thread,
    16 uploads took 8 s and more (the follow-up sizes queue there too) while the waiting transactions
    kept the pool's connections past their 3 s wait. Uploads go side by side: all 16 end within 2 x L,
    each run once, with its image."""
    count = 16
    log = artifacts_dir / "capacity-slow-store-worker.log"
    users = [user_create(username=f"store{n}", email=f"store{n}@example.com", password="a-long-password-1") for n in range(count)]
    proxy = TcpProxy(services.s3.port, latency=STORE_LATENCY).start()
    try:
        env = worker_env(fal=slow_fal, R2_ENDPOINT_URL=proxy.url, **lane_env())
        with running(worker_args("standard", name="capacity-store", concurrency=None), env=env, log=log):
            wait_for(lambda: " ready." in log_text(log), timeout=60, what="the worker to be ready")
            started = time.monotonic()
            jobs = [generation_job_create(user_id=user.pk, prompt=f"A harbour pilot, number {n}", size=256) for n, user in enumerate(users)]
            ids = [job.pk for job in jobs]
            wait_for(
                lambda: GenerationJob.objects.filter(pk__in=ids, status__in=GenerationJob.TERMINAL_STATUSES).count() == count,
                timeout=120,
                interval=0.05,
                what="every job to end",
            )
            span = time.monotonic() - started
    finally:
        proxy.stop()

    finished = list(GenerationJob.objects.filter(pk__in=ids))
    assert {(job.status, job.runs) for job in finished} == {("succeeded", 1)}, log_tail(log)
    assert span < 2 * LATENCY, f"{count} jobs of {LATENCY:g} s took {span:.1f} s\n{log_tail(log)}"
    assert "infrastructure fault" not in log_text(log)
    assert GeneratedImage.objects.filter(job__in=finished).count() == count
