"""Idempotent job creation for the API: an `Idempotency-Key` makes a retried request return the job
the first one created instead of creating (and charging) a second. Keys are remembered for
IDEMPOTENCY_KEY_HOURS (a day, as Stripe does); an hourly beat task forgets older ones."""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.entitlements import Entitlements, entitlements

from .errors import IdempotencyConflictError, QuotaExceededError
from .models import ApiIdempotencyKey, GenerationJob
from .quotas import quota_refusal_record
from .services import generation_job_create

MAX_KEY_LENGTH = 255
IDEMPOTENCY_KEY_HOURS = 24


@dataclass(frozen=True)
class IdempotentResult:
    job: GenerationJob
    replayed: bool


def request_hash(payload: dict[str, Any]) -> str:
    """A stable hash of a request body (key order and whitespace do not matter)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _replay(*, user_id: int, key: str, body_hash: str) -> GenerationJob | None:
    record = ApiIdempotencyKey.objects.select_related("job").filter(user_id=user_id, key=key).first()
    if record is None:
        return None
    if record.request_hash != body_hash:
        raise IdempotencyConflictError()
    return record.job


def generation_job_create_idempotent(
    *, user_id: int, key: str, payload: dict[str, Any], plan: Entitlements | None = None
) -> IdempotentResult:
    """Create the job for `payload` (generation_job_create's keyword arguments) once per (user, key).

    The user's row is locked first, so one user's concurrent requests with the same key queue up and
    the second sees the first's record; the unique constraint is the backstop, and its IntegrityError
    (the whole attempt, job included, rolled back) sends the request to read the winner's record.
    Raises IdempotencyConflictError, GenerationError or QuotaExceededError; a request that fails
    stores no record, so it may be retried with the same key."""
    body_hash = request_hash({name: value for name, value in payload.items() if name != "api_key_id"})  # the body, whichever key sent it
    for attempt in range(2):
        try:
            with transaction.atomic():
                get_user_model().objects.select_for_update().filter(pk=user_id).first()
                earlier = _replay(user_id=user_id, key=key, body_hash=body_hash)
                if earlier is not None:
                    return IdempotentResult(job=earlier, replayed=True)
                job = generation_job_create(user_id=user_id, plan=plan, **payload)
                ApiIdempotencyKey.objects.create(user_id=user_id, key=key, request_hash=body_hash, job=job)
                return IdempotentResult(job=job, replayed=False)
        except IntegrityError:
            if attempt:  # the second attempt reads the winner's record, so this is another fault
                raise
        except QuotaExceededError:
            # The refusal generation_job_create counted was rolled back with this transaction.
            quota_refusal_record(plan=(plan or entitlements(user_id=user_id)).plan)
            raise
    raise AssertionError("unreachable: the second attempt returns or raises")


def idempotency_keys_prune() -> int:
    """Forget keys older than IDEMPOTENCY_KEY_HOURS (their jobs stay); how many were forgotten."""
    cutoff = timezone.now() - timedelta(hours=IDEMPOTENCY_KEY_HOURS)
    deleted, _ = ApiIdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
