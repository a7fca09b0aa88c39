"""The three plans the product starts with (free, premium, enterprise), as data."""

# The free plan's API: enough to try the documented example and build a prototype (its generations
# come out of the same daily quota as the site's). Premium keeps at least that (an upgrade must not
# take the API away); enterprise keeps its own, higher limits.
FREE_API = {"api_access": True, "api_rate_per_minute": 60, "api_keys_max": 2}
PREMIUM_API = {"api_access": True, "api_rate_per_minute": 120, "api_keys_max": 5}

DEFAULT_PLANS = [
    {
        "slug": "free",
        "name": "Free",
        "display_order": 1,
        "price_usd_per_month": 0,
        "queue": "standard",
        "priority": 5,
        "provider_chain": ["fal:fal-ai/flux/schnell", "replicate:black-forest-labs/flux-schnell"],
        "max_size": 1024,
        "daily_quota": 5,
        "hourly_quota": None,
        "max_images_per_request": 1,
        **FREE_API,
        "is_default": True,
    },
    {
        "slug": "premium",
        "name": "Premium",
        "display_order": 2,
        "price_usd_per_month": 10,
        "queue": "premium",
        "priority": 1,
        "provider_chain": ["replicate:black-forest-labs/flux-dev", "fal:fal-ai/flux/dev"],
        "max_size": 2048,
        "daily_quota": None,
        "hourly_quota": 50,
        "max_images_per_request": 4,
        **PREMIUM_API,
    },
    {
        "slug": "enterprise",
        "name": "Enterprise",
        "display_order": 3,
        "contracted": True,
        "price_usd_per_month": 0,
        "queue": "enterprise",
        "priority": 0,
        "provider_chain": ["replicate:black-forest-labs/flux-dev", "fal:fal-ai/flux/dev"],
        "max_size": 2048,
        "daily_quota": None,
        "hourly_quota": None,
        "max_images_per_request": 4,
        "api_access": True,
        "api_rate_per_minute": 600,
        "api_keys_max": 10,
    },
]
