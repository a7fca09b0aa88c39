"""The books under concurrency and lost answers, in-process on the real PostgreSQL, Redis and S3
server, with the real fal and Replicate adapters against their fakes (or scripted stand-ins):
a run owns its job by a lease; every request that may be billed has one ledger line, settled
once; delivery matches the request; identical requests in flight are charged once; the
reconciler settles each job on its own. (tests/faults/ proves the same on separate processes.)"""

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from avatarsite.accounts.services import user_create
from billing.models import Plan, Subscription
from generation.lease import JobBusyError
from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.progress import job_progress_report
from generation.providers.base import GenerationRequest
from generation.providers.registry import provider_get
from generation.services import (
    generation_job_cancel,
    generation_job_claim,
    generation_job_create,
    generation_job_run,
    generation_jobs_reconcile,
)
from tests.generation.conftest import PASSWORD, job_run_aside
from tests.generation.factories import CostEntryFactory
from tests.support.workers import wait_for

PROMPT = "A lighthouse keeper with a grey beard and a yellow raincoat"


@pytest.fixture
def user(db):
    return user_create(username="keeper", email="keeper@example.com", password=PASSWORD)


def _premium(user) -> None:
    Subscription.objects.create(user=user, plan=Plan.objects.get(slug="premium"))


def _ledger(job: GenerationJob) -> list[tuple[str, str]]:
    return list(CostEntry.objects.filter(job=job).order_by("created_at", "id").values_list("provider", "outcome"))


def _recorded(job: GenerationJob) -> CostEntry | None:
    return CostEntry.objects.filter(job=job).exclude(request_id="").first()


# --- a run owns its job by a lease -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_second_delivery_while_the_first_run_lives_runs_nothing_and_submits_nothing(fakes, user):
    fakes.fal.latency = 1.5
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    with job_run_aside(str(job.id), until=lambda: _recorded(job) is not None, waiting_for="fal's request id") as first:
        with pytest.raises(JobBusyError) as busy:
            generation_job_run(job_id=str(job.id))  # the same message, delivered again at once
        assert 0 < busy.value.retry_in <= django_settings.GENERATION_LEASE_SECONDS + 1

    assert first.outcome["job"].status == "succeeded"
    job.refresh_from_db()
    assert (job.status, job.runs) == ("succeeded", 1)
    assert fakes.fal_submits() == 1
    assert _ledger(job) == [("fal", "succeeded")]
    assert generation_job_run(job_id=str(job.id)).status == "succeeded"  # later deliveries change nothing
    assert fakes.fal_submits() == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_job_was_taken_over_stops_and_leaves_its_request_to_the_new_owner(fakes, user, settings):
    settings.GENERATION_LEASE_SECONDS = 0.6  # renewed every 0.2 s
    fakes.fal.latency = 3.0
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    with job_run_aside(str(job.id), until=lambda: _recorded(job) is not None, waiting_for="fal's request id") as first:
        # Another run took the job over (as after this one's lease had run out).
        GenerationJob.objects.filter(pk=job.pk).update(lease_token="another-run", lease_expires_at=timezone.now() + timedelta(minutes=1))
        first.thread.join(timeout=10)
        assert not first.thread.is_alive(), "the run went on after its job was taken over"
        assert "error" not in first.outcome, first.outcome

    job.refresh_from_db()
    call = CostEntry.objects.get(job=job)
    assert (job.status, job.lease_token) == ("running", "another-run")
    assert (call.outcome, bool(call.request_id)) == ("pending", True)  # left for the new owner to resume
    assert fakes.fal.cancellations == []  # not canceled at fal: its new owner resumes it

    # The new owner dies too; once its lease has run out, the next delivery resumes the request.
    GenerationJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    done = generation_job_run(job_id=str(job.id))
    assert (done.status, done.runs) == ("succeeded", 2)
    assert fakes.fal_submits() == 1
    assert _ledger(done) == [("fal", "succeeded")]


# --- a cancel wins over progress still on its way -------------------------------------------


def test_progress_sent_after_a_cancel_is_not_written_and_not_sent(providers, user, monkeypatch):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    claimed, lease = generation_job_claim(job_id=str(job.id))
    generation_job_cancel(job=claimed)
    sent = []  # from here on: the cancel's own message has gone out
    monkeypatch.setattr("generation.progress.job_notify", lambda *, job, **kwargs: sent.append(job.status))

    assert job_progress_report(job=claimed, progress=50, message="Generating at fal (step 2/4)", lease=lease) is False

    job.refresh_from_db()
    assert (job.status, job.message) == ("canceled", "Canceled")
    assert sent == []


def test_a_run_s_progress_is_not_written_once_another_run_holds_the_job(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    claimed, lease = generation_job_claim(job_id=str(job.id))
    GenerationJob.objects.filter(pk=job.pk).update(lease_token="another-run")

    assert job_progress_report(job=claimed, progress=50, message="late", lease=lease) is False
    assert GenerationJob.objects.get(pk=job.pk).message == "Starting"


# --- a hung provider leaves time for the next; the breaker before every attempt --------------


def test_a_hanging_provider_leaves_the_next_one_its_share_of_the_run(fakes, user, settings):
    settings.GENERATION_RUN_TIMEOUT_SECONDS = 8  # fal gets half, Replicate the rest
    fakes.fal.next_outcomes.append("hang")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    started = time.monotonic()
    done = generation_job_run(job_id=str(job.id))
    took = time.monotonic() - started

    assert done.status == "succeeded"
    assert 3.5 <= took < 8, took  # fal was given up at its share (4 s), not at the run's end
    assert _ledger(done) == [("fal", "failed"), ("replicate", "succeeded")]
    assert done.images.get().provider == "replicate"


def test_the_breaker_is_asked_before_every_new_request_not_only_when_a_provider_is_entered(providers, user, settings):
    settings.GENERATION_PROVIDER_ATTEMPTS = 3
    settings.GENERATION_BREAKER_FAILURES = 1  # the first failure opens fal's breaker
    providers.say("fal", "transient", "transient", "transient")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert providers.calls == ["fal", "replicate"]  # no second attempt at fal once its breaker opened
    assert _ledger(done) == [("fal", "failed"), ("replicate", "succeeded")]


# --- delivery matches the request -----------------------------------------------------


def test_an_undersized_image_is_that_providers_failure_billed_and_the_next_one_serves(fakes, user):
    fakes.fal.next_outcomes.append("undersized")  # a 64 px image for a 1024 px request
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, size=1024)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    fal_line, replicate_line = CostEntry.objects.filter(job=job).order_by("created_at", "id")
    assert (fal_line.outcome, fal_line.cost_usd > 0) == ("failed", True)  # fal billed it: booked at its price
    assert "64 px" in fal_line.error
    assert replicate_line.outcome == "succeeded"
    image = done.images.get()
    assert (image.width, image.height, image.provider, image.upscaled_from) == (1024, 1024, "replicate", None)
    assert (done.quota_units, done.quota_refunded) == (1, False)


def test_when_every_provider_delivers_too_small_the_job_fails_and_the_quota_comes_back(fakes, user):
    fakes.fal.next_outcomes.append("undersized")
    fakes.replicate.next_outcomes.append("undersized")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, size=1024)

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.quota_refunded) == ("failed", True)
    assert not GeneratedImage.objects.filter(job=job).exists()
    assert _ledger(done) == [("fal", "failed"), ("replicate", "failed")]


def test_a_premium_2048_px_request_is_made_at_the_models_1024_and_upscaled_and_says_so(fakes, user):
    _premium(user)
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, size=2048)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    [asked] = [json.loads(seen["body"]) for seen in fakes.replicate.requests if seen["method"] == "POST"]
    assert asked["input"]["megapixels"] == "1"
    image = done.images.get()
    assert (image.width, image.height, image.provider, image.upscaled_from) == (2048, 2048, "replicate", 1024)
    assert image.variants[0]["size"] == 2048
    call = CostEntry.objects.get(job=job)
    assert call.megapixels == Decimal("1.049")  # billed for what the model made


# --- identical requests in flight are charged once -------------------------------------------


def test_an_identical_request_made_while_the_first_is_in_flight_waits_and_gets_its_result_free(
    fakes, user, django_capture_on_commit_callbacks
):
    other = user_create(username="other", email="other@example.com", password=PASSWORD)
    first = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=7)
    second = generation_job_create(user_id=other.pk, prompt=PROMPT, seed=7)
    assert (second.status, second.reused_from_id) == ("queued", first.pk)
    assert "same request" in second.message

    with django_capture_on_commit_callbacks(execute=True):
        generation_job_run(job_id=str(first.id))

    second.refresh_from_db()
    assert (second.status, second.progress) == ("succeeded", 100)
    assert second.quota_refunded  # it held its unit while it waited; given back
    assert [image.variants[0]["key"] for image in second.images.all()] == [image.variants[0]["key"] for image in first.images.all()]
    assert fakes.fal_submits() == 1
    assert CostEntry.objects.filter(job=second).count() == 0


@pytest.mark.django_db(transaction=True)
def test_identical_requests_at_the_same_moment_make_one_job_in_flight(fakes, monkeypatch):
    monkeypatch.setattr("generation.dispatch.job_run_enqueue", lambda job: None)  # the broker is not under test here
    users = [user_create(username=f"same-{n}", email=f"same-{n}@example.com", password=PASSWORD) for n in range(8)]
    barrier, made, errors = threading.Barrier(len(users)), [], []

    def request(user) -> None:
        try:
            barrier.wait(timeout=10)
            made.append(generation_job_create(user_id=user.pk, prompt=PROMPT, seed=11))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    leaders = [job for job in made if job.reused_from_id is None]
    assert len(made) == 8
    assert len(leaders) == 1
    assert {job.reused_from_id for job in made if job.reused_from_id} == {leaders[0].pk}

    generation_job_run(job_id=str(leaders[0].pk))
    wait_for(lambda: GenerationJob.objects.filter(status="succeeded").count() == 8, timeout=10, what="every follower to get the result")
    assert fakes.fal_submits() == 1
    assert CostEntry.objects.count() == 1


def test_when_the_request_followed_fails_the_oldest_follower_runs_in_its_place(providers, user, django_capture_on_commit_callbacks):
    providers.say("fal", "permanent")
    providers.say("replicate", "permanent")
    first = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=3)
    second = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=3)
    third = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=3)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert generation_job_run(job_id=str(first.id)).status == "failed"
    assert callbacks  # the promoted follower's message

    second.refresh_from_db()
    third.refresh_from_db()
    assert (second.status, second.reused_from_id) == ("queued", None)
    assert third.reused_from_id == second.pk
    with django_capture_on_commit_callbacks(execute=True):
        assert generation_job_run(job_id=str(second.id)).status == "succeeded"
    third.refresh_from_db()
    assert third.status == "succeeded"
    assert providers.calls == ["fal", "replicate", "fal"]


def test_followers_of_a_refused_request_are_refused_without_asking_again(providers, user, django_capture_on_commit_callbacks):
    providers.say("fal", "refused")
    first = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=5)
    second = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=5)

    with django_capture_on_commit_callbacks(execute=True):
        generation_job_run(job_id=str(first.id))

    second.refresh_from_db()
    assert (second.status, second.error_kind, second.quota_refunded) == ("failed", "refused", True)
    assert providers.calls == ["fal"]


# --- item 2: every request that may be billed has a line; unknown is booked as such ----------------


def _cut_off(job: GenerationJob, *, provider: str, model: str, request_id: str = "", overdue: bool = False, ended: bool = False):
    """What a worker killed mid-call leaves: a running job whose lease ran out, and an open line."""
    now = timezone.now()
    GenerationJob.objects.filter(pk=job.pk).update(
        status="canceled" if ended else "running",
        runs=1,
        lease_token="a-dead-run",
        lease_expires_at=now - timedelta(seconds=1),
        enqueued_at=now - timedelta(minutes=1),
        deadline_at=now - timedelta(minutes=5) if overdue else now + timedelta(minutes=5),
    )
    return CostEntryFactory(job=job, provider=provider, model=model, request_id=request_id)  # its plan is the job's


def test_a_fal_request_whose_answer_was_lost_is_booked_as_unknown_at_its_price_then_asked_anew(fakes, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    lost = _cut_off(job, provider="fal", model="fal-ai/flux/schnell")  # died before fal's answer came back

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    lost.refresh_from_db()
    assert (lost.outcome, lost.cost_usd) == ("unknown", Decimal("0.003"))  # fal cannot be asked; never $0
    assert _ledger(done) == [("fal", "unknown"), ("fal", "succeeded")]


def test_the_reconciler_looks_up_a_replicate_prediction_whose_create_answer_was_lost(fakes, user):
    """The create reached Replicate, its answer did not reach us, then the worker died."""
    _premium(user)
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, size=1024)
    model = "black-forest-labs/flux-dev"
    lost = _cut_off(job, provider="replicate", model=model, overdue=True)
    CostEntry.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    request = GenerationRequest(prompt=job.prompt, model=model, style=job.style, seed=job.seed, size=job.size, num_images=1)
    prediction = fakes.replicate.add_prediction(model, provider_get("replicate").input_for(model, request), age=20)

    summary = generation_jobs_reconcile()

    assert summary.succeeded == 1
    lost.refresh_from_db()
    assert (lost.outcome, lost.request_id, lost.cost_usd) == ("succeeded", prediction.id, Decimal("0.025"))
    assert fakes.replicate.creations == 1  # looked up, never created again
    job.refresh_from_db()
    assert (job.status, job.images.get().width) == ("succeeded", 1024)


def test_the_reconciler_closes_a_line_whose_replicate_prediction_was_never_created_at_zero(fakes, user):
    _premium(user)
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    lost = _cut_off(job, provider="replicate", model="black-forest-labs/flux-dev", ended=True)
    CostEntry.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    assert generation_jobs_reconcile().calls_closed == 1

    lost.refresh_from_db()
    assert (lost.outcome, lost.cost_usd) == ("failed", Decimal(0))
    assert "never created" in lost.error
    assert fakes.replicate.creations == 0


# --- the reconciler re-sends lost messages and settles each job on its own ------------


def _job_run_messages(broker, queue: str) -> list[str]:
    from tests.generation.test_chain import _queued_messages

    return [message["headers"]["argsrepr"] for message in _queued_messages(broker, queue) if message["headers"]["task"].endswith("job_run")]


def test_the_reconciler_sends_again_the_message_of_a_queued_job_whose_message_is_gone(providers, user, broker, settings):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    GenerationJob.objects.filter(pk=job.pk).update(
        enqueued_at=timezone.now() - timedelta(seconds=settings.GENERATION_REQUEUE_AFTER_SECONDS + 1)
    )
    running = generation_job_create(user_id=user.pk, prompt=f"{PROMPT} again")
    _cut_off(running, provider="fal", model="fal-ai/flux/schnell", request_id="fal-left")  # its run died
    fresh = generation_job_create(user_id=user.pk, prompt=f"{PROMPT} fresh")  # its message is on its way

    summary = generation_jobs_reconcile()

    assert summary.requeued == 2
    sent = "".join(_job_run_messages(broker, "standard"))
    assert str(job.pk) in sent
    assert str(running.pk) in sent
    assert str(fresh.pk) not in sent
    assert generation_jobs_reconcile().requeued == 0  # once per loss, not at every pass


def test_a_fault_settling_one_overdue_job_never_stops_the_reconciler_from_settling_the_others(providers, user):
    """The object store is down while one job's result is being stored."""
    providers.say("fal", "storage-down")
    broken = generation_job_create(user_id=user.pk, prompt=PROMPT)
    _cut_off(broken, provider="fal", model="fal-ai/flux/schnell", request_id="fal-broken", overdue=True)
    fine = generation_job_create(user_id=user.pk, prompt=f"{PROMPT} fine")
    _cut_off(fine, provider="fal", model="fal-ai/flux/schnell", request_id="fal-fine", overdue=True)

    summary = generation_jobs_reconcile()

    assert (summary.errors, summary.succeeded) == (1, 1)
    statuses = sorted(GenerationJob.objects.filter(pk__in=[broken.pk, fine.pk]).values_list("status", flat=True))
    assert statuses == ["running", "succeeded"]  # whichever met the fault is tried again at the next pass
