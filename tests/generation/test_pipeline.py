"""The generation pipeline on PostgreSQL and the S3 server: quotas, the chain, storage, reuse, cancel."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import storages
from django.db import connection
from django.utils import timezone

from avatarsite.accounts.services import user_create
from generation.breaker import breaker_allows, breaker_record_success, breaker_state
from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.quotas import QuotaExceededError
from generation.services import (
    PROGRESS_EVERY_SECONDS,
    GenerationError,
    PromptRefusedError,
    generation_job_cancel,
    generation_job_create,
    generation_job_images_finish,
    generation_job_run,
    generation_jobs_reconcile,
)
from tests.generation.factories import CostEntryFactory

PROMPT = "A smiling woman with curly red hair and round glasses"


@pytest.fixture
def user(db):
    return user_create(username="ada", email="ada@example.com", password="a-long-password-1")


def test_a_job_runs_once_stores_private_variants_and_a_rerun_changes_nothing(providers, user, django_capture_on_commit_callbacks):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=7)
    assert (job.status, job.queue, job.quota_units) == ("queued", "standard", 1)
    assert job.provider_chain == ["fal:fal-ai/flux/schnell", "replicate:black-forest-labs/flux-schnell"]

    with django_capture_on_commit_callbacks() as finishing:
        done = generation_job_run(job_id=str(job.id))
    again = generation_job_run(job_id=str(job.id))  # a redelivered task

    assert done.status == again.status == "succeeded"
    assert providers.calls == ["fal"]
    assert CostEntry.objects.filter(job=job).count() == 1
    image = GeneratedImage.objects.get(job=job)
    assert (image.provider, image.seed, image.prompt) == ("fal", 7, PROMPT)
    # The result goes out with one re-encoded JPEG; the other sizes follow in a task of their own.
    assert [(v["size"], v["format"]) for v in image.variants] == [(1024, "jpeg")]
    assert len(finishing) == 1
    assert generation_job_images_finish(job_id=str(job.id)) == 9
    assert generation_job_images_finish(job_id=str(job.id)) == 0  # a redelivered task adds nothing
    image.refresh_from_db()
    assert sorted({v["size"] for v in image.variants}) == [64, 128, 256, 512, 1024]
    assert {v["format"] for v in image.variants} == {"jpeg", "webp"}
    storage = storages["default"]
    assert all(storage.exists(v["key"]) for v in image.variants)
    assert "X-Amz-Signature" in storage.url(image.variants[0]["key"])  # private: signed URLs only


def test_progress_is_written_at_most_every_fifth_of_a_second_and_a_held_report_goes_out_at_the_next_check(providers, user):
    """Each report is a row write and a message on the way to the result: a burst is held, the
    adapter's cancel check (every poll) sends the newest, and what is still held at the end is
    dropped (the success says more)."""
    assert PROGRESS_EVERY_SECONDS < 0.3  # the scripted quiet spell
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=7)
    seen = {}

    def on_pause(name: str) -> None:
        seen[name] = GenerationJob.objects.values_list("progress", "message").get()

    providers.on_pause = on_pause
    providers.say("fal", "progress")

    done = generation_job_run(job_id=str(job.id))

    assert seen == {
        "first burst": (1, "Starting"),  # the claim's report, within the interval: the burst is held
        "cancel check": (50, "Generating (step 3/6)"),  # the newest of the burst, once the interval has passed
        "second burst": (50, "Generating (step 3/6)"),
    }
    assert (done.status, done.progress, done.message) == ("succeeded", 100, "Done")


def _notifications(monkeypatch) -> list[tuple[str, list[str]]]:
    """(status, the job's recorded provider request ids) at each message the run sends itself: the
    listeners' seam, `generation.progress.job_notify`, recorded outside progress reports (a report
    is the provider's message, relayed; how many go out depends on how fast it draws)."""
    from generation import progress

    sent, reporting = [], []
    report = progress.job_progress_report

    def report_unrecorded(**kwargs) -> bool:
        reporting.append(True)
        try:
            return report(**kwargs)
        finally:
            reporting.pop()

    def record(*, job, **kwargs) -> None:
        if not reporting:
            sent.append((job.status, [rid for rid in CostEntry.objects.filter(job=job).values_list("request_id", flat=True) if rid]))

    monkeypatch.setattr("generation.progress.job_notify", record)
    monkeypatch.setattr("generation.progress.job_progress_report", report_unrecorded)
    return sent


def test_the_page_hears_running_once_the_provider_has_the_request(providers, user, monkeypatch, django_capture_on_commit_callbacks):
    """Not as the run claims the job: that message would go out while the run opens its ledger
    line and submits, delaying the submission, from which the provider's time counts."""
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=7)
    sent = _notifications(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        generation_job_run(job_id=str(job.id))

    assert [status for status, _ in sent] == ["running", "succeeded"]
    assert sent[0][1] == [CostEntry.objects.get(job=job).request_id]  # recorded before the message


def test_a_run_waiting_to_try_again_says_it_is_running(providers, user, monkeypatch, django_capture_on_commit_callbacks):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=7)
    providers.say("fal", "unreachable")
    sent = _notifications(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        generation_job_run(job_id=str(job.id))

    assert [status for status, _ in sent] == ["running", "succeeded"]  # once, before the wait; not again at the retry
    assert sent[0][1] == []  # before the second attempt submitted
    assert providers.calls == ["fal", "fal"]


def test_a_first_report_that_goes_out_at_once_is_the_run_s_only_message_before_it(providers, user, monkeypatch):
    """The report says the job runs; a running message just before it would say the same twice."""
    from generation.services import JobProgressRelay

    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=7)
    sent = []
    monkeypatch.setattr("generation.progress.job_notify", lambda *, job, **kwargs: sent.append(("running", job.progress)))
    monkeypatch.setattr("generation.progress.job_progress_report", lambda *, progress, **kwargs: sent.append(("report", progress)))
    progress = JobProgressRelay(job)
    progress.at -= PROGRESS_EVERY_SECONDS  # the interval since the run's start has passed

    progress(40, "Generating")
    progress.announce()

    assert sent == [("report", 40)]


def test_transient_failures_are_retried_then_the_next_provider_serves(providers, user):
    providers.say("fal", "transient", "transient", "transient")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert providers.calls == ["fal", "fal", "fal", "replicate"]
    outcomes = list(CostEntry.objects.filter(job=job).values_list("provider", "outcome"))
    assert outcomes == [("fal", "failed")] * 3 + [("replicate", "succeeded")]  # one ledger line per call


def test_job_run_refunds_quota_when_all_providers_fail(providers, user):
    providers.say("fal", "permanent")
    providers.say("replicate", "permanent")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind) == ("failed", "permanent")
    assert "quota was not used" in done.message
    assert GenerationJob.objects.get(pk=job.pk).quota_refunded
    assert CostEntry.objects.filter(job=job, outcome="failed").count() == 2


def test_a_refused_image_fails_with_the_reason_and_is_not_charged(providers, user):
    providers.say("fal", "refused")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind) == ("failed", "refused")
    assert "unsafe content" in done.message
    assert GenerationJob.objects.get(pk=job.pk).quota_refunded
    assert providers.calls == ["fal"]  # a refusal is not shopped around to the next provider


def test_the_sixth_free_generation_of_the_day_is_refused_with_the_reset_time(providers, user):
    for n in range(5):
        generation_job_create(user_id=user.pk, prompt=f"{PROMPT} {n}")
    with pytest.raises(QuotaExceededError) as refused:
        generation_job_create(user_id=user.pk, prompt=f"{PROMPT} 6")
    assert refused.value.resets_at.hour == 0

    generation_job_cancel(job=GenerationJob.objects.filter(user=user).first())  # gives one back
    generation_job_create(user_id=user.pk, prompt=f"{PROMPT} 7")


def test_instant_styles_are_free_and_drawn_locally(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, style="pixel")
    assert (job.quota_units, job.provider_chain) == (0, ["local:avatarsite/parts-v2"])
    assert generation_job_run(job_id=str(job.id)).status == "succeeded"
    assert providers.calls == []


def test_an_identical_request_is_answered_from_the_stored_result_at_no_cost(providers, user):
    first = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=42)
    generation_job_run(job_id=str(first.id))
    again = generation_job_create(user_id=user.pk, prompt="  a smiling WOMAN with curly red hair   and round glasses ", seed=42)

    assert (again.status, again.quota_units, again.reused_from_id) == ("succeeded", 0, first.pk)
    assert [i.variants for i in again.images.all()] == [i.variants for i in first.images.all()]
    assert providers.calls == ["fal"]
    assert CostEntry.objects.count() == 1


def test_a_request_without_a_seed_gets_the_same_seed_each_time_so_asking_again_costs_nothing(providers, user):
    first = generation_job_create(user_id=user.pk, prompt=PROMPT)
    generation_job_run(job_id=str(first.id))
    again = generation_job_create(user_id=user.pk, prompt=PROMPT.upper())
    variation = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=(first.seed + 1) % 2**31)
    smaller = generation_job_create(user_id=user.pk, prompt=PROMPT, size=512)

    assert (again.seed, again.reused_from_id, again.quota_units) == (first.seed, first.pk, 0)
    assert (variation.status, variation.reused_from_id) == ("queued", None)
    assert smaller.seed != first.seed  # another request, its own seed
    assert smaller.reused_from_id is None
    assert providers.calls == ["fal"]


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

    count = quotas.units_used_since

    def slow_count(user_id, since):
        used = count(user_id, since)
        time.sleep(0.2)
        return used

    monkeypatch.setattr(quotas, "units_used_since", slow_count)
    enqueued = []
    monkeypatch.setattr("generation.dispatch.job_run_enqueue", lambda job: enqueued.append(job.pk))  # the broker is not under test
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


def _premium(user) -> None:
    from billing.models import Plan, Subscription

    Subscription.objects.create(user=user, plan=Plan.objects.get(slug="premium"))


def _cut_off_mid_call(job: GenerationJob, *, request_id: str, runs: int = 1, overdue: bool = False) -> CostEntry:
    """The state a worker killed while waiting on a provider leaves behind (its lease run out)."""
    GenerationJob.objects.filter(pk=job.pk).update(
        status="running",
        runs=runs,
        deadline_at=timezone.now() - timedelta(minutes=5) if overdue else job.deadline_at,
        lease_token="a-dead-run",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    provider, model = job.provider_chain[0].split(":", 1)
    return CostEntryFactory(job=job, provider=provider, model=model, request_id=request_id)  # its plan is the job's


def test_a_request_that_stops_answering_is_resumed_by_its_id_not_submitted_again(providers, user):
    providers.say("fal", "lost")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    done = generation_job_run(job_id=str(job.id))

    call = CostEntry.objects.get(job=job)
    assert done.status == "succeeded"
    assert ["fal", f"fal:resume:{call.request_id}"] == providers.calls
    assert (call.outcome, call.request_id.startswith("fal-")) == ("succeeded", True)


def test_a_run_cut_off_mid_call_resumes_the_recorded_request_and_charges_once(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    _cut_off_mid_call(job, request_id="fal-abc123")

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.runs) == ("succeeded", 2)
    assert providers.calls == ["fal:resume:fal-abc123"]
    assert list(CostEntry.objects.filter(job=job).values_list("request_id", "outcome")) == [("fal-abc123", "succeeded")]
    assert (done.quota_units, done.quota_refunded) == (1, False)
    assert GeneratedImage.objects.filter(job=job).count() == 1


def test_a_job_that_keeps_stopping_its_worker_is_given_up_after_max_runs(providers, user, settings):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    _cut_off_mid_call(job, request_id="fal-poison", runs=settings.GENERATION_MAX_RUNS)

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind, done.quota_refunded) == ("failed", "lost", True)
    assert providers.calls == ["fal:cancel:fal-poison"]  # what it left running there is stopped
    assert CostEntry.objects.get(job=job).outcome == "canceled"


def test_images_the_provider_withholds_are_not_charged(providers, user):
    _premium(user)
    providers.say("replicate", "partial")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, num_images=2)
    assert (job.queue, job.quota_units) == ("premium", 2)

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.quota_units) == ("succeeded", 1)
    assert "withheld" in done.message
    assert done.images.count() == 1


@pytest.mark.parametrize("answer", ["not-an-image", "bomb"])
def test_an_unusable_image_is_paid_for_in_the_ledger_and_the_next_provider_serves(providers, user, answer):
    """Untrusted images: a provider's bytes are verified before decoding (type, declared pixels) and never stored as they came."""
    providers.say("fal", answer)
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    calls = list(CostEntry.objects.filter(job=job).values_list("provider", "outcome", "cost_usd"))
    assert calls == [("fal", "failed", Decimal("0.003")), ("replicate", "succeeded", Decimal("0.003"))]
    assert "unusable image" in CostEntry.objects.get(job=job, provider="fal").error


def test_the_breaker_skips_a_failing_provider_then_a_single_probe_closes_it(providers, user, settings, monkeypatch):
    settings.GENERATION_PROVIDER_ATTEMPTS = 1
    settings.GENERATION_BREAKER_FAILURES = 2
    settings.GENERATION_BREAKER_COOLDOWN_SECONDS = 30
    providers.say("fal", "transient", "transient")
    for n in range(2):
        generation_job_run(job_id=str(generation_job_create(user_id=user.pk, prompt=f"{PROMPT} {n}").id))
    assert breaker_state(provider="fal").state == "open"

    providers.calls.clear()
    generation_job_run(job_id=str(generation_job_create(user_id=user.pk, prompt=f"{PROMPT} open").id))
    assert providers.calls == ["replicate"]  # fal skipped while open

    later = time.time() + 31
    monkeypatch.setattr("generation.breaker.clock", lambda: later)  # the cool-down is over
    assert breaker_state(provider="fal").state == "half-open"
    assert breaker_allows(provider="fal")
    assert not breaker_allows(provider="fal")  # one probe at a time
    breaker_record_success(provider="fal")
    assert breaker_state(provider="fal").state == "closed"


def test_the_reconciler_fails_a_job_that_waited_too_long_and_returns_its_quota(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    GenerationJob.objects.filter(pk=job.pk).update(deadline_at=timezone.now() - timedelta(minutes=5))

    summary = generation_jobs_reconcile()

    job.refresh_from_db()
    assert summary.failed == 1
    assert (job.status, job.error_kind, job.quota_refunded) == ("failed", "timeout", True)
    assert "waited too long" in job.message
    assert generation_job_run(job_id=str(job.id)).status == "failed"  # the late task changes nothing


def test_the_reconciler_finishes_a_stuck_job_from_the_request_its_worker_left(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    _cut_off_mid_call(job, request_id="fal-left-behind", overdue=True)

    summary = generation_jobs_reconcile()

    job.refresh_from_db()
    assert (summary.succeeded, job.status, job.quota_refunded) == (1, "succeeded", False)
    assert providers.calls == ["fal:resume:fal-left-behind"]
    assert list(CostEntry.objects.filter(job=job).values_list("outcome", flat=True)) == ["succeeded"]


def test_the_reconciler_cancels_an_unfinished_request_there_and_refunds(providers, user):
    providers.say("fal", "lost")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    _cut_off_mid_call(job, request_id="fal-hung", overdue=True)

    generation_jobs_reconcile()

    job.refresh_from_db()
    assert (job.status, job.quota_refunded) == ("failed", True)
    assert providers.calls == ["fal:resume:fal-hung", "fal:cancel:fal-hung"]
    assert CostEntry.objects.get(job=job).outcome == "canceled"


def test_the_reconciler_stops_a_request_left_running_by_a_finished_job_and_closes_its_line(providers, user):
    providers.say("fal", "lost")  # still running there when the reconciler asks
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    call = _cut_off_mid_call(job, request_id="fal-orphan")
    generation_job_cancel(job=job)
    CostEntry.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    assert generation_jobs_reconcile().calls_closed == 1
    assert providers.calls == ["fal:resume:fal-orphan", "fal:cancel:fal-orphan"]
    assert (CostEntry.objects.get(pk=call.pk).outcome, CostEntry.objects.get(pk=call.pk).cost_usd) == ("canceled", Decimal(0))


def test_the_reconciler_books_a_request_that_finished_after_its_job_ended_at_its_cost(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    call = _cut_off_mid_call(job, request_id="fal-late")
    generation_job_cancel(job=job)
    CostEntry.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    assert generation_jobs_reconcile().calls_closed == 1
    assert providers.calls == ["fal:resume:fal-late"]  # asked what became of it; nothing sent anew
    closed = CostEntry.objects.get(pk=call.pk)
    assert (closed.outcome, closed.images, closed.cost_usd) == ("canceled", 1, Decimal("0.003"))
    assert not GeneratedImage.objects.filter(job=job).exists()


def test_a_job_canceled_while_its_provider_delivers_stays_canceled_and_the_paid_call_is_recorded(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    providers.on_pause = lambda name: name == "second burst" and generation_job_cancel(job=job)
    providers.say("fal", "progress")  # the user cancels after the provider's last cancel check: it delivers

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "canceled"
    assert not GeneratedImage.objects.filter(job=job).exists()
    call = CostEntry.objects.get(job=job)
    assert (call.outcome, call.images, call.cost_usd) == ("succeeded", 1, Decimal("0.003"))


def test_canceling_after_a_provider_delivered_does_not_refund(providers, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    call = _cut_off_mid_call(job, request_id="fal-done")
    CostEntry.objects.filter(pk=call.pk).update(outcome="succeeded", cost_usd=Decimal("0.003"))

    canceled = generation_job_cancel(job=job)

    assert (canceled.status, canceled.quota_refunded) == ("canceled", False)
