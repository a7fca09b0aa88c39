"""Examples of the gallery API's bodies for the OpenAPI schema (the bodies and their schema are the
serializers of `payloads.py`); what is here has no body behind it."""

from drf_spectacular.utils import OpenApiExample

AVATAR_EXAMPLE = {
    "id": 42,
    "title": "Smiling woman with red hair and glasses",
    "alt": "A smiling woman with curly red hair and round glasses",
    "tags": ["woman", "smiling", "red hair", "glasses"],
    "style": "photo",
    "attributes": {"gender": "female", "age_group": "adult", "ethnicity": "", "hair_color": "red", "emotion": "smiling"},
    "dominant_color": "#c0552f",
    "color_family": "orange",
    "placeholder": "data:image/webp;base64,UklGRkQAAABXRUJQVlA4IDgAAADQAQCdASoQABAAPm0ylUekIqIhKAgAkA2JaQAAW+2ZUAD",
    "variants": [
        {"size": 256, "format": "webp", "url": "https://cdn.example.com/avatars/3f/3f2a…-256.webp", "bytes": 9214},
        {"size": 1024, "format": "jpeg", "url": "https://cdn.example.com/avatars/3f/3f2a…-1024.jpg", "bytes": 141203},
    ],
    "provenance": {
        "source": "pexels", "external_id": "2379004", "retrieved_at": "2026-11-20T08:00:00+00:00", "licence": "Pexels License",
        "commercial_use_allowed": True, "attribution_required": False, "attribution": "Photo by Ana Lima on Pexels",
        "photographer_name": "Ana Lima", "photographer_url": "https://www.pexels.com/@ana-lima",
        "source_page_url": "https://www.pexels.com/photo/2379004/", "content_rating": "general",
    },
    "download_count": 318,
    "created_at": "2026-11-20T08:00:00+00:00",
}  # fmt: skip
AVATAR_PAGE_EXAMPLES = [
    OpenApiExample(
        "A page", value={"results": [AVATAR_EXAMPLE], "next": "https://avatars.example.com/api/v1/avatars?gender=female&cursor=WyIyMDI2…"}
    )
]
AVATAR_EXAMPLES = [OpenApiExample("An avatar", value=AVATAR_EXAMPLE)]
AVATAR_FACETS_EXAMPLES = [
    OpenApiExample(
        "Counts with gender=female",
        value={
            "source": {"demo": 118, "pexels": 64},
            "gender": {"female": 182, "male": 171},
            "age_group": {"adult": 120, "young-adult": 40, "elderly": 22},
            "style": {"illustration": 118, "photo": 64},
            "color": {"blue": 40, "green": 31, "orange": 25, "pink": 30, "purple": 20, "yellow": 36},
            "orientation": {"portrait": 52, "square": 130},
        },
    )
]
