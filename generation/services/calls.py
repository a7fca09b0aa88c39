"""The provider call: one provider, tried until it delivers usable images of the size asked for,
with backoff between transient failures; every request is one ledger line, opened before it is
sent and settled with what became of it."""

import contextlib
import functools
import secrets
import time

from django.conf import settings

from gallery import imaging

from ..breaker import breaker_allows, breaker_record_failure, breaker_record_success
from ..budget import call_expected_usd, call_open_budgeted
from ..lease import LeaseKeeper, LeaseLostError
from ..ledger import UNKNOWN_MESSAGE, call_estimated_cost, call_pending, call_record_request_id, call_settle
from ..models import CostEntry, GenerationJob
from ..providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    GenerationResult,
    PermanentProviderError,
    ProviderCanceledError,
    TransientProviderError,
)
from .images import StoredImage, native_size, store_results
from .watch import CancelWatch, JobProgressRelay, cancel_check, connection_release


def retry_sleep(seconds: float) -> None:
    """The wait between two attempts: the module's clock seam (a test records the waits instead)."""
    time.sleep(seconds)


def _call_submitted(call: CostEntry, progress: JobProgressRelay, keeper: LeaseKeeper, provider, model: str, request_id: str) -> None:
    """The provider has the request: record its id before any waiting. A run that lost its job
    meanwhile cannot record it (the new owner never learns of it): it stops that request there."""
    if not call_record_request_id(call=call, request_id=request_id, lease=keeper.token):
        with contextlib.suppress(Exception):
            provider.cancel(request_id, model=model)
        raise LeaseLostError(f"job {call.job_id}: taken over before {provider.name} request {request_id} was recorded")
    progress.announce()
    connection_release()  # the adapter waits next, or downloads an answer that came with the submission


def call_unknown(*, call: CostEntry, provider, request: GenerationRequest, lease: str) -> None:
    """A line left open without the provider's id by a run that stopped (its answer lost), for a
    provider that cannot be asked: settled as unknown, at the model's price (a provider that bills
    nothing, the local generator, simply had its work cut off)."""
    if getattr(provider, "cost", None) is None:
        call_settle(call=call, outcome=CostEntry.Outcome.CANCELED, lease=lease, message="the run stopped; nothing is billed here")
        return
    cost = call_estimated_cost(provider=provider, model=call.model, size=request.size, count=request.num_images)
    call_settle(call=call, outcome=CostEntry.Outcome.UNKNOWN, lease=lease, cost_usd=cost, message=UNKNOWN_MESSAGE)


def call_with_retries(
    *,
    job: GenerationJob,
    provider,
    request: GenerationRequest,
    deadline: float,
    watch: CancelWatch,
    progress: JobProgressRelay,
    keeper: LeaseKeeper,
    resuming: bool,
) -> tuple[GenerationResult, list[StoredImage], CostEntry]:
    """Call one provider until it delivers usable images of the size asked for, with backoff and
    jitter (or the server's Retry-After) between transient failures. A request still alive at the
    provider is resumed, never submitted again; its breaker is asked before every new request.
    Every request is one ledger line, opened before it is sent."""
    attempts = settings.GENERATION_PROVIDER_ATTEMPTS
    expected = min(request.size, native_size(provider, request.model, request.size))
    for attempt in range(1, attempts + 1):
        # Only a later run (or a later attempt) can find a line left open: a first run skips the query.
        call, lookup_since = _call_line(
            job=job, provider=provider, request=request, watch=watch, keeper=keeper, look=resuming or attempt > 1
        )
        context = CallContext(
            on_progress=progress,
            on_submitted=functools.partial(_call_submitted, call, progress, keeper, provider, request.model),
            should_cancel=functools.partial(cancel_check, watch=watch, progress=progress, keeper=keeper),
            resume_id=call.request_id,
            lookup_since=lookup_since,
            deadline=deadline,
        )
        connection_release()  # the submission may itself wait (Replicate's `Prefer: wait`, one-call APIs)
        try:
            result = provider.generate(request, context)
            result, stored = store_results(result, size=request.size, expected=expected)
        except TransientProviderError as exc:
            last = _call_transient(
                call=call,
                exc=exc,
                provider=provider,
                model=request.model,
                keeper=keeper,
                last=attempt == attempts,
                deadline=deadline,
                watch=watch,
            )
            if last:
                raise
            progress.announce()  # it waits to try again: running, not queued
            _retry_wait(exc=exc, attempt=attempt, deadline=deadline)
            continue
        except (ProviderCanceledError, ContentRefusedError, PermanentProviderError) as exc:
            _call_ended(call=call, exc=exc, provider=provider, keeper=keeper)
            raise
        except imaging.UnsafeImageError as exc:  # charged, but nothing we can serve: count the cost, try the next
            error = PermanentProviderError(f"{provider.name} returned an unusable image: {exc}")
            call_settle(call=call, outcome=CostEntry.Outcome.FAILED, lease=keeper.token, error=error, result=result)
            raise error from exc
        return result, stored, call  # settled by job_succeed, with the result, once its files are stored
    raise AssertionError("unreachable: the last attempt returns or raises")


def _call_line(
    *, job: GenerationJob, provider, request: GenerationRequest, watch: CancelWatch, keeper: LeaseKeeper, look: bool
) -> tuple[CostEntry, float | None]:
    """The ledger line of this attempt, and when to look the request up from (None: not looked up):
    a line left open by an earlier run or attempt (`look`) is resumed by its request id, or looked
    up where the provider lists requests, or else booked as unknown; otherwise a new line is opened
    for a new request, if the provider's breaker lets one through."""
    call = call_pending(job=job, provider=provider.name, model=request.model) if look else None
    lookup_since = None
    if call is not None and not call.request_id:
        if getattr(provider, "can_look_up", False):  # it lists requests: find the one that run made
            lookup_since = call.created_at.timestamp()
        else:
            call_unknown(call=call, provider=provider, request=request, lease=keeper.token)
            call = None
    if call is None:
        if not breaker_allows(provider=provider.name):
            raise TransientProviderError(f"{provider.name} is failing right now (circuit open)")
        # Checked against the spend budget and booked at its expected price in one locked step
        # (SpendRefusedError: not sent; the job tries its next provider or ends with the reason).
        expected = call_expected_usd(
            provider=provider, model=request.model, size=native_size(provider, request.model, request.size), count=request.num_images
        )
        call = call_open_budgeted(job=job, provider=provider.name, model=request.model, lease=keeper.token, expected_usd=expected)
        if call is None:  # the job was canceled, or taken over, as this request was about to go
            if watch(now=True):
                raise ProviderCanceledError("canceled before the request was sent")
            raise LeaseLostError(f"job {job.pk}: taken over")
    return call, lookup_since


def _call_transient(
    *,
    call: CostEntry,
    exc: TransientProviderError,
    provider,
    model: str,
    keeper: LeaseKeeper,
    last: bool,
    deadline: float,
    watch: CancelWatch,
) -> bool:
    """A transient failure: keep the line open to resume a request that may still finish there,
    unless this was the last try (the last attempt, past the deadline, or canceled): then stop
    that request and close the line as failed. True when it was the last try."""
    call.refresh_from_db(fields=["request_id"])  # on_submitted may have recorded it meanwhile
    resumable = exc.resumable and bool(exc.request_id or call.request_id)
    last = last or time.monotonic() >= deadline or watch()
    if resumable and not last:
        call_record_request_id(call=call, request_id=exc.request_id, lease=keeper.token)
    else:
        if resumable:  # giving up on a request that may still run (and bill) there
            with contextlib.suppress(Exception):
                provider.cancel(exc.request_id or call.request_id, model=model)
        call_settle(call=call, outcome=CostEntry.Outcome.FAILED, lease=keeper.token, error=exc)
        breaker_record_failure(provider=provider.name)
    return last


def _retry_wait(*, exc: TransientProviderError, attempt: int, deadline: float) -> None:
    """Exponential backoff with jitter, at least what the server asked for, at most 30 s and never
    past the deadline."""
    jitter = 0.5 + secrets.randbelow(1000) / 1000
    connection_release()
    wait = max(exc.retry_after or 0.0, settings.GENERATION_PROVIDER_BACKOFF_SECONDS * 2 ** (attempt - 1) * jitter)
    retry_sleep(max(0.0, min(wait, 30.0, deadline - time.monotonic())))


def _call_ended(
    *, call: CostEntry, exc: ProviderCanceledError | ContentRefusedError | PermanentProviderError, provider, keeper: LeaseKeeper
) -> None:
    """Close the line of a request that ended without images: canceled, refused (the provider
    answered, so it is healthy), or failed for good."""
    if isinstance(exc, ProviderCanceledError):
        call_settle(call=call, outcome=CostEntry.Outcome.CANCELED, lease=keeper.token, error=exc)
    elif isinstance(exc, ContentRefusedError):
        call_settle(call=call, outcome=CostEntry.Outcome.REFUSED, lease=keeper.token, error=exc)
        breaker_record_success(provider=provider.name)  # it answered: the provider is healthy
    else:
        call_settle(call=call, outcome=CostEntry.Outcome.FAILED, lease=keeper.token, error=exc)
