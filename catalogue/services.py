"""Writes to the catalogue: publishing a change to every process, and importing the settings catalogue."""

import contextlib
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.cache import cache
from django.db import transaction

from avatarsite.core.infrastructure import REDIS_ERRORS

from .conversion import rows_from_settings
from .models import ImageModel, ImageProvider
from .selectors import VERSION_KEY, catalogue_forget


def catalogue_changed() -> None:
    """This process reloads at once; every other one at its next look, once the change is committed
    (published before the commit, another process could load the old rows under the new version)."""
    catalogue_forget()
    transaction.on_commit(_publish)


def _publish() -> None:
    # The cache down: other processes keep what they loaded until the next change is published.
    with contextlib.suppress(*REDIS_ERRORS):
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


@transaction.atomic
def catalogue_import(*, providers: Mapping[str, Mapping[str, Any]], replace: bool = False) -> list[str]:
    """Write `providers` (the shape of settings.GENERATION_PROVIDERS) as rows; returns the names
    written. Providers already in the catalogue are left as the operator made them, unless `replace`."""
    written = []
    for row in rows_from_settings(providers):
        provider = ImageProvider.objects.filter(name=row.name).first()
        if provider is not None and not replace:
            continue
        if provider is not None:
            provider.delete()
        provider = ImageProvider.objects.create(
            name=row.name,
            adapter=row.adapter,
            key_env=row.key_env,
            base_url=row.base_url,
            timeout_seconds=row.timeout_seconds,
            output_hosts=row.output_hosts,
            options=row.options,
            enabled=row.enabled,
        )
        ImageModel.objects.bulk_create(ImageModel(provider=provider, **vars(model)) for model in row.models)
        written.append(row.name)
    catalogue_changed()
    return written
