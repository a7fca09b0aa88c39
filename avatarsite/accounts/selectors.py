"""Reads on accounts: what the account page's Security section shows."""

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.conf import settings


@dataclass(frozen=True)
class AccountSecurity:
    email: str
    email_verified: bool
    other_emails: int
    two_factor: bool
    recovery_codes_left: int | None
    social_providers: tuple[str, ...]  # configured on this site
    social_connected: tuple[str, ...]  # connected to this account


def account_security(*, user_id: int, email: str) -> AccountSecurity:
    """The user's addresses, two-factor state and connected providers (three small queries)."""
    addresses = list(EmailAddress.objects.filter(user_id=user_id).values_list("email", "verified", "primary"))
    primary = next((a for a in addresses if a[2]), None) or next((a for a in addresses if a[0] == email.lower()), None)
    authenticators = {a.type: a for a in Authenticator.objects.filter(user_id=user_id)}
    recovery = authenticators.get(Authenticator.Type.RECOVERY_CODES)
    return AccountSecurity(
        email=primary[0] if primary else email,
        email_verified=bool(primary and primary[1]),
        other_emails=max(len(addresses) - 1, 0),
        two_factor=Authenticator.Type.TOTP in authenticators,
        recovery_codes_left=len(recovery.wrap().get_unused_codes()) if recovery else None,
        social_providers=tuple(settings.SOCIALACCOUNT_PROVIDERS),
        social_connected=tuple(SocialAccount.objects.filter(user_id=user_id).values_list("provider", flat=True))
        if settings.SOCIALACCOUNT_PROVIDERS
        else (),
    )
