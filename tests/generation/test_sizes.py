"""What sizes a plan's chain delivers (generation/sizes.py): natively, and by the upscaling step up to GENERATION_MAX_UPSCALE."""

import pytest
from django.urls import reverse

from billing.default_plans import DEFAULT_PLANS
from billing.entitlements import Entitlements
from billing.models import Plan
from generation.sizes import chain_sizes, entry_max_side, plan_sizes, within_upscale
from tests.billing.factories import SubscriptionFactory

pytestmark = pytest.mark.fast

PREMIUM_CHAIN = ["replicate:black-forest-labs/flux-dev", "fal:fal-ai/flux/dev"]


@pytest.mark.parametrize(
    "entry",
    ["replicate:black-forest-labs/flux-dev", "replicate:black-forest-labs/flux-schnell", "fal:fal-ai/flux/dev", "fal:fal-ai/flux/schnell"],
)
def test_the_catalogue_says_every_flux_model_in_the_default_chains_tops_out_at_1024_px(entry):
    # Replicate: megapixels "1" at 1:1 is 1024 x 1024, nothing larger. fal: UNCONFIRMED above its square_hd preset.
    assert entry_max_side(entry) == 1024


def test_a_chain_entry_whose_provider_is_not_in_the_settings_makes_nothing():
    assert entry_max_side("midjourney:v6") == 0


@pytest.mark.parametrize("plan", DEFAULT_PLANS, ids=lambda plan: plan["slug"])
def test_every_default_plan_offers_only_sizes_its_chain_delivers(plan):
    sizes = chain_sizes(provider_chain=plan["provider_chain"], max_size=plan["max_size"])

    assert sizes.deliverable
    assert sizes.problem == ""
    assert sizes.offered_max == plan["max_size"]


def test_premium_reaches_2048_px_by_upscaling_its_models_1024_px_and_says_so():
    sizes = chain_sizes(provider_chain=PREMIUM_CHAIN, max_size=2048)

    assert (sizes.native_max, sizes.max_with_upscaling) == (1024, 2048)
    assert [sizes.upscaled_from(size) for size in (512, 1024, 1536, 2048)] == [None, None, 1024, 1024]
    assert sizes.summary == "Up to 2048 px (above 1024 px upscaled from the model's 1024 px)"


def test_a_plan_within_its_models_sides_is_described_without_upscaling():
    sizes = chain_sizes(provider_chain=PREMIUM_CHAIN, max_size=1024)

    assert sizes.summary == "Up to 1024 px"
    assert sizes.upscaled_from(1024) is None


def test_a_max_size_beyond_the_upscaling_step_is_a_problem_and_is_not_offered():
    sizes = chain_sizes(provider_chain=PREMIUM_CHAIN, max_size=4096)

    assert not sizes.deliverable
    assert "at most 1024 px" in sizes.problem
    assert "2048" in sizes.problem
    assert sizes.offered_max == 2048
    assert sizes.summary.startswith("Up to 2048 px")  # what it really delivers, not the row's 4096


def test_the_upscale_limit_is_a_setting(settings):
    settings.GENERATION_MAX_UPSCALE = 1.0  # no upscaling at all

    sizes = chain_sizes(provider_chain=PREMIUM_CHAIN, max_size=2048)

    assert (sizes.deliverable, sizes.offered_max) == (False, 1024)
    assert within_upscale(native=1024, size=1024)
    assert not within_upscale(native=1024, size=1025)
    settings.GENERATION_MAX_UPSCALE = 2.0
    assert within_upscale(native=1024, size=2048)
    assert not within_upscale(native=1024, size=2049)


def test_a_model_that_makes_larger_images_raises_the_chains_reach(settings):
    fal = settings.GENERATION_PROVIDERS["fal"]
    models = {**fal["OPTIONS"]["models"], "fal-ai/flux/dev": {**fal["OPTIONS"]["models"]["fal-ai/flux/dev"], "max_side": 2048}}
    settings.GENERATION_PROVIDERS = {**settings.GENERATION_PROVIDERS, "fal": {**fal, "OPTIONS": {**fal["OPTIONS"], "models": models}}}

    sizes = chain_sizes(provider_chain=PREMIUM_CHAIN, max_size=4096)

    assert (sizes.native_max, sizes.native_min, sizes.max_with_upscaling, sizes.deliverable) == (2048, 1024, 4096, True)
    # Replicate, first in the chain, still tops out at 1024: above that its images are upscaled.
    assert sizes.upscaled_from(2048) == 1024


def test_a_plan_without_ai_models_is_served_by_the_local_generator():
    sizes = chain_sizes(provider_chain=[], max_size=2048)

    assert (sizes.native_max, sizes.summary) == (2048, "Up to 2048 px")


def test_a_chain_of_unknown_providers_delivers_nothing():
    sizes = chain_sizes(provider_chain=["midjourney:v6"], max_size=1024)

    assert (sizes.deliverable, sizes.offered_max) == (False, 0)
    assert "set up" in sizes.problem


@pytest.mark.django_db
def test_plan_sizes_reads_a_users_entitlements():
    sizes = plan_sizes(Entitlements.of(Plan.objects.get(slug="premium")))

    assert (sizes.max_size, sizes.offered_max, sizes.upscaled_from(2048)) == (2048, 2048, 1024)


@pytest.mark.django_db
def test_the_generate_form_names_the_upscaled_size_and_offers_none_its_chain_cannot_deliver(client, ada, settings):
    SubscriptionFactory(user=ada, plan__slug="premium")
    client.force_login(ada)

    form = client.get(reverse("generation:index")).content.decode()
    assert '<option value="2048">2048 \N{MULTIPLICATION SIGN} 2048 px (upscaled from 1024 px)</option>' in form
    assert '<option value="1024" selected>1024 \N{MULTIPLICATION SIGN} 1024 px</option>' in form

    settings.GENERATION_MAX_UPSCALE = 1.0
    form = client.get(reverse("generation:index")).content.decode()
    assert 'value="2048"' not in form
