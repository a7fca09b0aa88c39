"""Celery tasks of the generation app: thin wrappers around services."""

from dataclasses import asdict

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import idempotency, webhooks
from .models import GenerationJob
from .progress import job_progress_report
from .services import generation_job_images_finish, generation_job_run, generation_jobs_reconcile


@shared_task(name="generation.tasks.job_progress_publish", acks_late=True)
def job_progress_publish(job_id: str, progress: int, message: str = "", status: str | None = None) -> bool:
    """Record a job's progress and notify its listeners; False if the job no longer exists."""
    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is None:
        return False
    job_progress_report(job=job, progress=progress, message=message, status=status)
    return True


@shared_task(name="generation.tasks.job_run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def job_run(job_id: str) -> str | None:
    """Run one job (queue and priority come from its plan at enqueue time). Redelivery is safe:
    the service leaves a finished job alone and resumes a cut-off one without paying twice."""
    job = generation_job_run(job_id=job_id)
    return job.status if job else None


@shared_task(
    name="generation.tasks.job_images_finish",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # A database that is busy (SQLite's lock) or briefly down must not cost the job its other sizes:
    # tried again after a random wait of up to 1, 2, 4 ... s (a minute at most), six times at most.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=6,
)
def job_images_finish(job_id: str) -> int:
    """After a job succeeds with its first image: the other sizes and formats (idempotent, so a retry
    only adds what is still missing)."""
    return generation_job_images_finish(job_id=job_id)


@shared_task(name="generation.tasks.jobs_reconcile", acks_late=True)
def jobs_reconcile() -> dict:
    """Beat, every GENERATION_RECONCILE_EVERY_SECONDS: settle jobs past their deadline."""
    return asdict(generation_jobs_reconcile())


@shared_task(name="generation.tasks.webhook_deliver", acks_late=True, ignore_result=True)
def webhook_deliver(delivery_id: str) -> str:
    """One attempt of a job's completion webhook (a failure schedules the next; see webhooks_due)."""
    return webhooks.webhook_deliver(delivery_id=delivery_id)


@shared_task(name="generation.tasks.webhooks_due", acks_late=True, ignore_result=True)
def webhooks_due() -> int:
    """Beat, every 30 s: enqueue the webhook deliveries whose next attempt is due."""
    due = webhooks.webhook_deliveries_due()
    for delivery_id in due:
        webhook_deliver.delay(delivery_id)
    return len(due)


@shared_task(name="generation.tasks.idempotency_keys_prune", acks_late=True, ignore_result=True)
def idempotency_keys_prune() -> int:
    """Beat, hourly: forget API idempotency keys older than a day."""
    return idempotency.idempotency_keys_prune()
