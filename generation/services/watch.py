"""What a run watches while a provider works: the job's progress, relayed to its listeners at a
bounded rate, and the user's cancel, read at a bounded rate."""

import time

from django.db import connection

from .. import progress as listeners
from ..lease import LeaseKeeper
from ..models import GenerationJob

# The least time between two progress reports of a run: each is a row write and a message, on the
# way to the result; a person watching a bar does not need them more often.
PROGRESS_EVERY_SECONDS = 0.2


class JobProgressRelay:
    """Forwards a provider's progress to the job, skipping updates nobody would see, at most one
    every PROGRESS_EVERY_SECONDS (from the run's start, which saved "Starting"). A report that
    comes sooner is held: the next report or the adapter's next cancel check (`flush`, at least
    every poll interval) sends it, and it is dropped if the call ends first (its end says more).
    Reports are written only while the run holds the job (`lease`) and the job has not ended: a
    cancel wins over any report still on its way.

    The page learns that the job runs (`announce`) once a provider has the request or reports
    first, not as the run claims the job: that message would be sent while the run opens its
    ledger line and submits, and delay the submission, from which the provider's time counts."""

    def __init__(self, job: GenerationJob, *, lease: str = "") -> None:
        self.job, self.lease, self.percent, self.message, self.at = job, lease, -1, "", time.monotonic()
        self.held: tuple[int, str] | None = None
        self.announced = False

    def announce(self) -> None:
        """Send the job's running state, once (a report sent says it too)."""
        if not self.announced:
            self.announced = True
            listeners.job_notify(job=self.job)

    def __call__(self, percent: int, message: str) -> None:
        percent = max(5, min(95, percent), self.percent, self.held[0] if self.held else -1)  # never backwards
        if percent >= self.percent + 5 or percent == 95 or message != self.message:
            self.held = (percent, message)
        self.flush()
        self.announce()  # when the report is held; one that went out said it already

    def flush(self) -> None:
        now = time.monotonic()
        if self.held is not None and now - self.at >= PROGRESS_EVERY_SECONDS:
            (self.percent, self.message), self.held, self.at = self.held, None, now
            self.announced = True
            listeners.job_progress_report(job=self.job, progress=self.percent, message=self.message, lease=self.lease)
            connection_release()  # the adapter goes on waiting (or downloading) after a report


class CancelWatch:
    """Asked by adapters between polls: has the user canceled this job? (read at most every 0.5 s;
    made as the run claims the job, which it would not have if it were canceled: the first read
    is due half a second later, not on the way to a provider that answers at once)"""

    def __init__(self, job_id) -> None:
        self.job_id, self.checked_at, self.canceled = job_id, time.monotonic(), False

    def __call__(self, *, now: bool = False) -> bool:
        at = time.monotonic()
        if not self.canceled and (now or at - self.checked_at >= 0.5):
            self.checked_at = at
            self.canceled = GenerationJob.objects.filter(pk=self.job_id, status=GenerationJob.Status.CANCELED).exists()
        return self.canceled


def cancel_check(*, watch: CancelWatch, progress: JobProgressRelay, keeper: LeaseKeeper) -> bool:
    """The adapters' cancel check, asked at least every poll interval: stops a run whose job was
    taken over (LeaseLostError, without canceling the request its new owner resumes), sends a held
    report, then answers whether the user canceled."""
    keeper.check()
    progress.flush()
    canceled = watch()
    connection_release()  # the adapter waits next
    return canceled


def connection_release() -> None:
    """Hand this thread's database connection back to the process's pool as the run starts waiting
    on a provider: on a thread-pool worker dozens of runs wait at once, and a connection held through
    each wait would need a pool (and PostgreSQL connections) as large as the thread count. Taken again
    from the pool at the next query (checked first: CONN_HEALTH_CHECKS). Only with a pool (without
    one the next query would open a new connection) and never inside a transaction."""
    if connection.connection is not None and not connection.in_atomic_block and getattr(connection, "pool", None) is not None:
        connection.close()
