"""The catalogue in force, as adapter configs for generation's registry.

Each process keeps the configs it loaded and asks the shared cache for the catalogue's version at
most every CATALOGUE_REFRESH_SECONDS (and whenever a caller asks for a fresh look, as a job's run
does before it starts): a change saved in the admin publishes a new version, so every web and
worker process builds its adapters anew for the next job, with no restart.

When the catalogue table holds no provider at all (a site whose rows were all deleted, or the test
suite, which configures providers in settings), settings.GENERATION_PROVIDERS is in force.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError

from avatarsite.core.infrastructure import REDIS_ERRORS

from .conversion import ModelRow, ProviderRow, configs_from_rows
from .models import ImageModel, ImageProvider

logger = logging.getLogger(__name__)

VERSION_KEY = "catalogue:version"


@dataclass(frozen=True)
class _Snapshot:
    # The version published when the configs were loaded (None: none published yet).
    version: str | None
    # None: the table is empty, the settings catalogue is in force.
    configs: dict[str, dict[str, Any]] | None
    checked_at: float


_lock = threading.Lock()
_snapshot: _Snapshot | None = None
_UNKNOWN = object()


def provider_configs(*, fresh: bool = False) -> dict[str, dict[str, Any]]:
    """{name: {"BACKEND", "OPTIONS"}} of the enabled providers; the same object while nothing
    changed, so a caller may compare it by identity. `fresh`: ask for the version now."""
    global _snapshot
    snapshot = _snapshot
    now = time.monotonic()
    if snapshot is None or fresh or now - snapshot.checked_at >= settings.CATALOGUE_REFRESH_SECONDS:
        with _lock:
            snapshot = _snapshot = _refreshed(_snapshot, now)
    if snapshot is None or snapshot.configs is None:
        return settings.GENERATION_PROVIDERS
    return snapshot.configs


def catalogue_forget() -> None:
    """Drop this process's loaded catalogue: the next read loads it again (after a change here)."""
    global _snapshot
    with _lock:
        _snapshot = None


def _published_version() -> object:
    try:
        return cache.get(VERSION_KEY)
    except REDIS_ERRORS as exc:
        logger.warning("catalogue: the cache is unreachable (%r); keeping the catalogue loaded", exc)
        return _UNKNOWN


def _refreshed(snapshot: _Snapshot | None, now: float) -> _Snapshot | None:
    version = _published_version()
    if snapshot is not None and (version is _UNKNOWN or version == snapshot.version):
        return _Snapshot(version=snapshot.version, configs=snapshot.configs, checked_at=now)
    try:
        configs = _load()
    except DatabaseError as exc:  # the database is down, or not migrated yet
        logger.warning("catalogue: cannot read the provider catalogue (%r); using %s", exc, "the one loaded" if snapshot else "settings")
        return snapshot
    return _Snapshot(version=None if version is _UNKNOWN else version, configs=configs, checked_at=now)


def _load() -> dict[str, dict[str, Any]] | None:
    providers = list(ImageProvider.objects.prefetch_related("models"))
    if not providers:
        return None
    rows = [provider_row(provider) for provider in providers]
    return configs_from_rows(rows, allow_loopback=settings.OUTBOUND_ALLOW_LOOPBACK)


def provider_row(provider: ImageProvider) -> ProviderRow:
    """A provider and its models as the plain rows `conversion` works on."""
    return ProviderRow(
        name=provider.name,
        adapter=provider.adapter,
        key_env=provider.key_env,
        base_url=provider.base_url,
        timeout_seconds=provider.timeout_seconds,
        output_hosts=list(provider.output_hosts or []),
        options=dict(provider.options or {}),
        enabled=provider.enabled,
        models=[model_row(model) for model in provider.models.all()],
    )


def model_row(model: ImageModel) -> ModelRow:
    return ModelRow(
        model_id=model.model_id,
        enabled=model.enabled,
        max_side=model.max_side,
        side_step=model.side_step,
        aspect_ratios=list(model.aspect_ratios or []),
        images_per_call=model.images_per_call,
        supports_seed=model.supports_seed,
        supports_negative_prompt=model.supports_negative_prompt,
        supports_reference_image=model.supports_reference_image,
        price_unit=model.price_unit,
        price_usd=model.price_usd,
        licence=model.licence,
        commercial_use=model.commercial_use,
        options=dict(model.options or {}),
    )
