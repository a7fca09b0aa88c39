"""Writes of the generation app: accept a request (validate, quota, reuse, enqueue), run a job
along its provider chain, store the results, cancel, and settle jobs past their deadline."""

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
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from billing.entitlements import Entitlements, entitlements
from gallery import imaging

from .models import CostEntry, GeneratedImage, GenerationJob
from .progress import job_notify, job_progress_report
from .providers.base import ContentRefusedError, GenerationRequest, GenerationResult, PermanentProviderError, TransientProviderError
from .providers.local import STYLES as LOCAL_STYLES
from .providers.registry import provider_get
from .quotas import quota_check_locked, quota_refund

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
    seed = secrets.randbelow(2**31) if seed is None else seed
    if not 0 <= seed < 2**31:
        raise GenerationError("The seed must be between 0 and 2147483647.", field="seed")
    return NormalisedRequest(prompt, style, size, seed, num_images, _chain_for(style=style, plan=plan))


def _enqueue(job: GenerationJob) -> None:
    from .tasks import job_run  # tasks import services; the reverse import happens at call time

    job_run.apply_async(args=[str(job.id)], queue=job.queue, priority=job.priority)


def generation_job_create(
    *, user_id: int, prompt: str, style: str = AI_STYLE, size: int | None = None, seed: int | None = None, num_images: int = 1
) -> GenerationJob:
    """Accept a request: reuse an identical stored result at no cost, or take quota and enqueue
    the job on the plan's queue once the transaction commits. Raises GenerationError or QuotaExceededError."""
    plan = entitlements(user_id=user_id)
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
        "plan": plan.plan,
        "queue": plan.queue,
        "priority": plan.priority,
        "provider_chain": list(request.chain),
    }
    with transaction.atomic():
        earlier = GenerationJob.objects.filter(request_key=request.key, status=GenerationJob.Status.SUCCEEDED, reused_from=None)
        earlier = earlier.order_by("created_at").first()
        if earlier is not None:
            return _job_reuse(earlier=earlier, fields=fields, now=now)
        units = 0 if request.chain == LOCAL_CHAIN else request.num_images
        quota_check_locked(user_id=user_id, plan=plan, units=units, now=now)
        job = GenerationJob.objects.create(
            **fields, quota_units=units, deadline_at=now + timedelta(seconds=settings.GENERATION_JOB_DEADLINE_SECONDS)
        )
        transaction.on_commit(lambda: _enqueue(job))
    return job


def _job_reuse(*, earlier: GenerationJob, fields: dict, now) -> GenerationJob:
    job = GenerationJob.objects.create(
        **fields,
        status=GenerationJob.Status.SUCCEEDED,
        progress=100,
        message="Ready: the same request was made before, so it cost nothing.",
        reused_from=earlier,
        started_at=now,
        finished_at=now,
    )
    GeneratedImage.objects.bulk_create(
        GeneratedImage(
            **{f.attname: getattr(image, f.attname) for f in GeneratedImage._meta.concrete_fields if f.attname not in ("id", "job_id")},
            job=job,
        )
        for image in earlier.images.all()
    )
    return job


def _store_image(*, data: bytes) -> tuple[int, int, list[dict]]:
    """Verify and re-encode the provider's bytes into the gallery's variants, stored privately
    under content-addressed keys (the same bytes are stored once; a re-run stores nothing new)."""
    image = imaging.decode_image(data)
    square = imaging.square_crop(image)
    storage = storages["default"]
    variants = []
    for variant in imaging.render_variants(square, max_size=square.width, sizes=(*imaging.VARIANT_SIZES, 2048)):
        digest = hashlib.sha256(variant.data).hexdigest()
        key = f"generated/{digest[:2]}/{digest}.{'jpg' if variant.format == 'jpeg' else variant.format}"
        if not storage.exists(key):
            storage.save(key, ContentFile(variant.data))
        variants.append({"size": variant.size, "format": variant.format, "key": key, "bytes": len(variant.data)})
    return square.width, square.height, variants


def _record_cost(*, job: GenerationJob, provider: str, model: str, outcome: str, started: float, **extra) -> None:
    CostEntry.objects.create(
        job=job,
        provider=provider,
        model=model,
        plan=job.plan,
        outcome=outcome,
        latency_ms=int((time.monotonic() - started) * 1000),
        **extra,
    )


class _Progress:
    """Forwards a provider's progress to the job, skipping updates that would not show."""

    def __init__(self, job: GenerationJob) -> None:
        self.job, self.last = job, -1

    def __call__(self, percent: int, message: str) -> None:
        percent = max(5, min(95, percent))
        if percent >= self.last + 5 or percent == 95:
            self.last = percent
            job_progress_report(job=self.job, progress=percent, message=message)


def _call_with_retries(provider, request: GenerationRequest, progress: _Progress) -> GenerationResult:
    """Transient errors are retried with exponential backoff and jitter (or the server's Retry-After)."""
    attempts, backoff = settings.GENERATION_PROVIDER_ATTEMPTS, settings.GENERATION_PROVIDER_BACKOFF_SECONDS
    for attempt in range(1, attempts + 1):
        try:
            return provider.generate(request, progress)
        except TransientProviderError as exc:
            if attempt == attempts:
                raise
            wait = max(getattr(exc, "retry_after", 0) or 0, backoff * 2 ** (attempt - 1) * (0.5 + secrets.randbelow(1000) / 1000))
            time.sleep(min(wait, 30))
    raise AssertionError("unreachable")


def generation_job_run(*, job_id: str) -> GenerationJob | None:
    """Run a job along its chain. A job already finished (a redelivered task) is left alone, so
    nothing is charged, counted or stored twice; a job found running was cut off and runs again."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in GenerationJob.TERMINAL_STATUSES:
            return job
        job.status = GenerationJob.Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.progress, job.message = max(job.progress, 1), "Starting"
        job.save(update_fields=["status", "started_at", "progress", "message", "updated_at"])
    job_notify(job=job)

    request = GenerationRequest(prompt=job.prompt, style=job.style, seed=job.seed, size=job.size, num_images=job.num_images)
    failures: list[str] = []
    error_kind = "permanent"
    for entry in job.provider_chain:
        name, model = entry.split(":", 1)
        provider = provider_get(name)
        if provider is None:
            failures.append(f"{name} is not set up")
            continue
        if hasattr(provider, "with_model"):
            provider = provider.with_model(model)
        started = time.monotonic()
        try:
            result = _call_with_retries(provider, request, _Progress(job))
        except ContentRefusedError as exc:
            _record_cost(
                job=job,
                provider=name,
                model=model,
                outcome=CostEntry.Outcome.REFUSED,
                started=started,
                error_kind="refused",
                error=str(exc)[:255],
            )
            return _job_fail(
                job=job, kind="refused", message="The provider refused this image as unsafe content. Nothing was charged to your quota."
            )
        except (TransientProviderError, PermanentProviderError) as exc:
            kind = "transient" if isinstance(exc, TransientProviderError) else "permanent"
            _record_cost(
                job=job,
                provider=name,
                model=model,
                outcome=CostEntry.Outcome.FAILED,
                started=started,
                error_kind=kind,
                error=str(exc)[:255],
            )
            failures.append(f"{name}: {exc}")
            error_kind = kind
            logger.warning("job %s: %s failed (%s): %s", job.id, name, kind, exc)
            continue
        megapixels = Decimal(job.size * job.size * len(result.images)) / Decimal(1_000_000)
        _record_cost(
            job=job, provider=name, model=result.model, outcome=CostEntry.Outcome.SUCCEEDED, started=started,
            megapixels=megapixels.quantize(Decimal("0.001")), cost_usd=Decimal(str(result.cost_usd)),
        )  # fmt: skip
        return _job_succeed(job=job, result=result)
    logger.warning("job %s failed on every provider: %s", job.id, "; ".join(failures))
    return _job_fail(
        job=job, kind=error_kind, message="Every image service failed this time. Your quota was not used; please try again shortly."
    )


def _job_succeed(*, job: GenerationJob, result: GenerationResult) -> GenerationJob:
    stored = [_store_image(data=image.data) for image in result.images]  # files first, rows after
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if job.status in GenerationJob.TERMINAL_STATUSES:  # canceled meanwhile: keep that answer
            return job
        for index, (width, height, variants) in enumerate(stored):
            GeneratedImage.objects.update_or_create(
                job=job,
                index=index,
                defaults={
                    "width": width, "height": height, "variants": variants, "provider": result.provider, "model": result.model,
                    "seed": job.seed + index, "prompt": job.prompt, "licence_note": result.metadata.get("licence", ""),
                    "content_rating": "general",
                },
            )  # fmt: skip
        job.status, job.progress, job.message = GenerationJob.Status.SUCCEEDED, 100, "Done"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "progress", "message", "finished_at", "updated_at"])
    job_notify(job=job)
    return job


def _job_fail(*, job: GenerationJob, kind: str, message: str) -> GenerationJob:
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if job.status in GenerationJob.TERMINAL_STATUSES:
            return job
        job.status, job.error_kind, job.message = GenerationJob.Status.FAILED, kind, message
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error_kind", "message", "finished_at", "updated_at"])
        quota_refund(job_id=job.pk)
    job_notify(job=job)
    return job


def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """Cancel a queued or running job and give its quota back (no provider has delivered for it)."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if job.status in GenerationJob.TERMINAL_STATUSES:
            raise JobNotCancelableError(f"This job has already {job.status}.")
        job.status, job.message = GenerationJob.Status.CANCELED, "Canceled"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "message", "finished_at", "updated_at"])
        quota_refund(job_id=job.pk)
    job_notify(job=job)
    return job
