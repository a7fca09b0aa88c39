"""The premade library: sources with their licence policy, avatars and their stored variants."""

from dataclasses import dataclass

from django.contrib.postgres.search import SearchVectorField
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.utils.functional import cached_property


@dataclass(frozen=True, slots=True)
class Rendition:
    """What pages and the API need of a stored variant: cheap to build for a whole page at once."""

    size: int
    format: str
    url: str
    bytes: int


def source_live_q(prefix: str = "") -> Q:
    """The licence gate, the one rule every read and import goes through: a source's avatars are
    shown, and its imports run, only while it is enabled and an operator has confirmed its licence.
    `prefix` reaches the source from another model ("source__" from Avatar)."""
    return Q(**{f"{prefix}enabled": True, f"{prefix}licence_confirmed": True})


class SourceQuerySet(models.QuerySet):
    def live(self) -> "SourceQuerySet":
        """Sources whose avatars may be shown and imported (see source_live_q)."""
        return self.filter(source_live_q())


class Source(models.Model):
    """Where premade avatars come from, and what its licence lets us do with them."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=80)
    website = models.URLField(blank=True)
    enabled = models.BooleanField(default=True, help_text="Imports run and its avatars are shown only when enabled.")
    licence_confirmed = models.BooleanField(
        default=False,
        help_text=(
            "Tick only after checking that our licence with this source covers showing its images on the site and in the API,"
            " at the sizes and for the uses set below. Until it is ticked, the source's avatars are hidden everywhere and its"
            " imports are refused; nothing is deleted, so ticking it again shows them at once."
        ),
    )
    commercial_use_allowed = models.BooleanField(default=False)
    attribution_required = models.BooleanField(default=True)
    attribution_template = models.CharField(
        max_length=200, blank=True, help_text="e.g. 'Photo by {photographer} on Pexels'; {photographer} is filled in."
    )
    original_download_allowed = models.BooleanField(default=False)
    max_served_size = models.PositiveIntegerField(default=1024, help_text="Largest square side (px) we may serve.")
    last_run_at = models.DateTimeField(null=True, blank=True)
    rate_limit_remaining = models.IntegerField(null=True, blank=True)
    rate_limit_reset_at = models.DateTimeField(null=True, blank=True)
    resume_state = models.JSONField(default=dict, blank=True, help_text="Where an interrupted import continues, per query.")

    objects = SourceQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name

    @property
    def blocked_reason(self) -> str:
        """Why its avatars are hidden and its imports refused, or '' when it is live (the same rule as source_live_q)."""
        reasons = [
            reason
            for reason, holds in (("its licence is not confirmed", not self.licence_confirmed), ("it is disabled", not self.enabled))
            if holds
        ]
        return " and ".join(reasons)


class AvatarQuerySet(models.QuerySet):
    def visible(self) -> "AvatarQuerySet":
        """Avatars anyone may see: those of live sources (the licence gate). Every public read starts here."""
        return self.filter(source_live_q("source__"))


class Avatar(models.Model):
    """One premade avatar, with the provenance and attribution its source requires."""

    class ContentRating(models.TextChoices):
        GENERAL = "general", "General"
        MATURE = "mature", "Mature"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="avatars")
    external_id = models.CharField(max_length=64)
    title = models.CharField(max_length=200, blank=True)
    alt = models.CharField(max_length=300, blank=True)
    tags = models.JSONField(default=list, blank=True)
    gender = models.CharField(max_length=16, blank=True, db_index=True)
    age_group = models.CharField(max_length=16, blank=True, db_index=True)
    ethnicity = models.CharField(max_length=16, blank=True)
    hair_color = models.CharField(max_length=16, blank=True)
    emotion = models.CharField(max_length=16, blank=True)
    # Everything the source says about the picture, or, for the demo library, what the generator
    # drew (hair style, eyewear, clothing colour, ...): "similar avatars" compare these.
    attributes = models.JSONField(default=dict, blank=True)

    class Style(models.TextChoices):
        PHOTO = "photo", "Photo"
        SYNTHETIC = "synthetic", "AI face"
        ILLUSTRATION = "illustration", "Illustration"

    style = models.CharField(max_length=16, choices=Style.choices, default=Style.PHOTO, db_index=True)
    dominant_color = models.CharField(max_length=7, blank=True, help_text="#rrggbb")
    color_family = models.CharField(max_length=8, blank=True, db_index=True, help_text="The dominant colour's name, for filtering.")
    width = models.PositiveIntegerField(help_text="Of the original, before cropping.")
    height = models.PositiveIntegerField()
    phash = models.CharField(max_length=16, help_text="64-bit difference hash, hex.")
    # The hash in four 16-bit bands: two images within 3 bits share at least one band exactly,
    # so near-duplicate candidates come from an index instead of a scan.
    phash_band0 = models.IntegerField(db_index=True)
    phash_band1 = models.IntegerField(db_index=True)
    phash_band2 = models.IntegerField(db_index=True)
    phash_band3 = models.IntegerField(db_index=True)
    placeholder = models.TextField(blank=True, help_text="A tiny blurred data: URI painted before the image loads.")
    licence = models.CharField(max_length=80)
    photographer_name = models.CharField(max_length=120, blank=True)
    photographer_url = models.URLField(max_length=500, blank=True)
    source_page_url = models.URLField(max_length=500, blank=True)
    content_rating = models.CharField(max_length=16, choices=ContentRating.choices, default=ContentRating.GENERAL)
    is_demo = models.BooleanField(default=False)
    download_count = models.PositiveIntegerField(default=0)
    retrieved_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Title, tags and alt text as a tsvector, kept up to date by a database trigger on PostgreSQL
    # (migration 0002) and searched through a GIN index; unused on the embedded SQLite.
    search = SearchVectorField(null=True, editable=False)

    objects = AvatarQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="gallery_avatar_unique_per_source")]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="gallery_avatar_newest"),
            models.Index(fields=["-download_count", "-id"], name="gallery_avatar_popular"),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.source.slug}:{self.external_id}"

    @cached_property
    def renditions(self) -> list[Rendition]:
        """Smallest first. The selectors set this for a whole page in one query; a lone avatar loads it here."""
        return [Rendition(v.size, v.format, v.url, v.bytes) for v in self.variants.order_by("size", "format")]

    def _renditions(self, fmt: str) -> list[Rendition]:
        return [r for r in self.renditions if r.format == fmt]

    @property
    def card_src(self) -> str:
        """The 256 px WebP (or the largest below it) for grids; srcset offers the rest."""
        renditions = self._renditions("webp")
        fitting = [r for r in renditions if r.size <= 256] or renditions
        return fitting[-1].url if fitting else ""

    @property
    def card_srcset(self) -> str:
        return ", ".join(f"{r.url} {r.size}w" for r in self._renditions("webp"))

    @property
    def preview_src(self) -> str:
        renditions = self._renditions("webp")
        return renditions[-1].url if renditions else ""

    @property
    def downloads(self) -> list[Rendition]:
        return self.renditions

    @property
    def attribution(self) -> str:
        """The credit line the source's licence asks for ("Photo by X on Pexels"), or ''."""
        if not self.source.attribution_required or not self.source.attribution_template:
            return ""
        return self.source.attribution_template.format(photographer=self.photographer_name or self.source.name)


class AvatarVariant(models.Model):
    """A stored square rendition of an avatar, at one size and format."""

    class Format(models.TextChoices):
        WEBP = "webp", "WebP"
        JPEG = "jpeg", "JPEG"

    avatar = models.ForeignKey(Avatar, on_delete=models.CASCADE, related_name="variants")
    size = models.PositiveSmallIntegerField()
    format = models.CharField(max_length=4, choices=Format.choices)
    key = models.CharField(max_length=300, help_text="Storage key; content-addressed, so it never changes.")
    bytes = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["avatar", "size", "format"], name="gallery_variant_unique")]
        ordering = ["size", "format"]

    def __str__(self) -> str:
        return f"{self.avatar_id} {self.size}px {self.format}"

    @property
    def url(self) -> str:
        """The CDN URL (public storage): never streamed through Django."""
        return storages["public"].url(self.key)


class DailyCount(models.Model):
    """Gallery views (an avatar's page) and downloads, counted per UTC day (issue 20: the operator's
    dashboard); `Avatar.download_count` keeps only the all-time total. One row a day per kind,
    raised by one UPDATE."""

    class Kind(models.TextChoices):
        VIEW = "view", "Views"
        DOWNLOAD = "download", "Downloads"

    day = models.DateField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "kind"], name="gallery_daily_count_one_row_per_day_kind")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.count}"
