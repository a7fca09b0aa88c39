"""The pipeline with the real Stability and AUTOMATIC1111 adapters against their fakes, in-process:
a plan whose chain names them stores their images with provenance and bills the ledger as they
price; a failing first provider falls back to the next (issue 19, point 3)."""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from avatarsite.accounts.services import user_create
from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.services import generation_job_create, generation_job_run
from tests.fakes.a1111 import FakeA1111
from tests.fakes.stability import FakeStability

PROMPT = "A smiling woman with curly red hair and round glasses"


@dataclass
class Fakes:
    stability: FakeStability
    a1111: FakeA1111


@pytest.fixture
def fakes(settings) -> Iterator[Fakes]:
    started = Fakes(FakeStability(latency=0.05).start(), FakeA1111(latency=0.1).start())
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "stability": {"BACKEND": "generation.providers.stability.StabilityProvider", "OPTIONS": started.stability.adapter_options()},
        "a1111": {"BACKEND": "generation.providers.a1111.A1111Provider", "OPTIONS": started.a1111.adapter_options()},
    }
    settings.GENERATION_PROVIDER_BACKOFF_SECONDS = 0.01
    yield started
    started.stability.stop()
    started.a1111.stop()


@pytest.fixture
def user(db, fakes):
    from billing.models import Plan

    Plan.objects.filter(slug="free").update(provider_chain=["stability:core", f"a1111:{fakes.a1111.default_model}"])
    return user_create(username="ada", email="ada@example.com", password="a-long-password-1")


def _ledger(job: GenerationJob) -> list[tuple]:
    return list(CostEntry.objects.filter(job=job).order_by("created_at", "id").values_list("provider", "outcome", "error_kind", "cost_usd"))


def test_a_stability_image_is_stored_with_its_provenance_and_its_credits_in_the_ledger(fakes, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=1234)
    assert job.provider_chain[0] == "stability:core"

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    image = GeneratedImage.objects.get(job=job)
    assert (image.provider, image.model, image.seed) == ("stability", "core", 1234)
    assert image.licence_note == "core licence (fake)"
    [(provider, outcome, kind, cost)] = _ledger(job)
    assert (provider, outcome, kind, cost) == ("stability", "succeeded", "", Decimal("0.03000"))  # 3 credits at $0.01
    assert CostEntry.objects.get(job=job).request_id == fakes.stability.answered[0]["id"]
    assert fakes.a1111.submissions == 0


def test_stability_failing_falls_back_to_a1111_billed_by_gpu_time(fakes, user, settings):
    settings.GENERATION_PROVIDER_ATTEMPTS = 2
    fakes.stability.default_outcome = "error_transient"
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert fakes.stability.submissions == 2
    ledger = _ledger(job)
    assert [row[:3] for row in ledger] == [("stability", "failed", "transient")] * 2 + [("a1111", "succeeded", "")]
    assert ledger[-1][3] > 0  # 0.0005 $/GPU-second x the server's X-Process-Time
    assert GeneratedImage.objects.get(job=job).provider == "a1111"


def test_a_content_filtered_stability_image_is_refused_billed_and_the_quota_returned(fakes, user):
    fakes.stability.next_outcomes.append("nsfw")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind) == ("failed", "refused")
    assert _ledger(job) == [("stability", "refused", "refused", Decimal("0.03000"))]
    assert GenerationJob.objects.get(pk=job.pk).quota_refunded
    assert fakes.a1111.submissions == 0
