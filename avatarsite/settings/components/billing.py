"""Billing: Stripe keys and API, the premium price, grace days, the sales address."""

from .env import env

# --- Billing (Stripe) ---------------------------------------------------------------------------
# Without a secret key the pricing page says payments are not set up here; nothing else changes.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Stripe's API; tests point it at a local fake.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
# The Price checkout sells for the premium plan (a plan's own stripe_price_id, set in the admin, wins).
STRIPE_PREMIUM_PRICE_ID = env("STRIPE_PREMIUM_PRICE_ID", default="")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
# How long a past-due subscription keeps its plan while Stripe retries the card.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)
# Where the pricing page sends enterprise enquiries.
BILLING_SALES_EMAIL = env("BILLING_SALES_EMAIL", default="sales@example.com")
