"""Writes on the gallery: sources, importing remote avatars, and whole import runs."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from avatarsite.core.storage import store_content

from . import imaging
from .importers.base import (
    ImportQuery,
    PermanentSourceError,
    RateLimitedError,
    RemoteAvatar,
    ResultPage,
    TransientSourceError,
)
from .models import Avatar, AvatarVariant, DailyCount, Source

logger = logging.getLogger(__name__)

# Licence policy each source starts with; operators change them in the admin. A source whose licence
# comes with it (Pexels' licence is free for everyone; the demo library is ours) is confirmed on
# creation; one that needs a contract (Generated Photos) waits for an operator to confirm it.
SOURCE_DEFAULTS: dict[str, dict] = {
    "pexels": {
        "name": "Pexels",
        "website": "https://www.pexels.com",
        "enabled": True,
        "licence_confirmed": True,
        "commercial_use_allowed": True,
        "attribution_required": True,
        "attribution_template": "Photo by {photographer} on Pexels",
        "original_download_allowed": False,
        "max_served_size": 1024,
    },
    "demo": {
        "name": "avatarsite demo",
        "website": "",
        "enabled": True,
        "licence_confirmed": True,
        "commercial_use_allowed": True,
        "attribution_required": False,
        "attribution_template": "",
        "original_download_allowed": True,
        "max_served_size": 1024,
    },
    "generated_photos": {
        "name": "Generated Photos",
        "website": "https://generated.photos",
        # Originals may not be redistributed without a paid licence: off until an operator confirms one.
        "enabled": False,
        "licence_confirmed": False,
        "commercial_use_allowed": False,
        "attribution_required": True,
        "attribution_template": "Photo by Generated Photos",
        "original_download_allowed": False,
        "max_served_size": 512,
    },
}
SOURCE_STYLES = {"pexels": Avatar.Style.PHOTO, "generated_photos": Avatar.Style.SYNTHETIC, "demo": Avatar.Style.ILLUSTRATION}
LICENCE_NAMES = {"pexels": "Pexels License", "generated_photos": "Generated Photos License", "demo": "Demo content (CC0)"}


class SourceNotImportable(Exception):
    """An import from a source that is not live (licence not confirmed, or disabled): refused before anything is asked or written."""

    def __init__(self, source: Source) -> None:
        self.source = source
        reason = source.blocked_reason
        needed = " and ".join(
            step for step, missing in (("confirm its licence", not source.licence_confirmed), ("enable it", not source.enabled)) if missing
        )
        super().__init__(
            f"Import from {source.name} refused: {reason}. Nothing was imported, and its avatars stay hidden until an operator"
            f" checks that our licence covers them and chooses to {needed} in the admin (Gallery > Sources > {source.name})."
        )


class ImportOutcome(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass
class ImportSummary:
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    stopped_reason: str = ""
    resume_at: datetime | None = None
    finished: bool = False

    @property
    def processed(self) -> int:
        return self.new + self.updated + self.duplicate + self.failed

    def count(self, outcome: ImportOutcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


@transaction.atomic
def avatar_download_record(*, avatar_id: int) -> None:
    """Count one download (a single UPDATE, so concurrent downloads are all counted), in the
    avatar's total and in the day's count."""
    Avatar.objects.filter(pk=avatar_id).update(download_count=F("download_count") + 1)
    daily_count_add(kind=DailyCount.Kind.DOWNLOAD)


def avatar_view_record() -> None:
    """Count one view of an avatar's page in the day's count."""
    daily_count_add(kind=DailyCount.Kind.VIEW)


def daily_count_add(*, kind: str, day: date | None = None) -> None:
    """Add one to the day's count of `kind`: one UPDATE (F(), so concurrent requests are all
    counted); the day's first request inserts its row, and one that loses that race updates."""
    day = day or timezone.now().date()
    if DailyCount.objects.filter(day=day, kind=kind).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():  # a savepoint: a clash on the unique (day, kind) spoils no caller's transaction
            DailyCount.objects.create(day=day, kind=kind, count=1)
    except IntegrityError:
        DailyCount.objects.filter(day=day, kind=kind).update(count=F("count") + 1)


def source_get_or_create(*, slug: str) -> Source:
    defaults = SOURCE_DEFAULTS.get(slug, {"name": slug.replace("_", " ").title()})
    source, _ = Source.objects.get_or_create(slug=slug, defaults=defaults)
    return source


def source_assert_importable(*, source: Source) -> None:
    """Raise SourceNotImportable unless the source is live now (its flags are read again: an
    operator may have changed them since `source` was loaded)."""
    source.refresh_from_db(fields=["enabled", "licence_confirmed"])
    if source.blocked_reason:
        raise SourceNotImportable(source)


@transaction.atomic
def source_licence_set(*, source: Source, confirmed: bool) -> Source:
    """Confirm a source's licence (its avatars show, imports run) or withdraw it (hidden, refused).
    Saved through the model, so the gallery's cached pages are dropped at once and after commit."""
    source.licence_confirmed = confirmed
    source.save(update_fields=["licence_confirmed"])
    return source


def _near_duplicate(*, phash: int, exclude_pk: int | None) -> Avatar | None:
    """An avatar of any source whose hash is within the distance, found through the band indexes."""
    bands = imaging.hash_bands(phash)
    # Demo illustrations share one layout, so their hashes are close by design: they are never compared.
    candidates = (
        Avatar.objects.filter(is_demo=False)
        .filter(Q(phash_band0=bands[0]) | Q(phash_band1=bands[1]) | Q(phash_band2=bands[2]) | Q(phash_band3=bands[3]))
        .only("pk", "phash")
    )
    if exclude_pk is not None:
        candidates = candidates.exclude(pk=exclude_pk)
    limit = settings.GALLERY_DUPLICATE_MAX_DISTANCE
    return next((c for c in candidates if imaging.hamming_distance(int(c.phash, 16), phash) <= limit), None)


def _store_variant(*, variant: imaging.RenderedVariant) -> str:
    """Save under a key derived from the bytes: the same image is stored once and never changes."""
    return store_content(storage="public", prefix="gallery", data=variant.data, fmt=variant.format, skip_existing=True)


def avatar_import_remote(
    *, source: Source, remote: RemoteAvatar, image_bytes: bytes, retrieved_at: datetime, is_demo: bool = False
) -> ImportOutcome:
    """Store one remote image as an avatar (new or updated), unless it duplicates another one."""
    if source.blocked_reason:  # the licence gate, on the caller's copy (import_run reads it fresh for every page)
        raise SourceNotImportable(source)
    existing = Avatar.objects.filter(source=source, external_id=remote.external_id).first()
    image = imaging.decode_image(image_bytes)
    square = imaging.square_crop(image)
    phash = imaging.difference_hash(square)
    if not is_demo and _near_duplicate(phash=phash, exclude_pk=existing.pk if existing else None) is not None:
        return ImportOutcome.DUPLICATE
    # Files first, rows after: a storage failure leaves no row pointing at missing files.
    stored = [(variant, _store_variant(variant=variant)) for variant in imaging.render_variants(square, max_size=source.max_served_size)]
    attributes = remote.attributes
    dominant = imaging.dominant_color(square)
    fields = {
        "title": remote.title,
        "alt": remote.alt or remote.title,
        "tags": list(remote.tags),
        "gender": attributes.get("gender", ""),
        "age_group": attributes.get("age_group", ""),
        "ethnicity": attributes.get("ethnicity", ""),
        "hair_color": attributes.get("hair_color", ""),
        "emotion": attributes.get("emotion", ""),
        "attributes": dict(attributes),
        "dominant_color": dominant,
        "color_family": imaging.color_family(dominant),
        "style": SOURCE_STYLES.get(source.slug, Avatar.Style.PHOTO),
        "width": remote.width,
        "height": remote.height,
        "phash": f"{phash:016x}",
        **{f"phash_band{i}": band for i, band in enumerate(imaging.hash_bands(phash))},
        "placeholder": imaging.placeholder_data_uri(square),
        "licence": LICENCE_NAMES.get(source.slug, source.name),
        "photographer_name": remote.photographer_name,
        "photographer_url": remote.photographer_url,
        "source_page_url": remote.source_page_url,
        "retrieved_at": retrieved_at,
        "is_demo": is_demo,
    }
    with transaction.atomic():
        avatar, created = Avatar.objects.update_or_create(source=source, external_id=remote.external_id, defaults=fields)
        avatar.variants.all().delete()
        AvatarVariant.objects.bulk_create(
            AvatarVariant(avatar=avatar, size=v.size, format=v.format, key=key, bytes=len(v.data)) for v, key in stored
        )
    return ImportOutcome.NEW if created else ImportOutcome.UPDATED


def _avatar_refresh_metadata(*, avatar: Avatar, remote: RemoteAvatar, retrieved_at: datetime) -> None:
    """A known image: refresh what the source says about it, without downloading it again."""
    avatar.title = remote.title
    avatar.alt = remote.alt or remote.title
    avatar.photographer_name = remote.photographer_name
    avatar.photographer_url = remote.photographer_url
    avatar.source_page_url = remote.source_page_url
    avatar.retrieved_at = retrieved_at
    avatar.save(update_fields=["title", "alt", "photographer_name", "photographer_url", "source_page_url", "retrieved_at", "updated_at"])


def _query_key(query: ImportQuery) -> str:
    return "|".join([query.query, *(f"{k}={v}" for k, v in sorted(query.filters.items()))])


def import_run(
    *,
    importer,
    source: Source,
    query: ImportQuery,
    limit: int,
    on_item: Callable[[ImportSummary], None] | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ImportSummary:
    """Import up to `limit` avatars, resuming where the last run of this query stopped; stop
    between items once `clock()` passes `deadline`.

    Each page's cursor is saved before its items are processed, so a run cut off at any point
    continues from that page next time; items already stored are then only updated.

    Raises SourceNotImportable, before any request or write, unless the source is live; a licence
    withdrawn during the run stops it before the next page.
    """
    source_assert_importable(source=source)
    summary = ImportSummary()
    key = _query_key(query)
    cursor = source.resume_state.get(key)
    first_page = True
    while summary.processed < limit:
        if not first_page and not _still_importable(source=source, summary=summary):
            break
        first_page = False
        page = _page_fetch(importer=importer, source=source, query=query, cursor=cursor, summary=summary)
        if page is None:
            break
        _source_save_cursor(source=source, key=key, cursor=cursor)  # this page, until it is done
        items = page.items[: limit - summary.processed]
        _page_import(importer=importer, source=source, items=items, summary=summary, on_item=on_item, deadline=deadline, clock=clock)
        if summary.stopped_reason or len(items) < len(page.items):
            break  # stopped, or the limit fell inside this page: the next run starts on it again
        cursor = _page_done(source=source, key=key, page=page, summary=summary)
        if cursor is None:
            break
    Source.objects.filter(pk=source.pk).update(last_run_at=timezone.now())
    return summary


def _still_importable(*, source: Source, summary: ImportSummary) -> bool:
    """Between pages: a licence withdrawn (or a source disabled) during the run stops it."""
    try:
        source_assert_importable(source=source)
    except SourceNotImportable:
        summary.stopped_reason = f"{source.blocked_reason} (changed during the run)"
        logger.warning("import from %s stopped: %s", source.slug, summary.stopped_reason)
        return False
    return True


def _page_fetch(*, importer, source: Source, query: ImportQuery, cursor: str | None, summary: ImportSummary) -> ResultPage | None:
    """The page at `cursor`, its rate limit saved on the source; None (the reason in `summary`) when
    the source refused or failed."""
    try:
        page = importer.fetch_page(query, cursor)
    except RateLimitedError as exc:
        summary.stopped_reason, summary.resume_at = str(exc), exc.resume_at
        _source_save_rate_limit(source=source, remaining=0, reset_at=exc.resume_at)
        return None
    except (TransientSourceError, PermanentSourceError) as exc:
        summary.stopped_reason = f"{type(exc).__name__}: {exc}"
        logger.warning("import from %s stopped: %s", source.slug, exc)
        return None
    _source_save_rate_limit(source=source, remaining=page.rate_limit.remaining, reset_at=page.rate_limit.reset_at)
    return page


def _page_import(
    *,
    importer,
    source: Source,
    items: list[RemoteAvatar],
    summary: ImportSummary,
    on_item: Callable[[ImportSummary], None] | None,
    deadline: float | None,
    clock: Callable[[], float],
) -> None:
    """Each item of a page in turn, stopping between items once `clock()` passes `deadline`."""
    for remote in items:
        if deadline is not None and clock() > deadline:
            summary.stopped_reason = "the run's time is up; the next run continues from this page"
            return
        summary.count(_import_one(importer=importer, source=source, remote=remote, summary=summary))
        if on_item:
            on_item(summary)


def _page_done(*, source: Source, key: str, page: ResultPage, summary: ImportSummary) -> str | None:
    """After a whole page: the next page's cursor (saved), or None when the run ends here: the last
    page (the query is finished and starts afresh next time) or the rate limit nearly spent."""
    if page.next_cursor is None:
        summary.finished = True
        _source_save_cursor(source=source, key=key, cursor=None)
        return None
    _source_save_cursor(source=source, key=key, cursor=page.next_cursor)
    remaining = page.rate_limit.remaining
    if remaining is not None and remaining <= settings.GALLERY_RATE_LIMIT_RESERVE:
        summary.resume_at = page.rate_limit.reset_at
        summary.stopped_reason = f"rate limit nearly spent ({remaining} requests left)"
        return None
    return page.next_cursor


def _import_one(*, importer, source: Source, remote: RemoteAvatar, summary: ImportSummary) -> ImportOutcome:
    now = timezone.now()
    existing = Avatar.objects.filter(source=source, external_id=remote.external_id).first()
    if existing is not None and existing.variants.exists():
        _avatar_refresh_metadata(avatar=existing, remote=remote, retrieved_at=now)
        return ImportOutcome.UPDATED
    try:
        image_bytes = importer.download(remote.image_url)
        return avatar_import_remote(source=source, remote=remote, image_bytes=image_bytes, retrieved_at=now)
    except Exception as exc:  # one bad item (source, image or storage down) never ends the run
        reason = f"{source.slug}:{remote.external_id}: {type(exc).__name__}: {exc}"
        logger.warning("skipped %s", reason)
        summary.failures.append(reason)
        return ImportOutcome.FAILED


def _source_save_cursor(*, source: Source, key: str, cursor: str | None) -> None:
    if cursor is None:
        source.resume_state.pop(key, None)
    else:
        source.resume_state[key] = cursor
    Source.objects.filter(pk=source.pk).update(resume_state=source.resume_state)


def _source_save_rate_limit(*, source: Source, remaining: int | None, reset_at: datetime | None) -> None:
    source.rate_limit_remaining, source.rate_limit_reset_at = remaining, reset_at
    Source.objects.filter(pk=source.pk).update(rate_limit_remaining=remaining, rate_limit_reset_at=reset_at)
