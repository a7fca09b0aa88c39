"""Every use of another library's private API, in one place, each checked by tests/runtime/test_upstream.py.

A name with a leading underscore can go, or take other arguments, in any release without notice.
Code elsewhere reaches these names only through the functions here; `PRIVATE_APIS` lists each one
with the arguments it is called with and what relies on it, and the test checks the installed
libraries against that list, so an upgrade that drops or changes one fails the suite at once with
the name and the reason, instead of an AttributeError in the middle of a request. At run time a name
that is gone raises `UpstreamChanged`, which says the same.
"""

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storages.utils import clean_name


class UpstreamChanged(RuntimeError):
    """A private name of another library that this project relies on is gone or changed."""


@dataclass(frozen=True)
class PrivateApi:
    owner: str  # the dotted path of the class (or module) that holds the name
    name: str
    # The parameter names it is called with (after self), for a method; None for a plain attribute.
    parameters: tuple[str, ...] | None
    used_by: str  # what relies on it


PRIVATE_APIS: tuple[PrivateApi, ...] = (
    PrivateApi(
        "django.core.handlers.base.BaseHandler",
        "_middleware_chain",
        None,
        "avatarsite/runtime/asgi.py: the middleware chain and the view in one trip to the sync thread",
    ),
    PrivateApi("django.core.cache.backends.redis.RedisCache", "_class", None, "avatarsite/runtime/redis_cache.py: its client class"),
    PrivateApi("django.core.cache.backends.redis.RedisCache", "_cache", None, "avatarsite/runtime/redis_cache.py: incr_expiring's client"),
    PrivateApi(
        "django.core.cache.backends.redis.RedisCacheClient",
        "_servers",
        None,
        "avatarsite/runtime/redis_cache.py: one pool per server and process",
    ),
    PrivateApi(
        "django.core.cache.backends.redis.RedisCacheClient",
        "_get_connection_pool_index",
        ("write",),
        "avatarsite/runtime/redis_cache.py: which server a call goes to",
    ),
    PrivateApi(
        "django.core.cache.backends.redis.RedisCacheClient",
        "_pool_options",
        None,
        "avatarsite/runtime/redis_cache.py: the options a shared pool is made with",
    ),
    PrivateApi(
        "django.core.cache.backends.redis.RedisCacheClient",
        "_pool_class",
        None,
        "avatarsite/runtime/redis_cache.py: the class a shared pool is made from",
    ),
    PrivateApi(
        "django.core.cache.backends.redis.RedisCacheClient",
        "_client",
        None,
        "avatarsite/runtime/redis_cache.py: the redis-py client class kept per pool",
    ),
    PrivateApi(
        "storages.backends.s3.S3Storage",
        "_normalize_name",
        ("name",),
        "avatarsite/core/storage.py: the object key of a file (direct PutObject, download URLs)",
    ),
    PrivateApi(
        "storages.backends.s3.S3Storage",
        "_get_write_parameters",
        ("name", "content"),
        "avatarsite/core/storage.py: the headers save() would send, on a direct PutObject",
    ),
    PrivateApi(
        "storages.backends.s3.S3Storage",
        "_connections",
        None,
        "avatarsite/runtime/s3.py: one S3 connection per process instead of per thread",
    ),
    PrivateApi("PIL.Image.core", "set_blocks_max", None, "avatarsite/runtime/server_process.py: decoded images' memory kept"),
    # Overridden rather than called (the SSRF guard of avatarsite/core/outbound.py resolves and
    # checks the address itself): checked here all the same, so an upgrade cannot skip the guard.
    PrivateApi("urllib3.connection.HTTPConnection", "_new_conn", (), "avatarsite/core/outbound.py: connects only to checked addresses"),
    PrivateApi("urllib3.connection.HTTPConnection", "_dns_host", None, "avatarsite/core/outbound.py: the host name the guard resolves"),
)


def private_api_check(api: PrivateApi, holder: Any) -> None:
    """Raise UpstreamChanged unless `holder` (an instance of the owner, or the owner itself) still
    has `api.name`, and a method still takes exactly `api.parameters`."""
    # None counts as gone: Django's handler declares `_middleware_chain = None` on the class and
    # sets the real one in load_middleware, so a release that renamed it would leave the None.
    if getattr(holder, api.name, None) is None:
        raise UpstreamChanged(f"{api.owner}.{api.name} is gone; {api.used_by} relies on it (see avatarsite/runtime/upstream.py)")
    if api.parameters is None:
        return
    member = inspect.getattr_static(holder, api.name)
    function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
    names = tuple(name for name in inspect.signature(function).parameters if name != "self")
    if names != api.parameters:
        raise UpstreamChanged(
            f"{api.owner}.{api.name} now takes ({', '.join(names)}), not ({', '.join(api.parameters)}); "
            f"{api.used_by} relies on it (see avatarsite/runtime/upstream.py)"
        )


def _private(holder: Any, name: str) -> Any:
    """`getattr(holder, name)`, or UpstreamChanged if it is gone (or None: see private_api_check)."""
    value = getattr(holder, name, None)
    if value is None:
        api = next((api for api in PRIVATE_APIS if api.name == name), None)
        used_by = api.used_by if api else "this project"
        owner = holder.__name__ if inspect.ismodule(holder) else f"{type(holder).__module__}.{type(holder).__qualname__}"
        raise UpstreamChanged(f"{owner}.{name} is gone; {used_by} relies on it (see avatarsite/runtime/upstream.py)")
    return value


# Django's request handler ---------------------------------------------------------------------------


def middleware_chain_wrap(handler: Any, wrap: Callable[[Callable], Callable]) -> None:
    """Replace the chain a Django handler's load_middleware built with `wrap(chain)`."""
    handler._middleware_chain = wrap(_private(handler, "_middleware_chain"))


# Django's Redis cache -------------------------------------------------------------------------------


def redis_cache_client_class_set(cache: Any, client_class: type) -> None:
    """Make a RedisCache build its client (on first use) from `client_class`."""
    _private(cache, "_class")
    cache._class = client_class


def redis_cache_client(cache: Any) -> Any:
    """The RedisCacheClient a RedisCache sends its calls through."""
    return _private(cache, "_cache")


def redis_client_pool_options(client: Any) -> dict:
    """The options a RedisCacheClient makes its connection pools with."""
    return _private(client, "_pool_options")


def redis_client_server(client: Any, *, write: bool) -> str:
    """The server URL a RedisCacheClient sends a read (or a write) to."""
    return redis_client_server_picker(client)(write)


def redis_client_server_picker(client: Any) -> Callable[[bool], str]:
    """`redis_client_server` with the names looked up once, for a client's every call."""
    servers, index = _private(client, "_servers"), _private(client, "_get_connection_pool_index")
    return lambda write: servers[index(write)]


def redis_client_connect(client: Any, server: str) -> Any:
    """A new redis-py client on a new connection pool to `server`, made as the RedisCacheClient would."""
    pool = _private(client, "_pool_class").from_url(server, **redis_client_pool_options(client))
    return _private(client, "_client")(connection_pool=pool)


# django-storages' S3 storage ------------------------------------------------------------------------


def s3_object_key(storage: Any, name: str) -> str:
    """The bucket key the S3 storage uses for the file `name` (its location prefix applied)."""
    return _private(storage, "_normalize_name")(clean_name(name))


def s3_write_parameters(storage: Any, key: str) -> dict:
    """The PutObject parameters save() would send for `key` (content type, Cache-Control, ACL…)."""
    return _private(storage, "_get_write_parameters")(key)


def s3_thread_connections_forget(storage: Any) -> None:
    """Drop the connections the S3 storage keeps per thread, so its `connection` makes a new one."""
    _private(storage, "_connections")
    storage._connections = threading.local()


# Pillow ---------------------------------------------------------------------------------------------


def pillow_blocks_max_set(blocks: int) -> None:
    """Keep up to `blocks` blocks of decoded images' memory for the next image (PILLOW_BLOCKS_MAX)."""
    from PIL import Image

    _private(Image.core, "set_blocks_max")(blocks)
