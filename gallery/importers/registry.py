"""Builds importers from settings.GALLERY_IMPORTERS ({slug: {"BACKEND": dotted path, "OPTIONS": {...}}})."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


def importer_slugs() -> list[str]:
    return sorted(settings.GALLERY_IMPORTERS)


def importer_get(slug: str, **overrides: Any) -> Any:
    """A new importer for the source, configured from settings (read now, so tests can override)."""
    try:
        config = settings.GALLERY_IMPORTERS[slug]
    except KeyError:
        raise ImproperlyConfigured(f"No importer '{slug}'; known: {', '.join(importer_slugs())}") from None
    return import_string(config["BACKEND"])(**{**config.get("OPTIONS", {}), **overrides})
