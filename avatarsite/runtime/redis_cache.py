"""Django's Redis cache, keeping one connection pool and one redis-py client per server for the
whole process, and a counter that expires (for rate limits) in one round trip.

Django keeps cache objects per async context (`CacheHandler` is not thread-critical), so under
ASGI every request got a new cache object, hence new connection pools: each request opened a new
TCP connection to Redis (and its handshake) for its first cache call, about 1.5 ms. The pools and
clients here live at module level instead, shared by every cache object with the same server and
options. Building a `redis.Redis` per call (the stock client's way) also costs about 0.2 ms in
redis-py 8; the client is thread-safe and holds no connection of its own (the pool does), so one
per pool is enough.
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from . import upstream

_clients: dict[tuple[str, str], object] = {}
_clients_lock = threading.Lock()


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Pools with other options (another parser, timeouts) must not be shared with these.
        self._options_key = repr(sorted(upstream.redis_client_pool_options(self).items(), key=lambda item: item[0]))
        self._server_for = upstream.redis_client_server_picker(self)

    def get_client(self, key=None, *, write=False):
        server = self._server_for(write)
        registry_key = (server, self._options_key)
        client = _clients.get(registry_key)
        if client is None:
            with _clients_lock:
                client = _clients.get(registry_key)
                if client is None:
                    client = _clients[registry_key] = upstream.redis_client_connect(self, server)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        upstream.redis_cache_client_class_set(self, ReusingRedisCacheClient)

    def incr_expiring(self, key: str, timeout: int) -> int:
        """`counter_hit` (avatarsite/core/counters.py) in one round trip: SET NX EX creates the key with its expiry, INCR keeps it.
        (Django's own add + incr costs three: add, then EXISTS and INCR.)"""
        key = self.make_and_validate_key(key)
        client = upstream.redis_cache_client(self).get_client(key, write=True)
        pipeline = client.pipeline(transaction=False)
        pipeline.set(key, 0, ex=timeout, nx=True)
        pipeline.incr(key)
        return pipeline.execute()[1]
