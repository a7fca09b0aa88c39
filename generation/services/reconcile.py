"""The reconciler: settle what no run is settling (jobs past their deadline, lost messages,
followers left waiting, other sizes never queued, provider calls left open), each item on its own."""

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from gallery import imaging

from .. import dispatch
from ..lease import lease_token_new
from ..ledger import call_settle
from ..models import CostEntry, ErrorKind, GenerationJob
from ..providers.base import CallContext, GenerationRequest, GenerationResult, ProviderError, RequestNotFoundError
from ..providers.registry import provider_get
from .calls import call_unknown
from .images import StoredImage, native_size, store_results
from .results import calls_abandon, followers_release, generation_job_fail, job_succeed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileSummary:
    succeeded: int = 0
    failed: int = 0
    calls_closed: int = 0
    requeued: int = 0
    followers: int = 0
    errors: int = 0


def generation_jobs_reconcile(*, resume_seconds: float = 20.0) -> ReconcileSummary:
    """Settle what no run is settling, each job on its own (a fault on one never stops the rest):
    - jobs past their deadline (a lost worker, a lost provider answer): the provider is asked once
      more for each request the job made (found by its id, or looked up where the provider lists
      requests), and a finished one is kept; otherwise the job fails and its quota comes back;
    - queued jobs whose message is gone, and running jobs whose run died (its lease expired): their
      message is sent again (a second copy runs nothing: see the lease);
    - identical requests left waiting for a job that has ended; other sizes not yet queued;
    - provider calls left open by jobs that have ended (asked, looked up, or booked as unknown)."""
    now, grace = timezone.now(), settings.GENERATION_RECONCILE_GRACE_SECONDS
    counts: Counter = Counter()
    _reconcile_overdue(counts=counts, now=now, grace=grace, resume_seconds=resume_seconds)
    _reconcile_messages(counts=counts, now=now)
    _reconcile_followers(counts=counts)
    _reconcile_images(counts=counts, now=now)
    _reconcile_orphan_calls(counts=counts, now=now, grace=grace, resume_seconds=resume_seconds)
    return ReconcileSummary(**counts)


@contextlib.contextmanager
def _isolated(counts: Counter, what: str, *args) -> Iterator[None]:
    """One item of a sweep: what fails is logged and counted, and the sweep goes on."""
    try:
        yield
    except Exception:
        counts["errors"] += 1
        logger.exception("reconciler: " + what, *args)


def _reconcile_overdue(*, counts: Counter, now, grace: int, resume_seconds: float) -> None:
    overdue = GenerationJob.objects.filter(
        status__in=(GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING),
        reused_from=None,
        deadline_at__lt=now - timedelta(seconds=grace),
    ).values_list("pk", "deadline_at")
    for job_id, deadline_at in overdue[:200]:
        with _isolated(counts, "job %s could not be settled", job_id):
            # Claim: move the deadline on and take the lease, so a second reconciler (and a late run,
            # whose writes are conditional on its lease) skips it.
            token = lease_token_new()
            claimed = GenerationJob.objects.filter(pk=job_id, deadline_at=deadline_at).update(
                deadline_at=now + timedelta(seconds=resume_seconds + grace),
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=resume_seconds + grace),
            )
            if not claimed:
                continue
            job = _job_settle_overdue(job=GenerationJob.objects.get(pk=job_id), lease=token, resume_seconds=resume_seconds)
            counts["succeeded"] += job.status == GenerationJob.Status.SUCCEEDED
            counts["failed"] += job.status == GenerationJob.Status.FAILED


def _job_settle_overdue(*, job: GenerationJob, lease: str, resume_seconds: float) -> GenerationJob:
    for call in job.cost_entries.filter(outcome=CostEntry.Outcome.PENDING):
        provider = provider_get(call.provider)
        if provider is None:
            continue
        found = _call_resolve(job=job, call=call, provider=provider, lease=lease, resume_seconds=resume_seconds)
        if found is not None:
            result, stored = found
            return job_succeed(job=job, result=result, stored=stored, call=call, lease=lease)
    if job.status == GenerationJob.Status.QUEUED:
        message = "This waited too long in the queue, so it was given up. Your quota was returned; please try again."
    else:
        message = "This generation stopped answering, so it was given up. Your quota was returned; please try again."
    return generation_job_fail(job=job, lease=lease, kind=ErrorKind.TIMEOUT, message=message)


def _call_resolve(
    *, job: GenerationJob, call: CostEntry, provider, lease: str, resume_seconds: float, store: bool = True
) -> tuple[GenerationResult, list[StoredImage]] | None:
    """Learn what became of a line's request, without ever sending a new one: by its id, or by a
    look-up where the provider lists requests. A finished request gives its result, stored unless
    `store` is False (the line left open for the caller to settle with it); one that never came to
    be is closed at $0; one nobody can ask about is booked as unknown; one still running, or
    failed, is left open (None)."""
    request = GenerationRequest(
        prompt=job.prompt, model=call.model, style=job.style, seed=job.seed, size=job.size, num_images=job.num_images
    )
    if not call.request_id and not getattr(provider, "can_look_up", False):
        call_unknown(call=call, provider=provider, request=request, lease=lease)
        return None
    lookup_since = None if call.request_id else call.created_at.timestamp()
    context = CallContext(
        resume_id=call.request_id, lookup_since=lookup_since, lookup_only=True, deadline=time.monotonic() + resume_seconds
    )
    try:
        result = provider.generate(request, context)
        if store:
            result, stored = store_results(result, size=job.size, expected=min(job.size, native_size(provider, call.model, job.size)))
        else:
            stored = []
    except RequestNotFoundError as exc:
        call_settle(call=call, outcome=CostEntry.Outcome.FAILED, lease=lease, error=exc)
        return None
    except (ProviderError, imaging.UnsafeImageError) as exc:
        logger.warning("reconciler: job %s, %s request %s did not finish: %s", job.id, call.provider, call.request_id or "(looked up)", exc)
        return None
    return result, stored


def _reconcile_messages(*, counts: Counter, now) -> None:
    """Send again the message of a queued job that has waited GENERATION_REQUEUE_AFTER_SECONDS since
    its last one, and of a running job whose run died (its lease expired since its last message)."""
    stale = now - timedelta(seconds=settings.GENERATION_REQUEUE_AFTER_SECONDS)
    lost = GenerationJob.objects.filter(
        Q(status=GenerationJob.Status.QUEUED, reused_from=None) & (Q(enqueued_at__lt=stale) | Q(enqueued_at=None))
        | Q(status=GenerationJob.Status.RUNNING, lease_expires_at__lt=now)
        & (Q(enqueued_at=None) | Q(enqueued_at__lt=F("lease_expires_at"))),
        deadline_at__gte=now,
    ).values_list("pk", "enqueued_at")
    for job_id, enqueued_at in lost[:500]:
        with _isolated(counts, "job %s could not be queued again", job_id):
            if GenerationJob.objects.filter(pk=job_id, enqueued_at=enqueued_at).update(enqueued_at=now):
                dispatch.job_run_enqueue(GenerationJob.objects.get(pk=job_id))
                counts["requeued"] += 1


def _reconcile_followers(*, counts: Counter) -> None:
    leaders = (
        GenerationJob.objects.filter(status=GenerationJob.Status.QUEUED, reused_from__status__in=GenerationJob.TERMINAL_STATUSES)
        .values_list("reused_from_id", flat=True)
        .distinct()
    )
    for leader_id in list(leaders[:200]):
        with _isolated(counts, "the followers of job %s could not be released", leader_id):
            counts["followers"] += followers_release(leader_id=leader_id)


def _reconcile_images(*, counts: Counter, now) -> None:
    """Other sizes of succeeded jobs that were never queued (the broker was down): queued again."""
    stale = now - timedelta(seconds=60)
    pending = GenerationJob.objects.filter(images_pending=True, status=GenerationJob.Status.SUCCEEDED, updated_at__lt=stale)
    for job_id in list(pending.values_list("pk", flat=True)[:200]):
        with _isolated(counts, "job %s: other sizes could not be queued", job_id):
            if GenerationJob.objects.filter(pk=job_id, updated_at__lt=stale).update(updated_at=now):
                dispatch.images_finish_enqueue(GenerationJob.objects.get(pk=job_id))


def _reconcile_orphan_calls(*, counts: Counter, now, grace: int, resume_seconds: float) -> None:
    """Lines still open for jobs that have ended and that no run holds any more: what became of each
    request is learned where it can be (a finished one is booked at its cost), the rest is stopped
    there and closed, or booked as unknown."""
    orphans = CostEntry.objects.filter(
        outcome=CostEntry.Outcome.PENDING,
        job__status__in=GenerationJob.TERMINAL_STATUSES,
        created_at__lt=now - timedelta(seconds=grace),
    ).filter(Q(job__lease_expires_at__lt=now) | Q(job__lease_expires_at=None))
    for call in list(orphans.select_related("job")[:200]):
        with _isolated(counts, "provider call %s could not be closed", call.pk):
            token = lease_token_new()
            held = Q(lease_expires_at__lt=now) | Q(lease_expires_at=None)
            if not GenerationJob.objects.filter(held, pk=call.job_id).update(
                lease_token=token, lease_expires_at=now + timedelta(seconds=resume_seconds + grace)
            ):
                continue
            provider = provider_get(call.provider)
            found = None
            if provider is not None:
                found = _call_resolve(
                    job=call.job, call=call, provider=provider, lease=token, resume_seconds=min(resume_seconds, 5.0), store=False
                )
            if found is not None:  # it finished after all: billed, but the job had ended
                result, _ = found
                call_settle(
                    call=call, outcome=CostEntry.Outcome.CANCELED, lease=token, result=result, message="delivered after the job had ended"
                )
            else:
                call.refresh_from_db()
                if call.outcome == CostEntry.Outcome.PENDING:
                    calls_abandon(calls=[call], lease=token, reason="the job had already ended")
            counts["calls_closed"] += 1
