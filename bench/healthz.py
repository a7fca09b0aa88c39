"""Benchmark of the embedded stack: page and /healthz latency, and task-to-websocket latency.

Starts `manage.py serve` on the embedded default in a temporary folder (SQLite, in-memory broker
and channel layer), sends a bounded number of requests over loopback and prints the figures.
Run: `make bench` (or `.venv/bin/python -m bench.healthz --requests 300`).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SERVICE_ENV_VARS = ("DATABASE_URL", "REDIS_URL", "R2_ENDPOINT_URL")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - loopback
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _latencies(url: str, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            response.read()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _report(name: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(f"{name:<28} n={len(ordered):<5} p50={statistics.median(ordered):7.2f} ms  p95={p95:7.2f} ms  max={ordered[-1]:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in SERVICE_ENV_VARS}
        env.update(
            DJANGO_SETTINGS_MODULE="avatarsite.settings.base",
            DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
            DJANGO_MEDIA_ROOT=f"{tmp}/media",
            DJANGO_LOG_LEVEL="WARNING",
        )
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(f"{base}/healthz")
            print(f"embedded stack answered /healthz after {time.perf_counter() - started:.2f} s")
            _latencies(f"{base}/", 20)  # warm-up
            _report("GET / (home page)", _latencies(f"{base}/", args.requests))
            _report("GET /healthz (5 checks)", _latencies(f"{base}/healthz", args.requests))
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
