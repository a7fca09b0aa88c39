"""The generation pipeline on PostgreSQL and the S3 server: quotas, the chain, storage, reuse, cancel."""

import threading
import time
from collections import deque

import pytest
from django.core.files.storage import storages
from django.db import connection

from avatarsite.accounts.services import user_create
from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.quotas import QuotaExceededError
from generation.services import GenerationError, PromptRefusedError, generation_job_cancel, generation_job_create, generation_job_run
from tests.generation import scripted

PROMPT = "A smiling woman with curly red hair and round glasses"


@pytest.fixture
def providers(settings):
    """fal and Replicate stood in by scripted adapters; the free plan's chain is fal then replicate."""
    scripted.SCRIPTS.clear()
    scripted.CALLS.clear()
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
        "replicate": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "replicate"}},
    }
    settings.GENERATION_PROVIDER_BACKOFF_SECONDS = 0.01
    return scripted.SCRIPTS


def script(name: str, *answers: str) -> None:
    scripted.SCRIPTS[name] = deque(answers)


@pytest.fixture
def user(db):
    return user_create(username="ada", email="ada@example.com", password="a-long-password-1")


def test_a_job_runs_once_stores_private_variants_and_a_rerun_changes_nothing(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=7)
    assert (job.status, job.queue, job.quota_units) == ("queued", "standard", 1)
    assert job.provider_chain == ["fal:fal-ai/flux/schnell", "replicate:black-forest-labs/flux-schnell"]

    done = generation_job_run(job_id=str(job.id))
    again = generation_job_run(job_id=str(job.id))  # a redelivered task

    assert done.status == again.status == "succeeded"
    assert scripted.CALLS == ["fal"]
    assert CostEntry.objects.filter(job=job).count() == 1
    image = GeneratedImage.objects.get(job=job)
    assert (image.provider, image.seed, image.prompt) == ("fal", 7, PROMPT)
    sizes = sorted({v["size"] for v in image.variants})
    assert sizes == [64, 128, 256, 512, 1024]
    storage = storages["default"]
    assert all(storage.exists(v["key"]) for v in image.variants)
    assert "X-Amz-Signature" in storage.url(image.variants[0]["key"])  # private: signed URLs only


def test_transient_failures_are_retried_then_the_next_provider_serves(providers, user):
    script("fal", "transient", "transient", "transient")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert scripted.CALLS == ["fal", "fal", "fal", "replicate"]
    outcomes = list(CostEntry.objects.filter(job=job).values_list("provider", "outcome"))
    assert outcomes == [("fal", "failed"), ("replicate", "succeeded")]


def test_job_run_refunds_quota_when_all_providers_fail(providers, user):
    script("fal", "permanent")
    script("replicate", "permanent")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind) == ("failed", "permanent")
    assert "quota was not used" in done.message
    assert GenerationJob.objects.get(pk=job.pk).quota_refunded
    assert CostEntry.objects.filter(job=job, outcome="failed").count() == 2


def test_a_refused_image_fails_with_the_reason_and_is_not_charged(providers, user):
    script("fal", "refused")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind) == ("failed", "refused")
    assert "unsafe content" in done.message
    assert GenerationJob.objects.get(pk=job.pk).quota_refunded
    assert scripted.CALLS == ["fal"]  # a refusal is not shopped around to the next provider


def test_the_sixth_free_generation_of_the_day_is_refused_with_the_reset_time(providers, user):
    for n in range(5):
        generation_job_create(user_id=user.pk, prompt=f"{PROMPT} {n}")
    with pytest.raises(QuotaExceededError) as refused:
        generation_job_create(user_id=user.pk, prompt=f"{PROMPT} 6")
    assert refused.value.resets_at.hour == 0

    generation_job_cancel(job=GenerationJob.objects.filter(user=user).first())  # gives one back
    generation_job_create(user_id=user.pk, prompt=f"{PROMPT} 7")


def test_instant_styles_are_free_and_drawn_locally(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, style="neon")
    assert (job.quota_units, job.provider_chain) == (0, ["local:avatarsite/procedural-v1"])
    assert generation_job_run(job_id=str(job.id)).status == "succeeded"
    assert scripted.CALLS == []


def test_an_identical_request_is_answered_from_the_stored_result_at_no_cost(providers, user):
    first = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=42)
    generation_job_run(job_id=str(first.id))
    again = generation_job_create(user_id=user.pk, prompt="  a smiling WOMAN with curly red hair   and round glasses ", seed=42)

    assert (again.status, again.quota_units, again.reused_from_id) == ("succeeded", 0, first.pk)
    assert [i.variants for i in again.images.all()] == [i.variants for i in first.images.all()]
    assert scripted.CALLS == ["fal"]
    assert CostEntry.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"prompt": "   "}, GenerationError, "prompt"),
        ({"prompt": "a nude portrait"}, PromptRefusedError, "prompt"),
        ({"prompt": PROMPT, "style": "oil"}, GenerationError, "style"),
        ({"prompt": PROMPT, "size": 4096}, GenerationError, "size"),
        ({"prompt": PROMPT, "num_images": 3}, GenerationError, "num_images"),
        ({"prompt": PROMPT, "seed": -1}, GenerationError, "seed"),
    ],
)
def test_bad_requests_are_refused_before_any_spend(providers, user, kwargs, error, field):
    with pytest.raises(error) as refused:
        generation_job_create(user_id=user.pk, **kwargs)
    assert refused.value.field == field
    assert GenerationJob.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_at_the_quota_edge_let_exactly_five_through(providers, monkeypatch):
    """Eight requests at once for five places. Counting is slowed down so that every request
    counts before any inserts: only the per-user lock keeps the sixth out."""
    from generation import quotas

    count = quotas._used_since

    def slow_count(user_id, since):
        used = count(user_id, since)
        time.sleep(0.2)
        return used

    monkeypatch.setattr(quotas, "_used_since", slow_count)
    enqueued = []
    monkeypatch.setattr("generation.services._enqueue", lambda job: enqueued.append(job.pk))  # the broker is not under test
    owner = user_create(username="racer", email="racer@example.com", password="a-long-password-1")
    accepted, refused, barrier = [], [], threading.Barrier(8)

    def request(n: int) -> None:
        barrier.wait()
        try:
            accepted.append(generation_job_create(user_id=owner.pk, prompt=f"{PROMPT} {n}").pk)
        except QuotaExceededError:
            refused.append(n)
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(accepted), len(refused)) == (5, 3)
    assert GenerationJob.objects.filter(user=owner).count() == 5
    assert sorted(enqueued) == sorted(accepted)  # each accepted job enqueued once, after commit
