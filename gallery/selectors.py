"""Reads of the gallery: filtered, searched, keyset-paginated lists; one avatar; similar avatars."""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery
from django.core.files.storage import storages
from django.db import connection
from django.db.models import F, Q, QuerySet

from . import imaging
from .models import Avatar, AvatarVariant, Rendition

SORTS = {"newest": ("created_at", "id"), "popular": ("download_count", "id")}
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
    return Avatar.objects.filter(source__enabled=True).select_related("source")


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


def _search(queryset: QuerySet[Avatar], q: str) -> QuerySet[Avatar]:
    if connection.vendor == "postgresql":
        # The stored, trigger-maintained vector behind a GIN index (migration 0002).
        return queryset.filter(search=SearchQuery(q, search_type="websearch", config="english"))
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


def ordered_after(queryset: QuerySet[Avatar], sort: str, after: str) -> QuerySet[Avatar]:
    """The sort order, continuing after the cursor by keyset: an index range scan at any depth."""
    field, tiebreak = SORTS[sort]
    queryset = queryset.order_by(f"-{field}", f"-{tiebreak}")
    if after:
        value, pk = _decode_cursor(after)
        # The first condition is redundant but is what the index scan starts from; the OR alone
        # would be a filter over every row before the cursor.
        queryset = queryset.filter(Q(**{f"{field}__lte": value}), Q(**{f"{field}__lt": value}) | Q(**{field: value, f"{tiebreak}__lt": pk}))
    return queryset


def avatar_page(*, filters: AvatarFilters, after: str = "", limit: int = 48) -> AvatarPage:
    """One page in the chosen order, continuing after `after` (no OFFSET). Two queries, whatever the size."""
    queryset = ordered_after(avatar_filter(filters=filters), filters.sort, after)
    avatars = attach_renditions(list(queryset.defer("search")[: limit + 1]))
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


def avatar_related_to_text(*, text: str, limit: int = 6) -> list[Avatar]:
    """Premade avatars that share any word with a free text (a generation prompt), most
    downloaded first; the most downloaded overall when none does."""
    words = [w for w in (word.strip(".,;:!?\"'()").lower() for word in text.split()) if len(w) > 2 and w not in _TEXT_STOP_WORDS][:8]
    queryset = _visible().defer("search").order_by("-download_count", "-id")
    related: list[Avatar] = []
    if words:
        if connection.vendor == "postgresql":
            matching = queryset.filter(search=SearchQuery(" or ".join(words), search_type="websearch", config="english"))
        else:
            condition = Q()
            for word in words:
                condition |= Q(title__icontains=word) | Q(tags__icontains=word)
            matching = queryset.filter(condition)
        related = list(matching[:limit])
    if len(related) < limit:
        related += list(queryset.exclude(pk__in=[a.pk for a in related])[: limit - len(related)])
    return attach_renditions(related)
