"""Routing by plan policy (generation/chains.py): each job's chain is ordered from the catalogue's
prices and capabilities and the providers' health, and a plan offers only what its chain delivers.

The adapters are the real ones pointed at their fakes; a job is run in-process (generation_job_run)."""

from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from avatarsite.accounts.services import user_create
from billing.entitlements import entitlements
from billing.models import Plan
from generation.chains import chain_route, entry_price
from generation.forms import GenerateForm
from generation.models import CostEntry, GeneratedImage
from generation.services import generation_job_create, generation_job_run
from tests.fakes.fal import FakeFal
from tests.fakes.openai import FakeOpenAI
from tests.fakes.together import FakeTogether

PROMPT = "A smiling woman with curly red hair and round glasses"
FAL = "fal:fal-ai/flux/schnell"  # $0.003 per megapixel
OPENAI = "openai:gpt-image-1-mini"  # $0.011 per image (no token usage known before the call)
DALL_E_3 = "openai:dall-e-3"  # one image per call
TOGETHER = "together:black-forest-labs/FLUX.1-schnell"  # $0.0027 per megapixel
TOGETHER_FREE = "together:black-forest-labs/FLUX.1-schnell-Free"  # $0


@dataclass
class Fakes:
    openai: FakeOpenAI
    together: FakeTogether
    fal: FakeFal


@pytest.fixture
def fakes(settings, db) -> Iterator[Fakes]:
    """Three providers, the real adapters pointed at their fakes, with the shipped catalogue's models and prices."""
    started = Fakes(FakeOpenAI(latency=0.05).start(), FakeTogether(latency=0.05).start(), FakeFal(latency=0.05).start())
    shipped = settings.GENERATION_PROVIDERS

    def pointed(name: str, fake) -> dict:
        options = fake.adapter_options()
        return {**shipped[name], "OPTIONS": {**options, "models": {**options.get("models", {}), **shipped[name]["OPTIONS"]["models"]}}}

    settings.GENERATION_PROVIDERS = {
        **shipped,
        "openai": pointed("openai", started.openai),
        "together": pointed("together", started.together),
        "fal": pointed("fal", started.fal),
    }
    settings.GENERATION_PROVIDER_BACKOFF_SECONDS = 0.01
    settings.GENERATION_PROVIDER_ATTEMPTS = 1
    yield started
    for fake in (started.openai, started.together, started.fal):
        fake.stop()


def _health(**by_entry):
    """Health as generation.health measures it, for the entries named (the rest have no calls)."""

    def measured(entries, *, window):
        return {entry: SimpleNamespace(**by_entry[entry]) for entry in entries if entry in by_entry}

    return measured


CHAIN = [OPENAI, FAL, TOGETHER_FREE, TOGETHER]


def test_ordered_keeps_the_plans_order(fakes):
    assert chain_route(chain=CHAIN, policy="ordered", size=1024, num_images=1) == tuple(CHAIN)


def test_cheapest_healthy_first_prices_this_request_and_puts_the_unhealthy_last(fakes):
    quiet = _health()
    assert chain_route(chain=CHAIN, policy="cheapest", size=1024, num_images=1, health=quiet) == (TOGETHER_FREE, TOGETHER, FAL, OPENAI)
    # $0.0027 vs $0.003 per megapixel: Together before fal at any size; per image, OpenAI last.
    assert entry_price(TOGETHER, size=1024, num_images=2, seconds=0) == pytest.approx(0.0027 * 1024 * 1024 / 1e6 * 2)
    tripped = _health(**{TOGETHER_FREE: {"breaker": "open", "success_rate": 1.0, "p50_ms": 100}})
    assert chain_route(chain=CHAIN, policy="cheapest", size=1024, num_images=1, health=tripped) == (TOGETHER, FAL, OPENAI, TOGETHER_FREE)
    failing = _health(**{TOGETHER: {"breaker": "closed", "success_rate": 0.4, "p50_ms": 100}})
    assert chain_route(chain=CHAIN, policy="cheapest", size=1024, num_images=1, health=failing)[-1] == TOGETHER


def test_fastest_healthy_first_uses_measured_medians_then_expected_times(fakes, settings):
    settings.GENERATION_EXPECTED_SECONDS = {"openai": 20, "together": 3, "fal": 4}
    measured = _health(
        **{
            OPENAI: {"breaker": "closed", "success_rate": 1.0, "p50_ms": 900},
            FAL: {"breaker": "closed", "success_rate": 0.95, "p50_ms": 5000},
        }
    )
    # OpenAI 0.9 s measured, Together 3 s expected (both of its entries, in the plan's order), fal 5 s measured.
    assert chain_route(chain=CHAIN, policy="fastest", size=1024, num_images=1, health=measured) == (OPENAI, TOGETHER_FREE, TOGETHER, FAL)


def test_free_first_then_the_others_in_the_plans_order(fakes):
    assert chain_route(chain=CHAIN, policy="free_first", size=1024, num_images=1, health=_health()) == (
        TOGETHER_FREE,
        OPENAI,
        FAL,
        TOGETHER,
    )


def test_entries_that_cannot_make_the_request_are_left_out(fakes, settings):
    chain = [DALL_E_3, FAL, "nowhere:model"]
    assert chain_route(chain=chain, policy="ordered", size=1024, num_images=4) == (FAL,)  # dall-e-3 makes one per call
    assert chain_route(chain=chain, policy="ordered", size=1024, num_images=1) == (DALL_E_3, FAL)
    assert chain_route(chain=[FAL], policy="ordered", size=4096, num_images=1) == ()  # beyond 1024 x GENERATION_MAX_UPSCALE


def test_the_policy_orders_a_real_jobs_chain_from_the_ledgers_health(fakes, settings):
    """A plan set to "cheapest": the job's chain starts with the free model and the free model serves it."""
    Plan.objects.filter(slug="free").update(provider_chain=[OPENAI, FAL, TOGETHER_FREE], routing="cheapest")
    user = user_create(username="ada", email="ada@example.com", password="a-long-password-1")

    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    assert job.provider_chain == [TOGETHER_FREE, FAL, OPENAI]
    done = generation_job_run(job_id=str(job.id))
    assert done.status == "succeeded"
    assert (GeneratedImage.objects.get(job=job).model, CostEntry.objects.get(job=job).cost_usd) == (
        "black-forest-labs/FLUX.1-schnell-Free",
        0,
    )
    assert (fakes.openai.submissions, fakes.fal.submissions) == (0, 0)


def test_a_provider_failing_in_the_ledger_goes_last_for_the_next_job(fakes, settings):
    """Health is measured, not declared: five failed calls of the free model in the last hour put it
    behind the paid ones that have none."""
    settings.GENERATION_HEALTH_CACHE_SECONDS = 0
    Plan.objects.filter(slug="free").update(provider_chain=[OPENAI, FAL, TOGETHER_FREE], routing="cheapest")
    provider, model = TOGETHER_FREE.split(":", 1)
    CostEntry.objects.bulk_create(
        CostEntry(job=None, provider=provider, model=model, outcome="failed", error_kind="transient", error="HTTP 503") for _ in range(5)
    )
    user = user_create(username="di", email="di@example.com", password="a-long-password-1")

    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    assert job.provider_chain == [FAL, OPENAI, TOGETHER_FREE]
    assert generation_job_run(job_id=str(job.id)).status == "succeeded"
    assert (fakes.fal.submissions, fakes.together.submissions) == (1, 0)


def test_a_chain_of_three_whose_first_two_fail_ends_at_the_third(fakes):
    Plan.objects.filter(slug="free").update(provider_chain=[OPENAI, TOGETHER, FAL], routing="ordered")
    fakes.openai.next_outcomes.append("error_transient")
    fakes.together.next_outcomes.append("error_permanent")
    user = user_create(username="bob", email="bob@example.com", password="a-long-password-1")
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert done.status == "succeeded"
    ledger = list(CostEntry.objects.filter(job=job).order_by("created_at", "id").values_list("provider", "outcome", "error_kind"))
    assert ledger == [("openai", "failed", "transient"), ("together", "failed", "permanent"), ("fal", "succeeded", "")]
    assert GeneratedImage.objects.get(job=job).provider == "fal"
    assert (done.quota_units, done.quota_refunded) == (1, False)


def test_a_plan_offers_only_as_many_images_as_a_model_of_its_chain_makes(fakes, client):
    plan = Plan.objects.get(slug="premium")
    plan.provider_chain, plan.max_images_per_request = [DALL_E_3], 4
    with pytest.raises(ValidationError) as refused:
        plan.full_clean()
    assert "makes more than 1 image(s) per request" in str(refused.value.message_dict["max_images_per_request"])

    plan.provider_chain = [DALL_E_3, OPENAI]  # gpt-image makes up to 10
    plan.full_clean()
    plan.save()
    user = user_create(username="cy", email="cy@example.com", password="a-long-password-1")
    Plan.objects.filter(slug="premium").update(provider_chain=[DALL_E_3])  # the catalogue changed under it
    form = GenerateForm(plan=entitlements(user_id=user.pk).__class__.of(Plan.objects.get(slug="premium")))
    assert [value for value, _ in form.fields["num_images"].choices] == [1]
