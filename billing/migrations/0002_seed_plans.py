"""The three plans the product starts with (../PRODUCT.md): free, premium and enterprise.

Operators change them in the admin; this only creates them when missing.
"""

from django.db import migrations

from billing.default_plans import DEFAULT_PLANS as PLANS  # plain data, no models


def seed(apps, schema_editor) -> None:
    Plan = apps.get_model("billing", "Plan")
    known = {field.name for field in Plan._meta.get_fields()}  # the plans may carry fields added later
    for plan in PLANS:
        Plan.objects.get_or_create(slug=plan["slug"], defaults={k: v for k, v in plan.items() if k in known})


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_plans")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
