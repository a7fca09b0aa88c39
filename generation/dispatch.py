"""The one place the generation app sends its Celery tasks: by their registered names, through the
Celery app, so the services and deliveries that enqueue never import the tasks that call them."""

import logging

from celery import current_app
from django.db import transaction

from .models import GenerationJob

logger = logging.getLogger(__name__)

# The names `generation.tasks` registers (each task there names itself, so these cannot drift).
JOB_RUN = "generation.tasks.job_run"
JOB_IMAGES_FINISH = "generation.tasks.job_images_finish"
WEBHOOK_DELIVER = "generation.tasks.webhook_deliver"
TASK_NAMES = (JOB_RUN, JOB_IMAGES_FINISH, WEBHOOK_DELIVER)


def task_send(name: str, *, args: list, **options) -> None:
    """Send one message for the task registered as `name` (options: queue, priority). As
    `task.apply_async` would for these tasks: they keep no result."""
    current_app.send_task(name, args=args, ignore_result=True, **options)


def job_run_enqueue(job: GenerationJob) -> None:
    """The job's run, on its plan's queue at its plan's priority."""
    task_send(JOB_RUN, args=[str(job.id)], queue=job.queue, priority=job.priority)


def job_run_enqueue_on_commit(job: GenerationJob) -> None:
    """Send the job's message once its row is committed. A broker that cannot be reached then
    loses nothing: the job stays queued, marked as not sent, and the reconciler sends it."""
    transaction.on_commit(lambda: _job_run_enqueue_or_mark(job), robust=True)


def _job_run_enqueue_or_mark(job: GenerationJob) -> None:
    try:
        job_run_enqueue(job)
    except Exception:
        logger.exception("job %s: its message could not be sent now (the reconciler will send it)", job.id)
        GenerationJob.objects.filter(pk=job.pk, status=GenerationJob.Status.QUEUED).update(enqueued_at=None)


def images_finish_enqueue(job: GenerationJob) -> None:
    """A succeeded job's other sizes: just after the waiting jobs of the same plan (the user already
    has the result), and still before lower plans' jobs on a worker shared by several lanes."""
    task_send(JOB_IMAGES_FINISH, args=[str(job.id)], queue=job.queue, priority=min(9, job.priority + 1))


def webhook_delivery_enqueue(delivery_id: str) -> None:
    """One attempt of a webhook delivery, on the default route of the generation tasks."""
    task_send(WEBHOOK_DELIVER, args=[delivery_id])
