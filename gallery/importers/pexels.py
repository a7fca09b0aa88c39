"""Pexels photo search (https://www.pexels.com/api/): bare key auth, next_page URLs, rate-limit headers."""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import requests

from .base import ImportQuery, PermanentSourceError, RateLimitState, RemoteAvatar, ResultPage
from .http import download_image, get_with_retries, retrying

logger = logging.getLogger(__name__)

MAX_PER_PAGE = 80
SEARCH_FILTERS = frozenset({"orientation", "size", "color", "locale"})


class PexelsImporter:
    """Searches Pexels photos page by page; the cursor is the `next_page` URL Pexels returns."""

    slug = "pexels"

    def __init__(
        self,
        *,
        api_url: str = "https://api.pexels.com",
        api_key: str = "",
        timeout: tuple[float, float] = (5.0, 30.0),
        attempts: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_image_bytes: int = 20 * 1024 * 1024,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_image_bytes = max_image_bytes
        self._retrying = lambda: retrying(attempts=attempts, backoff=backoff, max_backoff=max_backoff, sleep=sleep)
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "avatarsite-importer"
        self._last_reset_at: datetime | None = None

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

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
        if urlsplit(url).netloc != urlsplit(self.api_url).netloc:
            raise PermanentSourceError("next_page points outside the configured API host; not sending the key there")
        response = self._get_json_response(url)
        try:
            body = response.json()
            photos = body["photos"]
            items = [self._remote_avatar(photo) for photo in photos]
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentSourceError(f"unreadable Pexels response: {exc}") from exc
        next_page = body.get("next_page")
        return ResultPage(items=items, next_cursor=next_page if isinstance(next_page, str) else None, rate_limit=self._rate_limit(response))

    def download(self, url: str) -> bytes:
        return download_image(self.session, url, max_bytes=self.max_image_bytes, timeout=self.timeout)

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
