"""Writes of the billing app: checkout and the portal, Stripe's state applied to subscriptions, its
events and invoices, the reconciler, and API keys (created, revoked, checked on each API request).

One module per job; this package re-exports the names the rest of billing and the tests call.
"""

from .api_keys import (
    ApiAccessUnavailableError,
    ApiCredential,
    ApiKeyError,
    ApiKeyLimitError,
    ApiKeyNotFoundError,
    api_key_authenticate,
    api_key_create,
    api_key_prefix_of,
    api_key_revoke,
)
from .checkout import checkout_confirm, checkout_session_apply, checkout_start, portal_start
from .errors import BillingError, BillingUnavailableError
from .events import invoice_record, invoice_subscription_id, stripe_event_receive
from .reconcile import StripeReconcileSummary, stripe_reconcile
from .subscriptions import plan_defaults_ensure, subscription_apply, subscription_refresh, subscriptions_grant

__all__ = [
    "ApiAccessUnavailableError",
    "ApiCredential",
    "ApiKeyError",
    "ApiKeyLimitError",
    "ApiKeyNotFoundError",
    "BillingError",
    "BillingUnavailableError",
    "StripeReconcileSummary",
    "api_key_authenticate",
    "api_key_create",
    "api_key_prefix_of",
    "api_key_revoke",
    "checkout_confirm",
    "checkout_session_apply",
    "checkout_start",
    "invoice_record",
    "invoice_subscription_id",
    "plan_defaults_ensure",
    "portal_start",
    "stripe_event_receive",
    "stripe_reconcile",
    "subscription_apply",
    "subscription_refresh",
    "subscriptions_grant",
]
