"""Facet counts: for each filter, how many visible avatars each of its values has, read from a cached
cube of counts per combination of values."""

import hashlib
import threading
import time
from collections import OrderedDict

from django.core.cache import cache
from django.db.models import Case, CharField, Count, F, QuerySet, Value, When

from .models import Avatar, Source
from .page_cache import gallery_version
from .queries import AvatarFilters, text_search

FACETS = ("source", "gender", "age_group", "style", "color", "orientation")
_ORIENTATION = Case(
    When(height__gt=F("width"), then=Value("portrait")),
    When(width__gt=F("height"), then=Value("landscape")),
    default=Value("square"),
    output_field=CharField(),
)
# The columns of a facet cube, in FACETS order (the source as its id: the licence gate is applied on reading).
_CUBE_COLUMNS = ("source_id", "gender", "age_group", "style", "color_family", "facet_orientation")
CUBE_KEY, CUBE_STAMP_KEY = "gallery:facet-cube", "gallery:facet-cube-stamp"
# A cube is recounted when the gallery has changed and it is older than this: during an import,
# at most once per FACET_TTL seconds, so counts may lag new avatars by that long (never the gate).
FACET_TTL = 30
FACET_MAX_AGE = 3600
LOCAL_CUBES = 32  # per process: the library's and the latest searches'
_local_cubes: OrderedDict[str, tuple[tuple[int, float], list[tuple]]] = OrderedDict()
_local_cubes_lock = threading.Lock()


def _cube(queryset: QuerySet[Avatar]) -> list[tuple]:
    """How many avatars have each combination of filterable values: a few thousand rows at most
    (sources x genders x ages x styles x colours x orientations), whatever the library's size."""
    counted = queryset.annotate(facet_orientation=_ORIENTATION).values(*_CUBE_COLUMNS).annotate(count=Count("pk")).order_by()
    return list(counted.values_list(*_CUBE_COLUMNS, "count"))


def cached_cube(q: str) -> list[tuple]:
    """The cube of the whole library (every source, shown or not: the gate is applied on reading),
    or of a text search's matches. Kept while the gallery version is unchanged, and for FACET_TTL
    seconds after it changes. Each process keeps the cubes it last read and, while one is still
    current, reads only its small stamp from the cache (unpickling the rows cost more than
    counting from them)."""
    suffix = "" if not q else ":" + hashlib.blake2b(q.encode(), digest_size=16).hexdigest()
    rows_key, stamp_key = CUBE_KEY + suffix, CUBE_STAMP_KEY + suffix
    stamp, version, now = cache.get(stamp_key), gallery_version(), time.time()
    if stamp is not None and (now - stamp[1] < FACET_TTL or (stamp[0] == version and now - stamp[1] < FACET_MAX_AGE)):
        with _local_cubes_lock:
            held = _local_cubes.get(rows_key)
        if held is None or held[0] != stamp:
            held = cache.get(rows_key)
        if held is not None and held[0] == stamp:
            _keep_local(rows_key, held)
            return held[1]
    stamp, rows = (version, now), _cube(text_search(Avatar.objects.all(), q) if q else Avatar.objects.all())
    cache.set_many({rows_key: (stamp, rows), stamp_key: stamp}, FACET_MAX_AGE)
    _keep_local(rows_key, (stamp, rows))
    return rows


def _keep_local(key: str, held: tuple[tuple[int, float], list[tuple]]) -> None:
    with _local_cubes_lock:
        _local_cubes[key] = held
        _local_cubes.move_to_end(key)
        while len(_local_cubes) > LOCAL_CUBES:
            _local_cubes.popitem(last=False)


def avatar_facets(*, filters: AvatarFilters) -> dict[str, dict[str, int]]:
    """For each filter, how many visible avatars each of its values shows together with the other
    active filters (its own value left out, so the counts say what choosing another value gives).

    Read from a cube of counts per combination of values: the library's, or a text search's
    matches' (both cached, see cached_cube). The licence gate is applied here, on the cube, so
    hiding a source takes its avatars out of every count at once."""
    live = dict(Source.objects.live().values_list("id", "slug"))
    return facet_counts(cached_cube(filters.q), filters=filters, live=live)


def facet_counts(rows: list[tuple], *, filters: AvatarFilters, live: dict[int, str]) -> dict[str, dict[str, int]]:
    wanted = [getattr(filters, name) for name in FACETS]
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for source_id, *values, count in rows:
        slug = live.get(source_id)
        if slug is None:
            continue
        values = [slug, *values]
        missed = [index for index, want in enumerate(wanted) if want and values[index] != want]
        if len(missed) > 1:
            continue
        # A row passing every other filter counts for each facet it passes (or for the one it misses).
        for index in missed or range(len(FACETS)):
            if values[index]:
                counts = facets[FACETS[index]]
                counts[values[index]] = counts.get(values[index], 0) + count
    return facets
