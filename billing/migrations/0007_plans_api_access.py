"""The free plan includes the API at a small rate and key count, so a new user can try it in a minute
(its generations use the plan's daily quota); premium gets a little more, so an upgrade never takes
the API away; enterprise is unchanged (billing.default_plans)."""

from django.db import migrations

from billing.default_plans import FREE_API, PREMIUM_API  # plain data, no models

# What both plans held before: only a row still at these values is changed, never an operator's edit.
_BEFORE = {"api_access": False, "api_rate_per_minute": 0, "api_keys_max": 0}
_NOW = {"free": FREE_API, "premium": PREMIUM_API}


def plans_get_the_api(apps, schema_editor) -> None:
    Plan = apps.get_model("billing", "Plan")
    for slug, api in _NOW.items():
        Plan.objects.filter(slug=slug, **_BEFORE).update(**api)


def plans_lose_the_api(apps, schema_editor) -> None:
    Plan = apps.get_model("billing", "Plan")
    for slug, api in _NOW.items():
        Plan.objects.filter(slug=slug, **api).update(**_BEFORE)


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_subscription_stripe_created")]

    operations = [migrations.RunPython(plans_get_the_api, plans_lose_the_api)]
