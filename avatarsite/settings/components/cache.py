"""Redis: the cache, the channel layer and Celery's broker and results (in-process stand-ins without REDIS_URL)."""

from urllib.parse import urlsplit, urlunsplit

from .env import env

# --- Redis: broker, results, cache, channel layer --------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Bounded waits on Redis for the cache, sessions, rate limits and Celery's publishing: with Redis down
# or unreachable a request gets its 503 (avatarsite/core/outage.py) within a few seconds.
REDIS_CONNECT_TIMEOUT_SECONDS = env.float("REDIS_CONNECT_TIMEOUT_SECONDS", default=2.0)
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=3.0)
# What those 503s tell clients to wait before retrying (Retry-After).
OUTAGE_RETRY_AFTER_SECONDS = env.int("OUTAGE_RETRY_AFTER_SECONDS", default=10)


def _redis_db(url: str, db: int) -> str:
    """The same Redis server, another database: broker, results, cache and channels stay apart."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "avatarsite.runtime.redis_cache.ReusingRedisCache",
            "LOCATION": _redis_db(REDIS_URL, 2),
            "OPTIONS": {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": _redis_db(REDIS_URL, 3),
                        # redis-py raises instead of waiting when its pool is exhausted: size it deliberately.
                        "max_connections": env.int("CHANNELS_REDIS_MAX_CONNECTIONS", default=1000),
                        # redis-py 8 times reads out after 5 s, exactly the layer's 5 s BZPOPMIN wait:
                        # an idle consumer would die with a TimeoutError. Read timeouts must exceed it.
                        "socket_timeout": 30,
                        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
                    }
                ],
                "capacity": 100,
                "expiry": 60,
                "group_expiry": 3600,
            },
        }
    }
    CELERY_BROKER_URL = _redis_db(REDIS_URL, 0)
    CELERY_RESULT_BACKEND = _redis_db(REDIS_URL, 1)
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_CONNECT_TIMEOUT_SECONDS
    CELERY_REDIS_SOCKET_TIMEOUT = REDIS_TIMEOUT_SECONDS
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Thread-safe in-process layer: the embedded worker runs in the web server's process.
    CHANNEL_LAYERS = {"default": {"BACKEND": "avatarsite.core.channel_layers.EmbeddedChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
