"""A real Celery worker process consumes tasks from the real Redis broker."""

import time

import pytest

from generation.models import GenerationJob
from generation.tasks import job_progress_publish
from tests.support.processes import celery_worker_args, project_env, running, subprocess_database_url


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_worker_process_consumes_a_task_from_redis_and_updates_the_job(django_user_model, artifacts_dir):
    user = django_user_model.objects.create_user("worker-owner", "owner@example.com", "pw-123456789")
    job = GenerationJob.objects.create(user=user, prompt="a fox in a hoodie")

    with running(celery_worker_args("standard"), env=project_env(DATABASE_URL=subprocess_database_url()), log=artifacts_dir / "worker.log"):
        result = job_progress_publish.apply_async(args=[str(job.pk), 55, "drawing"], queue="standard")
        done = _wait_for(lambda: GenerationJob.objects.filter(pk=job.pk, progress=55).exists())

    assert done, (artifacts_dir / "worker.log").read_text()[-3000:]
    job.refresh_from_db()
    assert job.message == "drawing"
    assert result.get(timeout=10) is True  # the result came back through the Redis result backend
