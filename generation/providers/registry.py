"""Builds provider adapters from settings.GENERATION_PROVIDERS ({name: {"BACKEND": path, "OPTIONS": {...}}}).

An adapter is built once per process and thread (it keeps its HTTP connections warm) and built
again when the settings change.
"""

import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import Provider

_built = threading.local()
_settings_version = 0


def _adapters() -> dict[str, Provider | None]:
    if getattr(_built, "version", None) != _settings_version:
        _built.version, _built.adapters = _settings_version, {}
    return _built.adapters


def provider_build(name: str) -> Provider | None:
    """The adapter for `name` whether or not it has its key (to ask what it can do, e.g. its
    sizes, never to call it), or None when the settings have no entry."""
    adapters = _adapters()
    if name not in adapters:
        config = settings.GENERATION_PROVIDERS.get(name)
        adapters[name] = import_string(config["BACKEND"])(**config.get("OPTIONS", {})) if config else None
    return adapters[name]


def provider_get(name: str) -> Provider | None:
    """The adapter for `name`, or None when it is not set up here (no entry, or no key)."""
    provider = provider_build(name)
    return provider if provider is not None and getattr(provider, "configured", True) else None


def provider_names() -> list[str]:
    """Every provider named in the settings, set up or not."""
    return list(settings.GENERATION_PROVIDERS)


@receiver(setting_changed)
def _forget_adapters(*, setting: str, **kwargs: object) -> None:
    global _settings_version
    if setting == "GENERATION_PROVIDERS":
        _settings_version += 1
