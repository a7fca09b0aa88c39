"""A circuit breaker per provider, kept in the shared cache (Redis in production) so that every
worker process skips a provider that keeps failing, and one of them probes it after a cool-down.

closed: calls go through; transient failures are counted in a sliding window.
open: `GENERATION_BREAKER_FAILURES` failures within `GENERATION_BREAKER_WINDOW_SECONDS` open it for
`GENERATION_BREAKER_COOLDOWN_SECONDS`; callers skip the provider and fall back.
half-open: after the cool-down one caller (an atomic cache.add) may probe; its success closes the
breaker, its failure opens it for another cool-down.

The breaker only advises: when the cache cannot be reached, calls go through and nothing is
counted, so a Redis outage never stops a job that the providers could serve.
"""

import functools
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from avatarsite.core.infrastructure import INFRASTRUCTURE_ERRORS

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


def clock() -> float:
    """Now, in seconds since the epoch: the breaker's clock seam (a test moves it past a cool-down)."""
    return time.time()


def _keys(provider: str) -> tuple[str, str, str]:
    prefix = f"generation:breaker:{provider}"
    return f"{prefix}:failures", f"{prefix}:open-until", f"{prefix}:probe"


@dataclass(frozen=True)
class BreakerState:
    provider: str
    state: str
    failures: int
    open_until: float | None


def _advisory(when_down):
    """The cache being down answers `when_down` instead of failing the caller."""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(**kwargs):
            try:
                return function(**kwargs)
            except INFRASTRUCTURE_ERRORS as exc:
                logger.warning("breaker: the cache is unreachable (%r); %s goes on without it", exc, function.__name__)
                return when_down

        return wrapper

    return decorate


def breaker_state(*, provider: str) -> BreakerState:
    failures_key, open_key, _ = _keys(provider)
    values = cache.get_many([failures_key, open_key])
    open_until = values.get(open_key)
    if open_until is None:
        state = CLOSED
    elif clock() < open_until:
        state = OPEN
    else:
        state = HALF_OPEN
    return BreakerState(provider, state, int(values.get(failures_key) or 0), open_until)


@_advisory(when_down=True)
def breaker_allows(*, provider: str) -> bool:
    """May a call go to this provider now? In half-open state only the first caller may."""
    _, open_key, probe_key = _keys(provider)
    open_until = cache.get(open_key)
    if open_until is None:
        return True
    if clock() < open_until:
        return False
    return cache.add(probe_key, 1, timeout=settings.GENERATION_BREAKER_PROBE_SECONDS)


@_advisory(when_down=None)
def breaker_record_success(*, provider: str) -> None:
    keys = _keys(provider)
    if any(value is not None for value in cache.get_many(keys).values()):
        cache.delete_many(keys)


@_advisory(when_down=None)
def breaker_record_failure(*, provider: str) -> None:
    failures_key, open_key, probe_key = _keys(provider)
    cooldown = settings.GENERATION_BREAKER_COOLDOWN_SECONDS
    if cache.get(open_key) is not None:  # a failed probe: open for another cool-down
        _open(open_key, cooldown)
        cache.delete(probe_key)
        return
    window = settings.GENERATION_BREAKER_WINDOW_SECONDS
    if cache.add(failures_key, 1, timeout=window):
        failures = 1
    else:
        try:
            failures = cache.incr(failures_key)
        except ValueError:  # the window ran out between add and incr
            cache.add(failures_key, 1, timeout=window)
            failures = 1
    if failures >= settings.GENERATION_BREAKER_FAILURES:
        _open(open_key, cooldown)
        cache.delete(failures_key)


def _open(open_key: str, cooldown: float) -> None:
    # The marker outlives the cool-down, so that the first call after it is a probe.
    cache.set(open_key, clock() + cooldown, timeout=int(cooldown * 10) + 60)
