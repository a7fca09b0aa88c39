"""Writes on accounts."""

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import User


@transaction.atomic
def user_create(*, username: str, email: str, password: str) -> User:
    """Create an active user with a hashed password."""
    return get_user_model().objects.create_user(username=username, email=email, password=password)
