"""Celery tasks of the generation app: thin wrappers around services."""

from celery import shared_task

from .models import GenerationJob
from .progress import job_progress_report


@shared_task(name="generation.tasks.job_progress_publish", acks_late=True)
def job_progress_publish(job_id: str, progress: int, message: str = "", status: str | None = None) -> bool:
    """Record a job's progress and notify its listeners; False if the job no longer exists."""
    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is None:
        return False
    job_progress_report(job=job, progress=progress, message=message, status=status)
    return True
