"""The filters offer only values that have avatars, with how many, under the licence gate and the
other active filters; the API says the same at /api/v1/avatars/facets."""

import re

import pytest
from django.urls import reverse

from gallery import facets
from gallery.demo import demo_library_load
from gallery.models import Avatar, Source
from gallery.selectors import AvatarFilters, avatar_facets

pytestmark = pytest.mark.django_db


def _options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [label.strip() for label in re.findall(r"<option[^>]*>([^<]*)</option>", select)]


def test_the_filters_offer_only_values_that_have_avatars_with_their_counts(client, avatars):
    html = client.get(reverse("gallery:index")).content.decode()

    assert _options(html, "gender") == ["Any", "Female (3)"]
    assert _options(html, "age_group") == ["Any", "Adult (3)"]  # no infant, child or elderly: none exist
    assert _options(html, "style") == ["Any", "Photo (10)"]
    assert _options(html, "source") == ["Any", "Pexels (10)"]
    assert sum(int(re.search(r"\((\d+)\)", o).group(1)) for o in _options(html, "color")[1:]) == 10


def test_a_chosen_value_without_avatars_stays_chosen_and_shows_none(client, avatars):
    html = client.get(reverse("gallery:index"), {"age_group": "child"}).content.decode()

    assert _options(html, "age_group") == ["Any", "Child (0)", "Adult (3)"]
    assert '<option value="child" selected>' in html
    assert "No avatar matches these filters" in html
    assert "Ignored" not in html  # a known value is no error; it just has nothing yet


def test_counts_follow_the_other_filters_and_search_but_not_their_own(avatars):
    demo_library_load(count=6, size=64)
    demo_genders = dict.fromkeys(("female", "male"), 0)
    for gender in Avatar.objects.filter(source__slug="demo").values_list("gender", flat=True):
        demo_genders[gender] += 1

    everything = avatar_facets(filters=AvatarFilters())
    drawings = avatar_facets(filters=AvatarFilters(style="illustration"))
    women = avatar_facets(filters=AvatarFilters(style="illustration", gender="female"))
    searched = avatar_facets(filters=AvatarFilters(q="Smiling person number"))

    assert everything["source"] == {"pexels": 10, "demo": 6}
    assert everything["style"] == {"photo": 10, "illustration": 6}
    assert drawings["style"] == everything["style"]  # its own filter left out: what switching gives
    assert drawings["source"] == {"demo": 6}
    assert drawings["gender"] == {gender: n for gender, n in demo_genders.items() if n}
    assert women["source"] == {"demo": demo_genders["female"]}
    assert women["gender"] == drawings["gender"]
    assert searched["source"] == {"pexels": 10}  # the Pexels alt texts say "Smiling person number N"


def test_a_source_behind_the_licence_gate_leaves_every_count_at_once(avatars):
    demo_library_load(count=4, size=64)
    before = avatar_facets(filters=AvatarFilters())  # the library's counts are now cached

    Source.objects.filter(slug="pexels").update(licence_confirmed=False)
    hidden = avatar_facets(filters=AvatarFilters())
    Source.objects.filter(slug="pexels").update(licence_confirmed=True)

    assert before["source"] == {"pexels": 10, "demo": 4}
    assert hidden["source"] == {"demo": 4}
    assert hidden["style"] == {"illustration": 4}
    assert sum(hidden["color"].values()) == 4
    assert avatar_facets(filters=AvatarFilters())["source"] == before["source"]


def test_the_library_counts_are_recounted_once_the_gallery_changed_and_they_are_old_enough(avatars, monkeypatch, django_assert_num_queries):
    avatar_facets(filters=AvatarFilters())
    with django_assert_num_queries(1):  # the live sources; the counts come from the cache
        avatar_facets(filters=AvatarFilters())
    Avatar.objects.filter(external_id="4").update(gender="male")  # no signal: the version stays, the counts too
    assert avatar_facets(filters=AvatarFilters())["gender"] == {"female": 3}

    Avatar.objects.get(external_id="5").save()  # a change the gallery sees
    monkeypatch.setattr(facets, "FACET_TTL", 0)
    assert avatar_facets(filters=AvatarFilters())["gender"] == {"female": 3, "male": 1}


def test_the_api_gives_each_filters_counts_and_refuses_unknown_values(client, avatars):
    url = reverse("api-avatar-facets")

    counts = client.get(url, {"gender": "female"})
    unknown = client.get(url, {"gender": "robot"})
    misspelt = client.get(url, {"colour": "blue"})

    assert counts.status_code == 200
    assert counts.json()["gender"] == {"female": 3}
    assert counts.json()["source"] == {"pexels": 3}
    assert counts.json()["age_group"] == {"adult": 3}
    assert (unknown.status_code, misspelt.status_code) == (400, 400)
    assert "gender" in unknown.json()["error"]["details"]
    assert "/api/v1/avatars/facets" in client.get("/api/schema/", {"format": "json"}).content.decode()
