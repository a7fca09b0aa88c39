"""The pricing page and the account page read the plans and the subscription as data."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice, Plan, StripeCustomer, Subscription
from generation.models import GenerationJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(django_user_model, client):
    user = django_user_model.objects.create_user("reader", "reader@example.com", "pw-123456789")
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

    Subscription.objects.create(user=member, plan=Plan.objects.get(slug="premium"))
    page = client.get(reverse("billing:pricing")).content.decode()
    assert 'data-checkout="premium"' not in page
    assert page.index('data-plan="premium"') < page.index("data-current-plan")


def test_the_home_page_shows_the_same_plans(client):
    page = client.get(reverse("home")).content.decode()
    assert "5 custom AI avatars a day on FLUX schnell" in page


def test_the_account_page_shows_a_free_users_plan_and_quota(client, member):
    GenerationJob.objects.create(user=member, prompt="a cat astronaut", quota_units=1)  # one AI image taken today

    page = client.get(reverse("accounts:account")).content.decode()

    assert "data-plan-name>Free<" in page
    assert "1 of 5 used, 4 left" in page
    assert "data-portal" not in page  # nothing to manage before paying


def test_the_account_page_shows_a_subscription_its_renewal_and_invoices(client, stripe_settings, member):
    renews = timezone.now() + timedelta(days=20)
    Subscription.objects.create(
        user=member, plan=Plan.objects.get(slug="premium"), source="stripe", current_period_end=renews, stripe_subscription_id="sub_1"
    )
    StripeCustomer.objects.create(user=member, customer_id="cus_1")
    Invoice.objects.create(
        stripe_invoice_id="in_1",
        user=member,
        status="paid",
        amount_paid=1000,
        amount_due=1000,
        hosted_invoice_url="https://pay.example/in_1",
        created=timezone.now(),
    )

    page = client.get(reverse("accounts:account")).content.decode()

    assert "data-plan-name>Premium<" in page
    assert f"data-renews>{renews:%-d %B %Y}<" in page
    assert "0 of 50 used, 50 left" in page
    assert "10.00 USD" in page
    assert 'href="https://pay.example/in_1"' in page
    assert "data-portal" in page


def test_the_account_page_explains_a_failed_payment(client, member):
    grace = timezone.now() + timedelta(days=5)
    Subscription.objects.create(user=member, plan=Plan.objects.get(slug="premium"), source="stripe", status="past_due", grace_until=grace)

    page = client.get(reverse("accounts:account")).content.decode()

    assert "data-plan-name>Premium<" in page
    assert f"Payment failed — your plan holds until {grace:%-d %B %Y}" in page
