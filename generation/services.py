"""Writes of the generation app: accept a request (validate, quota, reuse, single flight,
enqueue), run a job along its provider chain under a lease, store the results, cancel, and
settle what no run is settling (the reconciler)."""

import contextlib
import functools
import hashlib
import json
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import storages
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from avatarsite.core.infrastructure import INFRASTRUCTURE_ERRORS, is_infrastructure_error
from avatarsite.core.storage import StartedWrite, store_content, store_content_started
from billing.entitlements import Entitlements, entitlements
from gallery import imaging

from .breaker import breaker_allows, breaker_record_failure, breaker_record_success
from .deliveries import webhook_job_ended
from .errors import GenerationError, JobNotCancelableError, PromptRefusedError, StyleUnavailableError
from .lease import JobBusyError, LeaseKeeper, LeaseLostError, RunInterruptedError, lease_expiry, lease_token_new
from .ledger import UNKNOWN_MESSAGE, call_estimated_cost, call_open, call_pending, call_record_request_id, call_settle
from .models import CostEntry, ErrorKind, GeneratedImage, GenerationJob
from .progress import job_notify, job_progress_report
from .providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    GenerationResult,
    PermanentProviderError,
    ProviderCanceledError,
    ProviderError,
    RequestNotFoundError,
    TransientProviderError,
)
from .providers.registry import provider_get
from .quotas import quota_check_locked, quota_counted, quota_refund
from .selectors import LANE_LABELS
from .sizes import plan_sizes, within_upscale
from .styles import LOCAL_CHAIN, LOCAL_STYLES, STYLES, default_style, style_choices, style_unavailable_reason

logger = logging.getLogger(__name__)

MAX_PROMPT_LENGTH = 500
# Clearly disallowed requests are refused before any spend; providers filter the rest.
_REFUSED_PROMPT = re.compile(
    r"\b(nude|naked|nsfw|porn\w*|sexual|explicit|gore|beheading|child\s+abuse|underage|loli|csam)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class NormalisedRequest:
    prompt: str
    style: str
    size: int
    seed: int
    num_images: int
    chain: tuple[str, ...]

    @property
    def key(self) -> str:
        """Identical requests (same words, style, size, seed, count and models) share this key."""
        payload = [self.prompt.lower(), self.style, self.size, self.seed, self.num_images, list(self.chain)]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _chain_for(*, style: str, plan: Entitlements) -> tuple[str, ...]:
    """The local generator for its own styles; for AI photos, the plan's chain minus the providers
    not set up here. A style nobody here can make is refused with the reason: the local generator
    never stands in for a model, so a job is always what its style says it is."""
    if style in LOCAL_STYLES:
        return LOCAL_CHAIN
    available = tuple(entry for entry in plan.provider_chain if provider_get(entry.split(":", 1)[0]) is not None)
    if not available:
        reason = style_unavailable_reason(style=style, plan=plan) or "No AI service of your plan is set up here."
        available_styles = [choice.value for choice in style_choices(plan=plan) if choice.available]
        raise StyleUnavailableError(f"{reason} Choose an instant style: {', '.join(LOCAL_STYLES)}.", available_styles=available_styles)
    return available


def _default_seed(*, prompt: str, style: str, size: int, num_images: int) -> int:
    """The seed of a request that names none: the same request gets the same seed, so asking again
    is answered from the stored result at no cost; a variation is asked for with another seed."""
    digest = hashlib.sha256(json.dumps([prompt.lower(), style, size, num_images]).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def generation_request_normalise(
    *, prompt: str, style: str | None, size: int | None, seed: int | None, num_images: int, plan: Entitlements
) -> NormalisedRequest:
    """The request as it will be run (`style` None: the plan's default style here), or GenerationError."""
    prompt = " ".join(prompt.split())
    if not prompt:
        raise GenerationError("Describe the avatar you want.", field="prompt")
    if len(prompt) > MAX_PROMPT_LENGTH:
        raise GenerationError(f"Keep the description under {MAX_PROMPT_LENGTH} characters.", field="prompt")
    if _REFUSED_PROMPT.search(prompt):
        raise PromptRefusedError("This description asks for content we do not generate. Nothing was charged.", field="prompt")
    style = style or default_style(plan=plan)
    if style not in STYLES:
        raise GenerationError(f"Unknown style; choose one of {', '.join(STYLES)}.", field="style")
    largest = plan_sizes(plan).offered_max  # the plan's, unless its chain cannot get there
    size = size or min(1024, largest)
    if not 256 <= size <= largest:
        raise GenerationError(f"Your plan allows sizes from 256 to {largest} px.", field="size")
    if not 1 <= num_images <= plan.max_images_per_request:
        raise GenerationError(f"Your plan allows up to {plan.max_images_per_request} image(s) per request.", field="num_images")
    seed = _default_seed(prompt=prompt, style=style, size=size, num_images=num_images) if seed is None else seed
    if not 0 <= seed < 2**31:
        raise GenerationError("The seed must be between 0 and 2147483647.", field="seed")
    return NormalisedRequest(prompt, style, size, seed, num_images, _chain_for(style=style, plan=plan))


def _enqueue(job: GenerationJob) -> None:
    from .tasks import job_run  # tasks import services; the reverse import happens at call time

    job_run.apply_async(args=[str(job.id)], queue=job.queue, priority=job.priority)


def _enqueue_on_commit(job: GenerationJob) -> None:
    """Send the job's message once its row is committed. A broker that cannot be reached then
    loses nothing: the job stays queued, marked as not sent, and the reconciler sends it."""
    transaction.on_commit(lambda: _enqueue_or_mark(job), robust=True)


def _enqueue_or_mark(job: GenerationJob) -> None:
    try:
        _enqueue(job)
    except Exception:
        logger.exception("job %s: its message could not be sent now (the reconciler will send it)", job.id)
        GenerationJob.objects.filter(pk=job.pk, status=GenerationJob.Status.QUEUED).update(enqueued_at=None)


FOLLOWING_MESSAGE = "Waiting for the same request, made a moment ago, to finish: its result will be yours at no cost."


def generation_job_create(
    *,
    user_id: int,
    prompt: str,
    style: str | None = None,
    size: int | None = None,
    seed: int | None = None,
    num_images: int = 1,
    plan: Entitlements | None = None,
    webhook_url: str = "",
    api_key_id: int | None = None,
) -> GenerationJob:
    """Accept a request: reuse an identical stored result at no cost, follow an identical request
    still in flight (single flight: one provider call for both; this one gets that result at no
    cost), or take quota and enqueue the job on the plan's queue once the transaction commits.
    `style` None: AI photos where this site can make them for the plan, else the first instant style.
    `plan`: the user's entitlements when the caller has just read them (the generate view has),
    else they are read here. Raises GenerationError or QuotaExceededError."""
    plan = plan or entitlements(user_id=user_id)
    request = generation_request_normalise(prompt=prompt, style=style, size=size, seed=seed, num_images=num_images, plan=plan)
    now = timezone.now()
    fields = {
        "user_id": user_id,
        "prompt": request.prompt,
        "style": request.style,
        "size": request.size,
        "seed": request.seed,
        "num_images": request.num_images,
        "request_key": request.key,
        "webhook_url": webhook_url,  # an API request's completion webhook (checked by the caller), signed with its key's secret
        "api_key_id": api_key_id,
        "plan": plan.plan,
        "queue": plan.queue,
        "priority": plan.priority,
        "provider_chain": list(request.chain),
        "message": f"Waiting in the {LANE_LABELS.get(plan.queue, plan.queue)}",
    }
    units = 0 if request.chain == LOCAL_CHAIN else request.num_images
    for attempt in range(2):
        earlier, leader = _same_request(key=request.key)
        if earlier is not None:
            with transaction.atomic():
                return _job_reuse(earlier=earlier, fields=fields, now=now)
        try:
            return _job_insert(fields=fields, units=units, plan=plan, leader=leader, now=now)
        except IntegrityError:
            # An identical request became the one in flight between the look and the insert.
            if attempt:
                raise
    raise AssertionError("unreachable: the second attempt returns or raises")


def _same_request(*, key: str) -> tuple[GenerationJob | None, GenerationJob | None]:
    """(a stored result for this request key, the job in flight for it): one query."""
    same = GenerationJob.objects.filter(
        request_key=key,
        reused_from=None,
        status__in=(GenerationJob.Status.SUCCEEDED, GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING),
    )
    found = list(same.order_by("created_at")[:5])
    earlier = next((job for job in found if job.status == GenerationJob.Status.SUCCEEDED), None)
    leader = next((job for job in found if job.status != GenerationJob.Status.SUCCEEDED), None)
    return earlier, leader


def _job_insert(*, fields: dict, units: int, plan: Entitlements, leader: GenerationJob | None, now) -> GenerationJob:
    """Take quota and write the job (a follower of `leader`, or the one in flight for its key).
    The quota check locks the user's row until the job (which holds the units) is written; a plan
    without quota windows takes no lock, so its job is one INSERT, with no transaction around it
    unless the caller has one (then a savepoint, so that a clash on the in-flight key spoils nothing).
    A follower holds its units while it waits; they are given back when it gets its leader's result."""
    counted = quota_counted(plan=plan)
    with transaction.atomic() if counted or connection.in_atomic_block else contextlib.nullcontext():
        quota_check_locked(user_id=fields["user_id"], plan=plan, units=units, now=now)
        extra = {"reused_from": leader, "message": FOLLOWING_MESSAGE} if leader is not None else {"enqueued_at": now}
        job = GenerationJob.objects.create(
            **{**fields, **extra},
            quota_units=units,
            deadline_at=now + timedelta(seconds=settings.GENERATION_QUEUE_TIMEOUT_SECONDS),
        )
        if leader is None:
            _enqueue_on_commit(job)
        else:  # the leader may end before this commits, and would not have seen this job then
            transaction.on_commit(functools.partial(_followers_release, leader_id=leader.pk), robust=True)
    return job


def _job_reuse(*, earlier: GenerationJob, fields: dict, now, message: str = "") -> GenerationJob:
    job = GenerationJob.objects.create(
        **{**fields, "message": message or "Ready: the same request was made before, so it cost nothing."},
        status=GenerationJob.Status.SUCCEEDED,
        progress=100,
        reused_from=earlier,
        started_at=now,
        finished_at=now,
    )
    _images_copy(source=earlier, target=job)
    transaction.on_commit(lambda: webhook_job_ended(job))
    return job


def _images_copy(*, source: GenerationJob, target: GenerationJob) -> None:
    """The source job's image rows for the target job (the same stored files); its other sizes are
    asked for when the source's are still being made."""
    images = list(source.images.all())
    GeneratedImage.objects.bulk_create(
        GeneratedImage(
            **{f.attname: getattr(image, f.attname) for f in GeneratedImage._meta.concrete_fields if f.attname not in ("id", "job_id")},
            job=target,
        )
        for image in images
    )
    if any(len(image.variants) < len(_generated_sizes(image.width)) * len(imaging.VARIANT_FORMATS) for image in images):
        GenerationJob.objects.filter(pk=target.pk).update(images_pending=True)
        transaction.on_commit(lambda: _enqueue_images_finish(target), robust=True)  # the source's sizes are still coming


# --- storing the results -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredImage:
    """A result image verified, re-encoded at the size asked for and being stored: its one variant
    (that size, as a JPEG) uploads on the upload thread while the run records the result."""

    width: int
    height: int
    write: StartedWrite
    # The side the model delivered, when it was below the size asked for (then upscaled).
    upscaled_from: int | None = None

    def variants(self) -> list[dict]:
        return [{"size": self.width, "format": "jpeg", "key": self.write.key, "bytes": self.write.size}]


def _uploads_wait(stored: list[StoredImage]) -> None:
    """Until every file is stored; raises what an upload raised."""
    for image in stored:
        image.write.written.result()


# Generated images are served up to 2048 px (premium), plus the gallery's sizes below their own side.
LARGEST_GENERATED = 2048


def _generated_sizes(side: int) -> list[int]:
    largest = min(side, LARGEST_GENERATED)
    return [size for size in imaging.VARIANT_SIZES if size < largest] + [largest]


def _store_variant(*, square, size: int, fmt: str) -> dict:
    variant = imaging.render_variant(square, size=size, fmt=fmt)
    key = store_content(storage="default", prefix="generated", data=variant.data, fmt=fmt)
    return {"size": size, "format": fmt, "key": key, "bytes": len(variant.data)}


class UndersizedImageError(imaging.UnsafeImageError):
    """The provider delivered a smaller image than it was asked for: its failure, never a result."""


def _native_size(provider, model: str, size: int) -> int:
    """The side `provider` delivers for a request of `size` px with `model` (its own answer when it
    knows one: a model that tops out below `size` delivers its largest)."""
    native_size = getattr(provider, "native_size", None)
    return int(native_size(model, size)) if native_size is not None else size


def _store_image(*, data: bytes, size: int, expected: int) -> StoredImage:
    """Verify the provider's bytes (type, size, pixel count, integrity), check that they hold the
    `expected` side (what the model was asked for), re-encode them at the `size` asked for (nothing
    of the provider's file but its pixels is kept, so no metadata or hidden payload goes out) and store one JPEG privately under a
    content-addressed key: the result goes out with that; the other sizes and formats follow
    (`generation_job_images_finish`). A model that tops out below `size` is upscaled to it
    (Lanczos resampling, at most GENERATION_MAX_UPSCALE times), and the image says so.
    Raises imaging.UnsafeImageError for bytes that are not an image we accept, or too small."""
    square = imaging.square_crop(imaging.decode_image(data))
    delivered = square.width
    if delivered < expected or not within_upscale(native=delivered, size=size):
        raise UndersizedImageError(f"it delivered {delivered} px where {expected} px were asked for")
    # Without the second pass: on the way to the result, it doubled the time for 1-2 % of the bytes.
    jpeg = imaging.render_variant(square, size=size, fmt="jpeg", optimize=False).data
    # Uploaded while the run records the result (_job_succeed waits for it before committing).
    write = store_content_started(storage="default", prefix="generated", data=jpeg, fmt="jpeg")
    return StoredImage(size, size, write, upscaled_from=delivered if delivered < size else None)


def _store_results(result: GenerationResult, *, size: int, expected: int) -> list[StoredImage]:
    if not result.images:
        raise ContentRefusedError(f"{result.provider} delivered no image", request_id=result.request_id)
    return [_store_image(data=image.data, size=size, expected=expected) for image in result.images]


def generation_job_images_finish(*, job_id: str) -> int:
    """Render and store every size and format a succeeded job's images still lack, then tell the
    job's listeners. Idempotent (what is stored is skipped; keys are content-addressed)."""
    job = GenerationJob.objects.filter(pk=job_id, status=GenerationJob.Status.SUCCEEDED).first()
    if job is None:
        return 0
    added = 0
    for image in job.images.all():
        have = {(v["size"], v["format"]) for v in image.variants}
        primary = max(image.variants, key=lambda v: (v["size"], v["format"] == "jpeg"))
        wanted = [(size, fmt) for size in _generated_sizes(primary["size"]) for fmt in imaging.VARIANT_FORMATS if (size, fmt) not in have]
        if not wanted:
            continue
        with storages["default"].open(primary["key"]) as stored:
            square = imaging.decode_image(stored.read())
        new = [_store_variant(square=square, size=size, fmt=fmt) for size, fmt in wanted]
        with transaction.atomic():
            image = GeneratedImage.objects.select_for_update().get(pk=image.pk)
            merged = {(v["size"], v["format"]): v for v in [*image.variants, *new]}
            image.variants = [merged[key] for key in sorted(merged)]
            image.save(update_fields=["variants"])
        added += len(new)
    if job.images_pending:
        GenerationJob.objects.filter(pk=job.pk).update(images_pending=False)
    if added:
        job_notify(job=job)
    return added


def _enqueue_images_finish(job: GenerationJob) -> None:
    from .tasks import job_images_finish

    # Just after the waiting jobs of the same plan (the user already has the result; these are the
    # other sizes), and still before lower plans' jobs on a worker shared by several lanes.
    job_images_finish.apply_async(args=[str(job.id)], queue=job.queue, priority=min(9, job.priority + 1))


# --- progress and cancel checks ----------------------------------------------------------------

# The least time between two progress reports of a run: each is a row write and a message, on the
# way to the result; a person watching a bar does not need them more often.
PROGRESS_EVERY_SECONDS = 0.2


class _Progress:
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
            job_notify(job=self.job)

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
            job_progress_report(job=self.job, progress=self.percent, message=self.message, lease=self.lease)


class _CancelWatch:
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


def _cancel_check(*, watch: _CancelWatch, progress: _Progress, keeper: LeaseKeeper) -> bool:
    """The adapters' cancel check, asked at least every poll interval: stops a run whose job was
    taken over (LeaseLostError, without canceling the request its new owner resumes), sends a held
    report, then answers whether the user canceled."""
    keeper.check()
    progress.flush()
    return watch()


# --- claiming a job ------------------------------------------------------------------------------


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


def _job_claim(*, job_id: str, lease: str = "") -> tuple[GenerationJob | None, str]:
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
REFUSED_MESSAGE = "The image service refused this image as unsafe content. Nothing was charged to your quota."
LOST_MESSAGE = "This job kept stopping its worker, so it was given up. Your quota was returned."


def generation_job_run(*, job_id: str, lease: str = "") -> GenerationJob | None:
    """Run a job along its provider chain: each provider gets a fair share of the time left, is
    retried on transient errors (its breaker consulted before every new request), then the next
    one is tried. Raises JobBusyError when another run holds the job, and RunInterruptedError when
    a fault of our own infrastructure (database, Redis, object store) ended the attempt: the task
    tries again later with the lease it carries, and resumes what was recorded."""
    try:
        job, token = _job_claim(job_id=job_id, lease=lease)
    except INFRASTRUCTURE_ERRORS as exc:
        raise RunInterruptedError(lease=lease) from exc
    if not token:
        return job
    keeper = LeaseKeeper(job.pk, token, renew_until=time.monotonic() + (job.deadline_at - timezone.now()).total_seconds())
    try:
        if job.runs > settings.GENERATION_MAX_RUNS:
            return _job_fail(job=job, lease=token, kind=ErrorKind.LOST, message=LOST_MESSAGE)
        keeper.start()
        return _job_run_chain(job=job, keeper=keeper, resuming=job.runs > 1 or bool(lease))
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
    progress = _Progress(job, lease=keeper.token)
    run_deadline = time.monotonic() + max(1.0, (job.deadline_at - timezone.now()).total_seconds())
    watch = _CancelWatch(job.pk)
    chain = [(name, model, provider_get(name)) for name, _, model in (entry.partition(":") for entry in job.provider_chain)]
    failures: list[str] = []
    error_kind: str = ErrorKind.PERMANENT
    for position, (name, model, provider) in enumerate(chain):
        if provider is None:
            failures.append(f"{name} is not set up")
            continue
        if not within_upscale(native=_native_size(provider, model, job.size), size=job.size):
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
            result, stored, call = _call_with_retries(
                job=job, provider=provider, request=request, deadline=deadline, watch=watch, progress=progress, keeper=keeper,
                resuming=resuming,
            )  # fmt: skip
        except ContentRefusedError:
            return _job_fail(job=job, lease=keeper.token, kind=ErrorKind.REFUSED, message=REFUSED_MESSAGE)
        except ProviderCanceledError:
            return GenerationJob.objects.get(pk=job.pk)
        except ProviderError as exc:
            failures.append(f"{name}: {exc}")
            error_kind = exc.kind
            logger.warning("job %s: %s failed (%s): %s", job.id, name, exc.kind, exc)
            if watch() or time.monotonic() >= run_deadline:
                break
            continue
        job = _job_succeed(job=job, result=result, stored=stored, call=call, lease=keeper.token)
        breaker_record_success(provider=name)
        return job
    if watch(now=True):
        return GenerationJob.objects.get(pk=job.pk)
    logger.warning("job %s failed on every provider: %s", job.id, "; ".join(failures))
    return _job_fail(job=job, lease=keeper.token, kind=error_kind, message=FAILED_EVERYWHERE_MESSAGE)


def _call_submitted(call: CostEntry, progress: _Progress, keeper: LeaseKeeper, provider, model: str, request_id: str) -> None:
    """The provider has the request: record its id before any waiting. A run that lost its job
    meanwhile cannot record it (the new owner never learns of it): it stops that request there."""
    if not call_record_request_id(call=call, request_id=request_id, lease=keeper.token):
        with contextlib.suppress(Exception):
            provider.cancel(request_id, model=model)
        raise LeaseLostError(f"job {call.job_id}: taken over before {provider.name} request {request_id} was recorded")
    progress.announce()


def _call_unknown(*, call: CostEntry, provider, request: GenerationRequest, lease: str) -> None:
    """A line left open without the provider's id by a run that stopped (its answer lost), for a
    provider that cannot be asked: settled as unknown, at the model's price (a provider that bills
    nothing, the local generator, simply had its work cut off)."""
    if getattr(provider, "cost", None) is None:
        call_settle(call=call, outcome=CostEntry.Outcome.CANCELED, lease=lease, message="the run stopped; nothing is billed here")
        return
    cost = call_estimated_cost(provider=provider, model=call.model, size=request.size, count=request.num_images)
    call_settle(call=call, outcome=CostEntry.Outcome.UNKNOWN, lease=lease, cost_usd=cost, message=UNKNOWN_MESSAGE)


def _call_with_retries(
    *,
    job: GenerationJob,
    provider,
    request: GenerationRequest,
    deadline: float,
    watch: _CancelWatch,
    progress: _Progress,
    keeper: LeaseKeeper,
    resuming: bool,
) -> tuple[GenerationResult, list[StoredImage], CostEntry]:
    """Call one provider until it delivers usable images of the size asked for, with backoff and
    jitter (or the server's Retry-After) between transient failures. A request still alive at the
    provider is resumed, never submitted again; its breaker is asked before every new request.
    Every request is one ledger line, opened before it is sent."""
    attempts, backoff = settings.GENERATION_PROVIDER_ATTEMPTS, settings.GENERATION_PROVIDER_BACKOFF_SECONDS
    expected = min(request.size, _native_size(provider, request.model, request.size))
    for attempt in range(1, attempts + 1):
        # Only a later run (or a later attempt) can find a line left open: a first run skips the query.
        call = call_pending(job=job, provider=provider.name, model=request.model) if resuming or attempt > 1 else None
        lookup_since = None
        if call is not None and not call.request_id:
            if getattr(provider, "can_look_up", False):  # it lists requests: find the one that run made
                lookup_since = call.created_at.timestamp()
            else:
                _call_unknown(call=call, provider=provider, request=request, lease=keeper.token)
                call = None
        if call is None:
            if not breaker_allows(provider=provider.name):
                raise TransientProviderError(f"{provider.name} is failing right now (circuit open)")
            call = call_open(job=job, provider=provider.name, model=request.model, lease=keeper.token)
            if call is None:  # the job was canceled, or taken over, as this request was about to go
                if watch(now=True):
                    raise ProviderCanceledError("canceled before the request was sent")
                raise LeaseLostError(f"job {job.pk}: taken over")
        context = CallContext(
            on_progress=progress,
            on_submitted=functools.partial(_call_submitted, call, progress, keeper, provider, request.model),
            should_cancel=functools.partial(_cancel_check, watch=watch, progress=progress, keeper=keeper),
            resume_id=call.request_id,
            lookup_since=lookup_since,
            deadline=deadline,
        )
        try:
            result = provider.generate(request, context)
            stored = _store_results(result, size=request.size, expected=expected)
        except TransientProviderError as exc:
            call.refresh_from_db(fields=["request_id"])  # on_submitted may have recorded it meanwhile
            resumable = exc.resumable and bool(exc.request_id or call.request_id)
            last = attempt == attempts or time.monotonic() >= deadline or watch()
            if resumable and not last:
                call_record_request_id(call=call, request_id=exc.request_id, lease=keeper.token)
            else:
                if resumable:  # giving up on a request that may still run (and bill) there
                    with contextlib.suppress(Exception):
                        provider.cancel(exc.request_id or call.request_id, model=request.model)
                call_settle(call=call, outcome=CostEntry.Outcome.FAILED, lease=keeper.token, error=exc)
                breaker_record_failure(provider=provider.name)
            if last:
                raise
            progress.announce()  # it waits to try again: running, not queued
            jitter = 0.5 + secrets.randbelow(1000) / 1000
            wait = max(exc.retry_after or 0.0, backoff * 2 ** (attempt - 1) * jitter)
            time.sleep(max(0.0, min(wait, 30.0, deadline - time.monotonic())))
            continue
        except ProviderCanceledError as exc:
            call_settle(call=call, outcome=CostEntry.Outcome.CANCELED, lease=keeper.token, error=exc)
            raise
        except ContentRefusedError as exc:
            call_settle(call=call, outcome=CostEntry.Outcome.REFUSED, lease=keeper.token, error=exc)
            breaker_record_success(provider=provider.name)  # it answered: the provider is healthy
            raise
        except PermanentProviderError as exc:
            call_settle(call=call, outcome=CostEntry.Outcome.FAILED, lease=keeper.token, error=exc)
            raise
        except imaging.UnsafeImageError as exc:  # charged, but nothing we can serve: count the cost, try the next
            error = PermanentProviderError(f"{provider.name} returned an unusable image: {exc}")
            call_settle(call=call, outcome=CostEntry.Outcome.FAILED, lease=keeper.token, error=error, result=result)
            raise error from exc
        return result, stored, call  # settled by _job_succeed, with the result, once its files are stored
    raise AssertionError("unreachable: the last attempt returns or raises")


# --- the end of a job ----------------------------------------------------------------------------

_IMAGE_RESULT_FIELDS = [
    "width", "height", "variants", "provider", "model", "model_version", "seed", "prompt", "licence_note", "content_rating",
    "upscaled_from", "applied",
]  # fmt: skip


def _applied(*, job: GenerationJob, result: GenerationResult, image: StoredImage, index: int) -> dict:
    """What was requested (the job's style, first model and size) and what the provider applied for
    one image: the style it drew (the local generator says; an AI model was sent the job's), the
    model, the side it made, and the local generator's reading of the prompt (what it drew, what it
    could not use). Plain lookups: it runs in _job_succeed."""
    meta = result.metadata or {}
    per_image = meta.get("per_image") or ()
    first = job.provider_chain[0].partition(":")[2] if job.provider_chain else result.model
    return {
        "requested": {"style": job.style, "model": first, "size": job.size},
        "style": meta.get("style") or job.style,
        "model": result.model,
        "size": image.upscaled_from or image.width,
        "drawn": list(meta.get("drawn") or ()),
        "not_understood": list(meta.get("not_understood") or ()),
        "attributes": dict(per_image[index] if index < len(per_image) else meta.get("attributes") or {}),
    }


def _job_succeed(*, job: GenerationJob, result: GenerationResult, stored: list[StoredImage], call: CostEntry, lease: str) -> GenerationJob:
    """Settle the provider call and record the stored images, and finish the job, once: one
    transaction, written while the files upload and committed once they are all stored (files
    first, rows after). An upload that fails rolls it all back: the call stays open with its
    request id, so the retried run (or the reconciler) resumes that request (no second charge).
    The job is finished by an UPDATE conditional on the run's lease and on the job not having
    ended (it locks the row until the commit, as a locked read would)."""
    with transaction.atomic():
        call_settle(call=call, outcome=CostEntry.Outcome.SUCCEEDED, lease=lease, result=result)
        now = timezone.now()
        fields = {
            "status": GenerationJob.Status.SUCCEEDED, "progress": 100, "message": "Done", "finished_at": now, "updated_at": now,
            "images_pending": True,
        }  # fmt: skip
        if result.refused_count and job.quota_units:
            # Images the provider withheld are not charged: the job keeps only what it delivered.
            fields["quota_units"] = max(0, job.quota_units - result.refused_count)
            fields["message"] = f"Done. {result.refused_count} image(s) were withheld as unsafe and not charged."
        finishing = GenerationJob.objects.filter(pk=job.pk, lease_token=lease).exclude(status__in=GenerationJob.TERMINAL_STATUSES)
        if not finishing.update(**fields):
            _uploads_wait(stored)  # canceled meanwhile, or taken over (its new owner resumes the request)
            return GenerationJob.objects.get(pk=job.pk)
        for name, value in fields.items():
            setattr(job, name, value)
        rows = [
            GeneratedImage(
                job=job, index=index, width=image.width, height=image.height, variants=image.variants(), provider=result.provider,
                model=result.model, model_version=result.model_version, seed=job.seed + index, prompt=job.prompt,
                licence_note=result.licence_note, content_rating="general", upscaled_from=image.upscaled_from,
                applied=_applied(job=job, result=result, image=image, index=index),
            )
            for index, image in enumerate(stored)
        ]  # fmt: skip
        # One statement for all of them; a row left by an earlier attempt is overwritten.
        GeneratedImage.objects.bulk_create(rows, update_conflicts=True, unique_fields=["job", "index"], update_fields=_IMAGE_RESULT_FIELDS)
        webhook_job_ended(job)
        _uploads_wait(stored)
        transaction.on_commit(lambda: _job_succeeded_announce(job, images=rows))
    return job


def _job_succeeded_announce(job: GenerationJob, *, images: list[GeneratedImage]) -> None:
    """Once the success is committed: the result to the user first (they are waiting for it; the
    message is built from the rows just written, not read back), then the other sizes to the queue
    (the reconciler sends them again if the broker is down), then identical requests waiting for it."""
    job_notify(job=job, images=images)
    try:
        _enqueue_images_finish(job)
    except Exception:
        logger.exception("job %s: its other sizes could not be queued now (the reconciler will)", job.id)
    _followers_release(leader_id=job.pk, leader=job)


def _job_fail(*, job: GenerationJob, lease: str | None = None, kind: ErrorKind | str, message: str) -> GenerationJob:
    """Fail the job, give its quota back, and stop whatever it left running at a provider.
    `lease`: the run's (or the reconciler's) token, which must still hold the job; None for a job
    nobody runs (a follower)."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if job.status in GenerationJob.TERMINAL_STATUSES or (lease is not None and job.lease_token != lease):
            return job
        job.status, job.error_kind, job.message = GenerationJob.Status.FAILED, kind, message
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error_kind", "message", "finished_at", "updated_at"])
        job.quota_refunded = quota_refund(job_id=job.pk) or job.quota_refunded
        abandoned = list(job.cost_entries.filter(outcome=CostEntry.Outcome.PENDING))
        webhook_job_ended(job)
    if lease is not None:
        _calls_abandon(calls=abandoned, lease=lease, reason="the job was given up")
    job_notify(job=job)
    _followers_release(leader_id=job.pk, leader=job)
    return job


def _calls_abandon(*, calls: list[CostEntry], lease: str, reason: str) -> None:
    """Ask the provider to stop each open request (best effort) and close its ledger line."""
    for call in calls:
        provider = provider_get(call.provider)
        if provider is not None and call.request_id:
            try:
                provider.cancel(call.request_id, model=call.model)
            except Exception:  # best effort: the line is closed either way
                logger.exception("could not cancel %s request %s", call.provider, call.request_id)
        call_settle(call=call, outcome=CostEntry.Outcome.CANCELED, lease=lease, error=ProviderCanceledError(reason))


def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """Cancel a queued or running job. Its quota comes back unless a provider already delivered
    (and charged) for it; a running worker notices within a poll and stops the provider."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if job.status in GenerationJob.TERMINAL_STATUSES:
            raise JobNotCancelableError(f"This job has already {job.status}.", job_status=job.status)
        job.status, job.message = GenerationJob.Status.CANCELED, "Canceled"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "message", "finished_at", "updated_at"])
        if not job.cost_entries.filter(outcome=CostEntry.Outcome.SUCCEEDED).exists():
            job.quota_refunded = quota_refund(job_id=job.pk) or job.quota_refunded
        webhook_job_ended(job)
    job_notify(job=job)
    _followers_release(leader_id=job.pk, leader=job)
    return job


# --- identical requests waiting for one in flight ------------------------------------------------

FOLLOWED_MESSAGE = "Ready: the same request was being made at that moment, so it cost nothing."


def _followers_release(*, leader_id, leader: GenerationJob | None = None) -> int:
    """Once a job in flight has ended, the identical requests that waited for it: they take its
    result at no cost; or, when it failed or was canceled, the oldest one runs in its place (the
    others now wait for that one); a refusal refuses them all (the same words and seed would be
    refused again, and charged). Idempotent; the reconciler calls it for any it finds left."""
    if leader is None:  # `leader`: the caller's row, as it just ended it
        leader = GenerationJob.objects.filter(pk=leader_id).first()
    if leader is None or leader.status not in GenerationJob.TERMINAL_STATUSES:
        return 0
    followers = list(GenerationJob.objects.filter(reused_from_id=leader_id, status=GenerationJob.Status.QUEUED).order_by("created_at"))
    if not followers:
        return 0
    if leader.status == GenerationJob.Status.SUCCEEDED:
        for follower in followers:
            _follower_succeed(follower=follower, leader=leader)
    elif leader.status == GenerationJob.Status.FAILED and leader.error_kind == ErrorKind.REFUSED:
        for follower in followers:
            _job_fail(job=follower, lease=None, kind=ErrorKind.REFUSED, message=REFUSED_MESSAGE)
    else:
        _followers_promote(followers=followers)
    return len(followers)


def _follower_succeed(*, follower: GenerationJob, leader: GenerationJob) -> None:
    now = timezone.now()
    with transaction.atomic():
        taking = GenerationJob.objects.filter(pk=follower.pk, status=GenerationJob.Status.QUEUED, reused_from_id=leader.pk)
        fields = {"status": GenerationJob.Status.SUCCEEDED, "progress": 100, "message": FOLLOWED_MESSAGE}
        if not taking.update(**fields, started_at=now, finished_at=now, updated_at=now):
            return
        quota_refund(job_id=follower.pk)  # it held its units while it waited
        follower.refresh_from_db()
        _images_copy(source=leader, target=follower)
        webhook_job_ended(follower)
    job_notify(job=follower)


def _followers_promote(*, followers: list[GenerationJob]) -> None:
    """The oldest waiting follower becomes the job in flight (enqueued), the rest follow it; when an
    identical request has become the one in flight meanwhile, they all follow that instead."""
    now = timezone.now()
    ids = [follower.pk for follower in followers]
    for follower in followers:
        try:
            with transaction.atomic():
                promoted = GenerationJob.objects.filter(pk=follower.pk, status=GenerationJob.Status.QUEUED).update(
                    reused_from=None,
                    enqueued_at=now,
                    deadline_at=now + timedelta(seconds=settings.GENERATION_QUEUE_TIMEOUT_SECONDS),
                    message=f"Waiting in the {LANE_LABELS.get(follower.queue, follower.queue)}",
                    updated_at=now,
                )
                if not promoted:  # canceled meanwhile: the next one
                    continue
                others = [pk for pk in ids if pk != follower.pk]
                GenerationJob.objects.filter(pk__in=others, status=GenerationJob.Status.QUEUED).update(
                    reused_from=follower.pk, updated_at=now
                )
                follower.refresh_from_db()
                _enqueue_on_commit(follower)
        except IntegrityError:
            _, leader = _same_request(key=follower.request_key)
            if leader is None:
                continue
            GenerationJob.objects.filter(pk__in=ids, status=GenerationJob.Status.QUEUED).update(reused_from=leader.pk, updated_at=now)
            transaction.on_commit(functools.partial(_followers_release, leader_id=leader.pk), robust=True)
        for job in GenerationJob.objects.filter(pk__in=ids):
            job_notify(job=job)
        return


# --- the reconciler ------------------------------------------------------------------------------


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
            return _job_succeed(job=job, result=result, stored=stored, call=call, lease=lease)
    if job.status == GenerationJob.Status.QUEUED:
        message = "This waited too long in the queue, so it was given up. Your quota was returned; please try again."
    else:
        message = "This generation stopped answering, so it was given up. Your quota was returned; please try again."
    return _job_fail(job=job, lease=lease, kind=ErrorKind.TIMEOUT, message=message)


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
        _call_unknown(call=call, provider=provider, request=request, lease=lease)
        return None
    lookup_since = None if call.request_id else call.created_at.timestamp()
    context = CallContext(
        resume_id=call.request_id, lookup_since=lookup_since, lookup_only=True, deadline=time.monotonic() + resume_seconds
    )
    try:
        result = provider.generate(request, context)
        stored = (
            _store_results(result, size=job.size, expected=min(job.size, _native_size(provider, call.model, job.size))) if store else []
        )
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
                _enqueue(GenerationJob.objects.get(pk=job_id))
                counts["requeued"] += 1


def _reconcile_followers(*, counts: Counter) -> None:
    leaders = (
        GenerationJob.objects.filter(status=GenerationJob.Status.QUEUED, reused_from__status__in=GenerationJob.TERMINAL_STATUSES)
        .values_list("reused_from_id", flat=True)
        .distinct()
    )
    for leader_id in list(leaders[:200]):
        with _isolated(counts, "the followers of job %s could not be released", leader_id):
            counts["followers"] += _followers_release(leader_id=leader_id)


def _reconcile_images(*, counts: Counter, now) -> None:
    """Other sizes of succeeded jobs that were never queued (the broker was down): queued again."""
    stale = now - timedelta(seconds=60)
    pending = GenerationJob.objects.filter(images_pending=True, status=GenerationJob.Status.SUCCEEDED, updated_at__lt=stale)
    for job_id in list(pending.values_list("pk", flat=True)[:200]):
        with _isolated(counts, "job %s: other sizes could not be queued", job_id):
            if GenerationJob.objects.filter(pk=job_id, updated_at__lt=stale).update(updated_at=now):
                _enqueue_images_finish(GenerationJob.objects.get(pk=job_id))


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
                    _calls_abandon(calls=[call], lease=token, reason="the job had already ended")
            counts["calls_closed"] += 1
