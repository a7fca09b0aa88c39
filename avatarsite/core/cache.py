"""Django's Redis cache, keeping one connection pool and one redis-py client per server for the
whole process, and a counter that expires (for rate limits) in one round trip on any cache.

Django keeps cache objects per async context (`CacheHandler` is not thread-critical), so under
ASGI every request got a new cache object, hence new connection pools: each request opened a new
TCP connection to Redis (and its handshake) for its first cache call, about 1.5 ms. The pools and
clients here live at module level instead, shared by every cache object with the same server and
options. Building a `redis.Redis` per call (the stock client's way) also costs about 0.2 ms in
redis-py 8; the client is thread-safe and holds no connection of its own (the pool does), so one
per pool is enough.
"""

import threading

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[tuple[str, str], object] = {}
_clients_lock = threading.Lock()


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Pools with other options (another parser, timeouts) must not be shared with these.
        self._options_key = repr(sorted(self._pool_options.items(), key=lambda item: item[0]))

    def get_client(self, key=None, *, write=False):
        server = self._servers[self._get_connection_pool_index(write)]
        registry_key = (server, self._options_key)
        client = _clients.get(registry_key)
        if client is None:
            with _clients_lock:
                client = _clients.get(registry_key)
                if client is None:
                    pool = self._pool_class.from_url(server, **self._pool_options)
                    client = _clients[registry_key] = self._client(connection_pool=pool)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    def incr_expiring(self, key: str, timeout: int) -> int:
        """`counter_hit` in one round trip: SET NX EX creates the key with its expiry, INCR keeps it.
        (Django's own add + incr costs three: add, then EXISTS and INCR.)"""
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        pipeline = client.pipeline(transaction=False)
        pipeline.set(key, 0, ex=timeout, nx=True)
        pipeline.incr(key)
        return pipeline.execute()[1]


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
