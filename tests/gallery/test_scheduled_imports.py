"""Scheduled refresh of configured imports: on the batch queue, run by a real worker process."""

import pytest
from django.conf import settings

from avatarsite.celery import app
from gallery.models import Avatar
from gallery.tasks import refresh_scheduled_imports
from tests.fakes.pexels import FakePexels
from tests.support.processes import celery_worker_args, project_env, running, subprocess_database_url


def test_the_beat_schedule_refreshes_imports_on_the_batch_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["gallery-refresh-imports"]

    assert entry["task"] in app.tasks
    assert entry["options"]["queue"] == "batch"
    assert entry["schedule"] == settings.GALLERY_IMPORT_SCHEDULE_HOURS * 3600


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_batch_queue_runs_the_configured_imports(artifacts_dir):
    fake = FakePexels(photo_count=4).start()
    imports = '[{"source": "pexels", "query": "portrait", "limit": 4}, {"source": "generated_photos", "limit": 4}]'
    env = project_env(
        DATABASE_URL=subprocess_database_url(), PEXELS_API_URL=fake.url, PEXELS_API_KEY=fake.api_key, GALLERY_SCHEDULED_IMPORTS=imports
    )
    try:
        with running(celery_worker_args("batch"), env=env, log=artifacts_dir / "batch-worker.log"):
            result = refresh_scheduled_imports.apply_async(queue="batch").get(timeout=60)
    finally:
        fake.stop()

    assert result == {"pexels:portrait": "new 4, updated 0, duplicate 0, failed 0", "generated_photos:": "skipped: no key"}
    assert Avatar.objects.count() == 4
