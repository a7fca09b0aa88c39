"""Pexels photo search (https://www.pexels.com/api/): bare key auth, next_page URLs, rate-limit headers."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests

from .base import ImportQuery, PermanentSourceError, RateLimitState, RemoteAvatar, ResultPage
from .http import HttpImporter, get_with_retries

logger = logging.getLogger(__name__)

MAX_PER_PAGE = 80
SEARCH_FILTERS = frozenset({"orientation", "size", "color", "locale"})


class PexelsImporter(HttpImporter):
    """Searches Pexels photos page by page; the cursor is the `next_page` URL Pexels returns."""

    slug = "pexels"
    default_api_url = "https://api.pexels.com"
    default_image_hosts = ("images.pexels.com",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._last_reset_at: datetime | None = None

    def first_page_url(self, query: ImportQuery) -> str:
        unknown = set(query.filters) - SEARCH_FILTERS
        if unknown:
            raise PermanentSourceError(f"Pexels has no filter {', '.join(sorted(unknown))}")
        params = {"per_page": min(query.per_page, MAX_PER_PAGE), "page": 1, **query.filters}
        if query.query:
            return f"{self.api_url}/v1/search?{urlencode({'query': query.query, **params})}"
        return f"{self.api_url}/v1/curated?{urlencode(params)}"

    def fetch_page(self, query: ImportQuery, cursor: str | None = None) -> ResultPage:
        url = cursor or self.first_page_url(query)
        self._ensure_own_host(url)
        response = self._get_json_response(url)
        try:
            body = response.json()
            photos = body["photos"]
            items = [self._remote_avatar(photo) for photo in photos]
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentSourceError(f"unreadable Pexels response: {exc}") from exc
        next_page = body.get("next_page")
        return ResultPage(items=items, next_cursor=next_page if isinstance(next_page, str) else None, rate_limit=self._rate_limit(response))

    def _get_json_response(self, url: str) -> requests.Response:
        return get_with_retries(
            self.session,
            url,
            headers={"Authorization": self.api_key},
            timeout=self.timeout,
            policy=self._retrying(),
            source_name="Pexels",
            # Pexels sends no rate-limit headers on 429: the last reset we saw is the best guess.
            rate_limited_until=lambda: self._last_reset_at or datetime.now(UTC) + timedelta(hours=1),
        )

    def _rate_limit(self, response: requests.Response) -> RateLimitState:
        remaining = response.headers.get("X-Ratelimit-Remaining")
        reset = response.headers.get("X-Ratelimit-Reset")
        reset_at = datetime.fromtimestamp(int(reset), UTC) if reset and reset.isdigit() else None
        if reset_at is not None:
            self._last_reset_at = reset_at
        return RateLimitState(remaining=int(remaining) if remaining and remaining.isdigit() else None, reset_at=reset_at)

    @staticmethod
    def _remote_avatar(photo: dict) -> RemoteAvatar:
        src = photo["src"]
        alt = photo.get("alt") or ""
        return RemoteAvatar(
            external_id=str(photo["id"]),
            # The portrait rendition is Pexels' own crop (800x1200); our square crop starts from it.
            image_url=src.get("portrait") or src.get("large") or src["original"],
            width=int(photo["width"]),
            height=int(photo["height"]),
            title=alt[:200],
            alt=alt[:300],
            tags=tuple(word for word in alt.lower().replace(",", " ").split() if len(word) > 3)[:12],
            photographer_name=photo.get("photographer") or "",
            photographer_url=photo.get("photographer_url") or "",
            source_page_url=photo.get("url") or "",
            dominant_color=(photo.get("avg_color") or "").lower(),
        )
