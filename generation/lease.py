"""A run's lease on its job: who may write to it, for how long, and the thread that keeps it.

Claiming a job (services._job_claim) gives the run a token and an expiry. Every later write of the
run (progress, ledger lines, request ids, success, failure, images) is conditional on the job
still holding that token, so a second delivery of the same message, or a run that lost its job to
another, writes nothing. While the run lives, a thread renews the expiry; a run whose process died
stops renewing, its lease expires, and the next delivery (or the reconciler) takes the job over
and resumes the provider request it recorded.
"""

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from avatarsite.core.infrastructure import INFRASTRUCTURE_ERRORS

from .models import GenerationJob

logger = logging.getLogger(__name__)


class LeaseLostError(Exception):
    """The job was taken over (by another run, after this one's lease expired, or by the
    reconciler past the job's deadline): this run stops at once and leaves the job to its owner,
    without canceling the provider request the new owner resumes."""


class JobBusyError(Exception):
    """Another run holds the job's lease and may be alive: this delivery runs nothing now, and
    looks again once that lease would have expired (`retry_in` seconds)."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"the job is being run elsewhere; look again in {retry_in:.0f} s")
        self.retry_in = retry_in


class RunInterruptedError(Exception):
    """A fault of our own infrastructure (database, Redis, object store) ended the run's attempt:
    the task tries again later, with `lease` (the run's token, "" if it never got one), and the
    new attempt takes the job back and resumes what was recorded."""

    def __init__(self, *, lease: str) -> None:
        super().__init__("the run met an infrastructure fault")
        self.lease = lease


def lease_token_new() -> str:
    return secrets.token_hex(16)


def lease_seconds() -> float:
    return float(settings.GENERATION_LEASE_SECONDS)


def lease_expiry(now=None):
    return (now or timezone.now()) + timedelta(seconds=lease_seconds())


@dataclass
class LeaseKeeper:
    """Renews a run's lease every third of its length, on a thread of its own (a provider call
    may block for many seconds), until the run ends or `renew_until` (time.monotonic(): the run's
    deadline; a run hung past it is left to the reconciler). `lost` is set when the job turns out
    to have another owner."""

    job_id: object
    token: str
    renew_until: float
    lost: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> "LeaseKeeper":
        self._thread = threading.Thread(target=self._keep, name=f"lease-{self.job_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def check(self) -> None:
        """Raise LeaseLostError when the job has another owner now."""
        if self.lost.is_set():
            raise LeaseLostError(f"job {self.job_id}: its lease was taken over")

    def _keep(self) -> None:
        interval = max(0.05, lease_seconds() / 3)
        while not self._stop.wait(interval) and time.monotonic() < self.renew_until:
            try:
                if not self._renew():
                    return
            finally:
                connection.close()  # this thread's own connection: back to the pool between renewals

    def _renew(self) -> bool:
        """Extend the lease; False once there is nothing left to keep (lost, or the job ended)."""
        try:
            if GenerationJob.objects.filter(pk=self.job_id, lease_token=self.token, status=GenerationJob.Status.RUNNING).update(
                lease_expires_at=lease_expiry()
            ):
                return True
            if not GenerationJob.objects.filter(pk=self.job_id, lease_token=self.token).exists():
                self.lost.set()
            return False
        except INFRASTRUCTURE_ERRORS as exc:  # the run meets the outage itself at its next write
            logger.warning("job %s: could not renew its lease: %r", self.job_id, exc)
            return True
