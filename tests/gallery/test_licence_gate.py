"""The licence gate: a source whose licence is not confirmed imports nothing and shows nothing
(pages, filters, search, the API, similar avatars), and the admin says why."""

import logging
import re
import subprocess

import pytest
from django.core.cache import cache
from django.core.files.storage import storages
from django.urls import reverse

from gallery import services
from gallery.importers.base import ImportQuery
from gallery.importers.registry import importer_get
from gallery.models import Avatar, AvatarVariant, Source
from gallery.selectors import avatar_related_to_text
from gallery.services import import_run, source_get_or_create
from gallery.tasks import refresh_scheduled_imports
from tests.fakes.generated_photos import FakeGeneratedPhotos
from tests.fakes.pexels import FakePexels
from tests.support.processes import PROJECT_DIR, PYTHON, project_env, subprocess_database_url

LIST = "/api/v1/avatars"


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


@pytest.fixture
def faces():
    fake = FakeGeneratedPhotos().start()
    yield fake
    fake.stop()


def _gallery_keys() -> set[str]:
    """Every file in the public bucket (where imports store the variants)."""
    bucket = storages["public"].bucket
    return {item.key for item in bucket.objects.all()}


def _unconfirmed_faces_source() -> Source:
    """Generated Photos enabled by an operator who has not (yet) confirmed the licence: the case of the report."""
    source = source_get_or_create(slug="generated_photos")
    Source.objects.filter(pk=source.pk).update(enabled=True, licence_confirmed=False)
    source.refresh_from_db()
    return source


# --- imports ----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_an_import_from_an_unconfirmed_generated_photos_source_is_refused_before_anything_is_asked_or_written(faces):
    source = _unconfirmed_faces_source()
    importer = importer_get("generated_photos", api_url=faces.url, api_key=faces.api_key, sleep=lambda seconds: None)
    files_before = _gallery_keys()

    with pytest.raises(services.SourceNotImportable, match="licence is not confirmed") as refused:
        import_run(importer=importer, source=source, query=ImportQuery(per_page=3), limit=10)

    assert "confirm its licence" in str(refused.value)
    assert faces.requests == []  # not even the first page
    assert Avatar.objects.count() == AvatarVariant.objects.count() == 0
    assert _gallery_keys() == files_before
    source.refresh_from_db()
    assert (source.last_run_at, source.resume_state, source.rate_limit_remaining) == (None, {}, None)


@pytest.mark.django_db
def test_a_licence_withdrawn_during_a_run_stops_it_before_the_next_page(faces):
    source = source_get_or_create(slug="generated_photos")
    Source.objects.filter(pk=source.pk).update(enabled=True, licence_confirmed=True)
    source.refresh_from_db()
    importer = importer_get("generated_photos", api_url=faces.url, api_key=faces.api_key, sleep=lambda seconds: None)

    def withdraw_after_the_first(summary) -> None:
        Source.objects.filter(pk=source.pk).update(licence_confirmed=False)  # an operator unticks it meanwhile

    summary = import_run(importer=importer, source=source, query=ImportQuery(per_page=3), limit=10, on_item=withdraw_after_the_first)

    assert "licence is not confirmed" in summary.stopped_reason
    assert summary.processed == 3  # the page in hand is finished (hidden anyway), no further page is asked for
    assert [r["query"]["page"] for r in faces.requests if r["path"] == "/api/v1/faces"] == [["1"]]


@pytest.mark.django_db(transaction=True)
def test_the_import_command_exits_non_zero_with_the_reason_and_writes_nothing(faces):
    _unconfirmed_faces_source()
    env = project_env(DATABASE_URL=subprocess_database_url(), GENERATED_PHOTOS_API_URL=faces.url, GENERATED_PHOTOS_API_KEY=faces.api_key)

    done = subprocess.run(
        [PYTHON, "manage.py", "import_avatars", "--source", "generated_photos", "--limit", "3"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Import from Generated Photos refused: its licence is not confirmed" in done.stderr
    assert "Gallery > Sources > Generated Photos" in done.stderr
    assert faces.requests == []
    assert Avatar.objects.count() == 0


@pytest.mark.django_db
def test_the_scheduled_import_logs_and_skips_an_unconfirmed_source_and_runs_the_others(faces, settings, caplog):
    _unconfirmed_faces_source()
    pexels = FakePexels(photo_count=2).start()
    settings.GALLERY_IMPORTERS = {
        "pexels": {
            "BACKEND": "gallery.importers.pexels.PexelsImporter",
            "OPTIONS": {"api_url": pexels.url, "api_key": pexels.api_key, "allow_loopback": True},
        },
        "generated_photos": {
            "BACKEND": "gallery.importers.generated_photos.GeneratedPhotosImporter",
            "OPTIONS": {"api_url": faces.url, "api_key": faces.api_key, "allow_loopback": True},
        },
    }
    settings.GALLERY_SCHEDULED_IMPORTS = [{"source": "generated_photos", "limit": 4}, {"source": "pexels", "query": "portrait", "limit": 2}]
    try:
        with caplog.at_level(logging.WARNING, logger="gallery.tasks"):
            results = refresh_scheduled_imports()
    finally:
        pexels.stop()

    assert results == {
        "generated_photos:": "skipped: its licence is not confirmed",
        "pexels:portrait": "new 2, updated 0, duplicate 0, failed 0",
    }
    logged = [record.getMessage() for record in caplog.records]
    assert any("generated_photos: skipped" in message and "confirm its licence" in message for message in logged), logged
    assert faces.requests == []
    assert set(Avatar.objects.values_list("source__slug", flat=True)) == {"pexels"}


# --- what is shown ----------------------------------------------------------------------------------------
@pytest.fixture
def both(avatars, faces):
    """Ten Pexels photos (the `avatars` fixture) and seven Generated Photos faces, imported while confirmed."""
    source = source_get_or_create(slug="generated_photos")
    Source.objects.filter(pk=source.pk).update(enabled=True, licence_confirmed=True)
    source.refresh_from_db()
    importer = importer_get("generated_photos", api_url=faces.url, api_key=faces.api_key, sleep=lambda seconds: None)
    assert import_run(importer=importer, source=source, query=ImportQuery(), limit=10).new == 7
    return list(Avatar.objects.filter(source=source).order_by("pk"))


def _cards(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/gallery/(\d+)/"', html)}


def _api_ids(client, **params) -> set[int]:
    response = client.get(LIST, {"limit": 100, **params})
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


def _everything_shown(client, face: Avatar) -> dict[str, object]:
    """What a visitor and an API client see of the faces, everywhere the gallery shows avatars."""
    index = client.get(reverse("gallery:index")).content.decode()
    filtered = client.get(reverse("gallery:index"), {"source": "generated_photos"}).content.decode()
    return {
        "index": _cards(index),
        "source option": 'value="generated_photos"' in index,
        "source filter": _cards(filtered),
        "male filter": _cards(client.get(reverse("gallery:index"), {"gender": "male"}).content.decode()),
        "search": _cards(client.get(reverse("gallery:index"), {"q": "generated"}).content.decode()),
        "detail": client.get(reverse("gallery:detail", args=[face.pk])).status_code,
        "download": client.get(reverse("gallery:download", args=[face.pk, 128, "webp"])).status_code,
        "api list": _api_ids(client),
        "api search": _api_ids(client, q="generated"),
        "api source filter": client.get(LIST, {"source": "generated_photos"}).status_code,
        "api detail": client.get(f"{LIST}/{face.pk}").status_code,
        "similar to a prompt": {a.pk for a in avatar_related_to_text(text="generated adult joy", limit=20)},
        "filter counts": set(client.get(f"{LIST}/facets").json()["source"]),
        "home": 'data-source="generated_photos"' in client.get(reverse("home")).content.decode(),
    }


def _admin_save(admin_client, source: Source, *, licence_confirmed: bool) -> str:
    """The source's change form as an operator sends it (an unticked box is simply absent); the page it lands on."""
    data = {
        "slug": source.slug,
        "name": source.name,
        "website": source.website,
        "enabled": "on",
        "attribution_required": "on",
        "attribution_template": source.attribution_template,
        "max_served_size": source.max_served_size,
        **({"licence_confirmed": "on"} if licence_confirmed else {}),
    }
    response = admin_client.post(reverse("admin:gallery_source_change", args=[source.pk]), data, follow=True)
    assert response.redirect_chain, response.content.decode()  # saved, not sent back with errors
    return response.content.decode()


def test_avatars_of_a_source_unticked_after_import_disappear_everywhere_and_come_back_when_ticked(client, admin_client, both, avatars):
    faces = {a.pk for a in both}
    photos = {a.pk for a in avatars}
    face = both[0]
    shown = _everything_shown(client, face)  # the pages are cached now: the admin's change must drop them
    assert faces <= shown["index"]
    assert faces <= shown["api list"]
    assert shown["source option"]
    assert shown["source filter"] == faces
    assert shown["male filter"] & faces
    assert shown["search"] == shown["api search"] == faces
    assert (shown["detail"], shown["download"], shown["api source filter"], shown["api detail"]) == (200, 302, 200, 200)
    assert shown["similar to a prompt"] & faces
    assert shown["filter counts"] == {"pexels", "generated_photos"}
    assert shown["home"]
    source = Source.objects.get(slug="generated_photos")

    landed = _admin_save(admin_client, source, licence_confirmed=False)

    hidden = _everything_shown(client, face)
    assert hidden["index"] == hidden["api list"] == photos
    assert not hidden["source option"]
    assert hidden["source filter"] == photos  # the unknown source is ignored with a notice, not matched
    assert not hidden["male filter"] & faces
    assert hidden["search"] == hidden["api search"] == set()
    assert (hidden["detail"], hidden["download"], hidden["api source filter"], hidden["api detail"]) == (404, 404, 400, 404)
    assert not hidden["similar to a prompt"] & faces
    assert hidden["filter counts"] == {"pexels"}
    assert not hidden["home"]
    photo_page = client.get(reverse("gallery:detail", args=[avatars[0].pk])).content.decode()
    assert not _cards(photo_page) & faces  # nor among a photo's similar avatars
    assert Avatar.objects.filter(source=source).count() == 7  # hidden, not deleted
    assert "Generated Photos: 7 avatars hidden from the gallery, the API and search, and imports refused" in landed

    landed = _admin_save(admin_client, source, licence_confirmed=True)

    assert "Generated Photos: its avatars are shown and imports run." in landed
    assert _everything_shown(client, face) == shown


def test_the_admin_actions_withdraw_and_confirm_the_licence_of_the_selected_sources(client, admin_client, both):
    faces = {a.pk for a in both}
    source = Source.objects.get(slug="generated_photos")
    changelist = reverse("admin:gallery_source_changelist")
    assert faces <= _api_ids(client)

    admin_client.post(changelist, {"action": "withdraw_licence", "_selected_action": [source.pk]})

    source.refresh_from_db()
    assert not source.licence_confirmed
    assert not faces & _api_ids(client)

    admin_client.post(changelist, {"action": "confirm_licence", "_selected_action": [source.pk]})

    assert faces <= _api_ids(client)


# --- the admin --------------------------------------------------------------------------------------------
def test_the_admin_says_why_a_sources_avatars_are_hidden_and_what_confirming_means(admin_client, both):
    source = Source.objects.get(slug="generated_photos")
    Source.objects.filter(pk=source.pk).update(licence_confirmed=False)

    listing = admin_client.get(reverse("admin:gallery_source_changelist")).content.decode()
    page = admin_client.get(reverse("admin:gallery_source_change", args=[source.pk])).content.decode()

    assert "On the site" in listing
    assert "Hidden, imports refused: its licence is not confirmed" in listing
    assert "Shown; imports run" in listing  # Pexels
    assert "Generated Photos: 7 avatars hidden from the gallery, the API and search, and imports refused" in page
    assert "Confirming the licence means you have checked that our licence with Generated Photos covers" in page
    assert "avatars are hidden everywhere and its imports are refused; nothing is deleted" in page  # the field's help
