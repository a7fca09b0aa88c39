"""Job progress: save the state on the job row first, then notify its websocket group.

The notification is best effort (channel layers drop messages for slow clients); the row is
what a reconnecting client reads, so nothing is lost when a message is.
"""

import asyncio
import functools
import logging
import threading
from concurrent.futures import Future

from channels.layers import get_channel_layer
from django.utils import timezone

from avatarsite.core.per_process import PerProcess

from .models import GeneratedImage, GenerationJob
from .selectors import job_state

logger = logging.getLogger(__name__)

NOTIFY_TIMEOUT_SECONDS = 10
# Messages handed to the loop and not sent yet, past which a sender waits for its own (backpressure).
MAX_PENDING = 100


class _Notifier:
    """The process's one event loop for notifications, run by a daemon thread. The channel layer
    keeps its Redis connections per event loop, so `async_to_sync` (a new thread and loop per call)
    would open and close a connection for every message; this loop keeps them. Messages go out one
    at a time, in the order they were handed over (a lock taken in FIFO order), so a later state
    never overtakes an earlier one although callers need not wait for the send."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.order: asyncio.Lock | None = None  # made on the loop, by the first send
        self.pending = 0
        self.pending_lock = threading.Lock()
        threading.Thread(target=self.loop.run_forever, name="job-notify", daemon=True).start()

    async def _send(self, layer, group: str, message: dict) -> None:
        if self.order is None:
            self.order = asyncio.Lock()
        async with self.order:
            await asyncio.wait_for(layer.group_send(group, message), NOTIFY_TIMEOUT_SECONDS)

    def send(self, layer, group: str, message: dict, *, wait: bool) -> None:
        with self.pending_lock:
            self.pending += 1
            wait = wait or self.pending > MAX_PENDING
        sent = asyncio.run_coroutine_threadsafe(self._send(layer, group, message), self.loop)
        sent.add_done_callback(functools.partial(self._done, report=not wait))
        if wait:
            try:
                sent.result(timeout=NOTIFY_TIMEOUT_SECONDS)
            finally:
                sent.cancel()  # a no-op once done; stops a send stuck past the timeout

    def _done(self, sent: Future, *, report: bool) -> None:
        with self.pending_lock:
            self.pending -= 1
        if report and not sent.cancelled() and sent.exception() is not None:  # a waiting caller reports its own
            logger.warning("a job notification was not sent: %r", sent.exception())


_notifier = PerProcess(_Notifier)


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
        _notifier.get().send(layer, job.group_name, state, wait=wait)
    except Exception:  # progress is a notification: the row already holds the truth
        logger.exception("could not notify listeners of job %s", job.id)
