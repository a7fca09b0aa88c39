from django.db import migrations, models

import billing.models


def give_each_key_its_own_secret(apps, schema_editor):
    """AddField computes a callable default once, for every existing row: each key gets its own."""
    ApiKey = apps.get_model("billing", "ApiKey")
    for key in ApiKey.objects.only("pk"):
        ApiKey.objects.filter(pk=key.pk).update(webhook_secret=billing.models.webhook_secret_new())


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_api_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="webhook_secret",
            field=models.CharField(default=billing.models.webhook_secret_new, help_text="Signs the completion webhooks.", max_length=64),
        ),
        migrations.RunPython(give_each_key_its_own_secret, migrations.RunPython.noop),
    ]
