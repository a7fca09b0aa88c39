"""Health checks of each part the site depends on, reported by /healthz.

Each check answers quickly (short timeouts, no retries) and reports only the kind of error to
the caller; the full error goes to the log, since it may name internal hosts.
"""

import asyncio
import functools
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import boto3
from asgiref.sync import sync_to_async
from botocore.config import Config as BotocoreConfig
from channels.layers import get_channel_layer
from django.core.cache import cache, caches
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0
STORAGE_ALIASES = ("default", "public")


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    latency_ms: float
    backend: str
    error: str = ""


@dataclass(frozen=True)
class HealthReport:
    checks: dict[str, CheckResult]

    @property
    def down(self) -> list[str]:
        return [name for name, result in self.checks.items() if not result.ok]

    @property
    def ok(self) -> bool:
        return not self.down

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.ok else "down",
            "down": self.down,
            "checks": {name: asdict(result) for name, result in self.checks.items()},
        }


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_cache() -> str:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("value written to the cache could not be read back")
    cache.delete(key)
    return type(caches["default"]).__name__


def check_broker() -> str:
    from avatarsite.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT_SECONDS)
        return conn.transport.driver_type


@functools.lru_cache(maxsize=4)
def _probe_client(endpoint_url: str, region: str, access_key: str, secret_key: str):
    """A client that fails fast: the storage's own client retries for many seconds."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=BotocoreConfig(
            signature_version="s3v4",
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=2,
            read_timeout=CHECK_TIMEOUT_SECONDS,
        ),
    )


def check_storage() -> str:
    kinds = []
    for alias in STORAGE_ALIASES:
        storage = storages[alias]
        if isinstance(storage, FileSystemStorage):
            location = Path(storage.location)
            location.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no media folder yet
            if not os.access(location, os.W_OK):
                raise PermissionError(f"{alias} storage folder is not writable")
            kinds.append(f"{alias}=local")
        else:
            client = _probe_client(storage.endpoint_url, storage.region_name, storage.access_key, storage.secret_key)
            client.head_bucket(Bucket=storage.bucket_name)
            kinds.append(f"{alias}=s3")
    return ",".join(kinds)


async def check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "healthz.ping":
        raise RuntimeError("channel layer returned another message")
    return layer.__class__.__name__


async def _timed(name: str, check: Callable) -> tuple[str, CheckResult]:
    started = time.perf_counter()
    try:
        if asyncio.iscoroutinefunction(check):
            backend = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        else:
            # The database check stays on Django's thread for connections; the others may run in parallel.
            runner = sync_to_async(check, thread_sensitive=check is check_database)
            backend = await asyncio.wait_for(runner(), CHECK_TIMEOUT_SECONDS)
        return name, CheckResult(ok=True, latency_ms=_ms_since(started), backend=str(backend))
    except Exception as exc:  # a health check reports every failure, whatever its kind
        logger.warning("health check %s failed: %r", name, exc)
        error = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        return name, CheckResult(ok=False, latency_ms=_ms_since(started), backend="", error=error)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


CHECKS: dict[str, Callable] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "channel_layer": check_channel_layer,
    "storage": check_storage,
}


async def health_report() -> HealthReport:
    results = await asyncio.gather(*(_timed(name, check) for name, check in CHECKS.items()))
    return HealthReport(checks=dict(results))
