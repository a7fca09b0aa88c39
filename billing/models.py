"""Billing models (Plan, Subscription, StripeEvent, ApiKey) arrive with the billing work."""
