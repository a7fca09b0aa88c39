"""Celery worker subprocesses for fault and ordering tests: their environment, their pool child,
the broker's state, and waiting on conditions (never on fixed sleeps alone)."""

import json
import time
from collections.abc import Callable
from pathlib import Path

from avatarsite.celery import QUEUES
from tests.support.processes import celery_worker_args, project_env, subprocess_database_url

# The queues declared in avatarsite/celery.py; with priority steps 0-9 and sep ":", priority n > 0
# of queue q is the Redis list "q:n" (priority 0 is the bare list).


def wait_for(predicate: Callable[[], object], *, timeout: float, interval: float = 0.1, what: str = "the condition") -> object:
    """Poll until `predicate()` is truthy and return its value; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def worker_args(*queues: str, name: str, concurrency: int | None = 1, include: str = "") -> list[str]:
    """The project's worker command with a node name of its own (two workers may run side by side)."""
    args = [*celery_worker_args(*queues, concurrency=concurrency), "-n", f"{name}@%h"]
    if include:
        args += ["--include", include]
    return args


def worker_env(*, fal=None, **overrides: str) -> dict[str, str]:
    """A worker's environment: this run's database, and the fake fal (a `FakeFal`) when given."""
    env = {"DATABASE_URL": subprocess_database_url()}
    if fal is not None:
        env.update(FAL_KEY=fal.api_key, FAL_QUEUE_URL=fal.url, FAL_OUTPUT_HOSTS="127.0.0.1")
    return project_env(**env, **overrides)


def fal_providers(settings, fal) -> None:
    """Point this (pytest) process's fal adapter at the fake, so that jobs get fal in their chain
    and the reconciler here can resume fal requests (the registry rebuilds adapters on change)."""
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "generation.providers.fal.FalProvider", "OPTIONS": fal.adapter_options()},
    }


def child_pids(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (from /proc; a worker's prefork pool children)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces or parentheses, so split after the last ")".
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            children.append(int(entry.name))
    return children


def pool_child(worker_pid: int, *, timeout: float = 30.0) -> int:
    """The one pool process of a `-c 1` worker."""
    children = wait_for(lambda: (found := child_pids(worker_pid)) and len(found) == 1 and found, timeout=timeout, what="one pool child")
    return children[0]


def broker_unacked(client) -> list[dict]:
    """The messages the broker holds as delivered but not acknowledged: [{"id", "task", "queue"}]."""
    held = []
    for raw in client.hvals("unacked"):
        message, _exchange, routing_key = json.loads(raw)
        held.append({"id": message["headers"]["id"], "task": message["headers"]["task"], "queue": routing_key})
    return held


def broker_waiting(client) -> int:
    """Messages waiting in any queue (every priority list)."""
    return sum(client.llen(f"{queue}{suffix}") for queue in QUEUES for suffix in ("", *(f":{n}" for n in range(1, 10))))


def log_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def log_tail(*paths: Path, chars: int = 4000) -> str:
    """The end of each worker log, for an assertion message."""
    return "\n".join(f"--- {path.name} ---\n{log_text(path)[-chars:]}" for path in paths)
