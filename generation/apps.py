"""App config for on-demand generation."""

from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        from avatarsite.core.metrics import collector_register

        from .metrics import GenerationCollector

        collector_register(GenerationCollector())  # jobs, ledger and breakers at /metrics
