"""Job progress: save the state on the job row first, then notify its websocket group.

The notification is best effort (channel layers drop messages for slow clients); the row is
what a reconnecting client reads, so nothing is lost when a message is.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .models import GenerationJob
from .selectors import job_state

logger = logging.getLogger(__name__)


def job_progress_report(*, job: GenerationJob, progress: int, message: str = "", status: str | None = None) -> None:
    """Record progress (0-100) and optionally a new status, then tell the job's listeners."""
    job.progress = max(0, min(100, progress))
    job.message = message[:255]
    fields = ["progress", "message", "updated_at"]
    if status is not None:
        job.status = status
        fields.append("status")
    job.save(update_fields=fields)
    job_notify(job=job)


def job_notify(*, job: GenerationJob) -> None:
    """Send the job's current state to its group; a layer failure never fails the job."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(job.group_name, {**job_state(job=job), "type": "job.state"})
    except Exception:  # progress is a notification: the row already holds the truth
        logger.exception("could not notify listeners of job %s", job.id)
