"""Checkout, its return pages, the portal, and Stripe's create calls (each carries an idempotency key a retry reuses): nothing about a
subscription is recorded before Stripe confirms it, and a retried create never makes a second object."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from billing.entitlements import entitlements
from billing.models import CheckoutAttempt, StripeCustomer, Subscription
from tests.accounts.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.fast]

CHECKOUT = "/billing/checkout/premium/"


@pytest.fixture
def member(client):
    user = UserFactory(username="buyer")
    client.force_login(user)
    return user


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _session_id(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def test_checkout_sends_the_user_to_stripe_and_records_no_subscription_yet(client, stripe_settings, fake_stripe, member):
    response = client.post(CHECKOUT)

    assert response.status_code == 302
    assert response.url.startswith(f"{fake_stripe.url}/pay/cs_")
    session = fake_stripe.checkout_sessions[_session_id(response.url)]
    assert session["mode"] == "subscription"
    assert session["client_reference_id"] == str(member.pk)
    assert session["success_url"] == "http://testserver/billing/checkout-complete/?session_id={CHECKOUT_SESSION_ID}"
    assert session["cancel_url"] == "http://testserver/billing/checkout-canceled/"
    assert session["customer"] == StripeCustomer.objects.get(user=member).customer_id
    assert fake_stripe.customers[session["customer"]]["email"] == "buyer@example.com"
    assert not Subscription.objects.exists()
    assert entitlements(user_id=member.pk).plan == "free"


def test_a_repeated_click_reuses_the_same_checkout_session(client, stripe_settings, fake_stripe, member):
    first, second = client.post(CHECKOUT), client.post(CHECKOUT)

    assert first.url == second.url
    assert len(fake_stripe.checkout_sessions) == 1
    assert len(fake_stripe.customers) == 1
    assert CheckoutAttempt.objects.count() == 1


def test_every_create_carries_an_idempotency_key_that_a_retry_reuses(client, stripe_settings, fake_stripe, member):
    """Idempotency keys are stable across retries: Stripe fails three times (the library retried twice): the user sees a clear message,
    nothing is recorded; the user's retry sends the same keys, and Stripe ends with one of each."""
    fake_stripe.next_outcomes.extend([500, 500, 500])

    failed = client.post(CHECKOUT)

    assert failed.status_code == 302
    assert failed.url == reverse("billing:pricing")
    assert any("unavailable right now" in message for message in _messages(failed))
    assert not Subscription.objects.exists()
    assert not StripeCustomer.objects.exists()

    retried = client.post(CHECKOUT)

    assert retried.url.startswith(f"{fake_stripe.url}/pay/")
    posts = [request for request in fake_stripe.requests if request["method"] == "POST"]
    assert all(request["idempotency_key"] for request in posts)
    customer_keys = {request["idempotency_key"] for request in posts if request["path"] == "/v1/customers"}
    session_keys = {request["idempotency_key"] for request in posts if request["path"] == "/v1/checkout/sessions"}
    assert customer_keys == {f"customer-{member.pk}"}
    assert session_keys == {f"checkout-session-{CheckoutAttempt.objects.get().pk}"}
    assert len([r for r in posts if r["path"] == "/v1/customers"]) == 4  # 3 failed tries, then the retry
    assert len(fake_stripe.customers) == 1
    assert len(fake_stripe.checkout_sessions) == 1


def test_a_lost_answer_is_recovered_by_the_same_key_without_a_second_customer(client, stripe_settings, fake_stripe, member):
    fake_stripe.next_outcomes.append("drop_after")  # Stripe creates the customer, the answer is lost

    response = client.post(CHECKOUT)

    assert response.url.startswith(f"{fake_stripe.url}/pay/")  # the library's retry got the first answer back
    assert len(fake_stripe.customers) == 1


def test_stripe_unreachable_gives_a_clear_message(client, stripe_settings, fake_stripe, member):
    fake_stripe.next_outcomes.extend(["drop", "drop", "drop"])

    response = client.post(CHECKOUT, follow=True)

    assert "Payments are unavailable right now: nothing was charged" in response.content.decode()
    assert not Subscription.objects.exists()


def test_without_stripe_keys_plans_are_shown_but_not_sold(client, settings, member):
    settings.STRIPE_SECRET_KEY = ""

    page = client.get(reverse("billing:pricing")).content.decode()
    response = client.post(CHECKOUT, follow=True)

    assert "Payments are not set up on this site" in page
    assert 'data-checkout="premium"' not in page
    assert "Payments are not set up on this site yet." in response.content.decode()


@pytest.mark.parametrize("slug", ["free", "enterprise"])
def test_plans_not_sold_by_checkout_are_refused_with_a_message(client, stripe_settings, member, slug):
    response = client.post(f"/billing/checkout/{slug}/", follow=True)
    assert "is not sold online" in response.content.decode()
    assert not CheckoutAttempt.objects.exists()


def test_checkout_of_an_unknown_plan_is_404_and_get_is_405(client, stripe_settings, member):
    assert client.post("/billing/checkout/platinum/").status_code == 404
    assert client.get(CHECKOUT).status_code == 405


def test_checkout_needs_an_account(client, stripe_settings):
    response = client.post(CHECKOUT)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_the_return_page_applies_the_plan_as_soon_as_stripe_confirms_it(client, stripe_settings, fake_stripe, member):
    session_id = _session_id(client.post(CHECKOUT).url)
    fake_stripe.pay(session_id)  # no webhook configured: only the return page can know

    page = client.get(reverse("billing:checkout_success"), {"session_id": session_id}).content.decode()

    assert 'data-checkout-result="confirmed"' in page
    assert "You're on Premium" in page
    assert entitlements(user_id=member.pk).plan == "premium"
    assert CheckoutAttempt.objects.get().status == CheckoutAttempt.Status.COMPLETE


def test_the_return_page_waits_for_stripe_when_the_session_is_not_paid(client, stripe_settings, fake_stripe, member):
    session_id = _session_id(client.post(CHECKOUT).url)

    page = client.get(reverse("billing:checkout_success"), {"session_id": session_id}).content.decode()

    assert 'data-checkout-result="pending"' in page
    assert "data-checkout-poll" in page  # checks again in the background (tests/e2e/test_billing_browser.py)
    assert 'http-equiv="refresh"' not in page  # no timed reload of the whole page
    assert not Subscription.objects.exists()


def test_someone_elses_session_id_on_the_return_page_changes_nothing(client, stripe_settings, fake_stripe, member):
    session_id = _session_id(client.post(CHECKOUT).url)
    fake_stripe.pay(session_id)
    other = UserFactory(username="other")
    client.force_login(other)

    page = client.get(reverse("billing:checkout_success"), {"session_id": session_id}).content.decode()

    assert 'data-checkout-result="pending"' in page
    assert entitlements(user_id=other.pk).plan == "free"
    assert not Subscription.objects.exists()


def test_the_cancel_page_says_nothing_was_charged(client, member):
    page = client.get(reverse("billing:checkout_canceled")).content.decode()
    assert "No charge was made" in page


def test_the_portal_opens_for_a_customer_and_explains_itself_otherwise(client, stripe_settings, fake_stripe, member):
    refused = client.post(reverse("billing:portal"), follow=True)
    assert "no billing account to manage yet" in refused.content.decode()

    client.post(CHECKOUT)  # makes the Stripe customer
    response = client.post(reverse("billing:portal"))

    assert response.status_code == 302
    assert response.url.startswith(f"{fake_stripe.url}/portal/")
    portal_posts = [r for r in fake_stripe.requests if r["path"] == "/v1/billing_portal/sessions"]
    assert portal_posts[0]["params"]["return_url"] == "http://testserver/accounts/"
    assert portal_posts[0]["idempotency_key"]
