"""Reads of generation jobs: their state (as websockets and the polling endpoint send it), queue
position and ETA, lanes, and what to show while waiting or after a failure."""

import io
import itertools
import os
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
from PIL import Image

from billing.entitlements import Entitlements
from billing.models import Invoice
from gallery.models import Avatar
from gallery.selectors import avatar_related_to_text, text_words

from .file_links import file_api_url, file_page_url
from .models import CostEntry, ErrorKind, GeneratedImage, GenerationJob
from .providers.base import GenerationRequest
from .providers.registry import provider_build, provider_get
from .quotas import QuotaStatus, quota_status
from .styles import LOCAL_CHAIN, LOCAL_PROVIDER, LOCAL_STYLES, style_label, style_unavailable_reason

LANE_LABELS = {"enterprise": "dedicated lane", "premium": "priority lane", "standard": "standard lane", "batch": "batch lane"}


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
        asked.append(f"You asked for {style_label(requested['style'])}; it was drawn in {style_label(style)}.")
    if requested.get("model") and requested["model"] != model:
        asked.append(f"You asked for {requested['model']}; it was not available, so {model} made it.")
    if requested.get("size") and size and size < requested["size"]:
        asked.append(f"You asked for {requested['size']} px; {model} makes {size} px at most, so it was upscaled.")
    return {
        "requested": {
            "style": requested.get("style", ""),
            "style_label": style_label(requested.get("style", "")),
            "model": requested.get("model", ""),
            "size": requested.get("size"),
        },
        "style": style,
        "style_label": style_label(style),
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
    eta: float  # seconds from now

    @property
    def eta_seconds(self) -> int:
        """The ETA in whole seconds, as pages show it (at least 1)."""
        return max(1, round(self.eta))

    @property
    def label(self) -> str:
        return f"{self.lane}, position {self.position}"


def ai_available(*, chain: tuple[str, ...] | list[str]) -> bool:
    """Is any provider of this chain set up here (with its key)?"""
    return any(provider_get(entry.split(":", 1)[0]) is not None for entry in chain)


# How far back the ETA looks for measurements, and how many it needs before it trusts them.
ETA_WINDOW = timedelta(hours=1)
ETA_MIN_SAMPLES = 3
ETA_CACHE_SECONDS = 5
# A job that waited less than this for a worker did not wait for one (the broker's own delivery).
ETA_WAITED_SECONDS = 0.2
LANE_JOBS_READ = 1000  # jobs of a lane read for an ETA; a longer line is counted


def _work(*, provider: str, size: int, num_images: int) -> float:
    """A job's work in units of one 1024 px image: the local generator draws (and the pipeline
    encodes) every pixel of every image in turn; a remote model's time hardly depends on either."""
    return num_images * (size / 1024) ** 2 if provider == LOCAL_PROVIDER else 1.0


@dataclass(frozen=True)
class RunTimes:
    """A provider's measured time per unit of work: from acceptance to the result in an idle lane
    (pickup included), and from a worker's claim to the result."""

    idle: float
    run: float


def provider_run_times(*, provider: str) -> RunTimes:
    """The medians over the provider's recent succeeded jobs (those that ran it first, in the last
    hour), per unit of work; the configured expectation while there are too few. Cached for a few
    seconds. `idle` counts only jobs that found a worker free, so it holds the broker's pickup but no
    wait in line."""
    key = f"generation:run-times:{provider}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    jobs = (
        GenerationJob.objects.filter(
            status=GenerationJob.Status.SUCCEEDED,
            reused_from=None,
            started_at__isnull=False,
            finished_at__gte=timezone.now() - ETA_WINDOW,
            provider_chain__0__startswith=f"{provider}:",
        )
        .order_by("-finished_at")
        .values_list("created_at", "started_at", "finished_at", "size", "num_images")[:200]
    )
    runs, idle = [], []
    for created, started, finished, size, count in jobs:
        work = _work(provider=provider, size=size, num_images=count)
        runs.append((finished - started).total_seconds() / work)
        if (started - created).total_seconds() < ETA_WAITED_SECONDS:
            idle.append((finished - created).total_seconds() / work)
    expected = float(settings.GENERATION_EXPECTED_SECONDS.get(provider, 10))
    run = statistics.median(runs) if len(runs) >= ETA_MIN_SAMPLES else expected
    times = RunTimes(idle=statistics.median(idle) if len(idle) >= ETA_MIN_SAMPLES else run, run=run)
    cache.set(key, times, ETA_CACHE_SECONDS)
    return times


def _provider_of(chain: list[str] | tuple[str, ...]) -> str:
    return chain[0].split(":", 1)[0] if chain else ""


def lane_paces(*, queue: str) -> dict[str, float]:
    """The lane's measured pace per provider while it was busy: the mean time between two jobs
    ending, counted only while another job of the lane stood waiting for a worker (the lane could do
    no more), per unit of work of the job that ended, by that job's provider. It holds what a worker
    count cannot: how many workers there really are, how much of the machine they share, and the
    other work they do (each result's other sizes). A provider missing has not kept the lane busy
    lately. Cached for a few seconds."""
    key = f"generation:paces:{queue}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    rows = list(
        GenerationJob.objects.filter(queue=queue, reused_from=None, started_at__isnull=False, finished_at__gte=timezone.now() - ETA_WINDOW)
        .order_by("-finished_at")
        .values_list("created_at", "started_at", "finished_at", "provider_chain", "size", "num_images")[:200]
    )
    rows.sort(key=lambda row: row[2])
    waits = [(row[0], row[1]) for row in rows if (row[1] - row[0]).total_seconds() > ETA_WAITED_SECONDS]
    gaps: dict[str, list[float]] = {}
    for before, after in itertools.pairwise(rows):
        if any(created < before[2] < started for created, started in waits):  # someone was waiting for this slot
            provider = _provider_of(after[3])
            work = _work(provider=provider, size=after[4], num_images=after[5])
            gaps.setdefault(provider, []).append((after[2] - before[2]).total_seconds() / work)
    # The mean, not the median: workers that start together end together, so the gaps alternate
    # short and long, and the mean of those is the lane's real pace (a median picks one kind).
    paces = {provider: statistics.fmean(found[-50:]) for provider, found in gaps.items() if len(found) >= ETA_MIN_SAMPLES}
    cache.set(key, paces, ETA_CACHE_SECONDS)
    return paces


@dataclass(frozen=True)
class LaneJob:
    """A job a worker of the lane runs, or will run, before the one being estimated."""

    provider: str
    work: float
    running: bool


def lane_jobs_ahead(*, queue: str, before=None) -> tuple[list[LaneJob], int]:
    """The jobs of the lane running now and those waiting (accepted before `before`, when given),
    and the place in line that gives: one after every waiting job (those waiting for an identical
    request take a place but no worker)."""
    waiting = Q(status=GenerationJob.Status.QUEUED) & (Q(created_at__lt=before) if before is not None else Q())
    lane = GenerationJob.objects.filter(Q(queue=queue) & (Q(status=GenerationJob.Status.RUNNING) | waiting))
    rows = list(lane.values_list("status", "provider_chain", "size", "num_images", "reused_from_id")[:LANE_JOBS_READ])
    jobs, queued = [], 0
    for status, chain, size, count, leader in rows:
        running = status == GenerationJob.Status.RUNNING
        queued += not running
        if leader is None:
            provider = _provider_of(chain)
            jobs.append(LaneJob(provider, _work(provider=provider, size=size, num_images=count), running))
    if len(rows) == LANE_JOBS_READ:  # a line this long: its length is counted, the work of the rest assumed alike
        queued = lane.filter(waiting).count()
        jobs *= max(1, round(lane.count() / LANE_JOBS_READ))
    return jobs, queued + 1


def lane_estimate(*, queue: str, chain: list[str] | tuple[str, ...], size: int = 1024, num_images: int = 1, before=None) -> LaneEstimate:
    """When a request would be done, behind the lane's jobs running now and those waiting (accepted
    before `before`, when given). Alone it takes its own time (its provider's, measured, scaled to
    its work); beside running jobs, its provider's running time (jobs sharing a machine slow each
    other); behind others it ends one lane pace after each of them and its own, each job's pace by
    its provider (measured while the lane was busy; before that, its time shared by the lane's workers)."""
    jobs, position = lane_jobs_ahead(queue=queue, before=before)
    workers = max(1, settings.GENERATION_QUEUE_CONCURRENCY.get(queue, 1))
    paces = lane_paces(queue=queue)

    def pace(provider: str) -> float:
        # The local generator draws on the workers' processors: no more at once than the machine has.
        sharing = min(workers, os.cpu_count() or 1) if provider == LOCAL_PROVIDER else workers
        return paces.get(provider) or provider_run_times(provider=provider).run / sharing

    provider = _provider_of(chain)
    times = provider_run_times(provider=provider)
    work = _work(provider=provider, size=size, num_images=num_images)
    own = max(times.idle, times.run) if any(job.running for job in jobs) else times.idle
    behind = sum(pace(job.provider) * job.work for job in jobs) + pace(provider) * work
    return LaneEstimate(queue=queue, lane=LANE_LABELS.get(queue, f"{queue} lane"), position=position, eta=max(own * work, behind))


def job_estimate(*, job: GenerationJob) -> LaneEstimate | None:
    """For a queued job: its place in line and ETA; for a running one: the rest of its run."""
    size, count = job.size, job.num_images
    if job.status == GenerationJob.Status.QUEUED:
        return lane_estimate(queue=job.queue, chain=job.provider_chain, size=size, num_images=count, before=job.created_at)
    if job.status == GenerationJob.Status.RUNNING:
        provider = _provider_of(job.provider_chain)
        run = provider_run_times(provider=provider).run * _work(provider=provider, size=size, num_images=count)
        elapsed = (timezone.now() - job.started_at).total_seconds() if job.started_at else 0.0
        # Past its usual time it is nearly done, not overdue: a little longer, never a negative ETA.
        left = max(run - elapsed, min(run, 1.0) / 2)
        return LaneEstimate(queue=job.queue, lane=LANE_LABELS.get(job.queue, job.queue), position=1, eta=left)
    return None


def eta_text(seconds: float) -> str:
    """An ETA as a page says it."""
    if seconds < 1.5:
        return "ready in about a second"
    if seconds < 90:
        return f"ready in about {round(seconds)} s"
    return f"ready in about {round(seconds / 60)} min"


@dataclass(frozen=True)
class GenerateEstimate:
    """What a request with these choices would cost and when it would be ready, before it is made."""

    style: str
    style_label: str
    available: bool
    reason: str  # why the style cannot be made here
    instant: bool
    units: int  # quota units it takes
    quota_left: int | None  # in the tightest window; None: no quota
    quota_window: str  # that window ("day", "hour")
    lane: LaneEstimate | None  # None when the style cannot be made

    @property
    def enough_quota(self) -> bool:
        return self.quota_left is None or self.units <= self.quota_left

    @property
    def cost_text(self) -> str:
        if not self.available:
            return self.reason
        if self.instant:
            return "Free: drawn at once by our own generator, nothing taken from your quota"
        units = f"{self.units} generation{'s' if self.units != 1 else ''}"
        if self.quota_left is None:
            return f"Costs {units} from your plan (no cap)"
        period = "today" if self.quota_window == "day" else f"this {self.quota_window}"
        if not self.enough_quota:
            return f"Needs {units}; you have {self.quota_left} left {period}"
        return f"Costs {units} from your quota ({self.quota_left} left {period})"

    @property
    def eta_text(self) -> str:
        return eta_text(self.lane.eta) if self.lane else ""

    def as_json(self) -> dict:
        lane = self.lane
        return {
            "style": self.style,
            "style_label": self.style_label,
            "available": self.available,
            "reason": self.reason,
            "instant": self.instant,
            "units": self.units,
            "quota_left": self.quota_left,
            "enough_quota": self.enough_quota,
            "cost_text": self.cost_text,
            "lane": lane.lane if lane else None,
            "lane_text": lane.label if lane else "",
            "position": lane.position if lane else None,
            "eta_seconds": lane.eta_seconds if lane else None,
            "eta": round(lane.eta, 1) if lane else None,
            "eta_text": self.eta_text,
        }


def generate_estimate(*, user_id: int, plan: Entitlements, style: str, size: int, num_images: int) -> GenerateEstimate:
    """Cost, lane, place in line and ETA of a request with these choices (`style` known, `size` and
    `num_images` within the plan: the caller checks), or why its style cannot be made here."""
    reason = style_unavailable_reason(style=style, plan=plan)
    instant = style in LOCAL_STYLES
    units = 0 if instant else num_images
    window = quota_status(user_id=user_id, plan=plan, now=timezone.now()).tightest if units else None
    lane = None
    if not reason:
        chain = LOCAL_CHAIN if instant else tuple(e for e in plan.provider_chain if provider_get(e.split(":", 1)[0]) is not None)
        lane = lane_estimate(queue=plan.queue, chain=chain, size=size, num_images=num_images)
    return GenerateEstimate(
        style=style,
        style_label=style_label(style),
        available=not reason,
        reason=reason,
        instant=instant,
        units=units,
        quota_left=window.left if window else None,
        quota_window=window.name if window else "",
        lane=lane,
    )


PREVIEW_SIDE = 192  # shown at 96 px, sharp on a 2x screen
PREVIEW_PROMPT = "A smiling person with curly brown hair and round glasses"
PREVIEW_SEED = 7


def style_preview_webp(*, style: str) -> bytes | None:
    """A sample avatar in one of the local generator's styles (the same description in each, so
    they compare), as WebP; drawn at first use and kept in the cache. None for any other style."""
    provider = provider_build("local")
    if style not in LOCAL_STYLES or provider is None:
        return None
    key = f"generation:style-preview:{getattr(provider, 'model', '')}:{style}:{PREVIEW_SIDE}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    request = GenerationRequest(
        prompt=PREVIEW_PROMPT, model=getattr(provider, "model", ""), style=style, seed=PREVIEW_SEED, size=PREVIEW_SIDE, num_images=1
    )
    drawn = provider.generate(request).images[0].data
    with Image.open(io.BytesIO(drawn)) as image:
        out = io.BytesIO()
        image.convert("RGB").resize((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS).save(out, "WEBP", quality=85, method=4)
    data = out.getvalue()
    cache.set(key, data, 24 * 3600)
    return data


FAILURE_SUGGESTIONS = {
    ErrorKind.REFUSED: [
        "Describe the avatar differently: the image service judged this one unsafe.",
        "Pick one of the premade avatars below.",
    ],
    ErrorKind.TRANSIENT: ["Try again in a minute: the image services are busy.", "An instant style is drawn at once and costs nothing."],
    ErrorKind.TIMEOUT: ["Try again: the lanes are moving again.", "An instant style is drawn at once and costs nothing."],
    ErrorKind.LOST: ["Try again with a different description.", "Pick one of the premade avatars below."],
}
DEFAULT_SUGGESTIONS = ["Try again with a simpler description.", "An instant style is drawn at once and costs nothing."]


def job_state(*, job: GenerationJob, images: list[GeneratedImage] | None = None) -> dict:
    """The job's public state, as sent to its websocket clients and by the polling endpoint.
    `images`: the job's image rows in order, when the caller has them (else they are read)."""
    finished = job.status == GenerationJob.Status.SUCCEEDED
    estimate = job_estimate(job=job)
    images = (list(job.images.all()) if images is None else images) if finished else []
    state = {
        "type": "job.state",
        "job_id": str(job.id),
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "error_kind": job.error_kind,
        "style": job.style,
        **job_made_with(job=job, images=images),
        "size": job.size,
        "seed": job.seed,
        "prompt": job.prompt,
        "queue": job.queue,
        "lane": LANE_LABELS.get(job.queue, job.queue),
        "queue_position": estimate.position if estimate and job.status == GenerationJob.Status.QUEUED else None,
        "eta_seconds": estimate.eta_seconds if estimate else None,
        "eta": round(estimate.eta, 1) if estimate else None,  # the same, finer
        "quota_units": 0 if job.quota_refunded else job.quota_units,
        "reused": job.reused_from_id is not None,
        "images": [image_state(image=image, downloads=True) for image in images],
        "suggestions": FAILURE_SUGGESTIONS.get(job.error_kind, DEFAULT_SUGGESTIONS) if job.status == GenerationJob.Status.FAILED else [],
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }
    if job.status == GenerationJob.Status.FAILED:
        state["similar"] = [_premade_state(avatar) for avatar in avatar_related_to_text(text=job.prompt, limit=6)]
    return state


def job_made_with(*, job: GenerationJob, images: list[GeneratedImage] | None = None) -> dict:
    """The job's label: its style's name, and the provider and model that made its result (None
    until there is one). The style is what was drawn: no provider stands in for another's style."""
    if images is None:
        images = list(job.images.all()) if job.status == GenerationJob.Status.SUCCEEDED else []
    first = images[0] if images else None
    return {"style_label": style_label(job.style), "provider": first.provider if first else None, "model": first.model if first else None}


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
    images = list(job.images.all()) if job.status == GenerationJob.Status.SUCCEEDED else []
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
        **job_made_with(job=job, images=images),
        "size": job.size,
        "seed": job.seed,
        "num_images": job.num_images,
        "quota_units": 0 if job.quota_refunded else job.quota_units,
        "reused": job.reused_from_id is not None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": {"kind": job.error_kind, "message": job.message} if failed else None,
        "images": [_image_json(image, base_url=base_url) for image in images],
    }
