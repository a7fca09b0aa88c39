"""Examples of the generation API's bodies for the OpenAPI schema (the bodies and their schema are the
serializers of `payloads.py`); what is here has no body behind it."""

from drf_spectacular.utils import OpenApiExample

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
                       "content_rating": "general", "upscaled_from": None, "nsfw_score": 0.0031,
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
