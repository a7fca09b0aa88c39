"""The process's one event loop for channel-layer group messages, run by a daemon thread."""

import asyncio
import functools
import logging
import threading
from concurrent.futures import Future

from .per_process import PerProcess

logger = logging.getLogger(__name__)

NOTIFY_TIMEOUT_SECONDS = 10
# Messages handed to the loop and not sent yet, past which a sender waits for its own (backpressure).
MAX_PENDING = 100


class GroupNotifier:
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


# Per process: a forked child (a prefork worker) has no thread to run the parent's loop.
group_notifier = PerProcess(GroupNotifier)
