"""The home page shows avatars of the real library and says what it holds: the sources that are
live and have avatars, never one it does not have."""

import re

import pytest
from django.urls import reverse

from gallery.demo import demo_library_load
from gallery.importers.base import ImportQuery
from gallery.importers.registry import importer_get
from gallery.models import Avatar, Source
from gallery.selectors import library_summary
from gallery.services import import_run, source_get_or_create
from tests.fakes.pexels import FakePexels

pytestmark = pytest.mark.django_db


def _showcase(html: str) -> list[int]:
    block = re.search(r"<div class=\"showcase\" data-showcase>(.*?)</div>", html, re.S)
    return [int(pk) for pk in re.findall(r'href="/gallery/(\d+)/"', block.group(1))] if block else []


def _import_pexels(count: int) -> None:
    fake = FakePexels(photo_count=count).start()
    try:
        importer = importer_get("pexels", api_url=fake.url, api_key=fake.api_key)
        import_run(importer=importer, source=source_get_or_create(slug="pexels"), query=ImportQuery(query="portrait"), limit=count)
    finally:
        fake.stop()


def test_with_the_demo_library_only_the_home_page_shows_it_and_names_no_photo_source(client):
    demo_library_load(count=8, size=64)
    source_get_or_create(slug="pexels")  # live, but nothing imported yet

    html = client.get(reverse("home")).content.decode()

    shown = _showcase(html)
    assert len(shown) == 6
    assert set(Avatar.objects.filter(pk__in=shown).values_list("source__slug", flat=True)) == {"demo"}
    assert 'class="avatar-cloud"' not in html  # real avatars, not silhouettes
    assert "Browse 8 premade profile pictures" in html
    assert 'The library has <span data-source="demo">8 illustrated avatars drawn by this site\'s own generator</span>,' in html
    assert "Pexels" not in html
    assert "Generated Photos" not in html


def test_with_pexels_photos_the_home_page_credits_pexels_until_its_licence_is_withdrawn(client):
    demo_library_load(count=4, size=64)
    _import_pexels(5)

    html = client.get(reverse("home")).content.decode()
    Source.objects.filter(slug="pexels").update(licence_confirmed=False)
    Avatar.objects.filter(source__slug="demo").first().save()  # any gallery change: the pages are rebuilt
    withdrawn = client.get(reverse("home")).content.decode()

    assert "Browse 9 premade profile pictures" in html
    assert (
        'The library has <span data-source="pexels">5 photos from <a href="https://www.pexels.com" rel="noopener">Pexels</a>'
        ' photographers</span> and <span data-source="demo">4 illustrated avatars drawn by this site\'s own generator</span>,'
    ) in html
    assert {"demo", "pexels"} == set(Avatar.objects.filter(pk__in=_showcase(html)).values_list("source__slug", flat=True))
    assert "Generated Photos" not in html
    assert "Pexels" not in withdrawn
    assert set(Avatar.objects.filter(pk__in=_showcase(withdrawn)).values_list("source__slug", flat=True)) == {"demo"}


def test_what_the_library_holds_is_read_once_per_gallery_version(django_assert_num_queries):
    demo_library_load(count=3, size=64)
    first = library_summary()

    with django_assert_num_queries(0):
        again = library_summary()

    assert [a.pk for a in again.showcase] == [a.pk for a in first.showcase]
    assert again.total == 3
