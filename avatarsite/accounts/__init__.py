"""Accounts: the custom User model and sign-up, sign-in, sign-out and password reset."""
