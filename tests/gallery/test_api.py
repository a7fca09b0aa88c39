"""The public read API: filters, cursor pagination, provenance, errors and the per-IP throttle."""

import pytest
from django.core.cache import cache

from gallery.models import Avatar

pytestmark = pytest.mark.django_db

LIST = "/api/v1/avatars"


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


def test_list_returns_avatars_with_every_variant_url_and_their_provenance(client, avatars):
    response = client.get(LIST, {"gender": "female", "limit": 2})

    body = response.json()
    assert response.status_code == 200
    assert len(body["results"]) == 2
    first = body["results"][0]
    assert first["attributes"]["gender"] == "female"
    assert {(v["size"], v["format"]) for v in first["variants"]} >= {(64, "webp"), (512, "jpeg")}
    assert all(v["url"].startswith("http://127.0.0.1:") and "?" not in v["url"] for v in first["variants"])
    provenance = first["provenance"]
    assert provenance["source"] == "pexels"
    assert provenance["attribution"].startswith("Photo by Photographer ")
    assert provenance["commercial_use_allowed"] is True
    assert provenance["licence"] == "Pexels License"
    assert body["next"].startswith("http://testserver/api/v1/avatars?")


def test_following_next_walks_every_avatar_once(client, avatars):
    seen, url = [], f"{LIST}?limit=3&sort=popular"
    while url:
        body = client.get(url).json()
        seen += [a["id"] for a in body["results"]]
        url = body["next"]

    assert sorted(seen) == sorted(a.pk for a in avatars)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"gender": "robot"}, "gender"),
        ({"limit": "1000"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
        ({"colour": "red"}, "colour"),
        ({"source": "unsplash"}, "source"),
    ],
)
def test_bad_parameters_get_400_with_the_field_named(client, avatars, params, field):
    response = client.get(LIST, params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["details"]


def test_detail_and_unknown_ids(client, avatars):
    found = client.get(f"{LIST}/{avatars[0].pk}")
    missing = client.get(f"{LIST}/999999")

    assert found.status_code == 200
    assert found.json()["id"] == avatars[0].pk
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Not found.", "details": {}}}


def test_the_public_api_is_throttled_per_ip_with_retry_after(client, avatars, settings):
    settings.PUBLIC_API_RATE_PER_MINUTE = 3

    statuses = [client.get(LIST, REMOTE_ADDR="203.0.113.7").status_code for _ in range(4)]
    other_ip = client.get(LIST, REMOTE_ADDR="203.0.113.8")
    throttled = client.get(LIST, REMOTE_ADDR="203.0.113.7")

    assert statuses == [200, 200, 200, 429]
    assert other_ip.status_code == 200
    assert throttled.json()["error"]["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60


def test_every_answer_says_the_limit_what_is_left_and_when_it_resets(client, avatars, settings, time_machine):
    settings.PUBLIC_API_RATE_PER_MINUTE = 2
    time_machine.move_to("2026-11-24 12:00:30+00:00", tick=False)
    window_end = 1795521660  # 12:01:00 UTC

    answers = [client.get(LIST, REMOTE_ADDR="203.0.113.9") for _ in range(3)]
    not_found = client.get(f"{LIST}/999999", REMOTE_ADDR="203.0.113.10")

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [(a["X-RateLimit-Limit"], a["X-RateLimit-Remaining"]) for a in answers] == [("2", "1"), ("2", "0"), ("2", "0")]
    assert {int(a["X-RateLimit-Reset"]) for a in answers} == {window_end}
    assert answers[2]["Retry-After"] == "30"
    assert (not_found.status_code, not_found["X-RateLimit-Remaining"]) == (404, "1")  # errors count and say so too

    time_machine.move_to("2026-11-24 12:01:00+00:00", tick=False)
    fresh = client.get(LIST, REMOTE_ADDR="203.0.113.9")
    assert (fresh.status_code, fresh["X-RateLimit-Remaining"], fresh["X-RateLimit-Reset"]) == (200, "1", str(window_end + 60))


def test_a_forged_x_forwarded_for_does_not_dodge_the_throttle(client, avatars, settings):
    settings.PUBLIC_API_RATE_PER_MINUTE = 2

    statuses = [client.get(LIST, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(3)]

    assert statuses == [200, 200, 429]


def test_a_repeated_list_gets_304_and_a_change_gives_a_new_body(client, avatars):
    first = client.get(LIST, {"limit": 5})
    etag = first["ETag"]
    unchanged = client.get(LIST, {"limit": 5}, HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    newest = Avatar.objects.get(pk=first.json()["results"][0]["id"])
    newest.title = "Renamed by an operator"
    newest.save()
    changed = client.get(LIST, {"limit": 5}, HTTP_IF_NONE_MATCH=etag)

    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["results"][0]["title"] == "Renamed by an operator"
