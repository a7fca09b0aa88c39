"""Reads of generation jobs."""

import uuid

from django.db.models import QuerySet

from .models import GenerationJob


def job_state(*, job: GenerationJob) -> dict:
    """The job's public state, as sent to its websocket clients."""
    return {
        "type": "job.state",
        "job_id": str(job.id),
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
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
