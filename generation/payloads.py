"""The bodies generation sends, each built by a DRF output serializer that is also its OpenAPI schema
(one source for both): a job as the API and its completion webhooks show it (`JobSerializer`), a
job's live state as its page, websocket and status endpoint show it (`JobStateSerializer`), and the
usage report. The image part is one serializer, shared by both job bodies."""

from functools import cached_property

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from avatarsite.core.openapi import IsoDateTimeField, VariantSerializer

from .estimates import LANE_LABELS, LaneEstimate, job_estimate
from .models import GeneratedImage, GenerationJob
from .presenters import asked_sentences, failure_suggestions, premade_state, variant_url
from .selectors import commercial_use_allowed, job_images, premade_like
from .spend import ApiUsage
from .styles import style_label


class StoredDictField(serializers.DictField):
    """An object sent as the pipeline stored it; its `child` says what the schema promises."""

    def to_representation(self, value) -> dict:
        return value


class StoredListField(serializers.ListField):
    """A list sent as the pipeline stored it; its `child` says what the schema promises."""

    def to_representation(self, value) -> list:
        return value


class RequestedSerializer(serializers.Serializer):
    style = serializers.CharField(help_text="The style the job asked for (empty for images made before this was kept).")
    style_label = serializers.CharField()
    model = serializers.CharField(help_text="The first model of the job's chain: the one asked for.")
    size = serializers.IntegerField(allow_null=True, help_text="The side asked for, px.")


class AppliedSerializer(serializers.Serializer):
    """What was requested and what was applied for an image (see GeneratedImage.applied): read
    from the image itself. Images made before it was kept have no style and no notes."""

    requested = RequestedSerializer(help_text="What the job asked for.")
    style = serializers.CharField(
        help_text="The style drawn: the one asked for, or the instant style that stood in for photo when no AI service was set up "
        "(empty for images made before this was kept)."
    )
    style_label = serializers.CharField(help_text="The style's name as the site shows it, e.g. Flat illustration.")
    model = serializers.CharField(help_text="The model that made the image.")
    size = serializers.IntegerField(allow_null=True, help_text="The side the model made, px (before any upscaling to the size asked for).")
    drawn = StoredListField(
        child=serializers.CharField(),
        help_text="Instant styles: the phrases of the prompt that were drawn, e.g. curly red hair, round glasses, smile. "
        "Empty for AI models (they are sent the whole prompt).",
    )
    not_understood = StoredListField(
        child=serializers.CharField(),
        help_text="Instant styles: the words of the prompt the generator could not use (e.g. astronaut). Empty for AI models.",
    )
    attributes = StoredDictField(
        child=serializers.CharField(),
        help_text="Instant styles: every attribute of the drawing, asked for or chosen from the seed (hair_color, eyewear, "
        "background, ...). Empty for AI models.",
    )
    local = serializers.BooleanField(help_text="True when the instant generator drew it (it reads the prompt into parts).")
    asked = serializers.ListField(
        child=serializers.CharField(),
        help_text="One sentence per difference between what was asked and what was applied (style, model, size), as the page "
        "shows them; empty when they agree.",
    )

    def to_representation(self, image: GeneratedImage) -> dict:
        applied = image.applied or {}
        requested = applied.get("requested") or {}
        style, model, size = applied.get("style", ""), applied.get("model", image.model), applied.get("size")
        return super().to_representation(
            {
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
                "asked": asked_sentences(requested=requested, style=style, model=model, size=size),
            }
        )


class ProvenanceStateSerializer(serializers.Serializer):
    """Who made an image, how, and what was applied against what was asked."""

    provider = serializers.CharField(help_text="fal, replicate or local.")
    model = serializers.CharField()
    model_version = serializers.CharField()
    seed = serializers.IntegerField()
    prompt = serializers.CharField()
    licence_note = serializers.CharField()
    content_rating = serializers.CharField()
    upscaled_from = serializers.IntegerField(
        allow_null=True,
        help_text="The side the model made when it tops out below the size asked for: the image was upscaled from it "
        "(Lanczos, at most 2x). Null when the model made the size itself.",
    )
    nsfw_score = serializers.FloatField(
        allow_null=True,
        help_text="Our own safety check's probability (0-1) that the image is NSFW, taken before it was stored (images at "
        "or above the site's threshold are withheld and not charged). Null when it was not scored.",
    )
    applied = AppliedSerializer(source="*", help_text="What was applied, against what the job asked (its style and size).")


class ImageProvenanceSerializer(ProvenanceStateSerializer):
    """The API's provenance: the page's, with what the client may do with the image."""

    commercial_use_allowed = serializers.SerializerMethodField()
    attribution_required = serializers.SerializerMethodField(help_text="Always false: no credit is needed for a generated image.")
    attribution = serializers.SerializerMethodField(help_text="Empty: nothing to show with it.")

    def get_commercial_use_allowed(self, image: GeneratedImage) -> bool:
        return commercial_use_allowed(provider=image.provider, model=image.model)

    # The same fields as a premade avatar's: a generated image is the client's to use without credit.
    def get_attribution_required(self, image: GeneratedImage) -> bool:
        return False

    def get_attribution(self, image: GeneratedImage) -> str:
        return ""


class _ImageShown:
    """An image with its variants' links made once (the preview is one of them)."""

    def __init__(self, image: GeneratedImage, variants: list[dict]) -> None:
        self._image, self.variants_shown = image, variants

    def __getattr__(self, name: str):
        return getattr(self._image, name)


class ImageStateSerializer(serializers.Serializer):
    """One result image: its private URLs (for the owner's pages; with the context's `api_base_url`,
    the API's absolute token-bearing links on that site) and provenance; with `downloads`, each
    variant's download link on the site too (for signed-in pages)."""

    index = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    preview_url = serializers.SerializerMethodField()
    variants = serializers.SerializerMethodField(help_text="By size: the largest JPEG at once, the other sizes and WebP within seconds.")
    provenance = ProvenanceStateSerializer(source="*")

    def to_representation(self, image: GeneratedImage) -> dict:
        base_url = self.context.get("api_base_url", "")
        variants = [
            {**{k: v for k, v in variant.items() if k != "key"}, "url": variant_url(image, variant, api_base_url=base_url)}
            for variant in image.variants
        ]
        if self.context.get("downloads"):
            for variant in variants:
                variant["download_url"] = reverse(
                    "generation:image_download", args=[image.job_id, image.index, variant["size"], variant["format"]]
                )
        return super().to_representation(_ImageShown(image, variants))

    @extend_schema_field(OpenApiTypes.URI)
    def get_preview_url(self, image: _ImageShown) -> str:
        webp = [v for v in image.variants_shown if v["format"] == "webp" and v["size"] <= 512]
        return webp[-1]["url"] if webp else (image.variants_shown[-1]["url"] if image.variants_shown else "")

    @extend_schema_field(VariantSerializer(many=True))
    def get_variants(self, image: _ImageShown) -> list[dict]:
        return image.variants_shown


class ImageSerializer(ImageStateSerializer):
    provenance = ImageProvenanceSerializer(source="*")


class JobShown:
    """A job with what its bodies derive from it, each read once: its result images (`images`,
    when the caller has them), the provider and model that made them, its lane and estimate."""

    def __init__(self, job: GenerationJob, images: list[GeneratedImage] | None = None) -> None:
        self.job = job  # any other attribute is the job's own
        succeeded = job.status == GenerationJob.Status.SUCCEEDED
        self.images = (job_images(job=job) if images is None else images) if succeeded else []
        first = self.images[0] if self.images else None
        # What made the result: no provider stands in for another's style, so the style is what was drawn.
        self.provider, self.model = (first.provider, first.model) if first else (None, None)
        self.style_label = style_label(job.style)
        self.lane = LANE_LABELS.get(job.queue, job.queue)
        self.quota_units = 0 if job.quota_refunded else job.quota_units
        self.reused = job.reused_from_id is not None
        self.failed = job.status == GenerationJob.Status.FAILED

    def __getattr__(self, name: str):
        return getattr(self.job, name)

    @cached_property
    def estimate(self) -> LaneEstimate | None:
        return job_estimate(job=self.job)

    @property
    def error(self) -> dict | None:
        return {"kind": self.job.error_kind, "message": self.job.message} if self.failed else None


def job_made_with(*, job: GenerationJob, images: list[GeneratedImage] | None = None) -> dict:
    """The job's label: its style's name, and the provider and model that made its result (None until there is one)."""
    shown = JobShown(job, images)
    return {"style_label": shown.style_label, "provider": shown.provider, "model": shown.model}


class JobErrorSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="transient, permanent, refused, timeout or lost.")
    message = serializers.CharField()


class JobSerializer(serializers.Serializer):
    """The job as the API (and its completion webhook) shows it; its address from the context's
    `job_url(job_id)`, its images' links absolute on `api_base_url` (see ImageStateSerializer)."""

    id = serializers.UUIDField()
    url = serializers.SerializerMethodField(help_text="This job in the API.")
    status = serializers.ChoiceField(choices=GenerationJob.Status.values)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    message = serializers.CharField()
    queue = serializers.CharField()
    lane = serializers.CharField()
    prompt = serializers.CharField()
    style = serializers.CharField(help_text="photo, or one of the instant styles: what was asked and what is made.")
    style_label = serializers.CharField(help_text="The style's name, e.g. AI photo.")
    provider = serializers.CharField(allow_null=True, help_text="Who made the result (fal, replicate, local); null until then.")
    model = serializers.CharField(allow_null=True, help_text="The model that made the result; null until then.")
    size = serializers.IntegerField()
    seed = serializers.IntegerField()
    num_images = serializers.IntegerField()
    quota_units = serializers.IntegerField(help_text="Taken from your quota (0 once refunded).")
    reused = serializers.BooleanField(help_text="Answered from an identical earlier request, at no cost.")
    created_at = IsoDateTimeField()
    finished_at = IsoDateTimeField(allow_null=True)
    error = JobErrorSerializer(allow_null=True)
    images = ImageSerializer(many=True, help_text="Once it succeeded.")

    def to_representation(self, job: GenerationJob) -> dict:
        return super().to_representation(job if isinstance(job, JobShown) else JobShown(job))

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job: JobShown) -> str:
        return self.context["job_url"](job.id)


class JobPageSerializer(serializers.Serializer):
    results = JobSerializer(many=True)
    next = serializers.URLField(allow_null=True)


def job_api_json(job: GenerationJob, *, url: str, base_url: str) -> dict:
    """The job as the API (and its completion webhook) shows it, `url` being its address in the API;
    images (with URLs and provenance) once it succeeded, their links absolute on `base_url` (the
    request's site, or SITE_URL) and fetchable without the key for a few minutes (`file_links`)."""
    return dict(JobSerializer(job, context={"job_url": lambda _: url, "api_base_url": base_url}).data)


class JobStateSerializer(serializers.Serializer):
    """The job's public state, as sent to its websocket clients and by the polling endpoint; a
    failed job's adds premade avatars like its prompt (`similar`)."""

    type = serializers.SerializerMethodField()
    job_id = serializers.UUIDField(source="id")
    status = serializers.CharField()
    progress = serializers.IntegerField()
    message = serializers.CharField()
    error_kind = serializers.CharField()
    style = serializers.CharField()
    style_label = serializers.CharField()
    provider = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True)
    size = serializers.IntegerField()
    seed = serializers.IntegerField()
    prompt = serializers.CharField()
    queue = serializers.CharField()
    lane = serializers.CharField()
    queue_position = serializers.SerializerMethodField()
    eta_seconds = serializers.IntegerField(source="estimate.eta_seconds", allow_null=True)
    eta = serializers.SerializerMethodField()  # the same, finer
    quota_units = serializers.IntegerField()
    reused = serializers.BooleanField()
    images = ImageStateSerializer(many=True)
    suggestions = serializers.SerializerMethodField()
    created_at = IsoDateTimeField()
    updated_at = IsoDateTimeField()

    def to_representation(self, job: JobShown) -> dict:
        state = super().to_representation(job)
        if job.failed:
            state["similar"] = [premade_state(avatar) for avatar in premade_like(prompt=job.prompt, limit=6)]
        return state

    def get_type(self, job: JobShown) -> str:
        return "job.state"

    def get_queue_position(self, job: JobShown) -> int | None:
        return job.estimate.position if job.estimate and job.status == GenerationJob.Status.QUEUED else None

    def get_eta(self, job: JobShown) -> float | None:
        return round(job.estimate.eta, 1) if job.estimate else None

    def get_suggestions(self, job: JobShown) -> list[str]:
        return failure_suggestions(job.job)


def job_state(*, job: GenerationJob, images: list[GeneratedImage] | None = None) -> dict:
    """The job's live state (JobStateSerializer). `images`: its image rows in order, when the caller has them."""
    return dict(JobStateSerializer(JobShown(job, images), context={"downloads": True}).data)


class PlanSerializer(serializers.Serializer):
    slug = serializers.CharField(source="plan")
    name = serializers.CharField(source="plan_name")
    queue = serializers.CharField()
    max_size = serializers.IntegerField()
    max_images_per_request = serializers.IntegerField()
    api_rate_per_minute = serializers.IntegerField()


class QuotaWindowSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=["day", "hour"], source="name")
    limit = serializers.IntegerField()
    used = serializers.IntegerField()
    left = serializers.IntegerField()
    resets_at = IsoDateTimeField()


class PeriodSerializer(serializers.Serializer):
    start = IsoDateTimeField(source="period_start")
    end = IsoDateTimeField(source="period_end")


class UsageCountsSerializer(serializers.Serializer):
    jobs = serializers.IntegerField()
    images = serializers.IntegerField()
    quota_units = serializers.IntegerField()


class SpendSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount_paid = serializers.IntegerField(help_text="In the currency's smallest unit (cents).")


class UsageSerializer(serializers.Serializer):
    """What GET /api/v1/usage sends, from the ApiUsage a selector read."""

    plan = PlanSerializer()
    quotas = QuotaWindowSerializer(many=True, source="quota.windows", help_text="Empty: no quota.")
    period = PeriodSerializer(source="*", help_text="This calendar month, UTC.")
    usage = UsageCountsSerializer(source="*")
    spend = serializers.SerializerMethodField()

    @extend_schema_field(SpendSerializer(many=True))
    def get_spend(self, usage: ApiUsage) -> list[dict]:
        paid = [{"currency": currency, "amount_paid": amount} for currency, amount in usage.spend.items()]
        return SpendSerializer(paid, many=True).data
