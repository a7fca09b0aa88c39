"""Generation in words and links, as pages and bodies say it: ETAs, the cost of a request, a lane
and place in line, what to try after a failure, how an image differs from what was asked, a
result's (signed) file links and thumbnails, and the generate form's estimate line."""

from django.urls import reverse

from .estimates import GenerateEstimate, LaneEstimate
from .file_links import file_api_url, file_page_url
from .models import ErrorKind, GeneratedImage, GenerationJob
from .selectors import SimilarFound
from .styles import style_label


def eta_text(seconds: float) -> str:
    """An ETA as a page says it."""
    if seconds < 1.5:
        return "ready in about a second"
    if seconds < 90:
        return f"ready in about {round(seconds)} s"
    return f"ready in about {round(seconds / 60)} min"


def lane_text(lane: LaneEstimate) -> str:
    """A lane and a place in it, e.g. "dedicated lane, position 2"."""
    return f"{lane.lane}, position {lane.position}"


def cost_text(estimate: GenerateEstimate) -> str:
    """What a request would take from the quota, or why it cannot be made."""
    if not estimate.available:
        return estimate.reason
    if estimate.instant:
        return "Free: drawn at once by our own generator, nothing taken from your quota"
    units = f"{estimate.units} generation{'s' if estimate.units != 1 else ''}"
    if estimate.quota_left is None:
        return f"Costs {units} from your plan (no cap)"
    period = "today" if estimate.quota_window == "day" else f"this {estimate.quota_window}"
    if not estimate.enough_quota:
        return f"Needs {units}; you have {estimate.quota_left} left {period}"
    return f"Costs {units} from your quota ({estimate.quota_left} left {period})"


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


def failure_suggestions(job: GenerationJob) -> list[str]:
    """What to try next, for a failed job (by how it failed); nothing for any other."""
    if job.status != GenerationJob.Status.FAILED:
        return []
    return FAILURE_SUGGESTIONS.get(job.error_kind, DEFAULT_SUGGESTIONS)


def asked_sentences(*, requested: dict, style: str, model: str, size: int | None) -> list[str]:
    """One sentence per difference between what was asked and what was applied (style, model,
    size): the same words on the page, over the websocket and in the API."""
    asked = []
    if requested.get("style") and style and requested["style"] != style:
        asked.append(f"You asked for {style_label(requested['style'])}; it was drawn in {style_label(style)}.")
    if requested.get("model") and requested["model"] != model:
        asked.append(f"You asked for {requested['model']}; it was not available, so {model} made it.")
    if requested.get("size") and size and size < requested["size"]:
        asked.append(f"You asked for {requested['size']} px; {model} makes {size} px at most, so it was upscaled.")
    return asked


def variant_url(image: GeneratedImage, variant: dict, *, api_base_url: str) -> str:
    """A variant's link: the API's absolute token-bearing one on `api_base_url`, else the page's signed one."""
    where = {"job_id": image.job_id, "index": image.index, "size": variant["size"], "fmt": variant["format"]}
    if api_base_url:
        return file_api_url(base_url=api_base_url, **where)
    return file_page_url(key=variant["key"], **where)


def job_thumbnail_url(*, job: GenerationJob, size: int = 256) -> str:
    """The first result at `size` (or the nearest), for lists; empty when there is none."""
    images = list(job.images.all())
    if not images:
        return ""
    # The nearest size, WebP before JPEG (only the JPEG exists until the other sizes are made).
    variants = sorted(images[0].variants, key=lambda v: (abs(v["size"] - size), v["format"] != "webp"))
    return variant_url(images[0], variants[0], api_base_url="") if variants else ""


def similar_state(found: SimilarFound) -> dict:
    """Premade avatars (as models, for the cards) and the user's own earlier results, with their thumbnails."""
    own = [{"job_id": str(job.id), "prompt": job.prompt, "image_url": job_thumbnail_url(job=job)} for job in found.own]
    return {"premade": found.premade, "own": own}


def estimate_state(estimate: GenerateEstimate) -> dict:
    """The generate form's cost, lane and ETA line, as the page shows it and /generate/estimate/ sends it."""
    lane = estimate.lane
    return {
        "style": estimate.style,
        "style_label": estimate.style_label,
        "available": estimate.available,
        "reason": estimate.reason,
        "instant": estimate.instant,
        "units": estimate.units,
        "quota_left": estimate.quota_left,
        "enough_quota": estimate.enough_quota,
        "cost_text": cost_text(estimate),
        "lane": lane.lane if lane else None,
        "lane_text": lane_text(lane) if lane else "",
        "position": lane.position if lane else None,
        "eta_seconds": lane.eta_seconds if lane else None,
        "eta": round(lane.eta, 1) if lane else None,
        "eta_text": eta_text(lane.eta) if lane else "",
    }


def premade_state(avatar) -> dict:
    """A premade avatar (gallery's model) as a job's state links to it."""
    return {"id": avatar.pk, "title": avatar.title, "image_url": avatar.card_src, "url": reverse("gallery:detail", args=[avatar.pk])}
