"""Fixtures of the billing tests: a fake Stripe and the settings that point this process at it
(imports inside them: conftests load before Django is set up)."""

import pytest


@pytest.fixture
def fake_stripe():
    from tests.billing.support import WEBHOOK_SECRET
    from tests.fakes.stripe import FakeStripe

    fake = FakeStripe(webhook_secret=WEBHOOK_SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def stripe_settings(settings, fake_stripe):
    """This process's billing code talks to the fake."""
    from tests.billing.support import WEBHOOK_SECRET

    settings.STRIPE_SECRET_KEY = fake_stripe.api_key
    settings.STRIPE_API_BASE = fake_stripe.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_PREMIUM_PRICE_ID = fake_stripe.price_id
    settings.STRIPE_TIMEOUT_SECONDS = 2
    return settings
