"""The importer contract: a query in, pages of remote avatars out, or a typed error."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class SourceError(Exception):
    """Base of the errors an importer raises."""


class TransientSourceError(SourceError):
    """Timeouts and 5xx that outlived the retries: skip this item or page, try again later."""


class PermanentSourceError(SourceError):
    """Bad key, bad request, a body we cannot read: retrying will not help."""


class RateLimitedError(SourceError):
    """The source's quota is spent (or nearly): stop now and continue at `resume_at`."""

    def __init__(self, message: str, *, resume_at: datetime | None) -> None:
        super().__init__(message)
        self.resume_at = resume_at


@dataclass(frozen=True)
class ImportQuery:
    query: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    per_page: int = 80


@dataclass(frozen=True)
class RemoteAvatar:
    """One image as the source describes it, with everything attribution needs."""

    external_id: str
    image_url: str
    width: int
    height: int
    title: str = ""
    alt: str = ""
    tags: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    photographer_name: str = ""
    photographer_url: str = ""
    source_page_url: str = ""
    dominant_color: str = ""


@dataclass(frozen=True)
class RateLimitState:
    remaining: int | None
    reset_at: datetime | None


@dataclass(frozen=True)
class ResultPage:
    items: list[RemoteAvatar]
    next_cursor: str | None
    rate_limit: RateLimitState
