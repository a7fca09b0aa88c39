"""Reads of the gallery: filtered, searched, keyset-paginated lists; one avatar; similar avatars."""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from django.contrib.postgres.search import SearchQuery
from django.core.files.storage import storages
from django.db import connection
from django.db.models import BooleanField, DateTimeField, ExpressionWrapper, F, Q, QuerySet, Value

from . import imaging
from .models import Avatar, AvatarVariant, Rendition, Source

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


def _search(queryset: QuerySet[Avatar], q: str) -> QuerySet[Avatar]:
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
        ordered = ordered_after(avatar_filter(filters=replace(filters, q="")), filters.sort, after).defer("search")
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


def avatar_similar(*, avatar: Avatar, limit: int = 8, pool: int = 300) -> list[Avatar]:
    """Avatars that look alike: same colour family or shared attributes, ranked by tag overlap and hash distance."""
    related = Q(color_family=avatar.color_family) if avatar.color_family else Q()
    if avatar.gender:
        related |= Q(gender=avatar.gender, age_group=avatar.age_group)
    candidates = list(_visible().defer("search").filter(related).exclude(pk=avatar.pk).order_by("-created_at")[:pool])
    tags, phash = set(avatar.tags), int(avatar.phash, 16)

    def distance(other: Avatar) -> tuple[int, int]:
        shared = len(tags & set(other.tags)) + (other.color_family == avatar.color_family)
        return (-shared, imaging.hamming_distance(phash, int(other.phash, 16)))

    return attach_renditions(sorted(candidates, key=distance)[:limit])


_TEXT_STOP_WORDS = frozenset({"and", "the", "with", "for", "from", "are", "its", "this", "that", "very", "some", "who", "has", "have"})


def text_words(text: str) -> list[str]:
    """The words of a free text (a generation prompt) that say what it is about: lower case,
    without punctuation, short words or common ones such as "with"."""
    return [w for w in (word.strip(".,;:!?\"'()").lower() for word in text.split()) if len(w) > 2 and w not in _TEXT_STOP_WORDS]


def avatar_related_to_text(*, text: str, limit: int = 6) -> list[Avatar]:
    """Premade avatars that share any word with a free text (a generation prompt), most
    downloaded first; the most downloaded overall when none does."""
    words = text_words(text)[:8]
    queryset = _visible().defer("search").order_by("-download_count", "-id")
    related: list[Avatar] = []
    if words:
        if connection.vendor == "postgresql":
            related = first_matching(queryset, _text_query(" or ".join(words)), "popular", limit)
        else:
            condition = Q()
            for word in words:
                condition |= Q(title__icontains=word) | Q(tags__icontains=word)
            related = list(queryset.filter(condition)[:limit])
    if len(related) < limit:
        related += list(queryset.exclude(pk__in=[a.pk for a in related])[: limit - len(related)])
    return attach_renditions(related)
