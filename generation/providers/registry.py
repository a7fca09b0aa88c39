"""Builds provider adapters from the catalogue in force: {name: {"BACKEND": path, "OPTIONS": {...}}}.

The catalogue comes from the function settings.GENERATION_PROVIDER_CATALOGUE names (the catalogue
app's rows, edited in the admin; settings.GENERATION_PROVIDERS when none is named or the table is
empty). An adapter is built once per process and thread (it keeps its HTTP connections warm) and
built again when the catalogue changes: the source hands back the same dict while nothing changed.
"""

import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .base import Provider

_built = threading.local()
Catalogue = dict[str, dict[str, Any]]


def settings_catalogue(*, fresh: bool = False) -> Catalogue:
    """The catalogue in settings (GENERATION_PROVIDERS): the source when no other is named."""
    return settings.GENERATION_PROVIDERS


def _source() -> Callable[..., Catalogue]:
    path = getattr(settings, "GENERATION_PROVIDER_CATALOGUE", "")
    return import_string(path) if path else settings_catalogue


def catalogue(*, fresh: bool = False) -> Catalogue:
    """The providers' configs in force; `fresh` looks for a change now (a run does, before it starts)."""
    return _source()(fresh=fresh)


def _adapters() -> dict[str, Provider | None]:
    configs = catalogue()
    if getattr(_built, "configs", None) is not configs:
        _built.configs, _built.adapters = configs, {}
    return _built.adapters


def provider_build(name: str) -> Provider | None:
    """The adapter for `name` whether or not it has its key (to ask what it can do, e.g. its
    sizes, never to call it), or None when the catalogue has no such provider (or it is disabled)."""
    adapters = _adapters()
    if name not in adapters:
        config = _built.configs.get(name)
        adapters[name] = import_string(config["BACKEND"])(**config.get("OPTIONS", {})) if config else None
    return adapters[name]


def provider_get(name: str) -> Provider | None:
    """The adapter for `name`, or None when it is not set up here (no entry, disabled, or no key)."""
    provider = provider_build(name)
    return provider if provider is not None and getattr(provider, "configured", True) else None


def provider_names() -> list[str]:
    """Every provider in the catalogue in force, set up or not."""
    return list(catalogue())


def model_entry(provider: Provider | None, model: str) -> dict | None:
    """The catalogue's options of `model` at `provider` (prices, capabilities, enabled), or None
    when the provider lists no such model (the local generator lists none)."""
    return (getattr(provider, "models", None) or {}).get(model)


def entry_get(entry: str) -> Provider | None:
    """The adapter for a chain entry ("provider:model") when it can be called here: its provider
    set up, and the model not switched off in the catalogue (an entry naming a model the catalogue
    does not list is the adapter's to accept or refuse)."""
    name, _, model = entry.partition(":")
    provider = provider_get(name)
    if provider is None:
        return None
    options = model_entry(provider, model) or {}
    return provider if options.get("enabled", True) else None
