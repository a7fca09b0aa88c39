"""Writes on accounts (sign-up itself is allauth's: avatarsite/accounts/forms.py, adapters.py)."""

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import transaction

from .models import User


@transaction.atomic
def user_create(*, username: str, email: str, password: str) -> User:
    """Create an active user with a hashed password, for operators, the demo and tests: the address is
    taken as verified (no one is there to click a link), as it was before sign-up had verification."""
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email.lower(), primary=True, verified=True)
    return user
