"""Plans, subscriptions and entitlements: who may do what."""
