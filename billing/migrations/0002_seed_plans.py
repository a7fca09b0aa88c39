"""The three plans the product starts with (../PRODUCT.md): free, premium and enterprise.

Operators change them in the admin; this only creates them when missing.
"""

from django.db import migrations

from billing.default_plans import DEFAULT_PLANS as PLANS  # plain data, no models


def seed(apps, schema_editor) -> None:
    Plan = apps.get_model("billing", "Plan")
    for plan in PLANS:
        Plan.objects.get_or_create(slug=plan["slug"], defaults=plan)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_plans")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
