"""The pipeline with the real OpenAI images and Together adapters against their fakes, in-process: a
synchronous provider in a plan's chain is retried, falls back, refuses and is billed like the others.

`generation_job_run` is called directly; settings.GENERATION_PROVIDERS points the adapters at the
fakes and the free plan's chain names them. Storage is the S3 server of the test run.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from avatarsite.accounts.services import user_create
from billing.models import Plan
from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.services import generation_job_create, generation_job_run
from tests.fakes.openai import OUTPUT_TOKENS, TOKEN_COSTS, FakeOpenAI
from tests.fakes.together import MODELS as TOGETHER_MODELS
from tests.fakes.together import FakeTogether

PROMPT = "A smiling woman with curly red hair and round glasses"
GPT_IMAGE = "gpt-image-1-mini"
SCHNELL = "black-forest-labs/FLUX.1-schnell"


@dataclass
class Fakes:
    openai: FakeOpenAI
    together: FakeTogether


@pytest.fixture
def fakes(settings, db) -> Iterator[Fakes]:
    """Both fakes, the adapters pointed at them, and the free plan's chain: OpenAI, then Together."""
    started = Fakes(FakeOpenAI(latency=0.05).start(), FakeTogether(latency=0.05).start())
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "openai": {"BACKEND": "generation.providers.openai.OpenAIImagesProvider", "OPTIONS": started.openai.adapter_options()},
        "together": {"BACKEND": "generation.providers.together.TogetherProvider", "OPTIONS": started.together.adapter_options()},
    }
    settings.GENERATION_PROVIDER_BACKOFF_SECONDS = 0.01
    Plan.objects.filter(slug="free").update(provider_chain=[f"openai:{GPT_IMAGE}", f"together:{SCHNELL}"])
    yield started
    started.openai.stop()
    started.together.stop()


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The pipeline's waits between attempts (its clock seam, `retry_sleep`), recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("generation.services.calls.retry_sleep", recorded.append)
    return recorded


@pytest.fixture
def user(db):
    return user_create(username="ada", email="ada@example.com", password="a-long-password-1")


def _ledger(job: GenerationJob) -> list[tuple[str, str, str]]:
    return list(CostEntry.objects.filter(job=job).order_by("created_at", "id").values_list("provider", "outcome", "error_kind"))


def test_openai_serves_the_job_and_the_ledger_has_its_token_cost_and_request_id(fakes, user):
    job = generation_job_create(user_id=user.pk, prompt=PROMPT, seed=7)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    image = GeneratedImage.objects.get(job=job)
    assert (image.provider, image.model) == ("openai", GPT_IMAGE)
    call = CostEntry.objects.get(job=job)
    assert (call.provider, call.outcome) == ("openai", "succeeded")
    assert call.request_id.startswith("req_")
    expected = (12 * TOKEN_COSTS["cost_per_million_input_tokens"] + OUTPUT_TOKENS * TOKEN_COSTS["cost_per_million_output_tokens"]) / 1e6
    assert call.cost_usd == Decimal(str(round(expected, 6)))


def test_a_429_is_waited_out_as_long_as_openai_asks_then_openai_serves(fakes, waits, user, settings):
    settings.GENERATION_PROVIDER_ATTEMPTS = 2
    fakes.openai.retry_after = 7
    fakes.openai.next_outcomes.append("rate_limited")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert len(waits) == 1
    assert waits[0] >= 7  # Retry-After, not the 0.01 s backoff
    assert _ledger(job) == [("openai", "failed", "transient"), ("openai", "succeeded", "")]
    assert fakes.together.submissions == 0


def test_openai_failing_on_every_attempt_falls_back_to_together_which_is_billed_per_megapixel(fakes, waits, user, settings):
    settings.GENERATION_PROVIDER_ATTEMPTS = 2
    fakes.openai.next_outcomes.extend(["error_transient", "error_transient"])
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    assert _ledger(job) == [("openai", "failed", "transient"), ("openai", "failed", "transient"), ("together", "succeeded", "")]
    image = GeneratedImage.objects.get(job=job)
    assert (image.provider, image.model) == ("together", SCHNELL)
    call = CostEntry.objects.get(job=job, provider="together")
    side = int(fakes.together.requests[-1]["body"]["width"])
    assert call.cost_usd == Decimal(str(round(TOGETHER_MODELS[SCHNELL]["cost_per_megapixel"] * side * side / 1024**2, 6)))
    assert not GenerationJob.objects.get(pk=job.pk).quota_refunded


def test_a_refusal_by_openai_fails_the_job_as_refused_at_no_cost_and_returns_the_quota(fakes, user):
    fakes.openai.next_outcomes.append("nsfw")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind) == ("failed", "refused")
    assert GenerationJob.objects.get(pk=job.pk).quota_refunded
    assert list(CostEntry.objects.filter(job=job).values_list("provider", "outcome", "cost_usd")) == [("openai", "refused", Decimal("0"))]
    assert fakes.together.submissions == 0
