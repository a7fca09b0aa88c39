"""Job progress: save the state on the job row first, then notify its websocket group.

The notification is best effort (channel layers drop messages for slow clients); the row is
what a reconnecting client reads, so nothing is lost when a message is.
"""

import asyncio
import logging
import os
import threading

from channels.layers import get_channel_layer

from .models import GenerationJob
from .selectors import job_state

logger = logging.getLogger(__name__)

NOTIFY_TIMEOUT_SECONDS = 10
_notify_lock = threading.Lock()
_notify_loop: asyncio.AbstractEventLoop | None = None


def _layer_loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop for notifications, run by a daemon thread. The channel layer
    keeps its Redis connections per event loop, so `async_to_sync` (a new thread and loop per call)
    would open and close a connection for every message; this loop keeps them."""
    global _notify_loop
    with _notify_lock:
        if _notify_loop is None:
            _notify_loop = asyncio.new_event_loop()
            threading.Thread(target=_notify_loop.run_forever, name="job-notify", daemon=True).start()
        return _notify_loop


def _forget_loop_after_fork() -> None:
    """A forked child (a prefork worker) starts its own loop: the parent's thread did not come along."""
    global _notify_lock, _notify_loop
    _notify_lock, _notify_loop = threading.Lock(), None


os.register_at_fork(after_in_child=_forget_loop_after_fork)


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
        state = {**job_state(job=job), "type": "job.state"}
        sent = asyncio.run_coroutine_threadsafe(layer.group_send(job.group_name, state), _layer_loop())
        try:
            sent.result(timeout=NOTIFY_TIMEOUT_SECONDS)
        finally:
            sent.cancel()  # a no-op once done; stops a send stuck past the timeout
    except Exception:  # progress is a notification: the row already holds the truth
        logger.exception("could not notify listeners of job %s", job.id)
