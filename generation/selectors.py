"""Reads of generation jobs."""

import uuid

from django.core.files.storage import storages
from django.db.models import QuerySet

from .models import GeneratedImage, GenerationJob


def image_state(*, image: GeneratedImage) -> dict:
    """One result image: its (private, signed where the storage signs) URLs and provenance."""
    storage = storages["default"]
    variants = [{**{k: v for k, v in variant.items() if k != "key"}, "url": storage.url(variant["key"])} for variant in image.variants]
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
            "seed": image.seed,
            "prompt": image.prompt,
            "licence_note": image.licence_note,
            "content_rating": image.content_rating,
        },
    }


def job_state(*, job: GenerationJob) -> dict:
    """The job's public state, as sent to its websocket clients and by the polling endpoint."""
    finished = job.status == GenerationJob.Status.SUCCEEDED
    return {
        "type": "job.state",
        "job_id": str(job.id),
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "error_kind": job.error_kind,
        "style": job.style,
        "size": job.size,
        "seed": job.seed,
        "prompt": job.prompt,
        "queue": job.queue,
        "reused": job.reused_from_id is not None,
        "images": [image_state(image=image) for image in job.images.all()] if finished else [],
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


def job_get_for_user(*, job_id: uuid.UUID | str, user_id: int) -> GenerationJob | None:
    """The job if it exists and belongs to the user; otherwise None, so callers never learn which."""
    try:
        return GenerationJob.objects.get(pk=job_id, user_id=user_id)
    except (GenerationJob.DoesNotExist, ValueError):
        return None


def job_list_for_user(*, user_id: int) -> QuerySet[GenerationJob]:
    """The user's jobs, newest first."""
    return GenerationJob.objects.filter(user_id=user_id).order_by("-created_at")
