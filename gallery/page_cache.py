"""Public gallery responses, cached until the gallery changes.

Visitors mostly ask for the same few pages (the first page, a popular filter), so a rendered
page is kept in the cache under the gallery's current version. Any change to avatars, variants
or sources moves the version on (signals in apps.py, at once and again after commit), so a new
import shows up on the next request; download counts alone do not, so the "popular" order may
lag by up to PAGE_TTL seconds.

Each process also keeps the last few pages it served in memory, under the same versioned keys:
a hot page (an API body is ~120 KB) is then not fetched from Redis and unpickled on every request,
and it can never be stale, because asking for the version is still one cache read per request.
"""

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

VERSION_KEY = "gallery:version"
PAGE_TTL = 60
LOCAL_PAGES = 64  # per process: at most a few MB

_local: OrderedDict[str, tuple[float, object]] = OrderedDict()
_local_lock = threading.Lock()

T = TypeVar("T")


def gallery_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        # A fresh start (or an evicted key) must not reuse an old version's pages.
        version = time.time_ns()
        cache.add(VERSION_KEY, version, timeout=None)
        version = cache.get(VERSION_KEY, version)
    return version


def gallery_changed() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, time.time_ns(), timeout=None)


def cached_page(kind: str, parts: tuple, build: Callable[[], T]) -> T:
    """`build()` once per gallery version and request shape; `parts` must name everything the page depends on."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    key = f"gallery:{kind}:{gallery_version()}:{digest}"
    now = time.monotonic()
    with _local_lock:
        held = _local.get(key)
        if held is not None and held[0] > now:
            _local.move_to_end(key)
            return held[1]
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, PAGE_TTL)
    with _local_lock:
        _local[key] = (now + PAGE_TTL, value)
        _local.move_to_end(key)
        while len(_local) > LOCAL_PAGES:
            _local.popitem(last=False)
    return value
