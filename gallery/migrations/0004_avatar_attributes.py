from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0003_source_licence_confirmed_help"),
    ]

    operations = [
        migrations.AddField(
            model_name="avatar",
            name="attributes",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
