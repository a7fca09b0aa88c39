"""Reads of generation jobs: one job (its owner's or by id), a user's jobs, a job's results and
attempts, premade and earlier avatars like a prompt, and style previews. They return models,
querysets and dataclasses; `payloads` turns them into the API's and the pages' bodies."""

import io
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from PIL import Image

from gallery.selectors import avatar_related_to_text, text_words

from .estimates import LANE_LABELS
from .models import CostEntry, GeneratedImage, GenerationJob
from .providers.base import GenerationRequest
from .providers.registry import provider_build
from .styles import LOCAL_STYLES

__all__ = ["LANE_LABELS"]  # services names a job's lane in its messages: re-exported from estimates


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


def job_images(*, job: GenerationJob) -> list[GeneratedImage]:
    """The job's result images in order (prefetched ones when there are), once it succeeded; none before."""
    return list(job.images.all()) if job.status == GenerationJob.Status.SUCCEEDED else []


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


def job_attempts(*, job: GenerationJob) -> list[CostEntry]:
    """The provider calls of a job, in order (the ledger lines are its attempts)."""
    return list(job.cost_entries.order_by("created_at", "id"))


@dataclass(frozen=True)
class SimilarFound:
    """Something to look at while a custom avatar is made: premade avatars (gallery's) and the
    user's own succeeded jobs, their images prefetched."""

    premade: list
    own: list[GenerationJob]


def premade_like(*, prompt: str, limit: int = 6) -> list:
    """Premade avatars (gallery's models) sharing the prompt's words, the best first."""
    return avatar_related_to_text(text=prompt, limit=limit)


def similar_for_prompt(*, user_id: int, prompt: str, limit: int = 6) -> SimilarFound:
    """Premade avatars sharing the prompt's words, and the user's own earlier results for similar prompts."""
    words = set(text_words(prompt))
    own = []
    for job in job_list_for_user(user_id=user_id).filter(status=GenerationJob.Status.SUCCEEDED).prefetch_related("images")[:50]:
        if words.intersection(text_words(job.prompt)) and job.images.all():
            own.append(job)
        if len(own) >= limit:
            break
    return SimilarFound(premade=premade_like(prompt=prompt, limit=limit), own=own)


def commercial_use_allowed(*, provider: str, model: str) -> bool:
    """What settings.GENERATION_PROVIDERS says of a model's images ("commercial_use", on the model or
    the whole provider); a provider or model no longer configured, or never marked: not cleared."""
    options = settings.GENERATION_PROVIDERS.get(provider, {}).get("OPTIONS", {})
    model_options = options.get("models", {}).get(model, {})
    return bool(model_options.get("commercial_use", options.get("commercial_use", False)))


PREVIEW_SIDE = 192  # shown at 96 px, sharp on a 2x screen
PREVIEW_PROMPT = "A smiling person with curly brown hair and round glasses"
PREVIEW_SEED = 7


def style_preview_webp(*, style: str) -> bytes | None:
    """A sample avatar in one of the local generator's styles (the same description in each, so
    they compare), as WebP; drawn at first use and kept in the cache. None for any other style."""
    provider = provider_build("local")
    if style not in LOCAL_STYLES or provider is None:
        return None
    # A read-through cache of a drawing that only the code can change (its model is in the key).
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
