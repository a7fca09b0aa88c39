"""Today's settings catalogue (GENERATION_PROVIDERS, as this site's environment sets it) as rows."""

from django.conf import settings
from django.db import migrations

from catalogue.conversion import rows_from_settings


def import_settings_catalogue(apps, schema_editor):
    ImageProvider = apps.get_model("catalogue", "ImageProvider")
    ImageModel = apps.get_model("catalogue", "ImageModel")
    for row in rows_from_settings(settings.GENERATION_PROVIDERS):
        if ImageProvider.objects.filter(name=row.name).exists():
            continue
        fields = {key: value for key, value in vars(row).items() if key != "models"}
        provider = ImageProvider.objects.create(**fields)
        ImageModel.objects.bulk_create(ImageModel(provider=provider, **vars(model)) for model in row.models)


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0001_provider_catalogue")]

    operations = [migrations.RunPython(import_settings_catalogue, migrations.RunPython.noop)]
