"""Celery tasks of the generation app: thin wrappers around services."""

from celery import shared_task

from .models import GenerationJob
from .progress import job_progress_report
from .services import generation_job_run


@shared_task(name="generation.tasks.job_progress_publish", acks_late=True)
def job_progress_publish(job_id: str, progress: int, message: str = "", status: str | None = None) -> bool:
    """Record a job's progress and notify its listeners; False if the job no longer exists."""
    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is None:
        return False
    job_progress_report(job=job, progress=progress, message=message, status=status)
    return True


@shared_task(name="generation.tasks.job_run", acks_late=True, reject_on_worker_lost=True)
def job_run(job_id: str) -> str | None:
    """Run one job (queue and priority come from its plan at enqueue time). Redelivery is safe:
    the service leaves a finished job alone."""
    job = generation_job_run(job_id=job_id)
    return job.status if job else None
