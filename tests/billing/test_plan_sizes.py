"""A plan offers only sizes its provider chain can deliver: checked where plans are edited, and said honestly on the pricing page."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from billing.models import Plan
from billing.selectors import plan_features

pytestmark = [pytest.mark.django_db, pytest.mark.fast]


def _admin_form(plan: Plan, **changes: object) -> dict:
    data = {
        field: getattr(plan, field)
        for field in ("name", "slug", "display_order", "price_usd_per_month", "stripe_price_id", "queue", "priority", "max_size", "routing")
    }
    data.update(
        provider_chain=str(plan.provider_chain).replace("'", '"'),
        max_images_per_request=plan.max_images_per_request,
        daily_quota=plan.daily_quota or "",
        hourly_quota=plan.hourly_quota or "",
        api_rate_per_minute=plan.api_rate_per_minute,
        api_keys_max=plan.api_keys_max,
    )
    for flag in ("contracted", "is_default", "api_access"):
        if getattr(plan, flag):
            data[flag] = "on"
    data.update(changes)
    return data


def test_a_plan_whose_max_size_its_chain_cannot_reach_even_upscaled_is_refused():
    premium = Plan.objects.get(slug="premium")
    premium.max_size = 4096  # the chain's FLUX models make 1024 px; upscaled at most 2x: 2048

    with pytest.raises(ValidationError) as caught:
        premium.full_clean()

    assert "max_size" in caught.value.message_dict
    assert "at most 1024 px" in caught.value.message_dict["max_size"][0]


def test_the_default_plans_pass_the_check():
    for plan in Plan.objects.all():
        plan.full_clean()


def test_a_provider_chain_that_is_not_a_list_of_entries_is_refused():
    premium = Plan.objects.get(slug="premium")
    premium.provider_chain = {"replicate": "flux-dev"}

    with pytest.raises(ValidationError) as caught:
        premium.full_clean()

    assert "provider_chain" in caught.value.message_dict


def test_the_admin_refuses_a_max_size_beyond_the_chain_and_keeps_the_plan(admin_client):
    premium = Plan.objects.get(slug="premium")

    refused = admin_client.post(reverse("admin:billing_plan_change", args=[premium.pk]), _admin_form(premium, max_size=4096))
    assert refused.status_code == 200
    assert "upscaling (at most 2x, GENERATION_MAX_UPSCALE) reaches 2048 px" in refused.content.decode()
    assert Plan.objects.get(pk=premium.pk).max_size == 2048

    saved = admin_client.post(reverse("admin:billing_plan_change", args=[premium.pk]), _admin_form(premium, max_size=1536))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert Plan.objects.get(pk=premium.pk).max_size == 1536


def test_the_pricing_page_says_which_sizes_are_upscaled(client):
    page = client.get(reverse("billing:pricing")).content.decode()

    assert "Up to 2048 px (above 1024 px upscaled from the model&#x27;s 1024 px), 4 images per request" in page
    assert "Up to 1024 px, 1 image per request" in page  # free: its models make 1024 px themselves


def test_the_pricing_page_promises_only_what_the_chain_delivers_for_a_plan_saved_before_the_check():
    Plan.objects.filter(slug="premium").update(max_size=8192)  # a row no edit through the admin could make now

    assert "Up to 2048 px (above 1024 px upscaled" in plan_features(Plan.objects.get(slug="premium"))[3]


def test_without_a_sizes_function_a_plan_says_its_own_max_size(settings):
    settings.BILLING_PLAN_SIZES = ""
    premium = Plan.objects.get(slug="premium")

    assert plan_features(premium)[3] == "Up to 2048 px, 4 images per request"
    premium.max_size = 4096
    premium.full_clean()  # nothing to check against
