"""The run's state machine: claim the job under a lease (a conditional UPDATE), then run it along
its provider chain (generation_job_run), each provider given a fair share of the time left,
until one delivers, the user cancels, or every one has failed."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from avatarsite.core.infrastructure import INFRASTRUCTURE_ERRORS, is_infrastructure_error

from ..breaker import breaker_record_success
from ..budget import SpendRefusedError
from ..lease import JobBusyError, LeaseKeeper, LeaseLostError, RunInterruptedError, lease_expiry, lease_token_new
from ..metrics import job_finished_observe
from ..models import ErrorKind, GenerationJob
from ..providers.base import ContentRefusedError, GenerationRequest, ProviderCanceledError, ProviderError
from ..providers.registry import catalogue, entry_get
from ..safety import WITHHELD_MESSAGE, ImagesWithheldError
from ..sizes import within_upscale
from .calls import call_with_retries
from .images import native_size
from .results import REFUSED_MESSAGE, generation_job_fail, job_succeed
from .watch import CancelWatch, JobProgressRelay

logger = logging.getLogger(__name__)


def _claim_sql(*, fresh: bool) -> str:
    table, ops = GenerationJob._meta.db_table, connection.ops
    terminal = ", ".join(["%s"] * len(GenerationJob.TERMINAL_STATUSES))
    if not fresh:  # the same run, retried after an infrastructure fault: its lease, renewed
        return (
            f"UPDATE {ops.quote_name(table)} SET lease_expires_at = %s, updated_at = %s"  # noqa: S608
            f" WHERE id = %s AND lease_token = %s AND status NOT IN ({terminal}) RETURNING *"
        )
    # SQLite (3.35+) and PostgreSQL both take UPDATE ... RETURNING; SET reads the row's old values.
    # Only the quoted table name and placeholders are formatted in; every value is a parameter.
    return (
        f"UPDATE {ops.quote_name(table)} SET runs = runs + 1, status = %s, started_at = COALESCE(started_at, %s),"  # noqa: S608
        " progress = CASE WHEN progress > 1 THEN progress ELSE 1 END,"
        " message = CASE WHEN runs = 0 THEN %s ELSE %s END, deadline_at = %s, updated_at = %s,"
        " lease_token = %s, lease_expires_at = %s"
        f" WHERE id = %s AND status NOT IN ({terminal}) AND reused_from_id IS NULL"
        " AND (lease_token = '' OR lease_expires_at IS NULL OR lease_expires_at < %s) RETURNING *"
    )


def generation_job_claim(*, job_id: str, lease: str = "") -> tuple[GenerationJob | None, str]:
    """Take the job for this run: (the job as it now is, the run's lease token), the token empty
    when the job is not this run's to run (gone, finished, following another request).
    A job whose lease another run holds raises JobBusyError: that run may be alive, so nothing is
    done now. A job found running under an expired lease was cut off and runs again (resuming its
    provider request), up to GENERATION_MAX_RUNS starts; `lease`: the token of this same run,
    retried after an infrastructure fault, which takes the job back as it left it.
    One conditional UPDATE that returns the row as it now is (it locks the row as it changes it,
    so two runs count two starts): one round trip, on the way to every job's provider call."""
    now = timezone.now()
    ops = connection.ops
    pk = GenerationJob._meta.pk.get_db_prep_value(job_id, connection)
    terminal = list(GenerationJob.TERMINAL_STATUSES)
    if lease:
        params = [ops.adapt_datetimefield_value(lease_expiry(now)), ops.adapt_datetimefield_value(now), pk, lease, *terminal]
        claimed = list(GenerationJob.objects.raw(_claim_sql(fresh=False), params))
        if claimed:
            return claimed[0], lease
    token = lease_token_new()
    params = [
        GenerationJob.Status.RUNNING,
        ops.adapt_datetimefield_value(now),
        "Starting",
        "Picking up where the last run stopped",
        ops.adapt_datetimefield_value(now + timedelta(seconds=settings.GENERATION_RUN_TIMEOUT_SECONDS)),
        ops.adapt_datetimefield_value(now),
        token,
        ops.adapt_datetimefield_value(lease_expiry(now)),
        pk,
        *terminal,
        ops.adapt_datetimefield_value(now),
    ]
    claimed = list(GenerationJob.objects.raw(_claim_sql(fresh=True), params))
    if claimed:
        return claimed[0], token
    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is None or job.status in GenerationJob.TERMINAL_STATUSES or job.reused_from_id is not None:
        return job, ""
    raise JobBusyError(retry_in=max(1.0, (job.lease_expires_at - now).total_seconds() + 1.0) if job.lease_expires_at else 1.0)


# --- running a job -------------------------------------------------------------------------------

FAILED_EVERYWHERE_MESSAGE = "Every image service failed this time. Your quota was not used; please try again shortly."
LOST_MESSAGE = "This job kept stopping its worker, so it was given up. Your quota was returned."


def generation_job_run(*, job_id: str, lease: str = "") -> GenerationJob | None:
    """Run a job along its provider chain: each provider gets a fair share of the time left, is
    retried on transient errors (its breaker consulted before every new request), then the next
    one is tried. Raises JobBusyError when another run holds the job, and RunInterruptedError when
    a fault of our own infrastructure (database, Redis, object store) ended the attempt: the task
    tries again later with the lease it carries, and resumes what was recorded."""
    try:
        job, token = generation_job_claim(job_id=job_id, lease=lease)
    except INFRASTRUCTURE_ERRORS as exc:
        raise RunInterruptedError(lease=lease) from exc
    if not token:
        return job
    keeper = LeaseKeeper(job.pk, token, renew_until=time.monotonic() + (job.deadline_at - timezone.now()).total_seconds())
    try:
        if job.runs > settings.GENERATION_MAX_RUNS:
            ended = generation_job_fail(job=job, lease=token, kind=ErrorKind.LOST, message=LOST_MESSAGE)
        else:
            keeper.start()
            ended = _job_run_chain(job=job, keeper=keeper, resuming=job.runs > 1 or bool(lease))
        job_finished_observe(job=ended)  # this run held the lease: it is the one that ended the job
        return ended
    except LeaseLostError:
        logger.info("job %s: taken over by another run; this one stops", job_id)
        return GenerationJob.objects.filter(pk=job_id).first()
    except Exception as exc:
        if not is_infrastructure_error(exc):
            raise
        logger.warning("job %s: the run met an infrastructure fault and will be tried again: %r", job_id, exc)
        raise RunInterruptedError(lease=token) from exc
    finally:
        keeper.stop()


def _job_run_chain(*, job: GenerationJob, keeper: LeaseKeeper, resuming: bool) -> GenerationJob:
    catalogue(fresh=True)  # a provider switched off or moved in the admin counts from this job on
    progress = JobProgressRelay(job, lease=keeper.token)
    run_deadline = time.monotonic() + max(1.0, (job.deadline_at - timezone.now()).total_seconds())
    watch = CancelWatch(job.pk)
    chain = [(entry.partition(":")[0], entry.partition(":")[2], entry_get(entry)) for entry in job.provider_chain]
    failures: list[str] = []
    error_kind: str = ErrorKind.PERMANENT
    refused_by_budget = ""  # the spend budget's reason, told to the user if nothing else delivers
    for position, (name, model, provider) in enumerate(chain):
        if provider is None:
            failures.append(f"{name} is not set up")
            continue
        if not within_upscale(native=native_size(provider, model, job.size), size=job.size):
            failures.append(f"{name} ({model}) cannot make {job.size} px, even upscaled")
            continue
        # A fair share of the time left, so that a provider that hangs leaves time for the next.
        after = sum(1 for _, _, later in chain[position + 1 :] if later is not None)
        now = time.monotonic()
        deadline = now + max(0.0, run_deadline - now) / (after + 1)
        request = GenerationRequest(
            prompt=job.prompt, model=model, style=job.style, seed=job.seed, size=job.size, num_images=job.num_images
        )
        try:
            result, stored, call = call_with_retries(
                job=job, provider=provider, request=request, deadline=deadline, watch=watch, progress=progress, keeper=keeper,
                resuming=resuming,
            )  # fmt: skip
        except ContentRefusedError as exc:
            message = WITHHELD_MESSAGE if isinstance(exc, ImagesWithheldError) else REFUSED_MESSAGE
            return generation_job_fail(job=job, lease=keeper.token, kind=ErrorKind.REFUSED, message=message)
        except ProviderCanceledError:
            return GenerationJob.objects.get(pk=job.pk)
        except ProviderError as exc:
            failures.append(f"{name}: {exc}")
            error_kind = exc.kind
            if isinstance(exc, SpendRefusedError):
                refused_by_budget = str(exc)
            logger.warning("job %s: %s failed (%s): %s", job.id, name, exc.kind, exc)
            if watch() or time.monotonic() >= run_deadline:
                break
            continue
        job = job_succeed(job=job, result=result, stored=stored, call=call, lease=keeper.token)
        breaker_record_success(provider=name)
        return job
    if watch(now=True):
        return GenerationJob.objects.get(pk=job.pk)
    logger.warning("job %s failed on every provider: %s", job.id, "; ".join(failures))
    message = refused_by_budget or FAILED_EVERYWHERE_MESSAGE
    return generation_job_fail(job=job, lease=keeper.token, kind=error_kind, message=message)
