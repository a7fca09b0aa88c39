"""Reads of the gallery: filtered, searched, keyset-paginated lists; one avatar; similar avatars."""

import base64
import binascii
import json
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import F, Prefetch, Q, QuerySet

from . import imaging
from .models import Avatar, AvatarVariant

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


def _with_variants(queryset: QuerySet[Avatar]) -> QuerySet[Avatar]:
    return queryset.prefetch_related(Prefetch("variants", queryset=AvatarVariant.objects.order_by("size", "format")))


def _search(queryset: QuerySet[Avatar], q: str) -> QuerySet[Avatar]:
    if connection.vendor == "postgresql":
        vector = SearchVector("title", "alt", config="english")
        return queryset.annotate(search=vector).filter(search=SearchQuery(q, search_type="websearch", config="english"))
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


def avatar_page(*, filters: AvatarFilters, after: str = "", limit: int = 48) -> AvatarPage:
    """One page in the chosen order, continuing after `after` by keyset (no OFFSET, any depth)."""
    field, tiebreak = SORTS[filters.sort]
    queryset = avatar_filter(filters=filters).order_by(f"-{field}", f"-{tiebreak}")
    if after:
        value, pk = _decode_cursor(after)
        queryset = queryset.filter(Q(**{f"{field}__lt": value}) | Q(**{field: value, f"{tiebreak}__lt": pk}))
    avatars = list(_with_variants(queryset)[: limit + 1])
    has_more = len(avatars) > limit
    avatars = avatars[:limit]
    return AvatarPage(avatars=avatars, next_cursor=encode_cursor(avatars[-1], filters.sort) if has_more else None)


def avatar_get(*, avatar_id: int) -> Avatar | None:
    return _with_variants(_visible()).filter(pk=avatar_id).first()


def avatar_similar(*, avatar: Avatar, limit: int = 8, pool: int = 300) -> list[Avatar]:
    """Avatars that look alike: same colour family or shared attributes, ranked by tag overlap and hash distance."""
    related = Q(color_family=avatar.color_family) if avatar.color_family else Q()
    if avatar.gender:
        related |= Q(gender=avatar.gender, age_group=avatar.age_group)
    candidates = list(_visible().filter(related).exclude(pk=avatar.pk).order_by("-created_at")[:pool])
    tags, phash = set(avatar.tags), int(avatar.phash, 16)

    def distance(other: Avatar) -> tuple[int, int]:
        shared = len(tags & set(other.tags)) + (other.color_family == avatar.color_family)
        return (-shared, imaging.hamming_distance(phash, int(other.phash, 16)))

    chosen = [a.pk for a in sorted(candidates, key=distance)[:limit]]
    loaded = {a.pk: a for a in _with_variants(Avatar.objects.filter(pk__in=chosen).select_related("source"))}
    return [loaded[pk] for pk in chosen]
