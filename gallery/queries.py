"""The building blocks of the gallery's public reads: the visible avatars (the licence gate), their
renditions, text search, and keyset order with its cursors."""

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.postgres.search import SearchQuery
from django.core.files.storage import storages
from django.db import connection
from django.db.models import BooleanField, DateTimeField, ExpressionWrapper, F, Q, QuerySet, Value

from .models import Avatar, AvatarVariant, Rendition

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


def visible_avatars() -> QuerySet[Avatar]:
    # Every public read (pages, API, search, similar avatars) starts here: the licence gate is applied once, in the model.
    return Avatar.objects.visible().select_related("source")


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


def text_query(q: str) -> SearchQuery:
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


def asked_hair(q: str) -> Q:
    """Avatars whose hair is the colour the search names; an avatar of unknown hair colour still
    matches by its words."""
    colour = asked_hair_colour(q)
    return Q(hair_color=colour) | Q(hair_color="") if colour else Q()


def text_search(queryset: QuerySet[Avatar], q: str) -> QuerySet[Avatar]:
    queryset = queryset.filter(asked_hair(q))
    if connection.vendor == "postgresql":
        return queryset.filter(search=text_query(q))
    condition = Q()
    for word in q.split()[:8]:  # the embedded SQLite fallback: every word somewhere in the text
        condition &= Q(title__icontains=word) | Q(alt__icontains=word) | Q(tags__icontains=word)
    return queryset.filter(condition)


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
