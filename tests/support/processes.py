"""Running project processes (ASGI server, Celery worker, management commands) from tests."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.services import free_port, wait_for_port

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable
# Django's switch that allows ORM calls from a thread with a running event loop; tests/e2e sets it in
# the test process while its browser is open. A subprocess never inherits it: the servers and workers
# must fail on unsafe ORM calls from async code as they would in production.
ALLOW_ORM_WITH_A_LOOP = "DJANGO_ALLOW_ASYNC_UNSAFE"


def subprocess_database_url() -> str:
    """The URL of the database pytest-django created for this run (what subprocesses must use)."""
    from django.db import connection

    params = connection.settings_dict
    return f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}"


def embedded_env(media_root: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without the service variables: the settings' embedded default."""
    from tests.conftest import SERVICE_ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in {*SERVICE_ENV_VARS, ALLOW_ORM_WITH_A_LOOP}}
    return {**env, "DJANGO_SETTINGS_MODULE": "avatarsite.settings.base", "DJANGO_MEDIA_ROOT": str(media_root), **overrides}


def project_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ALLOW_ORM_WITH_A_LOOP}
    return {**env, "PYTHONUNBUFFERED": "1", **overrides}


@contextmanager
def running(args: list[str], *, env: dict[str, str], port: int | None = None, log: Path | None = None) -> Iterator[subprocess.Popen]:
    """Start a process from the project folder, wait for its port if given, and stop it after."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if port is not None:
            wait_for_port(port, timeout=60, proc=proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()


def uvicorn_args(port: int) -> list[str]:
    return [PYTHON, "-m", "uvicorn", "avatarsite.asgi:application", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]


def celery_worker_args(*queues: str, concurrency: int | None = 1) -> list[str]:
    """The worker command; `concurrency` None leaves it to the settings (CELERY_WORKER_CONCURRENCY),
    as docker-compose.yml's lanes run (the pool is the settings' too: CELERY_WORKER_POOL)."""
    return [
        PYTHON, "-m", "celery", "-A", "avatarsite", "worker", "-Q", ",".join(queues),
        *(["-c", str(concurrency)] if concurrency is not None else []),
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
    ]  # fmt: skip


__all__ = ["PYTHON", "celery_worker_args", "free_port", "project_env", "running", "subprocess_database_url", "uvicorn_args"]
