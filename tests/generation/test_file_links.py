"""Files of generated images go to their owner only, on every storage: the API's image links are
absolute, fetchable with a plain GET while their token lasts; the owner-checked route also takes the
owner's key or session, and answers another account's key with 404 and no credential with 401."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from billing.models import ApiKey
from billing.services import api_key_create, api_key_revoke
from generation.file_links import file_path, file_token
from generation.services import generation_job_create, generation_job_run

URL = "/api/v1/generations"
JPEG = b"\xff\xd8"


@pytest.fixture
def local_files(settings, tmp_path):
    """The private storage on local files, as on the embedded default."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def _key(user) -> dict[str, str]:
    _, raw_key = api_key_create(user=user, name="script")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


def _finished_api_job(client, user) -> tuple[dict, dict[str, str]]:
    """A job created and read through the API with the user's (free plan) key, run to its end."""
    headers = _key(user)
    body = json.dumps({"prompt": "A calm man with a beard", "style": "comic"})
    created = client.post(URL, data=body, content_type="application/json", **headers)
    assert created.status_code == 202, created.content
    generation_job_run(job_id=created.json()["id"])
    job = client.get(created.json()["url"], **headers).json()
    assert job["status"] == "succeeded"
    return job, headers


def _largest(job: dict) -> dict:
    return max(job["images"][0]["variants"], key=lambda v: v["size"])


def _path_and_token(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)["token"][0]


def test_api_image_links_on_local_files_are_absolute_and_give_the_file_to_a_plain_get(client, ada, local_files):
    job, _ = _finished_api_job(client, ada)
    largest = _largest(job)

    assert largest["url"].startswith(f"http://testserver/generate/jobs/{job['id']}/images/0/{largest['size']}.jpeg?token=")
    assert job["images"][0]["preview_url"].startswith("http://testserver/generate/jobs/")
    client.logout()
    file = client.get(largest["url"])  # no session, no key: the link alone
    assert file.status_code == 200
    assert file.content.startswith(JPEG)
    assert "private" in file["Cache-Control"]


def test_api_image_links_on_r2_are_absolute_and_lead_to_a_presigned_url(client, ada):
    job, _ = _finished_api_job(client, ada)
    largest = _largest(job)

    assert largest["url"].startswith("http://testserver/generate/jobs/")
    answer = client.get(largest["url"])
    assert answer.status_code == 302
    assert "X-Amz-Signature=" in answer["Location"]
    file = requests.get(answer["Location"], timeout=10)
    assert file.status_code == 200
    assert file.content.startswith(JPEG)


def test_the_owners_pages_on_local_files_link_the_owner_checked_route_never_media(client, ada, bob, local_files):
    job = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A calm man with a beard", style="comic").id))
    client.force_login(ada)

    state = client.get(reverse("generation:job_status", args=[job.id])).json()
    history = client.get(reverse("generation:history")).content.decode()

    urls = [state["images"][0]["preview_url"], *(variant["url"] for variant in state["images"][0]["variants"])]
    assert all(url.startswith(f"/generate/jobs/{job.id}/images/0/") for url in urls)
    assert "/media/" not in json.dumps(state) + history
    assert f'src="/generate/jobs/{job.id}/images/0/' in history
    assert client.get(state["images"][0]["preview_url"]).content.startswith(JPEG)
    client.force_login(bob)
    assert client.get(state["images"][0]["preview_url"]).status_code == 404


def test_a_link_whose_token_expired_was_made_for_another_file_or_was_altered_gets_401(client, ada, local_files, time_machine, settings):
    time_machine.move_to(timezone.now(), tick=False)
    job, _ = _finished_api_job(client, ada)
    path, token = _path_and_token(_largest(job)["url"])
    other_path = file_path(job_id=job["id"], index=0, size=512, fmt="webp")
    client.logout()

    assert client.get(path, {"token": token}).status_code == 200
    another_file = client.get(other_path, {"token": token})
    altered = client.get(path, {"token": token[:-2] + ("AA" if not token.endswith("AA") else "BB")})
    time_machine.shift(timedelta(seconds=settings.PRIVATE_URL_EXPIRY_SECONDS + 1))
    expired = client.get(path, {"token": token})

    for answer in (another_file, altered, expired):
        assert answer.status_code == 401
        assert answer["WWW-Authenticate"] == "Bearer"
        assert answer.json()["error"]["code"] == "not_authenticated"
        assert "expired or is not valid" in answer.json()["error"]["message"]


def test_the_file_route_takes_the_owners_key_and_not_another_accounts_key_nor_none(client, ada, bob, local_files):
    job, ada_key = _finished_api_job(client, ada)
    path, _ = _path_and_token(_largest(job)["url"])
    bob_key = _key(bob)
    client.logout()

    with_key = client.get(path, **ada_key)
    other_key = client.get(path, **bob_key)
    no_key = client.get(path, HTTP_ACCEPT="*/*")
    bad_key = client.get(path, HTTP_AUTHORIZATION="Bearer avk_zzzzzzzz_" + "A" * 40)
    api_key_revoke(user=ada, key_id=ApiKey.objects.get(user=ada).pk)
    revoked = client.get(path, **ada_key)
    browser = client.get(path, HTTP_ACCEPT="text/html,application/xhtml+xml")
    forged = client.get(path, {"token": file_token(job_id=job["id"], index=0, size=1, fmt="jpeg")})

    assert with_key.status_code == 200
    assert with_key.content.startswith(JPEG)
    assert (other_key.status_code, other_key.json()["error"]["code"]) == (404, "not_found")
    assert (no_key.status_code, no_key["WWW-Authenticate"]) == (401, "Bearer")
    assert (bad_key.status_code, bad_key.json()["error"]["code"]) == (401, "invalid_api_key")
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (401, "invalid_api_key")
    assert browser.status_code == 302
    assert browser["Location"].startswith(reverse("accounts:login"))
    assert forged.status_code == 401  # a token is good for the file it was made for only
