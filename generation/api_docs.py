"""The generation API's responses, described for the OpenAPI schema only (the views build plain dicts):
these serializers name the components (Job, Usage, ...) and never serialize anything."""

from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from avatarsite.core.openapi import VariantSerializer

from .models import GenerationJob


class RequestedSerializer(serializers.Serializer):
    style = serializers.CharField(help_text="The style the job asked for (empty for images made before this was kept).")
    style_label = serializers.CharField()
    model = serializers.CharField(help_text="The first model of the job's chain: the one asked for.")
    size = serializers.IntegerField(allow_null=True, help_text="The side asked for, px.")


class AppliedSerializer(serializers.Serializer):
    requested = RequestedSerializer(help_text="What the job asked for.")
    style = serializers.CharField(
        help_text="The style drawn: the one asked for, or the instant style that stood in for photo when no AI service was set up "
        "(empty for images made before this was kept)."
    )
    style_label = serializers.CharField(help_text="The style's name as the site shows it, e.g. Flat illustration.")
    model = serializers.CharField(help_text="The model that made the image.")
    size = serializers.IntegerField(allow_null=True, help_text="The side the model made, px (before any upscaling to the size asked for).")
    drawn = serializers.ListField(
        child=serializers.CharField(),
        help_text="Instant styles: the phrases of the prompt that were drawn, e.g. curly red hair, round glasses, smile. "
        "Empty for AI models (they are sent the whole prompt).",
    )
    not_understood = serializers.ListField(
        child=serializers.CharField(),
        help_text="Instant styles: the words of the prompt the generator could not use (e.g. astronaut). Empty for AI models.",
    )
    attributes = serializers.DictField(
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


class ImageProvenanceSerializer(serializers.Serializer):
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
    applied = AppliedSerializer(help_text="What was applied, against what the job asked (its style and size).")
    commercial_use_allowed = serializers.BooleanField()
    attribution_required = serializers.BooleanField(help_text="Always false: no credit is needed for a generated image.")
    attribution = serializers.CharField(help_text="Empty: nothing to show with it.")


class ImageSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    preview_url = serializers.URLField()
    variants = VariantSerializer(many=True, help_text="By size: the largest JPEG at once, the other sizes and WebP within seconds.")
    provenance = ImageProvenanceSerializer()


class JobErrorSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="transient, permanent, refused, timeout or lost.")
    message = serializers.CharField()


class JobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField(help_text="This job in the API.")
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
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    error = JobErrorSerializer(allow_null=True)
    images = ImageSerializer(many=True, help_text="Once it succeeded.")


class JobPageSerializer(serializers.Serializer):
    results = JobSerializer(many=True)
    next = serializers.URLField(allow_null=True)


class PlanSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    queue = serializers.CharField()
    max_size = serializers.IntegerField()
    max_images_per_request = serializers.IntegerField()
    api_rate_per_minute = serializers.IntegerField()


class QuotaWindowSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=["day", "hour"])
    limit = serializers.IntegerField()
    used = serializers.IntegerField()
    left = serializers.IntegerField()
    resets_at = serializers.DateTimeField()


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class UsageCountsSerializer(serializers.Serializer):
    jobs = serializers.IntegerField()
    images = serializers.IntegerField()
    quota_units = serializers.IntegerField()


class SpendSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount_paid = serializers.IntegerField(help_text="In the currency's smallest unit (cents).")


class UsageSerializer(serializers.Serializer):
    plan = PlanSerializer()
    quotas = QuotaWindowSerializer(many=True, help_text="Empty: no quota.")
    period = PeriodSerializer(help_text="This calendar month, UTC.")
    usage = UsageCountsSerializer()
    spend = SpendSerializer(many=True)


JOB_URL = "https://avatars.example.com/api/v1/generations/5b0f3c1e-8d1a-4a57-9c55-0e6f5f0f2a10"
QUEUED = {
    "id": "5b0f3c1e-8d1a-4a57-9c55-0e6f5f0f2a10", "url": JOB_URL, "status": "queued", "progress": 0,
    "message": "Waiting in the dedicated lane", "queue": "enterprise", "lane": "dedicated lane",
    "prompt": "A smiling woman with curly red hair", "style": "photo", "style_label": "AI photo", "provider": None, "model": None,
    "size": 1024, "seed": 1234567, "num_images": 1,
    "quota_units": 1, "reused": False, "created_at": "2026-11-24T12:00:00+00:00", "finished_at": None, "error": None, "images": [],
}  # fmt: skip
SUCCEEDED = {
    **QUEUED, "status": "succeeded", "progress": 100, "message": "Done", "finished_at": "2026-11-24T12:00:02+00:00",
    "provider": "fal", "model": "fal-ai/flux/schnell",
    "images": [{
        "index": 0, "width": 1024, "height": 1024, "preview_url": "https://files.example.com/generated/ab/ab12….webp?X-Amz-Signature=…",
        "variants": [{"size": 1024, "format": "jpeg", "url": "https://files.example.com/generated/cd/cd34….jpg?X-Amz-Signature=…",
                      "bytes": 183004}],
        "provenance": {"provider": "fal", "model": "fal-ai/flux/schnell", "model_version": "", "seed": 1234567,
                       "prompt": "A smiling woman with curly red hair", "licence_note": "FLUX.1 [schnell]: Apache-2.0",
                       "content_rating": "general", "upscaled_from": None,
                       "applied": {"requested": {"style": "photo", "style_label": "Photo (AI)", "model": "fal-ai/flux/schnell",
                                                 "size": 1024},
                                   "style": "photo", "style_label": "Photo (AI)", "model": "fal-ai/flux/schnell", "size": 1024,
                                   "drawn": [], "not_understood": [], "attributes": {}, "local": False, "asked": []},
                       "commercial_use_allowed": True,
                       "attribution_required": False, "attribution": ""},
    }],
}  # fmt: skip
CREATE_REQUEST_EXAMPLES = [
    OpenApiExample("A prompt", value={"prompt": "A smiling woman with curly red hair"}, request_only=True),
    OpenApiExample(
        "Everything",
        value={
            "prompt": "A calm man with a beard",
            "style": "photo",
            "size": 1024,
            "seed": 42,
            "num_images": 2,
            "webhook_url": "https://your.server/hooks/avatars",
        },
        request_only=True,
    ),
]
JOB_QUEUED_EXAMPLES = [OpenApiExample("Queued", value=QUEUED, response_only=True)]
JOB_EXAMPLES = [OpenApiExample("Succeeded", value=SUCCEEDED), OpenApiExample("Queued", value=QUEUED)]
JOB_PAGE_EXAMPLES = [OpenApiExample("A page", value={"results": [SUCCEEDED], "next": None})]
CANCELED_EXAMPLES = [OpenApiExample("Canceled", value={**QUEUED, "status": "canceled", "message": "Canceled", "quota_units": 0})]
USAGE_EXAMPLES = [
    OpenApiExample(
        "Enterprise",
        value={
            "plan": {
                "slug": "enterprise",
                "name": "Enterprise",
                "queue": "enterprise",
                "max_size": 2048,
                "max_images_per_request": 8,
                "api_rate_per_minute": 600,
            },
            "quotas": [{"window": "day", "limit": 5000, "used": 212, "left": 4788, "resets_at": "2026-11-25T00:00:00+00:00"}],
            "period": {"start": "2026-11-01T00:00:00+00:00", "end": "2026-12-01T00:00:00+00:00"},
            "usage": {"jobs": 3120, "images": 3904, "quota_units": 3890},
            "spend": [{"currency": "usd", "amount_paid": 99000}],
        },
    )
]
