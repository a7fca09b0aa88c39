"""Workers dying mid-generation: real Redis broker, real worker subprocesses, the fake fal queue
API, PostgreSQL and the S3 server. The books must balance: one provider submission, one ledger
line, quota taken once, whatever was killed."""

import os
import signal
import time

import pytest

from avatarsite.accounts.services import user_create
from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.services import generation_job_create, generation_jobs_reconcile
from generation.tasks import job_images_finish, job_progress_publish, job_run
from tests.fakes.fal import FakeFal
from tests.support.processes import running
from tests.support.workers import (
    broker_unacked,
    broker_waiting,
    fal_providers,
    log_tail,
    log_text,
    pool_child,
    wait_for,
    worker_args,
    worker_env,
)

PROMPT = "A portrait of a lighthouse keeper with a grey beard and a yellow raincoat"
FAL_LATENCY = 3.0  # seconds from submission to COMPLETED at the fake: the window in which workers are killed
TERMINAL = GenerationJob.TERMINAL_STATUSES


@pytest.fixture
def fal(settings):
    server = FakeFal(latency=FAL_LATENCY).start()
    fal_providers(settings, server)
    yield server
    server.stop()


@pytest.fixture
def user():
    return user_create(username="keeper", email="keeper@example.com", password="a-long-password-1")


def _job_is_mid_generation(job: GenerationJob, fal: FakeFal) -> CostEntry:
    """Wait until the worker has submitted the job to fal and recorded the request id; check that
    the request is still running there, so that what is killed next is killed mid-generation."""
    call = wait_for(
        lambda: CostEntry.objects.filter(job=job).exclude(request_id="").first(), timeout=60, what="the fal request id to be recorded"
    )
    job.refresh_from_db()
    assert (job.status, job.runs, call.outcome) == ("running", 1, "pending")
    assert fal.phase(call.request_id) != "COMPLETED", "fal finished before the kill: the machine is too slow for this window"
    return call


def _settled(job: GenerationJob) -> bool:
    return GenerationJob.objects.filter(pk=job.pk, status__in=TERMINAL).exists()


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_child_is_requeued_and_the_rerun_resumes_the_fal_request_without_paying_twice(fal, broker, user, artifacts_dir):
    """A killed worker child costs one more attempt and no second payment: SIGKILL of the pool child while fal
    is generating: Celery requeues the message (acks_late + reject_on_worker_lost), the new child runs the job
    a second time, and that run resumes the request id the first one recorded: one submission, one ledger
    line, one quota unit."""
    log = artifacts_dir / "p-cel-1-worker.log"
    with running(worker_args("standard", name="pcel1"), env=worker_env(fal=fal), log=log) as worker:
        job = generation_job_create(user_id=user.pk, prompt=PROMPT, size=256)
        call = _job_is_mid_generation(job, fal)
        child = pool_child(worker.pid)
        killed_at = time.monotonic()
        os.kill(child, signal.SIGKILL)

        wait_for(lambda: _settled(job), timeout=60, what="the job to settle after the requeue")
        assert pool_child(worker.pid) != child  # the pool replaced the killed process

    job.refresh_from_db()
    assert (job.status, job.runs) == ("succeeded", 2), log_tail(log)
    assert fal.submissions == 1
    # The second run waited on the recorded request: it asked fal about that id after the kill.
    assert any(call.request_id in seen["path"] and seen["time"] > killed_at for seen in fal.requests)
    entries = list(CostEntry.objects.filter(job=job).values_list("provider", "outcome", "request_id"))
    assert entries == [("fal", "succeeded", call.request_id)]
    assert (job.quota_units, job.quota_refunded) == (1, False)
    assert GeneratedImage.objects.filter(job=job).count() == 1


def test_job_run_is_acknowledged_late_requeued_when_its_worker_dies_and_prefetched_one_at_a_time():
    """Late acknowledgement, requeue on a lost worker (configuration): what makes the re-run of the test above
    happen, on the task and in the settings."""
    from avatarsite.celery import app

    for task in (job_run, job_images_finish):
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True), task.name
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["early-ack", "late-ack-no-reject"])
def test_without_late_ack_and_reject_on_worker_lost_a_killed_worker_child_loses_the_job(fal, broker, user, artifacts_dir, mode):
    """Guard: without late acknowledgement and requeue on a lost worker, the job is lost. The kill of the
    first test against a worker whose job_run lacks the project's options (tests/support/lossy_job_run.py,
    included in that worker only): the message is acknowledged, nothing runs the job again, and it stays
    `running` with its fal request left open."""
    log = artifacts_dir / f"p-cel-2-{mode}-worker.log"
    args = worker_args("standard", name=f"pcel2-{mode}", include="tests.support.lossy_job_run")
    with running(args, env=worker_env(fal=fal, LOSSY_JOB_RUN=mode), log=log) as worker:
        job = generation_job_create(user_id=user.pk, prompt=PROMPT, size=256)
        call = _job_is_mid_generation(job, fal)
        os.kill(pool_child(worker.pid), signal.SIGKILL)
        wait_for(lambda: "WorkerLostError" in log_text(log), timeout=60, what="the worker to report the lost child")

        # A marker sent after the loss, at the lowest priority: once it has run, a requeued job_run
        # (priority 5) would have run before it.
        marker = GenerationJob.objects.create(user=user, prompt="marker")
        job_progress_publish.apply_async(args=[str(marker.pk), 77, "marker"], queue="standard", priority=9)
        wait_for(lambda: GenerationJob.objects.filter(pk=marker.pk, progress=77).exists(), timeout=60, what="the marker task")

        job.refresh_from_db()
        assert (job.status, job.runs) == ("running", 1), log_tail(log)
        assert fal.submissions == 1
        assert list(CostEntry.objects.filter(job=job).values_list("outcome", "request_id")) == [("pending", call.request_id)]
        # Acknowledged: the broker will never hand it out again. (Wait, since the marker's own late
        # acknowledgement lands just after its row is written; a held job_run would never leave.)
        wait_for(lambda: broker_unacked(broker) == [], timeout=15, what="no message held unacknowledged")
        assert broker_unacked(broker) == []
        assert broker_waiting(broker) == 0


@pytest.mark.django_db(transaction=True)
def test_a_whole_worker_killed_mid_job_leaves_the_job_settled_exactly_once_within_the_visibility_timeout(
    settings, fal, broker, user, artifacts_dir, record_property
):
    """A whole worker killed: its job is settled once, by redelivery or by the reconciler. SIGKILL of the
    worker's whole process group (main and child) mid-job, with a 10 s visibility timeout and a shorter time
    limit; a new worker starts at once. The job must be settled once: by the reconciler (called here every
    2 s, 1 s grace) after its 5 s run deadline, or by the redelivered message, which Redis hands out again
    within visibility timeout + 120 s either way and which must then change nothing. The path taken is written
    to test-artifacts/p-cel-3-path.txt."""
    visibility_timeout = 10
    settings.GENERATION_RECONCILE_GRACE_SECONDS = 1
    env = worker_env(
        fal=fal,
        CELERY_VISIBILITY_TIMEOUT=str(visibility_timeout),
        CELERY_TASK_TIME_LIMIT="8",
        GENERATION_RUN_TIMEOUT_SECONDS="5",
    )
    first_log, second_log = artifacts_dir / "p-cel-3-killed-worker.log", artifacts_dir / "p-cel-3-new-worker.log"

    with running(worker_args("standard", name="pcel3-first"), env=env, log=first_log) as worker:
        job = generation_job_create(user_id=user.pk, prompt=PROMPT, size=256)
        call = _job_is_mid_generation(job, fal)
        pool_child(worker.pid)  # the child is in the worker's process group: both die
        os.killpg(worker.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        worker.wait(timeout=30)
    [held] = broker_unacked(broker)  # the message stays unacknowledged in Redis, invisible until the timeout
    assert held["task"] == "generation.tasks.job_run"
    limit = killed_at + visibility_timeout + 120

    with running(worker_args("standard", name="pcel3-second"), env=env, log=second_log):
        while not _settled(job):
            assert time.monotonic() < limit, f"not settled within the visibility timeout + 120 s\n{log_tail(second_log)}"
            generation_jobs_reconcile()
            time.sleep(2)
        settled_after = time.monotonic() - killed_at
        job.refresh_from_db()
        path = "redelivered and resumed" if job.runs >= 2 else "settled by the reconciler"

        # Whichever came first, the message comes back and runs, and must find nothing left to do.
        wait_for(
            lambda: f"job_run[{held['id']}] succeeded" in log_text(second_log),
            timeout=max(1.0, limit - time.monotonic()),
            interval=0.5,
            what="the redelivered job_run to run",
        )
        redelivered_after = time.monotonic() - killed_at
        wait_for(lambda: not broker_unacked(broker), timeout=30, what="the redelivered message to be acknowledged")

    (artifacts_dir / "p-cel-3-path.txt").write_text(
        f"{path}: job {job.status} {settled_after:.1f} s after the kill (runs={job.runs}); "
        f"message redelivered and run {redelivered_after:.1f} s after the kill\n"
    )
    record_property("p_cel_3_path", path)
    job.refresh_from_db()
    assert job.status in TERMINAL
    assert job.runs == (2 if path.startswith("redelivered") else 1)  # the late message ran nothing again
    assert fal.submissions == 1
    entries = list(CostEntry.objects.filter(job=job).values_list("outcome", "request_id"))
    if job.status == "succeeded":
        assert entries == [("succeeded", call.request_id)]
        assert (job.quota_units, job.quota_refunded) == (1, False)
        assert GeneratedImage.objects.filter(job=job).count() == 1
    else:
        assert "succeeded" not in [outcome for outcome, _ in entries]
        assert job.quota_refunded
