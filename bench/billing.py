"""Benchmark of Stripe's webhook endpoint: it must answer fast because applying an event
is a task, not part of the request.

Starts a throwaway PostgreSQL and Redis and serves the project with uvicorn (one process, DEBUG
off, as deployed). No worker runs: an event whose processing were in the request could not be
answered at all without Stripe's API, so every answer here is the store-and-enqueue path alone.
POSTs signed `customer.subscription.updated` events (Stripe's pretty-printed JSON, ~2.6 KB) one at a
time and measures the client's round trip; repeats the same events (duplicates, acknowledged and
ignored); checks that every event is stored once and none was applied in the request.
Ends with `billing webhook_p95_ms=<new events p95> duplicate_p95_ms=<repeats p95>`.
Run: `make bench` or `.venv/bin/python -m bench.billing --events 300`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.stack import BENCH_ENV, django_setup, percentile, postgres_and_redis, uvicorn_command  # noqa: E402
from tests.fakes.stripe import FakeStripe  # noqa: E402
from tests.fakes.stripe_signing import signed_headers  # noqa: E402
from tests.support.services import free_port, wait_for_port  # noqa: E402

SECRET = "whsec_bench"  # noqa: S105 (a throwaway endpoint secret for this run)


def post_all(session: requests.Session, url: str, payloads: list[bytes]) -> list[float]:
    times = []
    for payload in payloads:
        started = time.perf_counter()
        response = session.post(url, data=payload, headers=signed_headers(payload, SECRET), timeout=30)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()

    with postgres_and_redis() as (postgres, redis):
        env = {
            **os.environ,
            **BENCH_ENV,
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "STRIPE_API_BASE": "http://127.0.0.1:9",  # nothing listens: the request must not call Stripe
        }
        django_setup(env)
        measure(env, args.events)


def measure(env: dict[str, str], events: int) -> None:
    server = None
    try:
        fake = FakeStripe()  # only builds realistic objects and events; never started
        customer = fake.customer_create(email="bench@example.com")["id"]
        payloads = []
        for _ in range(events):
            subscription = fake.subscription_create(customer)
            payloads.append(json.dumps(fake.event("customer.subscription.updated", subscription), indent=2).encode())

        port = free_port()
        server = subprocess.Popen(uvicorn_command(port), cwd=PROJECT_DIR, env=env)
        wait_for_port(port, timeout=60, proc=server)
        url = f"http://127.0.0.1:{port}/billing/stripe/webhook/"
        session = requests.Session()
        warm = [json.dumps(fake.event("customer.created", {"id": customer, "object": "customer"})).encode() for _ in range(10)]
        post_all(session, url, warm)

        new = post_all(session, url, payloads)
        repeats = post_all(session, url, payloads)

        from billing.models import StripeEvent

        stored = StripeEvent.objects.exclude(type="customer.created")
        applied = stored.exclude(status=StripeEvent.Status.RECEIVED).count()
        print(f"body size: {len(payloads[0])} bytes; {events} events, each sent twice")
        print(f"{'case':<22}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
        for name, times in (("new event", new), ("duplicate", repeats)):
            print(f"{name:<22}{statistics.median(times):>9.2f}{percentile(times, 0.95):>9.2f}{max(times):>9.2f}")
        print(f"stored: {stored.count()} (expected {events}); applied inside a request: {applied}")
        print(f"billing webhook_p95_ms={percentile(new, 0.95):.2f} duplicate_p95_ms={percentile(repeats, 0.95):.2f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
