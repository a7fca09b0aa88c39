"""Reads of the gallery: sources, filtered and keyset-paginated lists, the library's summary, one avatar
and its downloads. The public face of the gallery's reads (other apps read gallery.selectors only): it
also answers for facets (facets.py), similar and related avatars (similar.py) and the query building
blocks (queries.py)."""

from dataclasses import dataclass, replace

from django.db import connection
from django.db.models import F, QuerySet

from avatarsite.core.storage import EXTENSIONS

from .facets import avatar_facets, cached_cube, facet_counts
from .models import Avatar, AvatarVariant, Source
from .page_cache import cached_page
from .queries import (
    ORIENTATIONS,
    SORTS,
    AvatarFilters,
    InvalidCursor,
    asked_hair,
    attach_renditions,
    encode_cursor,
    first_matching,
    ordered_after,
    text_query,
    text_search,
    visible_avatars,
)
from .similar import avatar_related_to_text, avatar_similar, text_words

__all__ = [
    "ORIENTATIONS",
    "SORTS",
    "AvatarDownload",
    "AvatarFilters",
    "AvatarPage",
    "InvalidCursor",
    "LibrarySummary",
    "SourceSummary",
    "avatar_download_get",
    "avatar_facets",
    "avatar_filter",
    "avatar_get",
    "avatar_page",
    "avatar_related_to_text",
    "avatar_similar",
    "encode_cursor",
    "library_summary",
    "ordered_after",
    "source_choices",
    "source_gate_message",
    "source_is_live",
    "text_words",
]


@dataclass(frozen=True)
class AvatarPage:
    avatars: list[Avatar]
    next_cursor: str | None


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


def avatar_filter(*, filters: AvatarFilters) -> QuerySet[Avatar]:
    queryset = visible_avatars()
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
        queryset = text_search(queryset, filters.q)
    return queryset


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
    counts = facet_counts(cached_cube(""), filters=AvatarFilters(), live={pk: slug for pk, slug, _, _ in live})["source"]
    sources = [SourceSummary(slug=slug, name=name, website=url, avatars=counts[slug]) for _, slug, name, url in live if counts.get(slug)]
    sources.sort(key=lambda source: -source.avatars)  # the largest first
    candidates = list(visible_avatars().defer("search").order_by("-download_count", "-id")[:pool]) if showcase else []
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


def avatar_page(*, filters: AvatarFilters, after: str = "", limit: int = 48) -> AvatarPage:
    """One page in the chosen order, continuing after `after` (no OFFSET). Two queries whatever the
    size; a text search adds at most two (see first_matching)."""
    if filters.q and connection.vendor == "postgresql":
        ordered = ordered_after(avatar_filter(filters=replace(filters, q="")).filter(asked_hair(filters.q)), filters.sort, after)
        ordered = ordered.defer("search")
        rows = first_matching(ordered, text_query(filters.q), filters.sort, limit + 1)
    else:
        rows = list(ordered_after(avatar_filter(filters=filters), filters.sort, after).defer("search")[: limit + 1])
    avatars = attach_renditions(rows)
    has_more = len(avatars) > limit
    avatars = avatars[:limit]
    return AvatarPage(avatars=avatars, next_cursor=encode_cursor(avatars[-1], filters.sort) if has_more else None)


def avatar_get(*, avatar_id: int) -> Avatar | None:
    avatar = visible_avatars().defer("search").filter(pk=avatar_id).first()
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
        AvatarVariant.objects.filter(avatar__in=visible_avatars().filter(pk=avatar_id), size=size, format=fmt)
        .values_list("key", flat=True)
        .first()
    )
    if key is None:
        return None
    extension = EXTENSIONS.get(fmt, fmt)
    return AvatarDownload(key=key, filename=f"avatar-{avatar_id}-{size}px.{extension}", content_type=f"image/{fmt}")
