"""App config for the provider catalogue."""

from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "catalogue"
    verbose_name = "Provider catalogue"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers that publish a change
