"""Builds provider adapters from settings.GENERATION_PROVIDERS ({name: {"BACKEND": path, "OPTIONS": {...}}})."""

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


def provider_get(name: str) -> Any | None:
    """A new adapter for `name`, or None when it is not set up here (no entry, or no key)."""
    config = settings.GENERATION_PROVIDERS.get(name)
    if config is None:
        return None
    provider = import_string(config["BACKEND"])(**config.get("OPTIONS", {}))
    return provider if getattr(provider, "configured", True) else None
