"""A counter that expires, for rate limits, on whichever cache the site runs with."""

from django.core.cache import cache


def counter_hit(key: str, timeout: int) -> int:
    """Add one to the counter at `key` (created with a `timeout`-second life on its first hit) and return it."""
    incr_expiring = getattr(cache, "incr_expiring", None)
    if incr_expiring is not None:
        return incr_expiring(key, timeout)
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout)
        return 1
