"""Celery tasks of the generation app: thin wrappers around services."""

import random
from dataclasses import asdict

from celery import shared_task
from django.conf import settings

from avatarsite.core.infrastructure import INFRASTRUCTURE_ERRORS

from . import budget, deliveries, dispatch, idempotency
from .lease import JobBusyError, RunInterruptedError
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


def infrastructure_backoff(retries: int) -> float:
    """Seconds before the next try after an infrastructure fault: 1, 2, 4, 8, then 15 at most, with
    jitter (a job waits at most that long past the end of an outage; GENERATION_INFRA_RETRIES bounds
    how long it keeps trying: about 7 minutes with the default)."""
    return min(15.0, 2.0**retries) * (0.5 + random.random() / 2)  # noqa: S311 - spreading retries, not a secret


@shared_task(bind=True, name="generation.tasks.job_run", acks_late=True, reject_on_worker_lost=True, ignore_result=True, max_retries=None)
def job_run(self, job_id: str, lease: str = "") -> str | None:
    """Run one job (queue and priority come from its plan at enqueue time). Redelivery is safe:
    the service leaves a finished job alone, runs nothing while another run holds it (this
    delivery looks again once that run's lease would have expired), and resumes a cut-off one
    without paying twice. A database, broker or storage fault is retried with backoff, carrying
    the run's lease; the reconciler settles whatever is left past the job's deadline."""
    try:
        job = generation_job_run(job_id=job_id, lease=lease)
    except JobBusyError as busy:
        raise self.retry(countdown=busy.retry_in, kwargs={"lease": ""}) from None
    except RunInterruptedError as interrupted:
        if self.request.retries >= settings.GENERATION_INFRA_RETRIES:
            raise
        raise self.retry(countdown=infrastructure_backoff(self.request.retries), kwargs={"lease": interrupted.lease}) from interrupted
    return job.status if job else None


@shared_task(
    name="generation.tasks.job_images_finish",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # A database that is busy (SQLite's lock) or briefly down, or the object store, must not cost the
    # job its other sizes: tried again after a random wait of up to 1, 2, 4 ... s (a minute at most),
    # six times at most (then the reconciler queues it again: the job is still marked images_pending).
    autoretry_for=INFRASTRUCTURE_ERRORS,
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
    return deliveries.webhook_deliver(delivery_id=delivery_id)


@shared_task(name="generation.tasks.webhooks_due", acks_late=True, ignore_result=True)
def webhooks_due() -> int:
    """Beat, every 30 s: enqueue the webhook deliveries whose next attempt is due."""
    due = deliveries.webhook_deliveries_due()
    for delivery_id in due:
        dispatch.webhook_delivery_enqueue(delivery_id)
    return len(due)


@shared_task(name="generation.tasks.idempotency_keys_prune", acks_late=True, ignore_result=True)
def idempotency_keys_prune() -> int:
    """Beat, hourly: forget API idempotency keys older than a day."""
    return idempotency.idempotency_keys_prune()


@shared_task(name="generation.tasks.budget_alerts_check", acks_late=True, ignore_result=True)
def budget_alerts_check() -> list[int]:
    """Beat, every 5 minutes: the spend budget's thresholds crossed since the last paid call's check."""
    return [alert.threshold for alert in budget.budget_alerts_check()]
