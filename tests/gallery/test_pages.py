"""The gallery pages and selectors over avatars imported from the fake Pexels into S3."""

from urllib.parse import urlsplit

import pytest
import requests
from django.urls import reverse

from gallery.demo import demo_library_load
from gallery.models import Avatar, Source
from gallery.selectors import AvatarFilters, avatar_page

pytestmark = pytest.mark.django_db


def test_the_grid_paints_cdn_images_with_srcset_lazy_loading_and_placeholders(client, avatars, django_assert_max_num_queries):
    # Cold: the sources, the page (2), the filters' counts (live sources, the library's counts) and
    # the sources again for the credit line; a warm page costs none (below).
    with django_assert_max_num_queries(6):
        html = client.get(reverse("gallery:index")).content.decode()

    assert html.count('class="avatar-card"') == 10
    assert 'srcset="http://127.0.0.1:' in html
    assert " 512w" in html
    assert 'loading="eager"' in html  # the first row paints at once
    assert "background-image: url('data:image/webp;base64," in html
    assert 'The library: <span data-source="pexels">10 photos from <a href="https://www.pexels.com" rel="noopener">Pexels</a>' in html


@pytest.mark.parametrize("limit", [1, 4, 10])
def test_query_count_does_not_grow_with_the_page(avatars, django_assert_num_queries, limit):
    """Two queries whatever the size: the avatars with their source, and every rendition at once."""
    with django_assert_num_queries(2):
        page = avatar_page(filters=AvatarFilters(), limit=limit)
    assert len(page.avatars) == limit
    for avatar in page.avatars:
        stored = list(avatar.variants.order_by("size", "format").values_list("size", "format"))
        assert [(r.size, r.format) for r in avatar.renditions] == stored
        assert stored


def test_a_repeated_page_costs_no_sql_and_a_change_shows_at_once(client, avatars, django_assert_num_queries):
    first = client.get(reverse("gallery:index"), {"gender": "female"})
    with django_assert_num_queries(0):
        again = client.get(reverse("gallery:index"), {"gender": "female"})
    assert again.content == first.content

    male = Avatar.objects.get(external_id="5")
    male.gender = "female"
    male.save()
    changed = client.get(reverse("gallery:index"), {"gender": "female"})

    assert changed.content.count(b'class="avatar-card"') == first.content.count(b'class="avatar-card"') + 1


@pytest.mark.parametrize("sort", ["newest", "popular"])
def test_keyset_pages_cover_every_avatar_once(avatars, sort):
    Avatar.objects.filter(external_id__in=["4", "5"]).update(download_count=7)
    seen, cursor = [], ""
    while True:
        page = avatar_page(filters=AvatarFilters(sort=sort), after=cursor, limit=3)
        seen += [a.pk for a in page.avatars]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert sorted(seen) == sorted(a.pk for a in avatars)
    assert len(seen) == len(set(seen))
    if sort == "popular":
        assert set(seen[:2]) == set(Avatar.objects.filter(download_count=7).values_list("pk", flat=True))


def test_filters_and_search_narrow_the_grid(client, avatars):
    by_gender = client.get(reverse("gallery:index"), {"gender": "female", "age_group": "adult"}).content.decode()
    found = client.get(reverse("gallery:index"), {"q": "smiling portrait"}).content.decode()
    nothing = client.get(reverse("gallery:index"), {"q": "zebra"}).content.decode()

    assert by_gender.count('class="avatar-card"') == 3
    assert found.count('class="avatar-card"') == 10
    assert "No avatar matches these filters" in nothing


def test_unknown_filter_values_and_a_bad_cursor_are_ignored_with_a_notice(client, avatars):
    response = client.get(reverse("gallery:index"), {"gender": "robot", "sort": "sideways", "after": "%%%not-base64"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Ignored Gender" in html
    assert "Ignored Sort" in html
    assert "cursor is not valid" in html
    assert html.count('class="avatar-card"') == 10


def test_load_more_returns_the_next_cards_as_a_fragment(client, avatars, monkeypatch):
    monkeypatch.setattr("gallery.views.PAGE_SIZE", 4)
    first = client.get(reverse("gallery:index"))
    next_url = first.context["next_url"]

    fragment = client.get(reverse("gallery:index") + next_url + "&partial=1").content.decode()

    assert "<html" not in fragment
    assert fragment.count('class="avatar-card"') == 4
    assert "data-load-more" in fragment


def test_avatar_page_credits_the_photographer_and_pexels_and_offers_each_size(client, avatars):
    avatar = next(a for a in avatars if a.external_id == "3")

    html = client.get(reverse("gallery:detail", args=[avatar.pk])).content.decode()

    assert 'Photo by <a href="https://www.pexels.com/@photographer3" rel="noopener">Photographer 3</a> on' in html
    assert 'href="https://www.pexels.com/photo/portrait-3/"' in html
    assert "commercial use allowed" in html
    assert html.count("data-download=") == 8
    assert "Similar avatars" in html


def test_a_download_from_r2_is_saved_under_a_readable_name_and_counted_once(client, avatars):
    avatar = avatars[0]
    url = reverse("gallery:download", args=[avatar.pk, 128, "jpeg"])
    cdn_url = next(r.url for r in avatar.renditions if (r.size, r.format) == (128, "jpeg"))

    head = client.head(url)
    response = client.get(url)
    checked = requests.head(head["Location"], timeout=10)
    file = requests.get(response["Location"], timeout=10)
    missing = client.get(reverse("gallery:download", args=[avatar.pk, 1024, "jpeg"]))

    expected = f'attachment; filename="avatar-{avatar.pk}-128px.jpg"'
    assert (head.status_code, response.status_code) == (302, 302)  # to URLs signed for that method, on the bucket
    assert (file.status_code, file.headers["Content-Disposition"]) == (200, expected)
    assert (checked.status_code, checked.headers["Content-Type"], int(checked.headers["Content-Length"])) == (
        200,
        "image/jpeg",
        len(file.content),
    )
    assert file.content == requests.get(cdn_url, timeout=10).content
    assert file.content.startswith(b"\xff\xd8")
    assert urlsplit(cdn_url).query == ""  # the images themselves keep their plain CDN URLs (P-R2-2)
    assert missing.status_code == 404
    avatar.refresh_from_db()
    assert avatar.download_count == 1  # the GET, not the HEAD


def test_a_download_from_local_files_is_sent_as_an_attachment(client, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "public": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    demo_library_load(count=1, size=128)
    avatar = Avatar.objects.get()
    url = reverse("gallery:download", args=[avatar.pk, 128, "webp"])

    head = client.head(url)
    response = client.get(url)

    expected = f'attachment; filename="avatar-{avatar.pk}-128px.webp"'
    assert (head.status_code, head["Content-Disposition"], head["Content-Type"]) == (200, expected, "image/webp")
    assert head.content == b""
    assert (response.status_code, response["Content-Disposition"], response["Content-Type"]) == (200, expected, "image/webp")
    assert response.content == (tmp_path / avatar.variants.get(size=128, format="webp").key).read_bytes()
    assert int(head["Content-Length"]) == len(response.content)
    assert response.content[8:12] == b"WEBP"
    avatar.refresh_from_db()
    assert avatar.download_count == 1


def test_avatars_of_a_disabled_source_are_not_shown(client, avatars):
    Source.objects.filter(slug="pexels").update(enabled=False)

    assert client.get(reverse("gallery:index")).content.decode().count('class="avatar-card"') == 0
    assert client.get(reverse("gallery:detail", args=[avatars[0].pk])).status_code == 404


def test_search_matches_tags_and_stays_right_after_an_edit(avatars):
    """The stored vector is kept by a database trigger: an edit through the ORM is searchable at once."""
    avatar = avatars[0]
    avatar.tags = [*avatar.tags, "astronaut"]
    avatar.save()
    found = avatar_page(filters=AvatarFilters(q="astronauts"), limit=10).avatars  # stemmed: astronaut(s)
    assert [a.pk for a in found] == [avatar.pk]

    avatar.title, avatar.tags = "Plain title", []
    avatar.save()
    assert avatar_page(filters=AvatarFilters(q="astronaut"), limit=10).avatars == []


def test_search_and_deep_pages_use_indexes_not_scans_and_sorts(avatars):
    """Any page depth and search use an index scan, with no Sort and no OFFSET, on 20,000 rows (the benchmark
    shows the same plans, and timings, on 100k)."""
    from django.db import connection

    from gallery.selectors import avatar_filter, encode_cursor, ordered_after

    copied = [f.attname for f in Avatar._meta.concrete_fields if f.attname not in ("id", "search", "external_id", "title", "tags")]
    words = ["smiling", "serious", "laughing", "calm"]
    Avatar.objects.bulk_create(
        (
            Avatar(**{name: getattr(avatars[0], name) for name in copied}, external_id=f"bulk-{n}", title=f"{words[n % 4]} {n}", tags=[])
            for n in range(20_000)
        ),
        batch_size=2000,
    )
    Avatar.objects.filter(external_id="bulk-7").update(title="astronaut on the moon")  # one rare word
    with connection.cursor() as cursor:
        cursor.execute("UPDATE gallery_avatar SET created_at = created_at - (id * interval '1 second')")  # distinct times
        cursor.execute("ANALYZE gallery_avatar")
    middle = Avatar.objects.order_by("-created_at", "-id")[10_000]
    deep = ordered_after(avatar_filter(filters=AvatarFilters()), "newest", encode_cursor(middle, "newest"))[:51]
    search = ordered_after(avatar_filter(filters=AvatarFilters(q="astronaut")), "newest", "")[:51]

    plans = {}
    with connection.cursor() as cursor:
        for name, queryset in {"deep": deep, "search": search}.items():
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            plans[name] = "\n".join(row[0] for row in cursor.fetchall())

    assert "Index Scan using gallery_avatar_newest" in plans["deep"], plans["deep"]
    assert "Index Cond: (created_at <=" in plans["deep"], plans["deep"]
    assert "Sort" not in plans["deep"], plans["deep"]
    assert "gallery_avatar_search_gin" in plans["search"], plans["search"]
    assert [a.external_id for a in search] == ["bulk-7"]
    assert len(list(deep)) == 51
