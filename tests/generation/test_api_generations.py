"""The generations API: create (202, idempotent, quota 429), list with cursor and status filter, read and
cancel one's own jobs (someone else's are 404), and every error in the API's JSON shape."""

import base64
import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import Plan, Subscription
from generation.models import ApiIdempotencyKey, GenerationJob
from generation.providers.local import LocalProvider
from generation.services import generation_job_create, generation_job_run
from generation.styles import LOCAL_STYLES, style_label
from tests.billing.factories import ApiKeyFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


@pytest.fixture
def ada():
    return SubscriptionFactory(user__username="ada", plan__slug="enterprise").user


@pytest.fixture
def bob():
    return SubscriptionFactory(user__username="bob", plan__slug="enterprise").user


def _key(user) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiKeyFactory(user=user, name='test').raw}"}


@pytest.fixture
def ada_key(ada):
    return _key(ada)


@pytest.fixture
def bob_key(bob):
    return _key(bob)


@pytest.fixture
def ai_provider(settings):
    """An AI provider "set up" (scripted), so AI-style jobs take quota instead of falling back to the local generator."""
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }


def post(client, body, headers, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **headers, **extra)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)
    return error


def test_create_returns_202_with_the_job_and_enqueues_it_on_the_enterprise_lane(
    client, ada, ada_key, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr("generation.dispatch.task_send", lambda name, **kw: sent.append((name, kw)))

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, {"prompt": "A calm woman with red hair", "style": "pastel", "seed": 7, "num_images": 2}, ada_key)

    assert response.status_code == 202
    body = response.json()
    job = GenerationJob.objects.get(user=ada)
    assert body["id"] == str(job.id)
    assert response["Location"] == f"{URL}/{job.id}"
    assert (body["status"], body["prompt"], body["style"], body["seed"], body["num_images"]) == ("queued", job.prompt, "pastel", 7, 2)
    assert (body["queue"], body["finished_at"], body["error"], body["images"]) == ("enterprise", None, None, [])
    assert job.queue == "enterprise"
    assert sent == [("generation.tasks.job_run", {"args": [str(job.id)], "queue": "enterprise", "priority": job.priority})]


def test_a_finished_job_shows_its_images_with_urls_provenance_and_licence(client, ada, ada_key):
    job = generation_job_create(user_id=ada.pk, prompt="A calm man with a beard", style="comic")
    generation_job_run(job_id=str(job.id))

    body = client.get(f"{URL}/{job.id}", **ada_key).json()

    assert (body["status"], body["progress"]) == ("succeeded", 100)
    assert body["finished_at"]
    image = body["images"][0]
    assert image["variants"][0]["url"]
    assert "key" not in image["variants"][0]
    provenance = image["provenance"]
    assert (provenance["provider"], provenance["model"], provenance["model_version"]) == ("local", "avatarsite/parts-v2", "2")
    assert provenance["licence_note"]
    assert provenance["commercial_use_allowed"] is True
    assert provenance["content_rating"] == "general"
    assert isinstance(provenance["seed"], int)


def test_the_same_idempotency_key_and_body_returns_the_same_job_without_a_second(client, ada, ada_key):
    body = {"prompt": "A calm woman", "style": "pastel", "seed": 3}
    first = post(client, body, ada_key, HTTP_IDEMPOTENCY_KEY="order-42")
    replay = post(client, {"seed": 3, "style": "pastel", "prompt": "A calm woman"}, ada_key, HTTP_IDEMPOTENCY_KEY="order-42")

    assert (first.status_code, replay.status_code) == (202, 202)
    assert first.json()["id"] == replay.json()["id"]
    assert (first["Idempotent-Replayed"], replay["Idempotent-Replayed"]) == ("false", "true")
    assert GenerationJob.objects.filter(user=ada).count() == 1
    assert ApiIdempotencyKey.objects.get(user=ada, key="order-42").job_id == GenerationJob.objects.get(user=ada).id


def test_the_same_idempotency_key_with_another_body_is_a_409(client, ada, ada_key):
    post(client, {"prompt": "A calm woman", "style": "pastel"}, ada_key, HTTP_IDEMPOTENCY_KEY="order-42")
    response = post(client, {"prompt": "A loud man", "style": "pastel"}, ada_key, HTTP_IDEMPOTENCY_KEY="order-42")

    assert_error(response, 409, "idempotency_conflict")
    assert GenerationJob.objects.filter(user=ada).count() == 1


def test_idempotency_keys_are_per_account_and_limited_in_length(client, ada, ada_key, bob, bob_key):
    mine = post(client, {"prompt": "A calm woman", "style": "pastel"}, ada_key, HTTP_IDEMPOTENCY_KEY="k1")
    theirs = post(client, {"prompt": "A calm woman", "style": "pastel"}, bob_key, HTTP_IDEMPOTENCY_KEY="k1")
    assert mine.json()["id"] != theirs.json()["id"]

    for bad in ("k" * 256, "a\x00b", "ключ"):
        error = assert_error(post(client, {"prompt": "x"}, ada_key, HTTP_IDEMPOTENCY_KEY=bad), 400, "invalid")
        assert "Idempotency-Key" in error["details"]


def test_another_users_job_is_404_and_cannot_be_canceled(client, ada, bob_key):
    job = generation_job_create(user_id=ada.pk, prompt="A calm woman", style="pastel")

    assert_error(client.get(f"{URL}/{job.id}", **bob_key), 404, "not_found")
    assert_error(client.post(f"{URL}/{job.id}/cancel", **bob_key), 404, "not_found")
    assert client.get(URL, **bob_key).json()["results"] == []
    job.refresh_from_db()
    assert job.status == "queued"


@pytest.mark.parametrize("job_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00", "1" * 300])
def test_unknown_and_malformed_job_ids_are_404(client, ada_key, job_id):
    assert_error(client.get(f"{URL}/{job_id}", **ada_key), 404, "not_found")
    assert_error(client.post(f"{URL}/{job_id}/cancel", **ada_key), 404, "not_found")


def test_without_a_key_every_endpoint_is_401(client, ada):
    job = generation_job_create(user_id=ada.pk, prompt="A calm woman", style="pastel")
    for response in (
        post(client, {"prompt": "A calm woman"}, {}),
        client.get(URL),
        client.get(f"{URL}/{job.id}"),
        client.post(f"{URL}/{job.id}/cancel"),
    ):
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Bearer"
    assert GenerationJob.objects.count() == 1


def test_a_key_whose_plan_lost_the_api_gets_403(client, ada, ada_key):
    Subscription.objects.filter(user=ada).delete()
    Plan.objects.filter(slug="free").update(api_access=False)  # the plan it falls back to has no API either

    assert_error(post(client, {"prompt": "A calm woman", "style": "pastel"}, ada_key), 403, "api_access_unavailable")
    assert not GenerationJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"prompt"}),
        ({"prompt": ""}, {"prompt"}),
        ({"prompt": "x" * 501}, {"prompt"}),
        ({"prompt": "a\x00b"}, {"prompt"}),
        ({"prompt": "ok", "style": "oil"}, {"style"}),
        ({"prompt": "ok", "size": 10, "num_images": 0, "seed": -1}, {"size", "num_images", "seed"}),
        ({"prompt": "ok", "seed": "seven", "num_images": True}, {"seed", "num_images"}),
        ({"prompt": "ok", "num_images": 5, "style": "pastel"}, {"num_images"}),  # the plan allows 4
        ({"prompt": "ok", "colour": "red"}, {"colour"}),
        ({"prompt": ["a", "b"]}, {"prompt"}),
        ([1, 2], {"non_field_errors"}),
    ],
)
def test_invalid_bodies_get_400_with_per_field_details(client, ada_key, body, fields):
    error = assert_error(post(client, body, ada_key), 400, "invalid")
    assert set(error["details"]) == fields
    assert not GenerationJob.objects.exists()


def test_a_style_this_site_cannot_make_is_a_400_that_says_why_and_names_the_styles_it_can(client, ada_key):
    """No AI service here: "photo" is refused, never drawn by the local generator under that name."""
    error = assert_error(post(client, {"prompt": "A calm woman", "style": "photo"}, ada_key), 400, "style_unavailable")

    assert error["message"].startswith("AI photos need an AI service; this site has none set up.")
    assert error["details"]["style"] == [error["message"]]
    assert error["details"]["available_styles"] == list(LOCAL_STYLES)
    assert not GenerationJob.objects.exists()


def test_a_request_naming_no_style_gets_one_this_site_can_make_and_the_job_says_which_and_what_made_it(client, ada, ada_key, settings):
    drawn = post(client, {"prompt": "A calm woman"}, ada_key).json()
    assert (drawn["style"], drawn["style_label"], drawn["quota_units"]) == (LOCAL_STYLES[0], style_label(LOCAL_STYLES[0]), 0)
    assert (drawn["provider"], drawn["model"]) == (None, None)  # nothing made yet
    generation_job_run(job_id=drawn["id"])
    done = client.get(f"{URL}/{drawn['id']}", **ada_key).json()
    assert (done["status"], done["provider"], done["model"]) == ("succeeded", "local", LocalProvider.model)

    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    photo = post(client, {"prompt": "A calm man"}, ada_key).json()
    assert (photo["style"], photo["style_label"], photo["quota_units"]) == ("photo", "AI photo", 1)


def test_a_refused_prompt_is_a_400_that_names_the_refusal(client, ada_key):
    error = assert_error(post(client, {"prompt": "a naked person", "style": "pastel"}, ada_key), 400, "prompt_refused")
    assert set(error["details"]) == {"prompt"}


@pytest.mark.parametrize("body", ["{not json", '{"prompt": NaN}', "", "1" * 5000])
def test_malformed_json_is_a_400(client, ada_key, body):
    response = post(client, body, ada_key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"parse_error", "invalid"}


def test_a_body_that_is_not_json_is_refused_in_the_error_shape(client, ada_key):
    response = client.post(URL, data="prompt=hello", content_type="application/x-www-form-urlencoded", **ada_key)
    assert_error(response, 415, "unsupported_media_type")


def test_an_oversized_body_is_a_413(client, ada_key):
    response = post(client, {"prompt": "x" * 20_000}, ada_key)
    assert_error(response, 413, "request_too_large")
    assert not GenerationJob.objects.exists()


def test_the_list_is_newest_first_paginated_by_cursor_and_filtered_by_status(client, ada, ada_key):
    jobs = [generation_job_create(user_id=ada.pk, prompt=f"portrait {n}", style="pastel") for n in range(5)]
    GenerationJob.objects.filter(pk=jobs[0].pk).update(status="canceled")

    first = client.get(URL, {"limit": 2}, **ada_key).json()
    assert [j["id"] for j in first["results"]] == [str(jobs[4].id), str(jobs[3].id)]
    second = client.get(first["next"], **ada_key).json()
    assert [j["id"] for j in second["results"]] == [str(jobs[2].id), str(jobs[1].id)]
    third = client.get(second["next"], **ada_key).json()
    assert ([j["id"] for j in third["results"]], third["next"]) == ([str(jobs[0].id)], None)

    canceled = client.get(URL, {"status": "canceled"}, **ada_key).json()
    assert [j["id"] for j in canceled["results"]] == [str(jobs[0].id)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "done"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "zzz"}, "cursor"),
        ({"cursor": base64.b64encode(b"p=not-a-time").decode()}, "cursor"),
        ({"cursor": base64.b64encode(b"o=-5&p=2026-01-01").decode()}, "cursor"),
        ({"page": 2}, "page"),
    ],
)
def test_bad_list_parameters_are_400(client, ada_key, query, field):
    error = assert_error(client.get(URL, query, **ada_key), 400, "invalid")
    assert set(error["details"]) == {field}


@pytest.mark.parametrize(
    "raw", [b"p=2026-01-01T00:00:00\x00", b"o=99999999999999999999&p=2026-01-01", b"r=1&p=\xff\xfe", b"p=" + b"9" * 5000, b"\x00"]
)
def test_forged_cursors_never_reach_the_database_as_errors(client, ada_key, raw):
    response = client.get(URL, {"cursor": base64.b64encode(raw).decode()}, **ada_key)
    assert response.status_code in {200, 400}
    assert response["Content-Type"] == "application/json"


def test_cancel_stops_a_queued_job_and_refunds_its_quota(client, ada, ada_key, ai_provider):
    job = GenerationJob.objects.get(pk=post(client, {"prompt": "A calm woman"}, ada_key).json()["id"])
    assert job.quota_units == 1

    response = client.post(f"{URL}/{job.id}/cancel", **ada_key)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["quota_units"]) == ("canceled", 0)
    job.refresh_from_db()
    assert (job.status, job.quota_refunded) == ("canceled", True)


def test_canceling_a_finished_job_is_a_409(client, ada, ada_key):
    job = generation_job_create(user_id=ada.pk, prompt="A calm man", style="comic")
    generation_job_run(job_id=str(job.id))

    error = assert_error(client.post(f"{URL}/{job.id}/cancel", **ada_key), 409, "not_cancelable")
    assert error["details"] == {"status": "succeeded"}


def test_a_spent_quota_is_a_429_with_retry_after(client, ada, ada_key, ai_provider):
    Plan.objects.filter(slug="enterprise").update(hourly_quota=1)  # the key's credential reads the plan per request
    assert post(client, {"prompt": "A calm woman"}, ada_key).status_code == 202

    response = post(client, {"prompt": "A loud man"}, ada_key, HTTP_IDEMPOTENCY_KEY="retry-me")

    error = assert_error(response, 429, "quota_exceeded")
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert error["details"]["retry_after"] == int(response["Retry-After"])
    assert error["details"]["windows"][0]["window"] == "hour"
    assert GenerationJob.objects.filter(user=ada).count() == 1
    assert not ApiIdempotencyKey.objects.exists()  # a failed request may be retried with the same key


def test_wrong_methods_get_405_in_the_error_shape(client, ada_key):
    assert_error(client.delete(URL, **ada_key), 405, "method_not_allowed")
    assert_error(client.get(f"{URL}/00000000-0000-0000-0000-000000000000/cancel", **ada_key), 405, "method_not_allowed")


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_idempotency_key_create_one_job(ada, ada_key, monkeypatch):
    """Eight clients retrying at once with the same key: one job, and every answer names it."""
    monkeypatch.setattr("generation.dispatch.job_run_enqueue", lambda job: None)  # the broker is not under test
    ids, statuses, barrier = [], [], threading.Barrier(8)

    def request() -> None:
        barrier.wait()
        try:
            response = post(Client(), {"prompt": "A calm woman", "style": "pastel"}, ada_key, HTTP_IDEMPOTENCY_KEY="same")
            statuses.append(response.status_code)
            ids.append(response.json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [202] * 8
    assert len(set(ids)) == 1
    assert GenerationJob.objects.filter(user=ada).count() == 1


def test_the_list_takes_the_same_queries_for_one_finished_job_as_for_many(client, ada, ada_key):
    def finished(n: int) -> None:
        job = generation_job_create(user_id=ada.pk, prompt=f"A calm man {n}", style="comic")
        generation_job_run(job_id=str(job.id))

    finished(0)
    client.get(URL, **ada_key)  # the key's last use is written once, outside what is counted
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(URL, **ada_key).json()["results"]) == 1
    finished(1)
    finished(2)
    with CaptureQueriesContext(connection) as three:
        assert len(client.get(URL, **ada_key).json()["results"]) == 3
    assert len(three) == len(one)


def test_usage_reports_the_plan_its_quota_windows_and_this_months_use_and_spend(client, ada, ada_key, bob, ai_provider, time_machine):
    from billing.models import Invoice

    Plan.objects.filter(slug="enterprise").update(daily_quota=50, hourly_quota=None)
    time_machine.move_to("2026-10-31 23:30:00+00:00", tick=False)
    generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="Last month's calm man").id))
    time_machine.move_to("2026-11-24 12:00:00+00:00", tick=False)
    delivered = generation_job_create(user_id=ada.pk, prompt="A smiling woman", num_images=2)
    generation_job_run(job_id=str(delivered.id))
    canceled = generation_job_create(user_id=ada.pk, prompt="A serious man")
    client.post(f"{URL}/{canceled.id}/cancel", **ada_key)  # quota given back
    generation_job_create(user_id=bob.pk, prompt="Someone else's")
    for number, (user, created, amount) in enumerate([(ada, "2026-11-02", 9900), (ada, "2026-10-02", 9900), (bob, "2026-11-03", 500)]):
        Invoice.objects.create(stripe_invoice_id=f"in_{number}", user=user, status="paid", amount_paid=amount, amount_due=amount,
                               created=f"{created}T00:00:00+00:00")  # fmt: skip

    response = client.get("/api/v1/usage", **ada_key)

    assert response.status_code == 200
    body = response.json()
    assert body["plan"]["slug"] == "enterprise"
    assert body["plan"]["api_rate_per_minute"] == Plan.objects.get(slug="enterprise").api_rate_per_minute
    assert body["quotas"] == [{"window": "day", "limit": 50, "used": 2, "left": 48, "resets_at": "2026-11-25T00:00:00+00:00"}]
    assert body["period"] == {"start": "2026-11-01T00:00:00+00:00", "end": "2026-12-01T00:00:00+00:00"}
    assert body["usage"] == {"jobs": 2, "images": 2, "quota_units": 2}
    assert body["spend"] == [{"currency": "usd", "amount_paid": 9900}]
    assert response["X-RateLimit-Limit"] == str(body["plan"]["api_rate_per_minute"])


def test_usage_needs_a_key_and_takes_no_parameters(client, ada_key):
    assert_error(client.get("/api/v1/usage"), 401, "not_authenticated")
    assert_error(client.get("/api/v1/usage", {"month": "2026-10"}, **ada_key), 400, "invalid")


@pytest.mark.django_db(transaction=True)
def test_a_quota_is_never_exceeded_by_50_concurrent_api_requests(ada, monkeypatch, settings):
    """A quota of N is never exceeded under concurrency: for quotas N drawn by Hypothesis, 50 requests at once
    through two keys of one account accept exactly N jobs (N units), and refuse the rest with 429."""
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from hypothesis import strategies as st

    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    monkeypatch.setattr("generation.dispatch.job_run_enqueue", lambda job: None)  # the broker is not under test
    settings.PUBLIC_API_RATE_PER_MINUTE = 10_000
    keys = [_key(ada), _key(ada)]

    @hypothesis_settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(quota=st.integers(min_value=1, max_value=49))
    def run(quota: int) -> None:
        GenerationJob.objects.filter(user=ada).delete()
        Plan.objects.filter(slug="enterprise").update(hourly_quota=quota, daily_quota=None)
        statuses, barrier = [], threading.Barrier(50)

        def request(n: int) -> None:
            barrier.wait()
            try:
                statuses.append(post(Client(), {"prompt": f"A calm woman number {n}"}, keys[n % 2]).status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=request, args=(n,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(statuses) == [202] * quota + [429] * (50 - quota)
        jobs = GenerationJob.objects.filter(user=ada)
        assert jobs.count() == quota
        assert sum(jobs.values_list("quota_units", flat=True)) == quota

    run()


def test_commercial_use_is_what_the_settings_say_of_the_images_model(client, ada, ada_key, settings):
    from generation.models import GeneratedImage

    job = generation_job_create(user_id=ada.pk, prompt="A calm man", style="comic")
    generation_job_run(job_id=str(job.id))
    image = GeneratedImage.objects.get(job=job)
    provenance = client.get(f"{URL}/{job.id}", **ada_key).json()["images"][0]["provenance"]
    assert provenance["commercial_use_allowed"] is True  # local: own terms
    assert (provenance["attribution_required"], provenance["attribution"], provenance["content_rating"]) == (False, "", "general")
    assert (provenance["provider"], provenance["model"]) == (image.provider, image.model)

    GeneratedImage.objects.filter(pk=image.pk).update(provider="fal", model="fal-ai/flux/schnell")
    assert client.get(f"{URL}/{job.id}", **ada_key).json()["images"][0]["provenance"]["commercial_use_allowed"] is True

    fal = settings.GENERATION_PROVIDERS["fal"]
    schnell = {**fal["OPTIONS"]["models"]["fal-ai/flux/schnell"], "commercial_use": False}
    models = {**fal["OPTIONS"]["models"], "fal-ai/flux/schnell": schnell}
    settings.GENERATION_PROVIDERS = {**settings.GENERATION_PROVIDERS, "fal": {**fal, "OPTIONS": {**fal["OPTIONS"], "models": models}}}
    assert client.get(f"{URL}/{job.id}", **ada_key).json()["images"][0]["provenance"]["commercial_use_allowed"] is False

    GeneratedImage.objects.filter(pk=image.pk).update(model="a-model-no-longer-configured")
    assert client.get(f"{URL}/{job.id}", **ada_key).json()["images"][0]["provenance"]["commercial_use_allowed"] is False


def test_idempotency_keys_are_forgotten_after_a_day_and_their_jobs_kept(client, ada, ada_key, time_machine):
    from generation.idempotency import idempotency_keys_prune

    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    old = post(client, {"prompt": "A calm woman", "style": "pastel"}, ada_key, HTTP_IDEMPOTENCY_KEY="yesterday").json()
    time_machine.move_to("2026-11-24 08:00:00+00:00", tick=False)
    post(client, {"prompt": "A calm man", "style": "pastel"}, ada_key, HTTP_IDEMPOTENCY_KEY="today")

    time_machine.move_to("2026-11-24 09:30:00+00:00", tick=False)
    assert idempotency_keys_prune() == 1
    assert list(ApiIdempotencyKey.objects.values_list("key", flat=True)) == ["today"]
    assert GenerationJob.objects.filter(pk=old["id"]).exists()
    again = post(client, {"prompt": "A calm woman", "style": "pastel"}, ada_key, HTTP_IDEMPOTENCY_KEY="yesterday")
    assert again.json()["id"] != old["id"]  # a day later the key is free again
