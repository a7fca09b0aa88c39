"""Registers the core package as an app so its management commands (serve, load_demo) are found, and
its OpenAPI extension (the API-key scheme) is known to drf-spectacular."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "avatarsite.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from . import openapi  # noqa: F401 - registers the API-key security scheme
