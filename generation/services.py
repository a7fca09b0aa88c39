"""Writes of the generation app: accept a request (validate, quota, reuse, enqueue), run a job
along its provider chain, store the results, cancel, and settle jobs past their deadline."""

import contextlib
import functools
import hashlib
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.storage import storages
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from avatarsite.core.storage import StartedWrite, store_content, store_content_started
from billing.entitlements import Entitlements, entitlements
from gallery import imaging

from .breaker import breaker_allows, breaker_record_failure, breaker_record_success
from .models import CostEntry, GeneratedImage, GenerationJob
from .progress import job_notify, job_progress_report
from .providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    GenerationResult,
    PermanentProviderError,
    ProviderCanceledError,
    ProviderError,
    TransientProviderError,
)
from .providers.local import STYLES as LOCAL_STYLES
from .providers.registry import provider_get
from .quotas import quota_check_locked, quota_counted, quota_refund
from .selectors import LANE_LABELS
from .webhooks import webhook_job_ended

logger = logging.getLogger(__name__)

AI_STYLE = "photo"
STYLES = (AI_STYLE, *LOCAL_STYLES)
LOCAL_CHAIN = ("local:avatarsite/procedural-v1",)
MAX_PROMPT_LENGTH = 500
# Clearly disallowed requests are refused before any spend; providers filter the rest.
_REFUSED_PROMPT = re.compile(
    r"\b(nude|naked|nsfw|porn\w*|sexual|explicit|gore|beheading|child\s+abuse|underage|loli|csam)\b", re.IGNORECASE
)


class GenerationError(Exception):
    """A request we will not run; `code` and the message are shown to the user."""

    code = "invalid"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class PromptRefusedError(GenerationError):
    code = "prompt_refused"


class JobNotCancelableError(GenerationError):
    code = "not_cancelable"


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
    """The plan's chain, minus providers not set up here; the local generator serves its own styles,
    and (development only) stands in when no AI provider is set up at all."""
    if style in LOCAL_STYLES:
        return LOCAL_CHAIN
    available = tuple(entry for entry in plan.provider_chain if provider_get(entry.split(":", 1)[0]) is not None)
    if not available and settings.GENERATION_LOCAL_WHEN_UNCONFIGURED:
        return LOCAL_CHAIN
    if not available:
        raise GenerationError("AI generation is not available right now; try an illustrated style.", field="style")
    return available


def _default_seed(*, prompt: str, style: str, size: int, num_images: int) -> int:
    """The seed of a request that names none: the same request gets the same seed, so asking again
    is answered from the stored result at no cost; a variation is asked for with another seed."""
    digest = hashlib.sha256(json.dumps([prompt.lower(), style, size, num_images]).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def generation_request_normalise(
    *, prompt: str, style: str, size: int | None, seed: int | None, num_images: int, plan: Entitlements
) -> NormalisedRequest:
    prompt = " ".join(prompt.split())
    if not prompt:
        raise GenerationError("Describe the avatar you want.", field="prompt")
    if len(prompt) > MAX_PROMPT_LENGTH:
        raise GenerationError(f"Keep the description under {MAX_PROMPT_LENGTH} characters.", field="prompt")
    if _REFUSED_PROMPT.search(prompt):
        raise PromptRefusedError("This description asks for content we do not generate. Nothing was charged.", field="prompt")
    if style not in STYLES:
        raise GenerationError(f"Unknown style; choose one of {', '.join(STYLES)}.", field="style")
    size = size or min(1024, plan.max_size)
    if not 256 <= size <= plan.max_size:
        raise GenerationError(f"Your plan allows sizes from 256 to {plan.max_size} px.", field="size")
    if not 1 <= num_images <= plan.max_images_per_request:
        raise GenerationError(f"Your plan allows up to {plan.max_images_per_request} image(s) per request.", field="num_images")
    seed = _default_seed(prompt=prompt, style=style, size=size, num_images=num_images) if seed is None else seed
    if not 0 <= seed < 2**31:
        raise GenerationError("The seed must be between 0 and 2147483647.", field="seed")
    return NormalisedRequest(prompt, style, size, seed, num_images, _chain_for(style=style, plan=plan))


def _enqueue(job: GenerationJob) -> None:
    from .tasks import job_run  # tasks import services; the reverse import happens at call time

    job_run.apply_async(args=[str(job.id)], queue=job.queue, priority=job.priority)


def generation_job_create(
    *,
    user_id: int,
    prompt: str,
    style: str = AI_STYLE,
    size: int | None = None,
    seed: int | None = None,
    num_images: int = 1,
    plan: Entitlements | None = None,
    webhook_url: str = "",
    api_key_id: int | None = None,
) -> GenerationJob:
    """Accept a request: reuse an identical stored result at no cost, or take quota and enqueue
    the job on the plan's queue once the transaction commits. `plan`: the user's entitlements when
    the caller has just read them (the generate view has), else they are read here.
    Raises GenerationError or QuotaExceededError."""
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
    earlier = GenerationJob.objects.filter(request_key=request.key, status=GenerationJob.Status.SUCCEEDED, reused_from=None)
    earlier = earlier.order_by("created_at").first()
    if earlier is not None:
        with transaction.atomic():
            return _job_reuse(earlier=earlier, fields=fields, now=now)
    units = 0 if request.chain == LOCAL_CHAIN else request.num_images
    # The quota check locks the user's row until the job (which holds the units) is written; a plan
    # without quota windows takes no lock, so its job is one INSERT, no transaction around it.
    with transaction.atomic() if quota_counted(plan=plan) else contextlib.nullcontext():
        quota_check_locked(user_id=user_id, plan=plan, units=units, now=now)
        job = GenerationJob.objects.create(
            **fields, quota_units=units, deadline_at=now + timedelta(seconds=settings.GENERATION_QUEUE_TIMEOUT_SECONDS)
        )
        transaction.on_commit(lambda: _enqueue(job))
    return job


def _job_reuse(*, earlier: GenerationJob, fields: dict, now) -> GenerationJob:
    job = GenerationJob.objects.create(
        **{**fields, "message": "Ready: the same request was made before, so it cost nothing."},
        status=GenerationJob.Status.SUCCEEDED,
        progress=100,
        reused_from=earlier,
        started_at=now,
        finished_at=now,
    )
    images = list(earlier.images.all())
    GeneratedImage.objects.bulk_create(
        GeneratedImage(
            **{f.attname: getattr(image, f.attname) for f in GeneratedImage._meta.concrete_fields if f.attname not in ("id", "job_id")},
            job=job,
        )
        for image in images
    )
    if any(len(image.variants) < len(_generated_sizes(image.width)) * len(imaging.VARIANT_FORMATS) for image in images):
        transaction.on_commit(lambda: _enqueue_images_finish(job))  # the earlier job's sizes are still coming
    transaction.on_commit(lambda: webhook_job_ended(job))
    return job


# --- running a job -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredImage:
    """A result image verified, re-encoded and being stored: its one variant (the largest size
    served, as a JPEG) uploads on the upload thread while the run records the result."""

    width: int
    height: int
    write: StartedWrite

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


def _store_image(*, data: bytes) -> StoredImage:
    """Verify the provider's bytes (type, size, pixel count, integrity), re-encode them (nothing of
    the provider's file but its pixels is kept: P-SEC-5) and store one JPEG at the largest size
    served, privately under a content-addressed key: the result goes out with that; the other
    sizes and formats follow (`generation_job_images_finish`).
    Raises imaging.UnsafeImageError for bytes that are not an image we accept."""
    square = imaging.square_crop(imaging.decode_image(data))
    size = _generated_sizes(square.width)[-1]
    # Without the second pass: on the way to the result, it doubled the time for 1-2 % of the bytes.
    jpeg = imaging.render_variant(square, size=size, fmt="jpeg", optimize=False).data
    # Uploaded while the run records the result (_job_succeed waits for it before committing).
    return StoredImage(size, size, store_content_started(storage="default", prefix="generated", data=jpeg, fmt="jpeg"))


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
    if added:
        job_notify(job=job)
    return added


def _enqueue_images_finish(job: GenerationJob) -> None:
    from .tasks import job_images_finish

    # Just after the waiting jobs of the same plan (the user already has the result; these are the
    # other sizes), and still before lower plans' jobs on a worker shared by several lanes.
    job_images_finish.apply_async(args=[str(job.id)], queue=job.queue, priority=min(9, job.priority + 1))


# The least time between two progress reports of a run: each is a row write and a message, on the
# way to the result; a person watching a bar does not need them more often.
PROGRESS_EVERY_SECONDS = 0.2


class _Progress:
    """Forwards a provider's progress to the job, skipping updates nobody would see, at most one
    every PROGRESS_EVERY_SECONDS (from the run's start, which saved "Starting"). A report that
    comes sooner is held: the next report or the adapter's next cancel check (`flush`, at least
    every poll interval) sends it, and it is dropped if the call ends first (its end says more).

    The page learns that the job runs (`announce`) once a provider has the request or reports
    first, not as the run claims the job: that message would be sent while the run opens its
    ledger line and submits, and delay the submission, from which the provider's time counts."""

    def __init__(self, job: GenerationJob) -> None:
        self.job, self.percent, self.message, self.at = job, -1, "", time.monotonic()
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
            job_progress_report(job=self.job, progress=self.percent, message=self.message)


class _CancelWatch:
    """Asked by adapters between polls: has the user canceled this job? (read at most every 0.5 s;
    made as the run claims the job, which it would not have if it were canceled: the first read
    is due half a second later, not on the way to a provider that answers at once)"""

    def __init__(self, job_id) -> None:
        self.job_id, self.checked_at, self.canceled = job_id, time.monotonic(), False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.canceled and now - self.checked_at >= 0.5:
            self.checked_at = now
            self.canceled = GenerationJob.objects.filter(pk=self.job_id, status=GenerationJob.Status.CANCELED).exists()
        return self.canceled


def _cancel_check(*, watch: _CancelWatch, progress: _Progress) -> bool:
    """The adapters' cancel check, asked at least every poll interval: sends a held report first."""
    progress.flush()
    return watch()


def _job_claim(*, job_id: str) -> tuple[GenerationJob | None, bool]:
    """Mark the job running for this run; (job, may_run). A finished job is left alone, so a
    redelivered task charges, counts and stores nothing twice; a job found running was cut off
    and runs again (resuming its provider request), up to GENERATION_MAX_RUNS starts.
    One conditional UPDATE that returns the row as it now is (it locks the row as it changes it,
    so two runs count two starts): one round trip, where the ORM's update and a read took two
    and about a millisecond of query building, on the way to every job's provider call."""
    now = timezone.now()
    table, ops = GenerationJob._meta.db_table, connection.ops
    terminal = ", ".join(["%s"] * len(GenerationJob.TERMINAL_STATUSES))
    # SQLite (3.35+) and PostgreSQL both take UPDATE ... RETURNING; SET reads the row's old values.
    # Only the quoted table name and placeholders are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {ops.quote_name(table)} SET runs = runs + 1, status = %s, started_at = COALESCE(started_at, %s),"  # noqa: S608
        " progress = CASE WHEN progress > 1 THEN progress ELSE 1 END,"
        " message = CASE WHEN runs = 0 THEN %s ELSE %s END, deadline_at = %s, updated_at = %s"
        f" WHERE id = %s AND status NOT IN ({terminal}) RETURNING *"
    )
    params = [
        GenerationJob.Status.RUNNING,
        ops.adapt_datetimefield_value(now),
        "Starting",
        "Picking up where the last run stopped",
        ops.adapt_datetimefield_value(now + timedelta(seconds=settings.GENERATION_RUN_TIMEOUT_SECONDS)),
        ops.adapt_datetimefield_value(now),
        GenerationJob._meta.pk.get_db_prep_value(job_id, connection),
        *GenerationJob.TERMINAL_STATUSES,
    ]
    claimed = list(GenerationJob.objects.raw(sql, params))
    if not claimed:  # gone, or finished already
        return GenerationJob.objects.filter(pk=job_id).first(), False
    job = claimed[0]
    return job, job.runs <= settings.GENERATION_MAX_RUNS


def generation_job_run(*, job_id: str) -> GenerationJob | None:
    """Run a job along its provider chain: each provider is retried on transient errors, then the
    next one is tried; a provider whose breaker is open is skipped."""
    job, may_run = _job_claim(job_id=job_id)
    if job is None or job.status in GenerationJob.TERMINAL_STATUSES:
        return job
    if not may_run:
        return _job_fail(job=job, kind="lost", message="This job kept stopping its worker, so it was given up. Your quota was returned.")
    progress = _Progress(job)
    deadline = time.monotonic() + max(1.0, (job.deadline_at - timezone.now()).total_seconds())
    watch = _CancelWatch(job.pk)
    failures: list[str] = []
    error_kind = "permanent"
    for entry in job.provider_chain:
        name, model = entry.split(":", 1)
        provider = provider_get(name)
        if provider is None:
            failures.append(f"{name} is not set up")
            continue
        # Only a later run can find a call left open (each run settles its own): a first run skips the query.
        resuming = job.runs > 1 and _call_pending(job=job, provider=name, model=model) is not None
        if not resuming and not breaker_allows(provider=name):
            failures.append(f"{name} is failing right now (circuit open)")
            error_kind = "transient"
            continue
        request = GenerationRequest(
            prompt=job.prompt, model=model, style=job.style, seed=job.seed, size=job.size, num_images=job.num_images
        )
        try:
            result, stored, call = _call_with_retries(
                job=job, provider=provider, request=request, deadline=deadline, watch=watch, progress=progress
            )
        except ContentRefusedError:
            return _job_fail(job=job, kind="refused", message=REFUSED_MESSAGE)
        except ProviderCanceledError:
            return GenerationJob.objects.get(pk=job.pk)
        except ProviderError as exc:
            failures.append(f"{name}: {exc}")
            error_kind = exc.kind
            logger.warning("job %s: %s failed (%s): %s", job.id, name, exc.kind, exc)
            if watch() or time.monotonic() >= deadline:
                break
            continue
        job = _job_succeed(job=job, result=result, stored=stored, call=call)
        breaker_record_success(provider=name)
        return job
    if watch():
        return GenerationJob.objects.get(pk=job.pk)
    logger.warning("job %s failed on every provider: %s", job.id, "; ".join(failures))
    return _job_fail(job=job, kind=error_kind, message=FAILED_EVERYWHERE_MESSAGE)


FAILED_EVERYWHERE_MESSAGE = "Every image service failed this time. Your quota was not used; please try again shortly."
REFUSED_MESSAGE = "The image service refused this image as unsafe content. Nothing was charged to your quota."


def _call_pending(*, job: GenerationJob, provider: str, model: str) -> CostEntry | None:
    return job.cost_entries.filter(provider=provider, model=model, outcome=CostEntry.Outcome.PENDING).order_by("created_at").first()


def _call_record_request_id(call: CostEntry, request_id: str) -> None:
    """The provider's id, saved before any waiting, so that a re-run resumes instead of paying again
    (and noted on `call`: settling it need not write it again)."""
    if not request_id:
        return
    # One statement; in a transaction (a failing statement would spoil it) within a savepoint.
    with contextlib.suppress(IntegrityError), transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
        if CostEntry.objects.filter(pk=call.pk, request_id="").update(request_id=request_id):  # else recorded on another row: keep that
            call.request_id = request_id


def _call_submitted(call: CostEntry, progress: _Progress, request_id: str) -> None:
    _call_record_request_id(call, request_id)
    progress.announce()


def _call_settle(*, call: CostEntry, outcome: str, error: ProviderError | None = None, result: GenerationResult | None = None) -> bool:
    """Close a provider call once (two runs settling the same call write one line)."""
    fields: dict = {"outcome": outcome, "finished_at": timezone.now()}
    fields["latency_ms"] = int((fields["finished_at"] - call.created_at).total_seconds() * 1000)
    if error is not None:
        fields.update(error_kind=error.kind, error=str(error)[:255])
        if error.request_id and error.request_id != call.request_id:
            fields["request_id"] = error.request_id
        if error.cost_usd:  # billed although nothing came of it
            fields.update(cost_usd=Decimal(str(error.cost_usd)), megapixels=Decimal(str(error.megapixels)).quantize(Decimal("0.001")))
    if result is not None:
        pixels = sum(image.width * image.height for image in result.images)
        fields.update(
            images=len(result.images),
            megapixels=(Decimal(pixels) / Decimal(1_000_000)).quantize(Decimal("0.001")),
            cost_usd=Decimal(str(result.cost_usd)),
        )
        if result.request_id and result.request_id != call.request_id:
            fields["request_id"] = result.request_id
    pending = CostEntry.objects.filter(pk=call.pk, outcome=CostEntry.Outcome.PENDING)
    if "request_id" not in fields:  # no unique value written (the row has its id already): nothing can clash
        return bool(pending.update(**fields))
    try:
        with transaction.atomic():
            return bool(pending.update(**fields))
    except IntegrityError:  # the request id is recorded on another row already: keep that one
        fields.pop("request_id")
        return bool(pending.update(**fields))


def _call_with_retries(
    *, job: GenerationJob, provider, request: GenerationRequest, deadline: float, watch: _CancelWatch, progress: _Progress
) -> tuple[GenerationResult, list[StoredImage], CostEntry]:
    """Call one provider until it delivers usable images, with backoff and jitter (or the server's
    Retry-After) between transient failures. A request still alive at the provider is resumed,
    never submitted again. Every call is one ledger row, opened before it starts."""
    attempts, backoff = settings.GENERATION_PROVIDER_ATTEMPTS, settings.GENERATION_PROVIDER_BACKOFF_SECONDS
    for attempt in range(1, attempts + 1):
        call = _call_pending(job=job, provider=provider.name, model=request.model) if job.runs > 1 or attempt > 1 else None
        lookup_since = call.created_at.timestamp() if call is not None and not call.request_id else None
        if call is None:
            call = CostEntry.objects.create(job=job, provider=provider.name, model=request.model, plan=job.plan)
        context = CallContext(
            on_progress=progress,
            on_submitted=functools.partial(_call_submitted, call, progress),
            should_cancel=functools.partial(_cancel_check, watch=watch, progress=progress),
            resume_id=call.request_id,
            lookup_since=lookup_since,
            deadline=deadline,
        )
        try:
            result = provider.generate(request, context)
            stored = _store_results(result)
        except TransientProviderError as exc:
            call.refresh_from_db(fields=["request_id"])  # on_submitted may have recorded it meanwhile
            resumable = exc.resumable and bool(exc.request_id or call.request_id)
            last = attempt == attempts or time.monotonic() >= deadline or watch()
            if resumable and not last:
                _call_record_request_id(call, exc.request_id)
            else:
                if resumable:  # giving up on a request that may still run (and bill) there
                    with contextlib.suppress(Exception):
                        provider.cancel(exc.request_id or call.request_id, model=request.model)
                _call_settle(call=call, outcome=CostEntry.Outcome.FAILED, error=exc)
                breaker_record_failure(provider=provider.name)
            if last:
                raise
            progress.announce()  # it waits to try again: running, not queued
            jitter = 0.5 + secrets.randbelow(1000) / 1000
            wait = max(exc.retry_after or 0.0, backoff * 2 ** (attempt - 1) * jitter)
            time.sleep(max(0.0, min(wait, 30.0, deadline - time.monotonic())))
            continue
        except ProviderCanceledError as exc:
            _call_settle(call=call, outcome=CostEntry.Outcome.CANCELED, error=exc)
            raise
        except ContentRefusedError as exc:
            _call_settle(call=call, outcome=CostEntry.Outcome.REFUSED, error=exc)
            breaker_record_success(provider=provider.name)  # it answered: the provider is healthy
            raise
        except PermanentProviderError as exc:
            _call_settle(call=call, outcome=CostEntry.Outcome.FAILED, error=exc)
            raise
        except imaging.UnsafeImageError as exc:  # charged, but nothing we can serve: count the cost, try the next
            error = PermanentProviderError(f"{provider.name} returned an unusable image: {exc}")
            _call_settle(call=call, outcome=CostEntry.Outcome.FAILED, error=error, result=result)
            raise error from exc
        return result, stored, call  # settled by _job_succeed, with the result, once its files are stored
    raise AssertionError("unreachable: the last attempt returns or raises")


def _store_results(result: GenerationResult) -> list[StoredImage]:
    if not result.images:
        raise ContentRefusedError(f"{result.provider} delivered no image", request_id=result.request_id)
    return [_store_image(data=image.data) for image in result.images]


_IMAGE_RESULT_FIELDS = [
    "width", "height", "variants", "provider", "model", "model_version", "seed", "prompt", "licence_note", "content_rating",
]  # fmt: skip


def _job_succeed(*, job: GenerationJob, result: GenerationResult, stored: list[StoredImage], call: CostEntry) -> GenerationJob:
    """Settle the provider call and record the stored images, and finish the job, once: one
    transaction, written while the files upload and committed once they are all stored (files
    first, rows after). An upload that fails rolls it all back: the call stays open with its
    request id, so the reconciler resumes that request (no second charge).
    The job is finished by a conditional UPDATE (which locks its row until the commit, as a
    locked read would): `job` is this run's row, which only a cancel, a failure or the reconciler
    changes while it runs, and each of those ends the job."""
    with transaction.atomic():
        _call_settle(call=call, outcome=CostEntry.Outcome.SUCCEEDED, result=result)
        now = timezone.now()
        fields = {"status": GenerationJob.Status.SUCCEEDED, "progress": 100, "message": "Done", "finished_at": now, "updated_at": now}
        if result.refused_count and job.quota_units:
            # Images the provider withheld are not charged: the job keeps only what it delivered.
            fields["quota_units"] = max(0, job.quota_units - result.refused_count)
            fields["message"] = f"Done. {result.refused_count} image(s) were withheld as unsafe and not charged."
        if not GenerationJob.objects.filter(pk=job.pk).exclude(status__in=GenerationJob.TERMINAL_STATUSES).update(**fields):
            _uploads_wait(stored)  # canceled meanwhile, or settled by the reconciler
            return GenerationJob.objects.get(pk=job.pk)
        for name, value in fields.items():
            setattr(job, name, value)
        rows = [
            GeneratedImage(
                job=job, index=index, width=image.width, height=image.height, variants=image.variants(), provider=result.provider,
                model=result.model, model_version=result.model_version, seed=job.seed + index, prompt=job.prompt,
                licence_note=result.licence_note, content_rating="general",
            )
            for index, image in enumerate(stored)
        ]  # fmt: skip
        # One statement for all of them; a row left by an earlier attempt is overwritten.
        GeneratedImage.objects.bulk_create(rows, update_conflicts=True, unique_fields=["job", "index"], update_fields=_IMAGE_RESULT_FIELDS)
        _uploads_wait(stored)
        transaction.on_commit(lambda: _job_succeeded_announce(job, images=rows))
    return job


def _job_succeeded_announce(job: GenerationJob, *, images: list[GeneratedImage]) -> None:
    """Once the success is committed: the result to the user first (they are waiting for it; the
    message is built from the rows just written, not read back), then the other sizes to the queue."""
    job_notify(job=job, images=images)
    webhook_job_ended(job)
    _enqueue_images_finish(job)


def _job_fail(*, job: GenerationJob, kind: str, message: str) -> GenerationJob:
    """Fail the job, give its quota back, and stop whatever it left running at a provider."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if job.status in GenerationJob.TERMINAL_STATUSES:
            return job
        job.status, job.error_kind, job.message = GenerationJob.Status.FAILED, kind, message
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error_kind", "message", "finished_at", "updated_at"])
        job.quota_refunded = quota_refund(job_id=job.pk) or job.quota_refunded
        abandoned = list(job.cost_entries.filter(outcome=CostEntry.Outcome.PENDING))
    _calls_abandon(calls=abandoned, reason="the job was given up")
    job_notify(job=job)
    webhook_job_ended(job)
    return job


def _calls_abandon(*, calls: list[CostEntry], reason: str) -> None:
    """Ask the provider to stop each open request (best effort) and close its ledger line."""
    for call in calls:
        provider = provider_get(call.provider)
        if provider is not None and call.request_id:
            try:
                provider.cancel(call.request_id, model=call.model)
            except Exception:  # best effort: the line is closed either way
                logger.exception("could not cancel %s request %s", call.provider, call.request_id)
        _call_settle(call=call, outcome=CostEntry.Outcome.CANCELED, error=ProviderCanceledError(reason))


def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """Cancel a queued or running job. Its quota comes back unless a provider already delivered
    (and charged) for it; a running worker notices within a poll and stops the provider."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if job.status in GenerationJob.TERMINAL_STATUSES:
            raise JobNotCancelableError(f"This job has already {job.status}.")
        job.status, job.message = GenerationJob.Status.CANCELED, "Canceled"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "message", "finished_at", "updated_at"])
        if not job.cost_entries.filter(outcome=CostEntry.Outcome.SUCCEEDED).exists():
            job.quota_refunded = quota_refund(job_id=job.pk) or job.quota_refunded
    job_notify(job=job)
    webhook_job_ended(job)
    return job


# --- the reconciler ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileSummary:
    succeeded: int = 0
    failed: int = 0
    calls_closed: int = 0


def generation_jobs_reconcile(*, resume_seconds: float = 20.0) -> ReconcileSummary:
    """Settle every job past its deadline (a lost worker, a lost provider answer): ask the provider
    once more for a request it was running, and keep the result if it finished; otherwise fail the
    job and give its quota back. Then close provider calls left open by finished jobs."""
    now, grace = timezone.now(), settings.GENERATION_RECONCILE_GRACE_SECONDS
    overdue = GenerationJob.objects.filter(
        status__in=(GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING),
        deadline_at__lt=now - timedelta(seconds=grace),
    ).values_list("pk", "deadline_at")
    succeeded = failed = 0
    for job_id, deadline_at in overdue[:200]:
        # Claim: move the deadline on, so a second reconciler skips it; a run that finishes meanwhile wins.
        claimed = GenerationJob.objects.filter(pk=job_id, deadline_at=deadline_at).update(
            deadline_at=now + timedelta(seconds=resume_seconds + grace)
        )
        if not claimed:
            continue
        job = _job_settle_overdue(job=GenerationJob.objects.get(pk=job_id), resume_seconds=resume_seconds)
        succeeded += job.status == GenerationJob.Status.SUCCEEDED
        failed += job.status == GenerationJob.Status.FAILED
    orphans = list(
        CostEntry.objects.filter(
            outcome=CostEntry.Outcome.PENDING,
            job__status__in=GenerationJob.TERMINAL_STATUSES,
            created_at__lt=now - timedelta(seconds=grace),
        )[:200]
    )
    _calls_abandon(calls=orphans, reason="the job had already ended")
    return ReconcileSummary(succeeded=succeeded, failed=failed, calls_closed=len(orphans))


def _job_settle_overdue(*, job: GenerationJob, resume_seconds: float) -> GenerationJob:
    for call in job.cost_entries.filter(outcome=CostEntry.Outcome.PENDING).exclude(request_id=""):
        provider = provider_get(call.provider)
        if provider is None:
            continue
        request = GenerationRequest(
            prompt=job.prompt, model=call.model, style=job.style, seed=job.seed, size=job.size, num_images=job.num_images
        )
        context = CallContext(resume_id=call.request_id, deadline=time.monotonic() + resume_seconds)
        try:
            result = provider.generate(request, context)
            stored = _store_results(result)
        except (ProviderError, imaging.UnsafeImageError) as exc:
            logger.warning("reconciler: job %s, %s request %s did not finish: %s", job.id, call.provider, call.request_id, exc)
            continue
        return _job_succeed(job=job, result=result, stored=stored, call=call)
    if job.status == GenerationJob.Status.QUEUED:
        message = "This waited too long in the queue, so it was given up. Your quota was returned; please try again."
    else:
        message = "This generation stopped answering, so it was given up. Your quota was returned; please try again."
    return _job_fail(job=job, kind="timeout", message=message)
