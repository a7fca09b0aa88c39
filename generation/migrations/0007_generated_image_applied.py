"""GeneratedImage.applied: what the provider applied (style, model, size, what it drew and could not use)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("generation", "0006_run_lease_single_flight")]

    operations = [
        migrations.AddField(
            model_name="generatedimage",
            name="applied",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
