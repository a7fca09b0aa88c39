"""Buying premium in headless Chromium: pricing page, Stripe's (fake) hosted checkout, back to the
success page with the plan active; and the way back from an abandoned checkout."""

import pytest

from avatarsite.accounts.services import user_create
from billing.entitlements import entitlements
from tests.billing.support import WEBHOOK_PATH, stripe_env
from tests.fakes.stripe import FakeStripe

PASSWORD = "a-long-password-1"


@pytest.fixture(scope="module")
def stripe_site(site_servers):
    """One fake Stripe and a server of this module's own pointed at it (its hosted pages send
    webhooks back to that server)."""
    fake = FakeStripe(webhook_secret="whsec_browser").start()
    try:
        with site_servers.running("e2e-billing", **{**stripe_env(fake), "STRIPE_WEBHOOK_SECRET": "whsec_browser"}) as site:
            fake.webhook_url = site + WEBHOOK_PATH
            yield site, fake
    finally:
        fake.stop()


@pytest.fixture
def stripe(stripe_site):
    """The site and the fake, with only this test's webhook deliveries in the fake's record."""
    site, fake = stripe_site
    fake.deliveries.clear()
    return site, fake


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_user_buys_premium_from_the_pricing_page(stripe, new_page, artifacts_dir):
    user = user_create(username="shopper", email="shopper@example.com", password=PASSWORD)
    site, fake = stripe
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{site}/accounts/login/?next=/pricing/")
    page.fill("input[name=login]", "shopper")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/pricing/")
    page.screenshot(path=str(artifacts_dir / "billing-pricing.png"), full_page=True)

    # Changing one's mind on Stripe's page comes back to the cancel page, nothing bought.
    page.get_by_role("button", name="Upgrade to Premium").click()
    page.wait_for_url(f"{fake.url}/pay/**")
    page.click("#cancel")
    page.wait_for_url(f"{site}/billing/checkout-canceled/")
    canceled_heading = page.locator("h1").inner_text()

    page.goto(f"{site}/pricing/")
    page.get_by_role("button", name="Upgrade to Premium").click()
    page.wait_for_url(f"{fake.url}/pay/**")
    checkout_title = page.title()
    page.click("#pay")
    page.wait_for_url(f"{site}/billing/checkout-complete/**")
    page.screenshot(path=str(artifacts_dir / "billing-success.png"), full_page=True)
    result = page.locator("[data-checkout-result]").get_attribute("data-checkout-result")
    heading = page.locator("h1").inner_text()
    page.goto(f"{site}/accounts/")
    plan_name = page.locator("[data-plan-name]").inner_text()

    assert canceled_heading == "No charge was made"
    assert checkout_title == "Fake Stripe Checkout"
    assert result == "confirmed"
    assert heading == "You're on Premium"
    assert plan_name == "Premium"
    assert entitlements(user_id=user.pk).plan == "premium"
    assert [d["status"] for d in fake.deliveries] == [200, 200, 200]  # the site took Stripe's webhooks


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_return_page_shows_the_plan_once_stripe_confirms_it_without_a_reload(stripe, new_page, artifacts_dir):
    """Back from Stripe before the payment is through: the page asks again in the background and
    shows the plan when it is confirmed, with no timed reload of the whole page."""
    user_create(username="patient", email="patient@example.com", password=PASSWORD)
    site, fake = stripe
    page = new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{site}/accounts/login/?next=/pricing/")
    page.fill("input[name=login]", "patient")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/pricing/")
    page.get_by_role("button", name="Upgrade to Premium").click()
    page.wait_for_url(f"{fake.url}/pay/**")
    session_id = page.url.rsplit("/", 1)[-1]
    page.goto(f"{site}/billing/checkout-complete/?session_id={session_id}")
    pending = page.locator("[data-checkout-result]").get_attribute("data-checkout-result")
    page.evaluate("window.__samePage = true")  # gone if the page were loaded again
    fake.pay(session_id)
    page.wait_for_selector("[data-checkout-result=confirmed]", timeout=15_000)
    heading = page.locator("h1").inner_text()
    same_page = page.evaluate("window.__samePage === true")
    focused = page.evaluate("document.activeElement.dataset.checkoutResult")
    page.screenshot(path=str(artifacts_dir / "billing-success-polled.png"), full_page=True)

    assert pending == "pending"
    assert heading == "You're on Premium"
    assert same_page
    assert focused == "confirmed"
