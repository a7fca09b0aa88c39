"""Job progress: save the state on the job row first, then notify its websocket group.

The notification is best effort (channel layers drop messages for slow clients); the row is
what a reconnecting client reads, so nothing is lost when a message is.
"""

import logging

from channels.layers import get_channel_layer
from django.utils import timezone

from avatarsite.runtime.notifier import group_notifier

from .models import GeneratedImage, GenerationJob
from .payloads import job_state

logger = logging.getLogger(__name__)


def job_progress_report(*, job: GenerationJob, progress: int, message: str = "", status: str | None = None, lease: str = "") -> bool:
    """Record progress (0-100) and optionally a new status, then tell the job's listeners; only
    while the job has not ended (a cancel wins over any report still on its way) and, with `lease`,
    while that run holds it. False when nothing was written (and nothing is sent)."""
    progress = max(0, min(100, progress))
    fields = {"progress": progress, "message": message[:255], "updated_at": timezone.now()}
    if status is not None:
        fields["status"] = status
    live = GenerationJob.objects.filter(pk=job.pk).exclude(status__in=GenerationJob.TERMINAL_STATUSES)
    if lease:
        live = live.filter(lease_token=lease)
    if not live.update(**fields):
        return False
    for name, value in fields.items():
        setattr(job, name, value)
    job_notify(job=job)
    return True


def job_notify(*, job: GenerationJob, wait: bool | None = None, images: list[GeneratedImage] | None = None) -> None:
    """Send the job's current state to its group; a layer failure never fails the job.

    A final state is waited for (by then every earlier message of this process is out too, so
    nothing is left in flight when the task ends); on the way, a run does not wait for its
    progress messages (`wait` overrides). `images`: the job's image rows, when the caller has them."""
    layer = get_channel_layer()
    if layer is None:
        return
    if wait is None:
        wait = job.status in GenerationJob.TERMINAL_STATUSES
    try:
        state = {**job_state(job=job, images=images), "type": "job.state"}
        group_notifier.get().send(layer, job.group_name, state, wait=wait)
    except Exception:  # progress is a notification: the row already holds the truth
        logger.exception("could not notify listeners of job %s", job.id)
