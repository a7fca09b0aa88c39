# An operator's "try it" call (admin, provider health) is booked in the ledger without a job.
# Depends on 0008 on this branch; 0009_generated_image_nsfw_score comes from another branch (the
# dependency is set right when the two are merged).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0008_generationjob_error_kind_choices"),
    ]

    operations = [
        migrations.AlterField(
            model_name="costentry",
            name="job",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="cost_entries",
                to="generation.generationjob",
            ),
        ),
    ]
