"""The pipeline with the real fal and Replicate adapters against their fakes, in-process.

`generation_job_run` is called directly; settings.GENERATION_PROVIDERS points the real adapters at
the fakes (the registry rebuilds adapters when that setting changes). Storage is the S3 server,
the broker the real Redis of the test run.
"""

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import redis
import requests
from botocore.exceptions import ClientError
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django.db import transaction

from avatarsite.accounts.services import user_create
from generation.lease import RunInterruptedError
from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.services import generation_job_cancel, generation_job_create, generation_job_images_finish, generation_job_run
from tests.conftest import PRIVATE_BUCKET, PUBLIC_BUCKET, S3_KEY_ID, S3_SECRET
from tests.fakes.replicate import MODELS as REPLICATE_MODELS
from tests.generation.conftest import job_run_aside
from tests.support.tcp_proxy import TcpProxy

PROMPT = "A smiling woman with curly red hair and round glasses"
PASSWORD = "a-long-password-1"
FAL_SCHNELL = "fal-ai/flux/schnell"
REPLICATE_DEV = "black-forest-labs/flux-dev"


@dataclass
class SleepRecorder:
    """Stands in for the provider call's clock seam (`retry_sleep`): records the pipeline's waits
    between attempts instead of sleeping; every other reading of time is the real one."""

    sleeps: list = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def waits(monkeypatch) -> SleepRecorder:
    recorder = SleepRecorder()
    monkeypatch.setattr("generation.services.calls.retry_sleep", recorder.sleep)
    return recorder


@pytest.fixture
def user(db):
    return user_create(username="ada", email="ada@example.com", password=PASSWORD)


def _premium(user) -> None:
    from billing.models import Plan, Subscription

    Subscription.objects.create(user=user, plan=Plan.objects.get(slug="premium"))


def _ledger(job: GenerationJob) -> list[tuple[str, str, str]]:
    return list(CostEntry.objects.filter(job=job).order_by("created_at", "id").values_list("provider", "outcome", "error_kind"))


def _s3():
    return boto3.client(
        "s3",
        endpoint_url=django_settings.R2_ENDPOINT_URL,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )


def _bucket_keys(client, bucket: str) -> list[str]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def _variant_keys(job: GenerationJob) -> set[str]:
    return {variant["key"] for image in GeneratedImage.objects.filter(job=job) for variant in image.variants}


# --- transient errors: retried with backoff and jitter, then fallback; permanent ones: fallback at once ---
def test_transient_fal_errors_are_retried_with_exponential_jittered_backoff_then_replicate_serves_once(fakes, waits, user, settings):
    """Transient errors are retried with backoff: submit answered 503 on every attempt; each wait is within
    [0.5, 1.5] x backoff x 2^(n-1)."""
    settings.GENERATION_PROVIDER_ATTEMPTS = 4
    settings.GENERATION_PROVIDER_BACKOFF_SECONDS = 0.4
    fakes.fal.submit_faults.extend([503] * 4)
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert fakes.fal_submits() == 4
    assert fakes.fal.submissions == 0  # nothing was created at fal, so nothing there to pay for
    assert fakes.replicate.submissions == 1  # the fallback, exactly once
    assert len(waits.sleeps) == 3  # between attempts, not after the last
    for n, wait in enumerate(waits.sleeps, start=1):
        base = 0.4 * 2 ** (n - 1)
        assert 0.5 * base <= wait <= 1.5 * base, (n, wait)
    assert len(set(waits.sleeps)) == 3
    assert _ledger(job) == [("fal", "failed", "transient")] * 4 + [("replicate", "succeeded", "")]
    assert GeneratedImage.objects.get(job=job).provider == "replicate"


def test_a_429_with_retry_after_is_waited_out_at_least_as_long_as_the_server_asks(fakes, waits, user, settings):
    """A 429's Retry-After outweighs the backoff: the fake's 429 carries Retry-After: 1, far above the computed backoff."""
    settings.GENERATION_PROVIDER_ATTEMPTS = 3
    settings.GENERATION_PROVIDER_BACKOFF_SECONDS = 0.05
    fakes.fal.submit_faults.extend([429, 503])
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert fakes.fal_submits() == 3
    assert fakes.fal.submissions == 1  # the third attempt went through at fal
    assert fakes.replicate.submissions == 0
    first, second = waits.sleeps
    assert first >= 1.0  # Retry-After honoured
    assert 0.5 * 0.1 <= second <= 1.5 * 0.1  # 503: backoff x 2^1 with jitter
    assert _ledger(job) == [("fal", "failed", "transient"), ("fal", "failed", "transient"), ("fal", "succeeded", "")]
    assert GeneratedImage.objects.get(job=job).provider == "fal"


def test_a_permanent_422_is_not_retried_and_falls_back_to_replicate_exactly_once(fakes, waits, user):
    """A permanent error is not retried: a 422 from fal is permanent: no wait, no second fal call, one Replicate call."""
    fakes.fal.submit_faults.append(422)
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert fakes.fal_submits() == 1
    assert fakes.replicate.submissions == 1
    assert waits.sleeps == []
    assert _ledger(job) == [("fal", "failed", "permanent"), ("replicate", "succeeded", "")]


def test_when_both_providers_fail_the_job_fails_with_one_ledger_line_per_call_and_the_quota_back(fakes, waits, user, settings):
    """Retries are bounded: transient everywhere: every attempt of each provider, then the job fails and refunds."""
    settings.GENERATION_PROVIDER_ATTEMPTS = 2
    fakes.fal.submit_faults.extend([503, 503])
    fakes.replicate.create_faults.extend([503, 503])
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind) == ("failed", "transient")
    assert GenerationJob.objects.get(pk=job.pk).quota_refunded
    assert fakes.fal_submits() == 2
    assert fakes.replicate.submissions == 2
    assert [(provider, outcome) for provider, outcome, _ in _ledger(job)] == [("fal", "failed")] * 2 + [("replicate", "failed")] * 2
    assert len(waits.sleeps) == 2  # one between the two attempts of each provider


def test_what_fal_bills_without_a_usable_image_is_in_the_ledger_at_its_cost_and_not_on_the_users_quota(fakes, waits, user):
    """fal bills every image it made: one its checker flagged, and one whose download we refused."""
    fakes.fal.next_outcomes.extend(["nsfw", "redirect_private"])
    refused = generation_job_create(user_id=user.pk, prompt=PROMPT)
    fetched_elsewhere = generation_job_create(user_id=user.pk, prompt=PROMPT + " and a hat")

    assert generation_job_run(job_id=str(refused.id)).error_kind == "refused"
    assert generation_job_run(job_id=str(fetched_elsewhere.id)).status == "succeeded"  # by Replicate

    def calls(job):
        return list(CostEntry.objects.filter(job=job).order_by("created_at").values_list("provider", "outcome", "cost_usd", "megapixels"))

    one_image = (Decimal("0.003000"), Decimal("1.049"))  # 1024 x 1024, billed as one megapixel at $0.003
    assert calls(refused) == [("fal", "refused", *one_image)]
    assert calls(fetched_elsewhere) == [("fal", "failed", *one_image), ("replicate", "succeeded", *one_image)]
    assert GenerationJob.objects.get(pk=refused.pk).quota_refunded


# --- the plan picks the chain; provenance; private, content-addressed storage -----------------------------
@pytest.mark.parametrize(
    ("plan", "provider", "model", "queue"),
    [("free", "fal", FAL_SCHNELL, "standard"), ("premium", "replicate", REPLICATE_DEV, "premium")],
)
def test_the_plan_decides_the_chain_and_the_stored_image_carries_its_provenance(fakes, user, plan, provider, model, queue):
    if plan == "premium":
        _premium(user)
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=1234)
    assert job.queue == queue
    assert job.provider_chain[0] == f"{provider}:{model}"

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert (fakes.fal.submissions, fakes.replicate.submissions) == ((1, 0) if provider == "fal" else (0, 1))
    image = GeneratedImage.objects.get(job=job)
    adapter_options = (fakes.fal if provider == "fal" else fakes.replicate).adapter_options()
    assert (image.provider, image.model, image.seed, image.prompt) == (provider, model, 1234, PROMPT)
    assert image.licence_note == adapter_options["models"][model]["licence"]
    assert image.model_version == ("" if provider == "fal" else REPLICATE_MODELS[model]["version"])
    if provider == "fal":
        inputs = fakes.fal.inputs
    else:
        inputs = [json.loads(seen["body"])["input"] for seen in fakes.replicate.requests if seen["path"].endswith("/predictions")]
    assert [(i["prompt"], i["seed"]) for i in inputs] == [(PROMPT, 1234)]  # what was asked is what is recorded
    call = CostEntry.objects.get(job=job)
    assert (call.provider, call.model, call.outcome, call.plan) == (provider, model, "succeeded", plan)
    assert call.request_id
    assert call.cost_usd > 0


def test_generated_files_are_private_presigned_and_content_addressed(fakes, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=99)
    generation_job_run(job_id=str(job.id))
    generation_job_images_finish(job_id=str(job.id))
    client, storage = _s3(), storages["default"]

    variants = GeneratedImage.objects.get(job=job).variants
    assert len(variants) == 10
    for variant in variants:
        stored = client.get_object(Bucket=PRIVATE_BUCKET, Key=variant["key"])["Body"].read()
        digest = hashlib.sha256(stored).hexdigest()
        assert variant["key"] == f"generated/{digest[:2]}/{digest}.{'jpg' if variant['format'] == 'jpeg' else 'webp'}"
        assert variant["bytes"] == len(stored)
        with pytest.raises(ClientError):
            client.head_object(Bucket=PUBLIC_BUCKET, Key=variant["key"])
        url = storage.url(variant["key"])
        query = parse_qs(urlsplit(url).query)
        assert "X-Amz-Signature" in query
        assert int(query["X-Amz-Expires"][0]) <= 600
        assert requests.get(url, timeout=10).content == stored


def test_running_the_same_jobs_storage_twice_writes_the_same_keys_and_no_orphans(fakes, user):
    """P-R2-4: a re-run (as after a redelivery) overwrites the same content-addressed keys; keys <= 1024 bytes."""
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=4242)
    client = _s3()
    assert generation_job_run(job_id=str(job.id)).status == "succeeded"
    generation_job_images_finish(job_id=str(job.id))
    first_keys = _variant_keys(job)
    objects_after_first = len(_bucket_keys(client, PRIVATE_BUCKET))

    GenerationJob.objects.filter(pk=job.pk).update(status=GenerationJob.Status.QUEUED, lease_token="")  # run it all again
    assert generation_job_run(job_id=str(job.id)).status == "succeeded"
    generation_job_images_finish(job_id=str(job.id))

    assert fakes.fal.submissions == 2  # the provider really delivered twice
    assert _variant_keys(job) == first_keys
    assert len(first_keys) == 10
    bucket = _bucket_keys(client, PRIVATE_BUCKET)
    assert len(bucket) == objects_after_first  # nothing new: no orphans
    assert first_keys <= set(bucket)
    assert all(len(key.encode()) <= 1024 for key in bucket)


def test_a_failed_upload_leaves_the_call_open_and_a_rerun_resumes_it_without_paying_again(fakes, user, settings):
    """The first file is uploaded while the success is written; if that upload fails, nothing of the
    success is committed: the run ends as interrupted by an infrastructure fault (the task retries
    it with its lease), the provider call stays open with its request id, and the retried run
    collects the same result instead of asking (and paying) again."""
    from botocore.exceptions import EndpointConnectionError

    s3_port = urlsplit(django_settings.R2_ENDPOINT_URL).port
    proxy = TcpProxy(s3_port).start()  # the S3 server, behind a cable the test can cut
    settings.STORAGES = {
        name: {**config, "OPTIONS": {**config["OPTIONS"], "endpoint_url": proxy.url}} if "OPTIONS" in config else config
        for name, config in django_settings.STORAGES.items()
    }
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=5)
    objects_before = set(_bucket_keys(_s3(), PRIVATE_BUCKET))

    proxy.cut("refuse")  # storage goes away while the run has the provider's images in hand
    try:
        with pytest.raises(RunInterruptedError) as interrupted:
            generation_job_run(job_id=str(job.id))
    finally:
        proxy.restore()
    assert isinstance(interrupted.value.__cause__, EndpointConnectionError)
    call = CostEntry.objects.get(job=job)
    assert call.outcome == "pending"
    assert call.request_id
    assert not GeneratedImage.objects.filter(job=job).exists()
    assert GenerationJob.objects.get(pk=job.pk).status == "running"

    assert generation_job_run(job_id=str(job.id), lease=interrupted.value.lease).status == "succeeded"
    assert fakes.fal.submissions == 1
    assert list(CostEntry.objects.filter(job=job).values_list("outcome", flat=True)) == ["succeeded"]
    image = GeneratedImage.objects.get(job=job)
    assert _s3().get_object(Bucket=PRIVATE_BUCKET, Key=image.variants[0]["key"])["ContentLength"] == image.variants[0]["bytes"]
    # the rerun wrote the same content-addressed keys the run had stored so far: nothing else, no orphan
    assert set(_bucket_keys(_s3(), PRIVATE_BUCKET)) - objects_before == {variant["key"] for variant in image.variants}
    assert proxy.cuts == 1
    proxy.stop()


# --- no task for a job whose transaction rolled back: enqueue after commit only --------------------------
def _queued_messages(broker: redis.Redis, queue: str) -> list[dict]:
    """Every message waiting in `queue`: its base list and kombu's priority lists (`queue:N`)."""
    messages = []
    for key in [queue.encode(), *broker.scan_iter(match=f"{queue}:*")]:
        if broker.type(key) == b"list":
            messages += [json.loads(raw) for raw in broker.lrange(key, 0, -1)]
    return messages


@pytest.fixture
def standard_queue(broker) -> Iterator[redis.Redis]:
    """The broker (the test run's real Redis; queues emptied before each test), emptied after too."""
    assert django_settings.CELERY_BROKER_URL.startswith("redis://"), "enqueue-on-commit is checked on the real Redis broker"
    yield broker
    broker.flushdb()


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_no_task_is_enqueued_for_a_job_whose_transaction_rolled_back(fakes, standard_queue):
    """Enqueue after commit only: the job row and its task go together: a rollback leaves neither."""
    owner = user_create(username="rollback", email="rollback@example.com", password=PASSWORD)
    created = []

    def create_then_fail() -> None:
        with transaction.atomic():
            created.append(generation_job_create(user_id=owner.pk, prompt=PROMPT).pk)
            raise Boom

    with pytest.raises(Boom):
        create_then_fail()

    assert len(created) == 1
    assert not GenerationJob.objects.filter(pk=created[0]).exists()
    assert _queued_messages(standard_queue, "standard") == []


@pytest.mark.django_db(transaction=True)
def test_a_committed_job_enqueues_exactly_one_task(fakes, standard_queue):
    """Enqueue after commit, the control: the same call, committed, puts exactly one job_run message on its lane."""
    owner = user_create(username="commit", email="commit@example.com", password=PASSWORD)

    with transaction.atomic():
        job = generation_job_create(user_id=owner.pk, prompt=PROMPT)

    messages = _queued_messages(standard_queue, "standard")
    assert len(messages) == 1
    headers = messages[0]["headers"]
    assert headers["task"] == "generation.tasks.job_run"
    assert json.loads(base64.b64decode(messages[0]["body"]))[0] == [str(job.pk)]


# --- cancel while fal runs -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_user_cancel_while_fal_runs_stops_fal_refunds_and_closes_the_ledger_line(fakes, settings, monkeypatch):
    settings.GENERATION_RUN_TIMEOUT_SECONDS = 60  # bounds the run should the cancel go unnoticed
    monkeypatch.setattr("generation.dispatch.job_run_enqueue", lambda job: None)  # the broker is not under test here
    owner = user_create(username="canceler", email="canceler@example.com", password=PASSWORD)
    fakes.fal.next_outcomes.append("hang")
    job = generation_job_create(user_id=owner.pk, prompt=PROMPT)
    submitted = CostEntry.objects.filter(job=job).exclude(request_id="")  # the id is recorded

    with job_run_aside(str(job.id), until=submitted.exists, waiting_for="fal got the request") as runner:
        canceled_at = time.monotonic()
        generation_job_cancel(job=GenerationJob.objects.get(pk=job.pk))
    outcome = runner.outcome

    assert not runner.thread.is_alive()
    assert "error" not in outcome, outcome
    assert time.monotonic() - canceled_at < 10
    job.refresh_from_db()
    assert (job.status, job.quota_refunded) == ("canceled", True)
    call = CostEntry.objects.get(job=job)
    assert fakes.fal.cancellations == [call.request_id]
    assert fakes.fal.phase(call.request_id) == "COMPLETED"  # canceled there: ended without a result
    assert (call.outcome, call.error_kind) == ("canceled", "canceled")
    assert fakes.replicate.submissions == 0  # a cancel is not a failure: no fallback
    assert not GeneratedImage.objects.filter(job=job).exists()
