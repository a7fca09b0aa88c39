"""The Redis cache as requests use it: shared connections across async contexts, and the
rate-limit counter (one round trip on Redis, the same semantics on the embedded cache)."""

import contextvars
import time

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache


def _connections_received(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return client.info("stats")["total_connections_received"]


def _cache_get_in_fresh_context(key: str):
    """What one ASGI request does: Django keeps cache objects per async context, so each request
    starts from a context of its own and gets a cache object of its own."""
    return contextvars.Context().run(lambda: caches["default"].get(key))


def test_requests_in_new_async_contexts_reuse_the_cache_connections():
    from django.core.cache import cache

    cache.set("shared-connection-probe", "here")
    url = settings.CACHES["default"]["LOCATION"]
    before = _connections_received(url)

    values = [_cache_get_in_fresh_context("shared-connection-probe") for _ in range(30)]

    assert values == ["here"] * 30
    # One connection for the probe client above; none for the thirty cache objects.
    assert _connections_received(url) - before <= 1


def test_counter_hit_counts_in_one_round_trip_and_expires():
    from avatarsite.core.counters import counter_hit

    url = settings.CACHES["default"]["LOCATION"]
    with redis.Redis.from_url(url) as client:
        commands_before = client.info("stats")["total_commands_processed"]
        counts = [counter_hit("counter-probe", 1) for _ in range(5)]
        # SET NX EX and INCR per hit, plus the INFO that reads the figure.
        commands = client.info("stats")["total_commands_processed"] - commands_before - 1
    assert counts == [1, 2, 3, 4, 5]
    assert commands == 10
    time.sleep(1.2)
    assert counter_hit("counter-probe", 1) == 1


@pytest.mark.parametrize("timeout", [1, 2])
def test_counter_hit_on_the_embedded_cache(monkeypatch, timeout):
    from avatarsite.core import counters

    local = LocMemCache(f"counter-{timeout}", {})
    monkeypatch.setattr(counters, "cache", local)

    assert [counters.counter_hit("hits", timeout) for _ in range(3)] == [1, 2, 3]
    time.sleep(timeout + 0.2)
    assert counters.counter_hit("hits", timeout) == 1
