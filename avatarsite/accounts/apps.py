"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "avatarsite.accounts"
    label = "accounts"
    verbose_name = "Accounts"
