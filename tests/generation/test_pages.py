"""The generate page, a job's page, its polling endpoint (owner only) and cancel."""

import pytest
from django.urls import reverse

from avatarsite.accounts.services import user_create
from generation.models import GenerationJob
from generation.services import generation_job_create, generation_job_run


@pytest.fixture
def ada(db):
    return user_create(username="ada", email="ada@example.com", password="a-long-password-1")


@pytest.fixture
def bob(db):
    return user_create(username="bob", email="bob@example.com", password="a-long-password-1")


def test_submitting_the_form_creates_a_job_and_opens_its_live_page(client, ada):
    client.force_login(ada)
    response = client.post(reverse("generation:index"), {"prompt": "A calm man with a beard", "style": "pastel"})

    job = GenerationJob.objects.get(user=ada)
    assert response.status_code == 302
    assert response["Location"] == reverse("generation:job", args=[job.id])
    page = client.get(response["Location"]).content.decode()
    assert 'role="progressbar"' in page
    assert f"/ws/jobs/{job.id}/" in page


def test_the_status_endpoint_gives_the_state_with_image_urls_to_the_owner_only(client, ada, bob):
    job = generation_job_create(user_id=ada.pk, prompt="A calm man with a beard", style="mono")
    generation_job_run(job_id=str(job.id))

    client.force_login(ada)
    state = client.get(reverse("generation:job_status", args=[job.id])).json()
    assert (state["status"], state["progress"]) == ("succeeded", 100)
    assert state["images"][0]["variants"]
    assert state["images"][0]["provenance"]["provider"] == "local"

    client.force_login(bob)
    assert client.get(reverse("generation:job_status", args=[job.id])).status_code == 404
    assert client.get(reverse("generation:job", args=[job.id])).status_code == 404
    assert client.post(reverse("generation:job_cancel", args=[job.id])).status_code == 404


def test_form_errors_and_a_spent_quota_are_explained(client, ada, settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    client.force_login(ada)
    refused = client.post(reverse("generation:index"), {"prompt": "a naked person", "style": "photo"})
    assert "content we do not generate" in refused.content.decode()

    for n in range(5):
        generation_job_create(user_id=ada.pk, prompt=f"portrait {n}")
    spent = client.post(reverse("generation:index"), {"prompt": "one more portrait", "style": "photo"})
    assert spent.status_code == 429
    assert "resets at 00:00 UTC" in spent.content.decode()
    assert "Upgrade" in spent.content.decode()


def test_cancel_stops_a_queued_job_and_returns_its_quota(client, ada, settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    job = generation_job_create(user_id=ada.pk, prompt="portrait")
    client.force_login(ada)
    client.post(reverse("generation:job_cancel", args=[job.id]))

    job.refresh_from_db()
    assert (job.status, job.quota_refunded) == ("canceled", True)
    assert generation_job_run(job_id=str(job.id)).status == "canceled"  # a late task does nothing
