"""The User model, custom from the first migration so later fields need no painful swap."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signs in. E-mail is unique so password reset reaches exactly one account."""

    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.display_name or self.username
