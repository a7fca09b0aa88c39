"""The private APIs of other libraries that avatarsite/runtime/upstream.py wraps: each is still there,
called as we call it, in the installed versions; one that goes or changes fails loudly, by name."""

import importlib

import pytest
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.handlers.base import BaseHandler
from storages.backends.s3 import S3Storage
from urllib3.connection import HTTPConnection

from avatarsite.runtime import upstream
from avatarsite.runtime.upstream import PRIVATE_APIS, UpstreamChanged, private_api_check


def _loaded_handler() -> BaseHandler:
    handler = BaseHandler()
    handler.load_middleware()
    return handler


# An instance of each owner, made as the project makes it: some names are set by __init__ (or by
# load_middleware), so only an instance shows whether they are still there.
HOLDERS = {
    "django.core.handlers.base.BaseHandler": _loaded_handler,
    "django.core.cache.backends.redis.RedisCache": lambda: RedisCache("redis://127.0.0.1:9/0", {}),
    "django.core.cache.backends.redis.RedisCacheClient": lambda: RedisCacheClient(["redis://127.0.0.1:9/0"]),
    "storages.backends.s3.S3Storage": lambda: S3Storage(bucket_name="upstream-probe"),
    "PIL.Image.core": lambda: importlib.import_module("PIL.Image").core,
    "urllib3.connection.HTTPConnection": lambda: HTTPConnection("example.com"),
}


def test_every_private_api_has_an_instance_to_be_checked_on():
    assert {api.owner for api in PRIVATE_APIS} == set(HOLDERS)


@pytest.mark.parametrize("api", PRIVATE_APIS, ids=lambda api: f"{api.owner.rsplit('.', 1)[-1]}.{api.name}")
def test_the_private_api_is_still_there_and_takes_what_we_pass(api):
    """On failure: read the library's changelog for the name, then change its wrapper in
    avatarsite/runtime/upstream.py (and PRIVATE_APIS) or the tuning that relies on it."""
    private_api_check(api, HOLDERS[api.owner]())


def test_a_private_api_that_is_gone_fails_loudly_by_name(monkeypatch):
    storage = S3Storage(bucket_name="upstream-probe")
    monkeypatch.delattr(S3Storage, "_normalize_name")
    api = next(api for api in PRIVATE_APIS if api.name == "_normalize_name")

    with pytest.raises(UpstreamChanged, match=r"storages\.backends\.s3\.S3Storage\._normalize_name is gone; avatarsite/core/storage\.py"):
        private_api_check(api, storage)
    with pytest.raises(UpstreamChanged, match=r"S3Storage\._normalize_name is gone"):
        upstream.s3_object_key(storage, "a.png")  # at run time too, not an AttributeError


def test_a_private_method_that_takes_other_arguments_fails_loudly(monkeypatch):
    monkeypatch.setattr(RedisCacheClient, "_get_connection_pool_index", lambda self, write, shard: 0)
    api = next(api for api in PRIVATE_APIS if api.name == "_get_connection_pool_index")

    with pytest.raises(UpstreamChanged, match=r"_get_connection_pool_index now takes \(write, shard\), not \(write\)"):
        private_api_check(api, RedisCacheClient(["redis://127.0.0.1:9/0"]))


def test_an_instance_attribute_that_is_no_longer_set_fails_loudly(monkeypatch):
    original = RedisCacheClient.__init__

    def init_without_servers(self, *args, **kwargs):
        original(self, *args, **kwargs)
        del self._servers

    monkeypatch.setattr(RedisCacheClient, "__init__", init_without_servers)
    client = RedisCacheClient(["redis://127.0.0.1:9/0"])

    with pytest.raises(UpstreamChanged, match=r"RedisCacheClient\._servers is gone; avatarsite/runtime/redis_cache\.py"):
        upstream.redis_client_server(client, write=True)


def test_a_middleware_chain_that_load_middleware_no_longer_sets_fails_loudly():
    """Django declares `_middleware_chain = None` on the class: a release that renamed the attribute
    would leave that None, not an AttributeError, for the one-hop handler to wrap."""
    api = next(api for api in PRIVATE_APIS if api.name == "_middleware_chain")
    not_loaded = BaseHandler()

    with pytest.raises(UpstreamChanged, match=r"BaseHandler\._middleware_chain is gone; avatarsite/runtime/asgi\.py"):
        private_api_check(api, not_loaded)
    with pytest.raises(UpstreamChanged, match=r"_middleware_chain is gone"):
        upstream.middleware_chain_wrap(not_loaded, lambda chain: chain)


def test_the_wrappers_do_what_the_tuning_needs():
    storage = S3Storage(bucket_name="upstream-probe", location="prefix", object_parameters={"CacheControl": "max-age=60"})
    assert upstream.s3_object_key(storage, "a/../b/c.webp") == "prefix/b/c.webp"
    parameters = upstream.s3_write_parameters(storage, "prefix/b/c.webp")
    assert parameters["ContentType"] == "image/webp"
    assert parameters["CacheControl"] == "max-age=60"

    client = RedisCacheClient(["redis://127.0.0.1:9/0", "redis://127.0.0.1:9/1"], socket_timeout=3)
    assert upstream.redis_client_server(client, write=True) == "redis://127.0.0.1:9/0"
    assert upstream.redis_client_server(client, write=False) == "redis://127.0.0.1:9/1"  # reads go to the replica
    assert upstream.redis_client_pool_options(client)["socket_timeout"] == 3
    made = upstream.redis_client_connect(client, "redis://127.0.0.1:9/0")  # no connection until used
    assert made.connection_pool.connection_kwargs["socket_timeout"] == 3

    cache = RedisCache("redis://127.0.0.1:9/0", {})
    upstream.redis_cache_client_class_set(cache, RedisCacheClient)
    assert type(upstream.redis_cache_client(cache)) is RedisCacheClient

    handler = _loaded_handler()
    chain = handler._middleware_chain
    upstream.middleware_chain_wrap(handler, lambda inner: ("wrapped", inner))
    assert handler._middleware_chain == ("wrapped", chain)
