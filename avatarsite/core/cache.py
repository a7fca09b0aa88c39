"""Django's Redis cache, keeping one redis-py client per connection pool.

The stock client builds a new `redis.Redis` object for every cache call (about 0.2 ms in
redis-py 8, mostly copying its response callbacks); a hot page makes four such calls. The
client object is thread-safe and holds no connection of its own (the pool does), so one per
pool is enough.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
