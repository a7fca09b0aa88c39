"""Storing a job's images: verify and re-encode what a provider delivered, upload it in the
background while the run records the result, then render the other sizes and formats later
(generation_job_images_finish); copy them to a job that reuses another's result."""

import dataclasses
from dataclasses import dataclass

from django.core.files.storage import storages
from django.db import transaction

from avatarsite.core.storage import StartedWrite, store_content, store_content_started
from gallery import imaging

from .. import dispatch
from .. import progress as listeners
from ..models import GeneratedImage, GenerationJob
from ..providers.base import ContentRefusedError, GenerationResult
from ..safety import ImagesWithheldError, image_nsfw_verdict
from ..sizes import within_upscale
from .watch import connection_release


@dataclass(frozen=True)
class StoredImage:
    """A result image verified, re-encoded at the size asked for and being stored: its one variant
    (that size, as a JPEG) uploads on the upload thread while the run records the result."""

    width: int
    height: int
    write: StartedWrite
    # The side the model delivered, when it was below the size asked for (then upscaled).
    upscaled_from: int | None = None
    # Its place in the provider's answer (images withheld before it leave gaps) and our classifier's
    # P(nsfw) for it (None: the check is off).
    delivered_index: int = 0
    nsfw_score: float | None = None

    def variants(self) -> list[dict]:
        return [{"size": self.width, "format": "jpeg", "key": self.write.key, "bytes": self.write.size}]


def uploads_wait(stored: list[StoredImage]) -> None:
    """Until every file is stored; raises what an upload raised."""
    for image in stored:
        image.write.written.result()


# Generated images are served up to 2048 px (premium), plus the gallery's sizes below their own side.
LARGEST_GENERATED = 2048


def generated_sizes(side: int) -> list[int]:
    largest = min(side, LARGEST_GENERATED)
    return [size for size in imaging.VARIANT_SIZES if size < largest] + [largest]


def _store_variant(*, square, size: int, fmt: str) -> dict:
    variant = imaging.render_variant(square, size=size, fmt=fmt)
    key = store_content(storage="default", prefix="generated", data=variant.data, fmt=fmt)
    return {"size": size, "format": fmt, "key": key, "bytes": len(variant.data)}


class UndersizedImageError(imaging.UnsafeImageError):
    """The provider delivered a smaller image than it was asked for: its failure, never a result."""


def native_size(provider, model: str, size: int) -> int:
    """The side `provider` delivers for a request of `size` px with `model` (its own answer when it
    knows one: a model that tops out below `size` delivers its largest)."""
    native_size = getattr(provider, "native_size", None)
    return int(native_size(model, size)) if native_size is not None else size


def _store_image(*, data: bytes, size: int, expected: int, delivered_index: int) -> StoredImage | None:
    """Verify the provider's bytes (type, size, pixel count, integrity), check that they hold the
    `expected` side (what the model was asked for), re-encode them at the `size` asked for (nothing
    of the provider's file but its pixels is kept, so no metadata or hidden payload goes out) and store one JPEG privately under a
    content-addressed key: the result goes out with that; the other sizes and formats follow
    (`generation_job_images_finish`). A model that tops out below `size` is upscaled to it
    (Lanczos resampling, at most GENERATION_MAX_UPSCALE times), and the image says so.
    Our NSFW classifier scores the provider's bytes once Pillow has verified them, before anything
    is stored: None when it withholds the image (nothing of it is stored).
    Raises imaging.UnsafeImageError for bytes that are not an image we accept, or too small."""
    square = imaging.square_crop(imaging.decode_image(data))
    delivered = square.width
    if delivered < expected or not within_upscale(native=delivered, size=size):
        raise UndersizedImageError(f"it delivered {delivered} px where {expected} px were asked for")
    score, withheld = image_nsfw_verdict(data)
    if withheld:
        return None
    # Without the second pass: on the way to the result, it doubled the time for 1-2 % of the bytes.
    jpeg = imaging.render_variant(square, size=size, fmt="jpeg", optimize=False).data
    # Uploaded while the run records the result (job_succeed waits for it before committing).
    write = store_content_started(storage="default", prefix="generated", data=jpeg, fmt="jpeg")
    return StoredImage(
        size, size, write, upscaled_from=delivered if delivered < size else None, delivered_index=delivered_index, nsfw_score=score
    )


def store_results(result: GenerationResult, *, size: int, expected: int) -> tuple[GenerationResult, list[StoredImage]]:
    """Store what the provider delivered, less what our classifier withholds: those count in the
    result's `refused_count` as the provider's own refusals do (not charged to the quota). Raises
    ImagesWithheldError when it withholds them all, with what the provider billed for them (the
    ledger keeps it; the user's quota comes back)."""
    if not result.images:
        raise ContentRefusedError(f"{result.provider} delivered no image", request_id=result.request_id)
    stored = [
        _store_image(data=image.data, size=size, expected=expected, delivered_index=index) for index, image in enumerate(result.images)
    ]
    kept = [image for image in stored if image is not None]
    if not kept:
        pixels = sum(image.width * image.height for image in result.images)
        raise ImagesWithheldError(
            f"our safety check withheld all {len(result.images)} image(s) {result.provider} delivered",
            request_id=result.request_id,
            cost_usd=result.cost_usd,
            megapixels=pixels / 1_000_000,
        )
    if len(kept) < len(result.images):
        result = dataclasses.replace(result, refused_count=result.refused_count + len(result.images) - len(kept))
    return result, kept


def generation_job_images_finish(*, job_id: str) -> int:
    """Render and store every size and format a succeeded job's images still lack, then tell the
    job's listeners. Idempotent (what is stored is skipped; keys are content-addressed)."""
    job = GenerationJob.objects.filter(pk=job_id, status=GenerationJob.Status.SUCCEEDED).first()
    if job is None:
        return 0
    added = 0
    for image in list(job.images.all()):
        connection_release()  # renders take long on a busy thread-pool worker: they hold no connection
        have = {(v["size"], v["format"]) for v in image.variants}
        primary = max(image.variants, key=lambda v: (v["size"], v["format"] == "jpeg"))
        wanted = [(size, fmt) for size in generated_sizes(primary["size"]) for fmt in imaging.VARIANT_FORMATS if (size, fmt) not in have]
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
    if job.images_pending:
        GenerationJob.objects.filter(pk=job.pk).update(images_pending=False)
    if added:
        listeners.job_notify(job=job)
    return added


def images_copy(*, source: GenerationJob, target: GenerationJob) -> None:
    """The source job's image rows for the target job (the same stored files); its other sizes are
    asked for when the source's are still being made."""
    images = list(source.images.all())
    GeneratedImage.objects.bulk_create(
        GeneratedImage(
            **{f.attname: getattr(image, f.attname) for f in GeneratedImage._meta.concrete_fields if f.attname not in ("id", "job_id")},
            job=target,
        )
        for image in images
    )
    if any(len(image.variants) < len(generated_sizes(image.width)) * len(imaging.VARIANT_FORMATS) for image in images):
        GenerationJob.objects.filter(pk=target.pk).update(images_pending=True)
        transaction.on_commit(lambda: dispatch.images_finish_enqueue(target), robust=True)  # the source's sizes are still coming
