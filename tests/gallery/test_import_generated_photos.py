"""Importing from Generated Photos (a local fake) and the licence gate that keeps it off until confirmed."""

import io

import pytest
from django.core.management import CommandError, call_command

from gallery import imaging
from gallery.importers.base import ImportQuery
from gallery.importers.registry import importer_get
from gallery.models import Avatar, Source
from gallery.services import import_run, source_get_or_create
from tests.fakes.generated_photos import FakeGeneratedPhotos
from tests.fakes.pexels import FakePexels, pattern_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def faces():
    fake = FakeGeneratedPhotos().start()
    yield fake
    fake.stop()


@pytest.fixture
def importer(faces):
    return importer_get("generated_photos", api_url=faces.url, api_key=faces.api_key, sleep=lambda seconds: None)


def _run(importer, *, per_page=100, filters=None, limit=100):
    source = source_get_or_create(slug="generated_photos")
    # An operator has confirmed the licence (the gate itself is tested in test_licence_gate.py).
    Source.objects.filter(pk=source.pk).update(enabled=True, licence_confirmed=True)
    source.refresh_from_db()
    return import_run(importer=importer, source=source, query=ImportQuery(filters=filters or {}, per_page=per_page), limit=limit)


def test_faces_are_imported_with_their_attributes_from_meta_lists(faces, importer):
    summary = _run(importer, per_page=3, filters={"gender": "female"})

    assert (summary.new, summary.finished) == (7, True)
    avatar = Avatar.objects.get(external_id="5dd0977cdef8b400084d0002")
    assert (avatar.gender, avatar.age_group, avatar.ethnicity, avatar.hair_color, avatar.emotion) == (
        "male",
        "elderly",
        "asian",
        "black",
        "joy",
    )
    assert {"joy", "neutral", "short"} <= set(avatar.tags)
    assert avatar.licence == "Generated Photos License"
    assert avatar.variants.filter(size=512).count() == 2  # the largest size offered, never more
    calls = [r for r in faces.requests if r["path"] == "/api/v1/faces"]
    assert [c["query"]["page"] for c in calls] == [["1"], ["2"], ["3"]]
    assert calls[0]["headers"]["Authorization"] == f"API-Key {faces.api_key}"
    assert calls[0]["query"]["gender"] == ["female"]
    assert [r["path"] for r in faces.requests if r["path"].startswith("/images/1/")] == ["/images/1/512.jpg"]


def test_per_page_is_capped_at_the_apis_maximum(faces, importer):
    _run(importer, per_page=500)

    assert faces.requests[0]["query"]["per_page"] == ["100"]


def test_the_same_face_from_pexels_and_generated_photos_is_kept_once(faces, importer):
    pexels = FakePexels(photo_count=1).start()
    try:
        pexels_importer = importer_get("pexels", api_url=pexels.url, api_key=pexels.api_key)
        import_run(importer=pexels_importer, source=source_get_or_create(slug="pexels"), query=ImportQuery(query="face"), limit=5)
    finally:
        pexels.stop()
    # Face 4 is Pexels photo 1's picture as another site would serve it: cropped, resized, recompressed.
    square = imaging.square_crop(imaging.decode_image(pattern_image(1))).resize((512, 512))
    buffer = io.BytesIO()
    square.save(buffer, "JPEG", quality=75)
    faces.image_overrides[4] = buffer.getvalue()

    summary = _run(importer)

    assert (summary.new, summary.duplicate) == (6, 1)


def test_rejected_key_stops_the_run_with_a_clear_reason(faces):
    wrong = importer_get("generated_photos", api_url=faces.url, api_key="wrong", sleep=lambda seconds: None)

    summary = _run(wrong)

    assert "refused the API key" in summary.stopped_reason
    assert Avatar.objects.count() == 0


def test_the_command_refuses_until_an_operator_confirms_the_licence(faces, settings, capsys):
    settings.GALLERY_IMPORTERS = {
        **settings.GALLERY_IMPORTERS,
        "generated_photos": {
            "BACKEND": "gallery.importers.generated_photos.GeneratedPhotosImporter",
            "OPTIONS": {"api_url": faces.url, "api_key": faces.api_key, "allow_loopback": True},
        },
    }
    with pytest.raises(CommandError, match="disabled"):
        call_command("import_avatars", "--source", "generated_photos")
    Source.objects.filter(slug="generated_photos").update(enabled=True, licence_confirmed=True)

    with pytest.raises(CommandError, match="has no filter orientation"):
        call_command("import_avatars", "--source", "generated_photos", "--orientation", "square")
    call_command("import_avatars", "--source", "generated_photos", "--age", "adult", "--limit", "3")

    assert "new 3 · updated 0 · duplicate 0 · failed 0" in capsys.readouterr().out
    assert faces.requests[-1]["path"].startswith("/images/")
    assert any(r["query"].get("age") == ["adult"] for r in faces.requests)
