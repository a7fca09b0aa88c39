"""What the benchmarks share: a throwaway PostgreSQL and Redis, and this process's Django set up on
them with the settings the servers it starts get (DEBUG off, as deployed)."""

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.support.services import PostgresServer, RedisServer  # noqa: E402

# Every benchmark's Django settings; each adds its own services and switches.
BENCH_ENV = {"DJANGO_SETTINGS_MODULE": "bench.settings", "DJANGO_SECRET_KEY": "bench-secret-key-" + "x" * 40}


@contextlib.contextmanager
def postgres_and_redis() -> Iterator[tuple[PostgresServer, RedisServer]]:
    """Both started, and stopped on the way out (also on an error or Ctrl-C)."""
    postgres, redis = PostgresServer(), RedisServer()
    postgres.start()
    try:
        redis.start()
        try:
            yield postgres, redis
        finally:
            redis.stop()
    finally:
        postgres.stop()


def django_setup(env: dict[str, str]) -> None:
    """Point this process at `env` (what the started servers get too), set Django up and migrate."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def uvicorn_command(port: int, *, workers: int = 1) -> list[str]:
    """The web server as deployed: uvicorn on loopback, quiet."""
    return [sys.executable, "-m", "uvicorn", "avatarsite.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--no-access-log", "--log-level", "warning", "--lifespan", "on"]  # fmt: skip
