"""Importing from Pexels (a local fake speaking its protocol) into the gallery, stored on S3."""

import pytest
import requests
from django.core.management import call_command

from gallery.importers.base import ImportQuery
from gallery.importers.registry import importer_get
from gallery.models import Avatar, AvatarVariant, Source
from gallery.services import import_run, source_get_or_create
from tests.fakes.pexels import FakePexels

pytestmark = pytest.mark.django_db


@pytest.fixture
def pexels():
    fake = FakePexels().start()
    yield fake
    fake.stop()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def importer(pexels, sleeps):
    return importer_get("pexels", api_url=pexels.url, api_key=pexels.api_key, sleep=sleeps.append, backoff=0.5)


def _run(importer, *, limit=100, per_page=80, query="portrait"):
    return import_run(
        importer=importer, source=source_get_or_create(slug="pexels"), query=ImportQuery(query=query, per_page=per_page), limit=limit
    )


def test_import_stores_avatars_with_variants_on_s3_and_pexels_attribution(pexels, importer):
    summary = _run(importer, per_page=100)

    assert (summary.new, summary.failed, summary.finished) == (10, 0, True)
    avatar = Avatar.objects.get(external_id="3")
    assert avatar.photographer_name == "Photographer 3"
    assert avatar.photographer_url == "https://www.pexels.com/@photographer3"
    assert avatar.source_page_url == "https://www.pexels.com/photo/portrait-3/"
    assert avatar.licence == "Pexels License"
    assert avatar.placeholder.startswith("data:image/webp;base64,")
    assert len(avatar.phash) == 16
    assert sorted({(v.size, v.format) for v in avatar.variants.all()}) == [
        (size, fmt) for size in (64, 128, 256, 512) for fmt in ("jpeg", "webp")
    ]
    variant = avatar.variants.get(size=256, format="webp")
    from django.core.files.storage import storages

    response = requests.get(storages["public"].url(variant.key), timeout=10)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    search = [r for r in pexels.requests if r["path"].startswith("/v1/search")]
    assert search[0]["headers"]["Authorization"] == pexels.api_key  # the bare key, no scheme word
    assert search[0]["query"]["per_page"] == ["80"]  # capped at Pexels' maximum


def test_running_the_same_import_again_updates_and_never_duplicates(importer):
    _run(importer)
    variants_before = AvatarVariant.objects.count()

    again = _run(importer)

    assert (again.new, again.updated) == (0, 10)
    assert Avatar.objects.count() == 10
    assert AvatarVariant.objects.count() == variants_before


def test_a_run_cut_off_by_its_limit_resumes_on_the_page_where_it_stopped(pexels, importer):
    first = _run(importer, limit=5, per_page=3)
    second = _run(importer, limit=100, per_page=3)

    assert (first.new, first.finished) == (5, False)
    # The second run starts again on page 2 (items 4-6): 4 and 5 are known, 6-10 are new.
    assert (second.new, second.updated, second.finished) == (5, 2, True)
    pages = [r["query"]["page"][0] for r in pexels.requests if r["path"].startswith("/v1/search")]
    assert pages == ["1", "2", "2", "3", "4"]
    assert Source.objects.get(slug="pexels").resume_state == {}


def test_a_run_out_of_time_stops_between_items_and_the_next_run_resumes_on_that_page(pexels, importer):
    source = source_get_or_create(slug="pexels")
    query = ImportQuery(query="portrait", per_page=3)
    ticks = iter(range(100))  # one tick per look at the clock: time runs out before the 5th item
    first = import_run(importer=importer, source=source, query=query, limit=100, deadline=3.5, clock=lambda: next(ticks))
    second = import_run(importer=importer, source=source_get_or_create(slug="pexels"), query=query, limit=100)

    assert (first.new, first.finished) == (4, False)
    assert "time is up" in first.stopped_reason
    assert (second.new, second.updated, second.finished) == (6, 1, True)  # page 2 again: item 4 known


def test_the_same_picture_from_two_ids_is_imported_once(pexels, importer):
    pexels.image_faults[7] = 2  # photo 7 is photo 2's picture again

    summary = _run(importer)

    assert (summary.new, summary.duplicate) == (9, 1)
    assert not Avatar.objects.filter(external_id="7").exists()


def test_the_run_stops_before_the_rate_limit_runs_out_and_says_when_to_continue(pexels, importer):
    pexels.remaining = 4  # after two pages only the reserve of 2 is left

    summary = _run(importer, per_page=2)

    assert summary.new == 4
    assert "rate limit" in summary.stopped_reason
    assert int(summary.resume_at.timestamp()) == pexels.reset_at
    source = Source.objects.get(slug="pexels")
    assert source.rate_limit_remaining == 2
    assert "page=3" in next(iter(source.resume_state.values()))


def test_429_is_retried_with_backoff_then_stops_the_run_until_the_last_known_reset(pexels, importer, sleeps):
    _run(importer, limit=2, per_page=2)  # learn the reset time from a 200
    pexels.api_faults.extend([429, 429, 429, 429])

    summary = _run(importer, limit=10, per_page=2)

    assert "429" in summary.stopped_reason
    assert int(summary.resume_at.timestamp()) == pexels.reset_at
    assert len(sleeps) == 3  # four attempts
    assert all(s >= 0.5 for s in sleeps)  # never a busy retry


def test_server_errors_are_retried_with_growing_backoff(pexels, importer, sleeps):
    pexels.api_faults.extend([503, 502])

    summary = _run(importer)

    assert summary.new == 10
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0  # initial backoff plus jitter
    assert 1.0 <= sleeps[1] <= 1.5


def test_persistent_server_errors_stop_the_run_and_lose_nothing_already_imported(pexels, importer):
    _run(importer, limit=4, per_page=2)
    pexels.api_faults.extend([500] * 4)

    summary = _run(importer, limit=10, per_page=2)

    assert "TransientSourceError" in summary.stopped_reason
    assert Avatar.objects.count() == 4


def test_a_malformed_response_stops_the_run_with_a_reason(pexels, importer):
    pexels.api_faults.append("malformed")

    summary = _run(importer)

    assert "unreadable Pexels response" in summary.stopped_reason
    assert Avatar.objects.count() == 0


@pytest.mark.parametrize("fault", ["not-image", "truncated", "bomb", "huge", "missing"])
def test_a_bad_image_is_skipped_with_a_reason_and_the_import_goes_on(pexels, importer, fault):
    pexels.image_faults[5] = fault

    summary = _run(importer)

    assert (summary.new, summary.failed) == (9, 1)
    assert summary.failures[0].startswith("pexels:5:")
    assert not Avatar.objects.filter(external_id="5").exists()


def test_storage_down_fails_each_item_not_the_run(importer, settings):
    public = settings.STORAGES["public"]
    settings.STORAGES = {
        **settings.STORAGES,
        "public": {**public, "OPTIONS": {**public["OPTIONS"], "endpoint_url": "http://127.0.0.1:9", "client_config": None}},
    }

    summary = _run(importer, limit=3)

    assert (summary.new, summary.failed) == (0, 3)
    assert Avatar.objects.count() == 0


def test_the_command_prints_a_summary_and_refuses_without_a_key(pexels, settings, capsys):
    settings.GALLERY_IMPORTERS = {
        "pexels": {
            "BACKEND": "gallery.importers.pexels.PexelsImporter",
            "OPTIONS": {"api_url": pexels.url, "api_key": pexels.api_key, "allow_loopback": True},
        }
    }
    call_command("import_avatars", "--source", "pexels", "--query", "portrait", "--limit", "4", "--orientation", "portrait")
    out = capsys.readouterr().out
    settings.GALLERY_IMPORTERS["pexels"]["OPTIONS"]["api_key"] = ""

    with pytest.raises(Exception, match="PEXELS_API_KEY"):
        call_command("import_avatars", "--source", "pexels", "--query", "portrait")

    assert "new 4 · updated 0 · duplicate 0 · failed 0" in out
    assert pexels.requests[0]["query"]["orientation"] == ["portrait"]


def test_a_source_slower_than_the_read_timeout_is_retried_then_stops_the_run(pexels, sleeps):
    impatient = importer_get("pexels", api_url=pexels.url, api_key=pexels.api_key, sleep=sleeps.append, timeout=(2.0, 0.3))
    pexels.api_faults.extend([("slow", 1.0)] * 4)

    summary = _run(impatient)

    assert "unreachable: ReadTimeout" in summary.stopped_reason
    assert len(sleeps) == 3
    assert Avatar.objects.count() == 0
