"""The pricing page and the account page read the plans and the subscription as data."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Plan
from tests.accounts.factories import UserFactory
from tests.billing.factories import InvoiceFactory, StripeCustomerFactory, SubscriptionFactory
from tests.generation.factories import GenerationJobFactory

pytestmark = [pytest.mark.django_db, pytest.mark.fast]


@pytest.fixture
def member(client):
    user = UserFactory(username="reader")
    client.force_login(user)
    return user


def test_pricing_compares_the_plans_from_their_data(client, stripe_settings):
    Plan.objects.filter(slug="free").update(daily_quota=7)

    page = client.get(reverse("billing:pricing")).content.decode()

    assert "7 custom AI avatars a day on FLUX schnell" in page  # follows the row, not a template
    assert "50 custom AI avatars an hour on FLUX dev" in page
    assert "$10 <small>/ month</small>" in page
    assert "Talk to sales" in page  # enterprise is contracted
    assert "REST API: 10 keys, 600 requests a minute" in page
    assert "Compare the plans" in page
    assert 'href="/accounts/signup/?next=/pricing/"' in page  # a visitor signs up first


def test_pricing_marks_the_users_plan_and_offers_the_upgrade(client, stripe_settings, member):
    page = client.get(reverse("billing:pricing")).content.decode()
    assert 'data-checkout="premium"' in page
    assert page.index("data-current-plan") < page.index('data-plan="premium"')  # on the free card

    SubscriptionFactory(user=member, plan__slug="premium")
    page = client.get(reverse("billing:pricing")).content.decode()
    assert 'data-checkout="premium"' not in page
    assert page.index('data-plan="premium"') < page.index("data-current-plan")


def test_the_home_page_shows_the_same_plans(client):
    page = client.get(reverse("home")).content.decode()
    assert "5 custom AI avatars a day on FLUX schnell" in page


def test_the_account_page_shows_a_free_users_plan_and_quota(client, member):
    GenerationJobFactory(user=member, prompt="a cat astronaut", quota_units=1)  # one AI image taken today

    page = client.get(reverse("accounts:account")).content.decode()

    assert "data-plan-name>Free<" in page
    assert "1 of 5 used, 4 left" in page
    assert "data-portal" not in page  # nothing to manage before paying


def test_the_account_page_shows_a_subscription_its_renewal_and_invoices(client, stripe_settings, member):
    renews = timezone.now() + timedelta(days=20)
    SubscriptionFactory(user=member, plan__slug="premium", source="stripe", current_period_end=renews, stripe_subscription_id="sub_1")
    StripeCustomerFactory(user=member, customer_id="cus_1")
    InvoiceFactory(stripe_invoice_id="in_1", user=member, amount_paid=1000, amount_due=1000, hosted_invoice_url="https://pay.example/in_1")

    page = client.get(reverse("accounts:account")).content.decode()

    assert "data-plan-name>Premium<" in page
    assert f"data-renews>{renews:%-d %B %Y}<" in page
    assert "0 of 50 used, 50 left" in page
    assert "10.00 USD" in page
    assert 'href="https://pay.example/in_1"' in page
    assert "data-portal" in page


def test_the_account_page_explains_a_failed_payment(client, member):
    grace = timezone.now() + timedelta(days=5)
    SubscriptionFactory(user=member, plan__slug="premium", source="stripe", status="past_due", grace_until=grace)

    page = client.get(reverse("accounts:account")).content.decode()

    assert "data-plan-name>Premium<" in page
    assert f"Payment failed — your plan holds until {grace:%-d %B %Y}" in page


def test_pricing_badges_and_promises_only_what_is_on_sale(client, settings):
    settings.STRIPE_SECRET_KEY = ""  # payments not set up: nothing can be bought or canceled here

    page = client.get(reverse("billing:pricing")).content.decode()
    home = client.get(reverse("home")).content.decode()

    assert "Payments are not set up on this site" in page
    assert "Most popular" not in page
    assert "Most popular" not in home
    assert "plan-featured" not in page
    assert "Cancel any time from your account" not in page
    assert "Not on sale on this site yet." in page


def test_pricing_badges_the_plan_on_sale_and_says_it_can_be_canceled_from_the_account(client, stripe_settings):
    page = client.get(reverse("billing:pricing")).content.decode()

    featured = page[page.index("data-featured") - 400 : page.index("data-featured")]
    assert page.count("Most popular") == 1
    assert 'data-plan="premium"' in featured
    assert "Cancel any time from your account" in page


def test_the_account_page_says_plainly_when_payments_are_not_available_here(client, member, settings):
    settings.STRIPE_SECRET_KEY = ""
    SubscriptionFactory(user=member, plan__slug="premium", source="stripe", current_period_end=timezone.now() + timedelta(days=9))
    StripeCustomerFactory(user=member, customer_id="cus_1")

    page = client.get(reverse("accounts:account")).content.decode()

    assert "<h2>Plan and billing</h2>" in page
    assert "data-billing-unavailable" in page
    assert "Payments are not available on this site: plans cannot be bought, changed or canceled here." in page
    assert "data-portal" not in page


def test_the_account_page_shows_a_canceled_plan_its_end_and_the_portal(client, stripe_settings, member):
    ends = timezone.now() + timedelta(days=12)
    SubscriptionFactory(
        user=member,
        plan__slug="premium",
        source="stripe",
        current_period_end=ends,
        cancel_at_period_end=True,
        stripe_subscription_id="sub_2",
    )
    StripeCustomerFactory(user=member, customer_id="cus_2")

    page = client.get(reverse("accounts:account")).content.decode()

    assert "Canceled — ends at the end of the period" in page
    assert f"data-ends>{ends:%-d %B %Y}<" in page
    assert "data-renews" not in page
    assert "data-portal" in page
    assert "data-billing-unavailable" not in page


def test_the_account_page_of_a_contracted_plan_sends_changes_to_sales(client, stripe_settings, member):
    SubscriptionFactory(user=member, plan__slug="enterprise", source="operator")

    page = client.get(reverse("accounts:account")).content.decode()

    assert "data-plan-name>Enterprise<" in page
    assert "<dt>Term</dt><dd>By contract</dd>" in page
    assert "data-billing-contract" in page
    assert f"mailto:{stripe_settings.BILLING_SALES_EMAIL}" in page
    assert "data-portal" not in page
