"""The end of a job: success (the call settled and the images recorded in one transaction),
failure (quota back, open calls stopped), a user's cancel, and the identical requests that
waited for it (they take its result, or one of them runs in its place)."""

import functools
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import dispatch
from .. import progress as listeners
from ..deliveries import webhook_job_ended
from ..errors import JobNotCancelableError
from ..ledger import call_settle
from ..models import CostEntry, ErrorKind, GeneratedImage, GenerationJob
from ..providers.base import GenerationResult, ProviderCanceledError
from ..providers.registry import provider_get
from ..quotas import quota_refund
from ..selectors import LANE_LABELS
from .images import StoredImage, images_copy, uploads_wait

logger = logging.getLogger(__name__)

REFUSED_MESSAGE = "The image service refused this image as unsafe content. Nothing was charged to your quota."

_IMAGE_RESULT_FIELDS = [
    "width", "height", "variants", "provider", "model", "model_version", "seed", "prompt", "licence_note", "content_rating",
    "upscaled_from", "applied", "nsfw_score",
]  # fmt: skip


def _applied(*, job: GenerationJob, result: GenerationResult, image: StoredImage) -> dict:
    """What was requested (the job's style, first model and size) and what the provider applied for
    one image: the style it drew (the local generator says; an AI model was sent the job's), the
    model, the side it made, and the local generator's reading of the prompt (what it drew, what it
    could not use). Plain lookups: it runs in job_succeed."""
    meta = result.metadata or {}
    per_image = meta.get("per_image") or ()
    index = image.delivered_index  # its place in the provider's answer (our classifier may have withheld one before it)
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


def job_succeed(*, job: GenerationJob, result: GenerationResult, stored: list[StoredImage], call: CostEntry, lease: str) -> GenerationJob:
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
            "status": GenerationJob.Status.SUCCEEDED, "progress": 100, "message": f"Done. {job.notice}" if job.notice else "Done",
            "finished_at": now, "updated_at": now,
            "images_pending": True,
        }  # fmt: skip
        if result.refused_count and job.quota_units:
            # Images the provider withheld are not charged: the job keeps only what it delivered.
            fields["quota_units"] = max(0, job.quota_units - result.refused_count)
            fields["message"] = f"Done. {result.refused_count} image(s) were withheld as unsafe and not charged."
        finishing = GenerationJob.objects.filter(pk=job.pk, lease_token=lease).exclude(status__in=GenerationJob.TERMINAL_STATUSES)
        if not finishing.update(**fields):
            uploads_wait(stored)  # canceled meanwhile, or taken over (its new owner resumes the request)
            return GenerationJob.objects.get(pk=job.pk)
        for name, value in fields.items():
            setattr(job, name, value)
        rows = [
            GeneratedImage(
                job=job, index=index, width=image.width, height=image.height, variants=image.variants(), provider=result.provider,
                model=result.model, model_version=result.model_version, seed=job.seed + image.delivered_index, prompt=job.prompt,
                licence_note=result.licence_note, content_rating="general", upscaled_from=image.upscaled_from,
                applied=_applied(job=job, result=result, image=image), nsfw_score=image.nsfw_score,
            )
            for index, image in enumerate(stored)
        ]  # fmt: skip
        # One statement for all of them; a row left by an earlier attempt is overwritten.
        GeneratedImage.objects.bulk_create(rows, update_conflicts=True, unique_fields=["job", "index"], update_fields=_IMAGE_RESULT_FIELDS)
        webhook_job_ended(job)
        uploads_wait(stored)
        transaction.on_commit(lambda: _job_succeeded_announce(job, images=rows))
    return job


def _job_succeeded_announce(job: GenerationJob, *, images: list[GeneratedImage]) -> None:
    """Once the success is committed: the result to the user first (they are waiting for it; the
    message is built from the rows just written, not read back), then the other sizes to the queue
    (the reconciler sends them again if the broker is down), then identical requests waiting for it."""
    listeners.job_notify(job=job, images=images)
    try:
        dispatch.images_finish_enqueue(job)
    except Exception:
        logger.exception("job %s: its other sizes could not be queued now (the reconciler will)", job.id)
    followers_release(leader_id=job.pk, leader=job)


def generation_job_fail(*, job: GenerationJob, lease: str | None = None, kind: ErrorKind | str, message: str) -> GenerationJob:
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
        calls_abandon(calls=abandoned, lease=lease, reason="the job was given up")
    listeners.job_notify(job=job)
    followers_release(leader_id=job.pk, leader=job)
    return job


def calls_abandon(*, calls: list[CostEntry], lease: str, reason: str) -> None:
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
    listeners.job_notify(job=job)
    followers_release(leader_id=job.pk, leader=job)
    return job


# --- identical requests waiting for one in flight ------------------------------------------------

FOLLOWED_MESSAGE = "Ready: the same request was being made at that moment, so it cost nothing."


def followers_release(*, leader_id, leader: GenerationJob | None = None) -> int:
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
            generation_job_fail(job=follower, lease=None, kind=ErrorKind.REFUSED, message=REFUSED_MESSAGE)
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
        images_copy(source=leader, target=follower)
        webhook_job_ended(follower)
    listeners.job_notify(job=follower)


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
                dispatch.job_run_enqueue_on_commit(follower)
        except IntegrityError:
            _, leader = same_request(key=follower.request_key)
            if leader is None:
                continue
            GenerationJob.objects.filter(pk__in=ids, status=GenerationJob.Status.QUEUED).update(reused_from=leader.pk, updated_at=now)
            transaction.on_commit(functools.partial(followers_release, leader_id=leader.pk), robust=True)
        for job in GenerationJob.objects.filter(pk__in=ids):
            listeners.job_notify(job=job)
        return


def same_request(*, key: str) -> tuple[GenerationJob | None, GenerationJob | None]:
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
