"""Reads of the gallery: filtered, searched, keyset-paginated lists; one avatar; similar avatars."""

import base64
import binascii
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import pairwise

from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import connection
from django.db.models import BooleanField, Case, CharField, Count, DateTimeField, ExpressionWrapper, F, Q, QuerySet, Value, When

from avatarsite.core.storage import EXTENSIONS

from . import imaging
from .models import Avatar, AvatarVariant, Rendition, Source
from .page_cache import cached_page, gallery_version

SORTS = {"newest": ("created_at", "id"), "popular": ("download_count", "id")}
# The sort keys as expressions no index matches: ordering by these makes PostgreSQL find the
# matches of a word through the text index and sort them, instead of walking the sort index.
_UNINDEXED_SORT_KEYS = {
    "created_at": ExpressionWrapper(F("created_at") + Value(timedelta(0)), output_field=DateTimeField()),
    "download_count": F("download_count") + 0,
}
# A text search first looks at this many rows of the plain order (the frequency of the words
# there decides the plan for the rest); scanning more than the budget, in order, costs more than
# finding the matches through the text index and sorting them (measured on a million rows).
SEARCH_WINDOW = 2000
ORDERED_SCAN_BUDGET = 20_000
ORIENTATIONS = ("portrait", "landscape", "square")


class InvalidCursor(ValueError):
    """The `after` cursor was not one we issued."""


@dataclass(frozen=True)
class AvatarFilters:
    """What a visitor asked for; every field is optional and already validated."""

    q: str = ""
    source: str = ""
    gender: str = ""
    age_group: str = ""
    style: str = ""
    color: str = ""
    orientation: str = ""
    sort: str = "newest"


@dataclass(frozen=True)
class AvatarPage:
    avatars: list[Avatar]
    next_cursor: str | None


def _visible() -> QuerySet[Avatar]:
    # Every public read (pages, API, search, similar avatars) starts here: the licence gate is applied once, in the model.
    return Avatar.objects.visible().select_related("source")


def source_choices() -> list[tuple[str, str]]:
    """(slug, name) of the sources a visitor may filter by: the live ones only."""
    return list(Source.objects.live().order_by("name").values_list("slug", "name"))


def source_is_live(*, slug: str) -> bool:
    return Source.objects.live().filter(slug=slug).exists()


def source_gate_message(*, source: Source) -> str:
    """For operators: why a source's avatars are hidden and what would show them, or '' when it is live."""
    reason = source.blocked_reason
    if not reason:
        return ""
    hidden = Avatar.objects.filter(source=source).count()
    return (
        f"{source.name}: {hidden} avatar{'s' if hidden != 1 else ''} hidden from the gallery, the API and search, and imports"
        f" refused, because {reason}. Confirming the licence means you have checked that our licence with {source.name}"
        ' covers showing its images publicly at the sizes and for the uses set here; tick "Licence confirmed" (and'
        ' "Enabled") to show them again and let imports run.'
    )


def _public_url_builder() -> Callable[[str], str]:
    """storage.url(key) for many keys. Public storage URLs are unsigned and keys are plain
    content-addressed paths, so one probe gives the prefix and the rest is concatenation."""
    storage = storages["public"]
    probe = storage.url("probe")
    if probe.endswith("/probe") and "?" not in probe:
        prefix = probe.removesuffix("probe")
        return lambda key: prefix + key
    return storage.url


def attach_renditions(avatars: list[Avatar]) -> list[Avatar]:
    """Every avatar's renditions in one query of plain tuples (no model instance per variant)."""
    by_avatar: dict[int, list[Rendition]] = {avatar.pk: [] for avatar in avatars}
    url = _public_url_builder()
    rows = AvatarVariant.objects.filter(avatar_id__in=by_avatar).order_by("avatar_id", "size", "format")
    for avatar_id, size, fmt, key, size_bytes in rows.values_list("avatar_id", "size", "format", "key", "bytes"):
        by_avatar[avatar_id].append(Rendition(size, fmt, url(key), size_bytes))
    for avatar in avatars:
        avatar.renditions = by_avatar[avatar.pk]
    return avatars


def _text_query(q: str) -> SearchQuery:
    # Matched against the stored, trigger-maintained vector behind a GIN index (migration 0002).
    return SearchQuery(q, search_type="websearch", config="english")


# A colour word just before "hair" ("red hair", "curly red hair", "blonde-haired") asks for that hair,
# not for any avatar whose text has both words somewhere (a red sweater beside black hair).
HAIR_COLOUR_WORDS = {
    **{colour: colour for colour in ("black", "brown", "blond", "red", "gray", "white", "pink", "blue", "purple", "green")},
    **{"blonde": "blond", "ginger": "red", "auburn": "red", "grey": "gray", "silver": "gray"},
}
_HAIR_PHRASE = re.compile(r"\b([a-z]+)[\s-]+hair(?:ed)?\b")


def asked_hair_colour(q: str) -> str:
    """The hair colour a search names ("red hair" -> "red"), or "" when it names none."""
    found = _HAIR_PHRASE.search(q.lower())
    return HAIR_COLOUR_WORDS.get(found.group(1), "") if found else ""


def _asked_hair(q: str) -> Q:
    """Avatars whose hair is the colour the search names; an avatar of unknown hair colour still
    matches by its words."""
    colour = asked_hair_colour(q)
    return Q(hair_color=colour) | Q(hair_color="") if colour else Q()


def _search(queryset: QuerySet[Avatar], q: str) -> QuerySet[Avatar]:
    queryset = queryset.filter(_asked_hair(q))
    if connection.vendor == "postgresql":
        return queryset.filter(search=_text_query(q))
    condition = Q()
    for word in q.split()[:8]:  # the embedded SQLite fallback: every word somewhere in the text
        condition &= Q(title__icontains=word) | Q(alt__icontains=word) | Q(tags__icontains=word)
    return queryset.filter(condition)


def avatar_filter(*, filters: AvatarFilters) -> QuerySet[Avatar]:
    queryset = _visible()
    exact = {"source__slug": filters.source, "gender": filters.gender, "age_group": filters.age_group, "style": filters.style}
    queryset = queryset.filter(**{field: value for field, value in exact.items() if value})
    if filters.color:
        queryset = queryset.filter(color_family=filters.color)
    if filters.orientation == "portrait":
        queryset = queryset.filter(height__gt=F("width"))
    elif filters.orientation == "landscape":
        queryset = queryset.filter(width__gt=F("height"))
    elif filters.orientation == "square":
        queryset = queryset.filter(width=F("height"))
    if filters.q:
        queryset = _search(queryset, filters.q)
    return queryset


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


def _cached_cube(q: str) -> list[tuple]:
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
    stamp, rows = (version, now), _cube(_search(Avatar.objects.all(), q) if q else Avatar.objects.all())
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
    matches' (both cached, see _cached_cube). The licence gate is applied here, on the cube, so
    hiding a source takes its avatars out of every count at once."""
    live = dict(Source.objects.live().values_list("id", "slug"))
    return _facets(_cached_cube(filters.q), filters=filters, live=live)


def _facets(rows: list[tuple], *, filters: AvatarFilters, live: dict[int, str]) -> dict[str, dict[str, int]]:
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


@dataclass(frozen=True)
class SourceSummary:
    slug: str
    name: str
    website: str
    avatars: int


@dataclass(frozen=True)
class LibrarySummary:
    """What the library really holds, for pages that describe it: the shown avatars per live
    source (none of a hidden one, none of a source without avatars) and a few to show."""

    sources: list[SourceSummary]
    showcase: list[Avatar]

    @property
    def total(self) -> int:
        return sum(source.avatars for source in self.sources)


def library_summary(*, showcase: int = 6, pool: int = 48) -> LibrarySummary:
    """The live sources that have avatars, with how many (from the facet cube: no count over the
    whole table), and `showcase` avatars of varied looks from the `pool` most downloaded. Built
    once per gallery version (the home page reads it on every visit)."""
    return cached_page("library", (showcase, pool), lambda: _library_summary(showcase=showcase, pool=pool))


def _library_summary(*, showcase: int, pool: int) -> LibrarySummary:
    live = list(Source.objects.live().order_by("name").values_list("id", "slug", "name", "website"))
    counts = _facets(_cached_cube(""), filters=AvatarFilters(), live={pk: slug for pk, slug, _, _ in live})["source"]
    sources = [SourceSummary(slug=slug, name=name, website=url, avatars=counts[slug]) for _, slug, name, url in live if counts.get(slug)]
    sources.sort(key=lambda source: -source.avatars)  # the largest first
    candidates = list(_visible().defer("search").order_by("-download_count", "-id")[:pool]) if showcase else []
    # Varied: in turn one of each source and drawing style, most downloaded first within each.
    groups: dict[tuple, list[Avatar]] = {}
    for avatar in candidates:
        groups.setdefault((avatar.source_id, (avatar.attributes or {}).get("style", "")), []).append(avatar)
    chosen: list[Avatar] = []
    while len(chosen) < showcase and any(groups.values()):
        for group in groups.values():
            if group and len(chosen) < showcase:
                chosen.append(group.pop(0))
    return LibrarySummary(sources=sources, showcase=attach_renditions(chosen) if chosen else [])


def encode_cursor(avatar: Avatar, sort: str) -> str:
    field, _ = SORTS[sort]
    value = getattr(avatar, field)
    payload = [value.isoformat() if hasattr(value, "isoformat") else value, avatar.pk]
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[object, int]:
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return value, int(pk)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor("the 'after' cursor is not valid; start again from the first page") from exc


def _after(field: str, tiebreak: str, value: object, pk: int) -> Q:
    """The rows after the row with sort key (value, pk), in descending order. The first condition is
    redundant but is what an index scan starts from; the OR alone would be a filter over every row."""
    return Q(**{f"{field}__lte": value}) & (Q(**{f"{field}__lt": value}) | Q(**{field: value, f"{tiebreak}__lt": pk}))


def ordered_after(queryset: QuerySet[Avatar], sort: str, after: str) -> QuerySet[Avatar]:
    """The sort order, continuing after the cursor by keyset: an index range scan at any depth."""
    field, tiebreak = SORTS[sort]
    queryset = queryset.order_by(f"-{field}", f"-{tiebreak}")
    if after:
        value, pk = _decode_cursor(after)
        queryset = queryset.filter(_after(field, tiebreak, value, pk))
    return queryset


def first_matching(ordered: QuerySet[Avatar], query: SearchQuery, sort: str, count: int) -> list[Avatar]:
    """The first `count` rows of `ordered` (in SORTS[sort] order, any cursor applied) that match a text query.

    Left to itself, PostgreSQL guesses a word's frequency from sampled statistics; a word outside
    them (rare, new, misspelt) is guessed common, and the plan then walks the sort index until it
    has found enough matches: the whole table for a word that is nowhere, half a second on a
    million rows. So the frequency is measured instead: the next SEARCH_WINDOW rows are read in
    order (a bounded range of the sort index, ids and a match flag only); if their matches do not
    fill the page, the rest comes from whichever plan that frequency makes cheaper, the sort index
    again or the text index with a sort of its matches. Every plan returns the same rows."""
    field, tiebreak = SORTS[sort]
    flagged = ordered.annotate(text_match=ExpressionWrapper(Q(search=query), output_field=BooleanField()))
    window = list(flagged.values_list(tiebreak, "text_match")[:SEARCH_WINDOW])  # no sort keys: parsing 2,000 timestamps costs 10 ms
    hits = [pk for pk, match in window if match][:count]
    # By primary key, in the same order (no LIMIT, so no plan walks an index looking for them).
    found = list(ordered.filter(pk__in=hits)) if hits else []
    wanted = count - len(found)
    if wanted <= 0 or len(window) < SEARCH_WINDOW:
        return found
    pk = window[-1][0]
    value = Avatar.objects.filter(pk=pk).values_list(field, flat=True).get()
    rest = ordered.filter(_after(field, tiebreak, value, pk), search=query)
    if wanted * SEARCH_WINDOW > ORDERED_SCAN_BUDGET * len(found):  # a rare word: through the text index
        rest = rest.order_by(_UNINDEXED_SORT_KEYS[field].desc(), F(tiebreak).desc())
    return found + list(rest[:wanted])


def avatar_page(*, filters: AvatarFilters, after: str = "", limit: int = 48) -> AvatarPage:
    """One page in the chosen order, continuing after `after` (no OFFSET). Two queries whatever the
    size; a text search adds at most two (see first_matching)."""
    if filters.q and connection.vendor == "postgresql":
        ordered = ordered_after(avatar_filter(filters=replace(filters, q="")).filter(_asked_hair(filters.q)), filters.sort, after)
        ordered = ordered.defer("search")
        rows = first_matching(ordered, _text_query(filters.q), filters.sort, limit + 1)
    else:
        rows = list(ordered_after(avatar_filter(filters=filters), filters.sort, after).defer("search")[: limit + 1])
    avatars = attach_renditions(rows)
    has_more = len(avatars) > limit
    avatars = avatars[:limit]
    return AvatarPage(avatars=avatars, next_cursor=encode_cursor(avatars[-1], filters.sort) if has_more else None)


def avatar_get(*, avatar_id: int) -> Avatar | None:
    avatar = _visible().defer("search").filter(pk=avatar_id).first()
    return attach_renditions([avatar])[0] if avatar else None


@dataclass(frozen=True)
class AvatarDownload:
    key: str
    filename: str
    content_type: str


def avatar_download_get(*, avatar_id: int, size: int, fmt: str) -> AvatarDownload | None:
    """One stored size and format of a visible avatar, with the name it is saved under
    (`avatar-<id>-<size>px.<ext>`); None when the avatar is hidden or has no such file."""
    key = (
        AvatarVariant.objects.filter(avatar__in=_visible().filter(pk=avatar_id), size=size, format=fmt)
        .values_list("key", flat=True)
        .first()
    )
    if key is None:
        return None
    extension = EXTENSIONS.get(fmt, fmt)
    return AvatarDownload(key=key, filename=f"avatar-{avatar_id}-{size}px.{extension}", content_type=f"image/{fmt}")


# What "similar" compares besides the model's own fields: everything a source or the generator
# said about the picture, except provenance.
_NOT_TRAITS = frozenset({"drawn_by", "expression"})
_TRAIT_FIELDS = ("gender", "age_group", "hair_color", "emotion")
_ABSENT = frozenset({"", "none", "no", "unknown"})


def avatar_traits(avatar: Avatar) -> set[tuple[str, str]]:
    """The (attribute, value) pairs that describe an avatar: gender, age, hair colour, emotion and
    whatever else its source or the generator recorded (hair style, eyewear, drawing style, ...)."""
    traits = {(name, str(getattr(avatar, name)).lower()) for name in _TRAIT_FIELDS}
    for name, value in (avatar.attributes or {}).items():
        if name not in _NOT_TRAITS and isinstance(value, str | int | float) and not isinstance(value, bool):
            traits.add((name, str(value).lower()))
    return {(name, value) for name, value in traits if value not in _ABSENT}


def _visual_distance(a: Avatar, b: Avatar) -> int:
    """Hash distance (0-64) of the pictures, plus a penalty when their main colours differ."""
    distance = imaging.hamming_distance(int(a.phash, 16), int(b.phash, 16))
    return distance + (0 if a.color_family == b.color_family else 8)


def avatar_similar(*, avatar: Avatar, limit: int = 8, pool: int = 300) -> list[Avatar]:
    """Avatars that look alike: the most shared attributes first (gender, age, hair, expression,
    what the generator drew, tags), then the nearest picture (hash distance and main colour).

    The candidates are the newest `pool` avatars sharing a gender, hair colour or colour family
    with it, plus the newest sharing both its gender and hair colour (so a large library still
    offers the closest matches, not only its newest pictures); each query walks an index."""
    shared_any = Q(color_family=avatar.color_family) if avatar.color_family else Q(pk__in=[])
    for name in ("gender", "hair_color", "age_group"):
        if getattr(avatar, name):
            shared_any |= Q(**{name: getattr(avatar, name)})
    base = _visible().defer("search").exclude(pk=avatar.pk).order_by("-created_at", "-id")
    candidates = {a.pk: a for a in base.filter(shared_any)[:pool]}
    if avatar.gender and avatar.hair_color:
        for other in base.filter(gender=avatar.gender, hair_color=avatar.hair_color)[: pool // 2]:
            candidates.setdefault(other.pk, other)
    traits, tags = avatar_traits(avatar), {tag.lower() for tag in avatar.tags}

    def rank(other: Avatar) -> tuple[float, int, int]:
        shared = len(traits & avatar_traits(other)) + len(tags & {tag.lower() for tag in other.tags}) / 2
        return (-shared, _visual_distance(avatar, other), -other.pk)

    return attach_renditions(sorted(candidates.values(), key=rank)[:limit])


_TEXT_STOP_WORDS = frozenset({"and", "the", "with", "for", "from", "are", "its", "this", "that", "very", "some", "who", "has", "have"})


def text_words(text: str) -> list[str]:
    """The words of a free text (a generation prompt) that say what it is about: lower case,
    without punctuation, short words or common ones such as "with"."""
    return [w for w in (word.strip(".,;:!?\"'()").lower() for word in text.split()) if len(w) > 2 and w not in _TEXT_STOP_WORDS]


# Words that say nothing about which avatar fits (every demo title has "hair"; "portrait" is every photo).
_GENERIC_WORDS = frozenset({"hair", "avatar", "portrait", "person", "picture", "photo", "image", "wearing", "background", "style", "face"})
# Words a prompt uses for what the gallery stores as a gender and age group.
_PERSON_WORDS = {
    "female": ("woman", "female", "lady"),
    "male": ("man", "male", "guy"),
    "infant": ("baby", "infant"),
    "child": ("child", "kid"),
    "young-adult": ("young", "teen", "teenager"),
    "elderly": ("old", "older", "elderly", "senior"),
    ("female", "child"): ("girl",),
    ("male", "child"): ("boy",),
}


def _stem(word: str) -> str:
    """A crude English stem, enough to match "smiling" with "smile" and "glasses" with "glass"."""
    word = word.lower().strip(".,;:!?\"'()")
    changed = True
    while changed:
        changed = False
        for suffix in ("ing", "es", "ed", "s", "e"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word, changed = word[: -len(suffix)], True
                break
    return word


def _words_and_pairs(texts: list[str]) -> tuple[set[str], set[tuple[str, str]]]:
    """The stems of some texts, and each text's neighbouring stems ("red cap", "curly hair")."""
    words: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for text in texts:
        stems = [_stem(word) for word in text_words(text)]
        words.update(stems)
        pairs.update(pairwise(stems))
    return words, pairs


def _avatar_words(avatar: Avatar) -> tuple[set[str], set[tuple[str, str]]]:
    words, pairs = _words_and_pairs([avatar.title, *(str(tag) for tag in avatar.tags)])
    for _name, value in avatar_traits(avatar):
        words.update(_stem(word) for word in value.replace("-", " ").split())
    for key in (avatar.gender, avatar.age_group, (avatar.gender, avatar.age_group)):
        words.update(_stem(word) for word in _PERSON_WORDS.get(key, ()))
    return words, pairs


def avatar_related_to_text(*, text: str, limit: int = 6, per_word: int = 60) -> list[Avatar]:
    """Premade avatars that fit a free text (a generation prompt): those sharing the most of its
    words (its attributes: "woman", "curly", "red", "glasses"...) first, most downloaded first
    among equals; the most downloaded overall fill the rest.

    Candidates: the most downloaded matching all the words, and the `per_word` most downloaded
    matching each word on its own (so a rare word's avatars are not crowded out by a common one's):
    a query or three per word, so the answer is kept per text and gallery version (a failed job's
    page asks again on every poll)."""
    return cached_page("related", (text, limit, per_word), lambda: _related_to_text(text=text, limit=limit, per_word=per_word))


def _related_to_text(*, text: str, limit: int, per_word: int) -> list[Avatar]:
    words = [word for word in dict.fromkeys(text_words(text)) if _stem(word) not in {_stem(g) for g in _GENERIC_WORDS}][:6]
    queryset = _visible().defer("search").order_by("-download_count", "-id")
    candidates: dict[int, Avatar] = {}
    if words:
        if connection.vendor == "postgresql":
            found = first_matching(queryset, _text_query(" ".join(words)), "popular", limit)
            for word in words:
                found += first_matching(queryset, _text_query(word), "popular", per_word)
        else:
            found = []
            for word in words:
                found += queryset.filter(Q(title__icontains=word) | Q(tags__icontains=word) | Q(attributes__icontains=word))[:per_word]
        candidates = {a.pk: a for a in found}
    wanted_words, wanted_pairs = _words_and_pairs([text])
    wanted_words -= {_stem(word) for word in _GENERIC_WORDS}

    def shared(avatar: Avatar) -> int:
        words, pairs = _avatar_words(avatar)
        return len(wanted_words & words) + len(wanted_pairs & pairs)

    scored = sorted(((shared(a), a) for a in candidates.values()), key=lambda item: (-item[0], -item[1].download_count, -item[1].pk))
    related = [avatar for score, avatar in scored if score][:limit]
    if len(related) < limit:
        related += list(queryset.exclude(pk__in=[a.pk for a in related])[: limit - len(related)])
    return attach_renditions(related)
