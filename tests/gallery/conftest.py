"""Fixtures of the gallery tests (imports inside them: conftests load before Django is set up)."""

import pytest


@pytest.fixture
def avatars(db):
    """Ten avatars imported from the fake Pexels into S3; photos 1-3 are adult women."""
    from gallery.importers.base import ImportQuery
    from gallery.importers.registry import importer_get
    from gallery.models import Avatar
    from gallery.services import import_run, source_get_or_create
    from tests.fakes.pexels import FakePexels

    fake = FakePexels(photo_count=10).start()
    try:
        importer = importer_get("pexels", api_url=fake.url, api_key=fake.api_key)
        import_run(importer=importer, source=source_get_or_create(slug="pexels"), query=ImportQuery(query="portrait"), limit=10)
    finally:
        fake.stop()
    Avatar.objects.filter(external_id__in=["1", "2", "3"]).update(gender="female", age_group="adult")
    return list(Avatar.objects.order_by("external_id"))
