"""Reads of generation jobs: their state (as websockets and the polling endpoint send it), queue
position and ETA, lanes, and what to show while waiting or after a failure."""

import math
import statistics
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from billing.entitlements import Entitlements
from billing.models import Invoice
from gallery.models import Avatar
from gallery.selectors import avatar_related_to_text, text_words

from .file_links import file_api_url, file_page_url
from .models import CostEntry, GeneratedImage, GenerationJob
from .providers.local import STYLE_LABELS as LOCAL_STYLE_LABELS
from .providers.registry import provider_get
from .quotas import QuotaStatus, quota_status

LANE_LABELS = {"enterprise": "dedicated lane", "premium": "priority lane", "standard": "standard lane", "batch": "batch lane"}
STYLE_LABELS = {"photo": "Photo (AI)", **LOCAL_STYLE_LABELS}


def applied_state(*, image: GeneratedImage) -> dict:
    """What was requested and what was applied for an image (see GeneratedImage.applied), with the
    style's label and `asked`: one sentence per difference (style, model, size), the same words on
    the page and over the websocket. Images made before it was kept have no style and no notes."""
    applied = image.applied or {}
    requested = applied.get("requested") or {}
    style = applied.get("style", "")
    model = applied.get("model", image.model)
    size = applied.get("size")
    asked = []
    if requested.get("style") and style and requested["style"] != style:
        asked.append(
            f"You asked for {STYLE_LABELS.get(requested['style'], requested['style'])}; no AI service is set up here, "
            f"so the instant generator drew it."
        )
    if requested.get("model") and requested["model"] != model:
        asked.append(f"You asked for {requested['model']}; it was not available, so {model} made it.")
    if requested.get("size") and size and size < requested["size"]:
        asked.append(f"You asked for {requested['size']} px; {model} makes {size} px at most, so it was upscaled.")
    return {
        "requested": {
            "style": requested.get("style", ""),
            "style_label": STYLE_LABELS.get(requested.get("style", ""), requested.get("style", "")),
            "model": requested.get("model", ""),
            "size": requested.get("size"),
        },
        "style": style,
        "style_label": STYLE_LABELS.get(style, style),
        "model": model,
        "size": size,
        "drawn": applied.get("drawn", []),
        "not_understood": applied.get("not_understood", []),
        "attributes": applied.get("attributes", {}),
        # The local generator reads the prompt into parts; an AI model is sent it whole.
        "local": image.provider == "local",
        "asked": asked,
    }


def image_state(*, image: GeneratedImage, downloads: bool = False, api_base_url: str = "") -> dict:
    """One result image: its private URLs (for the owner's pages; with `api_base_url`, the API's
    absolute token-bearing links on that site) and provenance; with `downloads`, each variant's
    download link on the site too (for signed-in pages)."""
    variants = [
        {**{k: v for k, v in variant.items() if k != "key"}, "url": _variant_url(image, variant, api_base_url=api_base_url)}
        for variant in image.variants
    ]
    if downloads:
        for variant in variants:
            variant["download_url"] = reverse(
                "generation:image_download", args=[image.job_id, image.index, variant["size"], variant["format"]]
            )
    webp = [v for v in variants if v["format"] == "webp" and v["size"] <= 512]
    preview = webp[-1]["url"] if webp else (variants[-1]["url"] if variants else "")
    return {
        "index": image.index,
        "width": image.width,
        "height": image.height,
        "preview_url": preview,
        "variants": variants,
        "provenance": {
            "provider": image.provider,
            "model": image.model,
            "model_version": image.model_version,
            "seed": image.seed,
            "prompt": image.prompt,
            "licence_note": image.licence_note,
            "content_rating": image.content_rating,
            # The side the model made when it was below the size asked for (then upscaled, Lanczos).
            "upscaled_from": image.upscaled_from,
            # What was asked (the job's style and size) against what was applied.
            "applied": applied_state(image=image),
        },
    }


def _variant_url(image: GeneratedImage, variant: dict, *, api_base_url: str) -> str:
    where = {"job_id": image.job_id, "index": image.index, "size": variant["size"], "fmt": variant["format"]}
    if api_base_url:
        return file_api_url(base_url=api_base_url, **where)
    return file_page_url(key=variant["key"], **where)


@dataclass(frozen=True)
class LaneEstimate:
    """Where a request would stand: its lane, its place in line and when it should be done."""

    queue: str
    lane: str
    position: int
    eta_seconds: int

    @property
    def label(self) -> str:
        return f"{self.lane}, position {self.position}"


def ai_available(*, chain: tuple[str, ...] | list[str]) -> bool:
    """Is any provider of this chain set up here (with its key)?"""
    return any(provider_get(entry.split(":", 1)[0]) is not None for entry in chain)


def provider_latency_seconds(*, provider: str) -> float:
    """The median time of this provider's recent successful calls (last hour), or the configured
    starting value when there are too few; cached for half a minute."""
    key = f"generation:latency:{provider}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    since = timezone.now() - timedelta(hours=1)
    recent = CostEntry.objects.filter(provider=provider, outcome=CostEntry.Outcome.SUCCEEDED, created_at__gte=since)
    latencies = list(recent.order_by("-created_at").values_list("latency_ms", flat=True)[:200])
    enough = len(latencies) >= 3
    seconds = statistics.median(latencies) / 1000 if enough else float(settings.GENERATION_EXPECTED_SECONDS.get(provider, 10))
    cache.set(key, seconds, 30)
    return seconds


def lane_estimate(*, queue: str, chain: list[str] | tuple[str, ...], ahead: int) -> LaneEstimate:
    """ETA from the queue depth, the lane's worker count and the first provider's recent latency."""
    latency = provider_latency_seconds(provider=chain[0].split(":", 1)[0]) if chain else 10.0
    workers = max(1, settings.GENERATION_QUEUE_CONCURRENCY.get(queue, 1))
    eta = latency * (ahead // workers + 1)
    return LaneEstimate(queue=queue, lane=LANE_LABELS.get(queue, f"{queue} lane"), position=ahead + 1, eta_seconds=math.ceil(eta))


def queue_ahead(*, queue: str, before=None) -> int:
    """Jobs waiting in this lane (accepted before `before`, when given)."""
    waiting = GenerationJob.objects.filter(queue=queue, status=GenerationJob.Status.QUEUED)
    return (waiting.filter(created_at__lt=before) if before is not None else waiting).count()


def job_estimate(*, job: GenerationJob) -> LaneEstimate | None:
    """For a queued job: its place in line and ETA; for a running one: the ETA of its run."""
    if job.status == GenerationJob.Status.QUEUED:
        return lane_estimate(queue=job.queue, chain=job.provider_chain, ahead=queue_ahead(queue=job.queue, before=job.created_at))
    if job.status == GenerationJob.Status.RUNNING:
        return lane_estimate(queue=job.queue, chain=job.provider_chain, ahead=0)
    return None


FAILURE_SUGGESTIONS = {
    "refused": ["Describe the avatar differently: the image service judged this one unsafe.", "Pick one of the premade avatars below."],
    "transient": ["Try again in a minute: the image services are busy.", "An instant style is drawn at once and costs nothing."],
    "timeout": ["Try again: the lanes are moving again.", "An instant style is drawn at once and costs nothing."],
    "lost": ["Try again with a different description.", "Pick one of the premade avatars below."],
}
DEFAULT_SUGGESTIONS = ["Try again with a simpler description.", "An instant style is drawn at once and costs nothing."]


def job_state(*, job: GenerationJob, images: list[GeneratedImage] | None = None) -> dict:
    """The job's public state, as sent to its websocket clients and by the polling endpoint.
    `images`: the job's image rows in order, when the caller has them (else they are read)."""
    finished = job.status == GenerationJob.Status.SUCCEEDED
    estimate = job_estimate(job=job)
    state = {
        "type": "job.state",
        "job_id": str(job.id),
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "error_kind": job.error_kind,
        "style": job.style,
        "style_label": STYLE_LABELS.get(job.style, job.style),
        "size": job.size,
        "seed": job.seed,
        "prompt": job.prompt,
        "queue": job.queue,
        "lane": LANE_LABELS.get(job.queue, job.queue),
        "queue_position": estimate.position if estimate and job.status == GenerationJob.Status.QUEUED else None,
        "eta_seconds": estimate.eta_seconds if estimate else None,
        "quota_units": 0 if job.quota_refunded else job.quota_units,
        "reused": job.reused_from_id is not None,
        "images": [image_state(image=image, downloads=True) for image in (job.images.all() if images is None else images)]
        if finished
        else [],
        "suggestions": FAILURE_SUGGESTIONS.get(job.error_kind, DEFAULT_SUGGESTIONS) if job.status == GenerationJob.Status.FAILED else [],
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }
    if job.status == GenerationJob.Status.FAILED:
        state["similar"] = [_premade_state(avatar) for avatar in avatar_related_to_text(text=job.prompt, limit=6)]
    return state


def _premade_state(avatar: Avatar) -> dict:
    return {"id": avatar.pk, "title": avatar.title, "image_url": avatar.card_src, "url": reverse("gallery:detail", args=[avatar.pk])}


@dataclass(frozen=True)
class VariantDownload:
    key: str
    filename: str


def variant_download_get(*, job: GenerationJob, index: int, size: int, fmt: str) -> VariantDownload | None:
    """One stored size and format of a job's result, with the name it is saved under."""
    image = job.images.filter(index=index).first() if job.status == GenerationJob.Status.SUCCEEDED else None
    variant = next((v for v in (image.variants if image else []) if (v["size"], v["format"]) == (size, fmt)), None)
    if variant is None:
        return None
    extension = variant["key"].rsplit(".", 1)[-1]
    number = f"-{index + 1}" if job.num_images > 1 else ""
    return VariantDownload(key=variant["key"], filename=f"avatar-{str(job.id)[:8]}{number}-{size}px.{extension}")


def job_thumbnail_url(*, job: GenerationJob, size: int = 256) -> str:
    """The first result at `size` (or the nearest), for lists; empty when there is none."""
    images = list(job.images.all())
    if not images:
        return ""
    # The nearest size, WebP before JPEG (only the JPEG exists until the other sizes are made).
    variants = sorted(images[0].variants, key=lambda v: (abs(v["size"] - size), v["format"] != "webp"))
    return _variant_url(images[0], variants[0], api_base_url="") if variants else ""


def job_attempts(*, job: GenerationJob) -> list[CostEntry]:
    """The provider calls of a job, in order (the ledger lines are its attempts)."""
    return list(job.cost_entries.order_by("created_at", "id"))


def similar_for_prompt(*, user_id: int, prompt: str, limit: int = 6) -> dict:
    """Something to look at while a custom avatar is made: premade avatars sharing its words and
    the user's own earlier results for similar prompts."""
    words = set(text_words(prompt))
    own = []
    for job in job_list_for_user(user_id=user_id).filter(status=GenerationJob.Status.SUCCEEDED).prefetch_related("images")[:50]:
        if words.intersection(text_words(job.prompt)) and job.images.all():
            own.append({"job_id": str(job.id), "prompt": job.prompt, "image_url": job_thumbnail_url(job=job)})
        if len(own) >= limit:
            break
    return {"premade": avatar_related_to_text(text=prompt, limit=limit), "own": own}


def job_get(*, job_id: uuid.UUID | str) -> GenerationJob | None:
    """The job whoever owns it (for a caller that proved its right another way: a file link's token)."""
    try:
        return GenerationJob.objects.get(pk=job_id)
    except (GenerationJob.DoesNotExist, ValueError):
        return None


def job_get_for_user(*, job_id: uuid.UUID | str, user_id: int) -> GenerationJob | None:
    """The job if it exists and belongs to the user; otherwise None, so callers never learn which."""
    try:
        return GenerationJob.objects.get(pk=job_id, user_id=user_id)
    except (GenerationJob.DoesNotExist, ValueError):
        return None


def job_list_for_user(*, user_id: int) -> QuerySet[GenerationJob]:
    """The user's jobs, newest first."""
    return GenerationJob.objects.filter(user_id=user_id).order_by("-created_at")


@dataclass(frozen=True)
class SpendLine:
    """Provider spend: calls, images delivered and dollars, for one (day, provider, plan) or one provider."""

    provider: str
    calls: int
    images: int
    cost_usd: Decimal
    day: date | None = None
    plan: str = ""


def spend_by_day(*, since: datetime, until: datetime | None = None) -> list[SpendLine]:
    """The ledger summed per day, provider and plan (UTC days)."""
    entries = CostEntry.objects.filter(created_at__gte=since)
    if until is not None:
        entries = entries.filter(created_at__lt=until)
    rows = (
        entries.annotate(day=TruncDate("created_at"))
        .values("day", "provider", "plan")
        .annotate(calls=Count("id"), images=Sum("images"), cost=Sum("cost_usd"))
        .order_by("day", "provider", "plan")
    )
    return [SpendLine(r["provider"], r["calls"], r["images"] or 0, r["cost"] or Decimal(0), r["day"], r["plan"]) for r in rows]


def spend_totals(*, queryset: QuerySet[CostEntry] | None = None) -> list[SpendLine]:
    """The ledger (or part of it) summed per provider, most spent first."""
    entries = CostEntry.objects.all() if queryset is None else queryset
    rows = entries.order_by().values("provider").annotate(calls=Count("id"), images=Sum("images"), cost=Sum("cost_usd")).order_by("-cost")
    return [SpendLine(r["provider"], r["calls"], r["images"] or 0, r["cost"] or Decimal(0)) for r in rows]


@dataclass(frozen=True)
class ApiUsage:
    """What GET /api/v1/usage reports: the plan, its quota windows, and this calendar month (UTC)."""

    plan: Entitlements
    quota: QuotaStatus
    period_start: datetime
    period_end: datetime
    jobs: int
    images: int
    quota_units: int
    spend: dict[str, int]  # currency -> amount paid this month, in its smallest unit (cents)


def api_usage(*, user_id: int, plan: Entitlements, now: datetime | None = None) -> ApiUsage:
    """Quotas as the next request would meet them; jobs, images delivered and units charged (refunds
    excluded) this month; invoices paid this month, per currency."""
    now = now or timezone.now()
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    jobs = GenerationJob.objects.filter(user_id=user_id, created_at__gte=start, created_at__lt=end)
    totals = jobs.aggregate(jobs=Count("id"), units=Sum("quota_units", filter=Q(quota_refunded=False)))
    images = GeneratedImage.objects.filter(job__in=jobs).count()
    paid = Invoice.objects.filter(user_id=user_id, created__gte=start, created__lt=end, amount_paid__gt=0)
    spend = {row["currency"]: row["amount"] for row in paid.values("currency").annotate(amount=Sum("amount_paid")).order_by("currency")}
    return ApiUsage(
        plan=plan,
        quota=quota_status(user_id=user_id, plan=plan, now=now),
        period_start=start,
        period_end=end,
        jobs=totals["jobs"],
        images=images,
        quota_units=totals["units"] or 0,
        spend=spend,
    )


def commercial_use_allowed(*, provider: str, model: str) -> bool:
    """What settings.GENERATION_PROVIDERS says of a model's images ("commercial_use", on the model or
    the whole provider); a provider or model no longer configured, or never marked: not cleared."""
    options = settings.GENERATION_PROVIDERS.get(provider, {}).get("OPTIONS", {})
    model_options = options.get("models", {}).get(model, {})
    return bool(model_options.get("commercial_use", options.get("commercial_use", False)))


def _image_json(image, *, base_url: str) -> dict:
    state = image_state(image=image, api_base_url=base_url)
    provenance = state["provenance"]
    provenance["commercial_use_allowed"] = commercial_use_allowed(provider=image.provider, model=image.model)
    # The same fields as a premade avatar's: a generated image is the client's to use without credit.
    provenance["attribution_required"], provenance["attribution"] = False, ""
    return state


def job_api_json(job: GenerationJob, *, url: str, base_url: str) -> dict:
    """The job as the API (and its completion webhook) shows it, `url` being its address in the API;
    images (with URLs and provenance) once it succeeded, their links absolute on `base_url` (the
    request's site, or SITE_URL) and fetchable without the key for a few minutes (`file_links`)."""
    failed = job.status == GenerationJob.Status.FAILED
    return {
        "id": str(job.id),
        "url": url,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "queue": job.queue,
        "lane": LANE_LABELS.get(job.queue, job.queue),
        "prompt": job.prompt,
        "style": job.style,
        "size": job.size,
        "seed": job.seed,
        "num_images": job.num_images,
        "quota_units": 0 if job.quota_refunded else job.quota_units,
        "reused": job.reused_from_id is not None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": {"kind": job.error_kind, "message": job.message} if failed else None,
        "images": [_image_json(image, base_url=base_url) for image in job.images.all()]
        if job.status == GenerationJob.Status.SUCCEEDED
        else [],
    }
