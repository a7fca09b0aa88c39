"""The three plans the product starts with (../PRODUCT.md): free, premium and enterprise.

Operators change them in the admin; this only creates them when missing.
"""

from django.db import migrations

PLANS = [
    {
        "slug": "free",
        "name": "Free",
        "price_usd_per_month": 0,
        "queue": "standard",
        "priority": 5,
        "provider_chain": ["fal:fal-ai/flux/schnell", "replicate:black-forest-labs/flux-schnell"],
        "max_size": 1024,
        "daily_quota": 5,
        "hourly_quota": None,
        "max_images_per_request": 1,
        "is_default": True,
    },
    {
        "slug": "premium",
        "name": "Premium",
        "price_usd_per_month": 10,
        "queue": "premium",
        "priority": 1,
        "provider_chain": ["replicate:black-forest-labs/flux-dev", "fal:fal-ai/flux/dev"],
        "max_size": 2048,
        "daily_quota": None,
        "hourly_quota": 50,
        "max_images_per_request": 4,
    },
    {
        "slug": "enterprise",
        "name": "Enterprise",
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


def seed(apps, schema_editor) -> None:
    Plan = apps.get_model("billing", "Plan")
    for plan in PLANS:
        Plan.objects.get_or_create(slug=plan["slug"], defaults=plan)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_plans")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
