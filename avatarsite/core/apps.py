"""Registers the core package as an app so its management commands (serve, load_demo) are found."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "avatarsite.core"
    label = "core"
    verbose_name = "Core"
