"""HTTP helpers shared by importers: retries with backoff and jitter, and a bounded download."""

import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import requests
from tenacity import Retrying

from avatarsite.core.outbound import (
    FetchConnectionError,
    FetchPolicy,
    FetchTimeoutError,
    HTTPStatusError,
    UnsafeFetchError,
    fetch,
    guarded_session,
)
from avatarsite.core.retries import RetryableResponse, retrying

from .base import PermanentSourceError, RateLimitedError, TransientSourceError

IMAGE_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")


def get_with_retries(
    session: requests.Session,
    url: str,
    *,
    headers: dict[str, str],
    timeout: tuple[float, float],
    policy: Retrying,
    source_name: str,
    rate_limited_until: Callable[[], datetime | None],
) -> requests.Response:
    """GET retrying 429, 5xx and connection errors; the final failure becomes a typed source error."""

    def attempt() -> requests.Response:
        response = session.get(url, headers=headers, timeout=timeout)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableResponse(response)
        return response

    try:
        response = policy(attempt)
    except RetryableResponse as exc:
        if exc.response.status_code == 429:
            raise RateLimitedError(f"{source_name} answered 429 Too Many Requests", resume_at=rate_limited_until()) from exc
        raise TransientSourceError(f"{source_name} answered HTTP {exc.response.status_code} after retries") from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientSourceError(f"{source_name} unreachable: {type(exc).__name__}") from exc
    if response.status_code in (401, 403):
        raise PermanentSourceError(f"{source_name} refused the API key (HTTP {response.status_code})")
    if response.status_code != 200:
        raise PermanentSourceError(f"{source_name} answered HTTP {response.status_code}")
    return response


def download_image(url: str, policy: FetchPolicy, session: requests.Session) -> bytes:
    """Fetch an image under `policy` (allowlisted https host, public address, no redirects, an
    image type, bounded size and time); failures become typed source errors."""
    try:
        return fetch(url, policy, session=session).content
    except UnsafeFetchError as exc:
        raise PermanentSourceError(f"image download refused: {exc}") from exc
    except HTTPStatusError as exc:
        error = TransientSourceError if exc.retryable else PermanentSourceError
        raise error(f"image download answered HTTP {exc.status}") from exc
    except (FetchTimeoutError, FetchConnectionError) as exc:
        raise TransientSourceError(f"image download failed: {exc}") from exc


class HttpImporter:
    """What every HTTP importer shares: settings, the session, retries, the host check, downloads."""

    slug = ""
    default_api_url = ""
    # Where the source's image files live; the API host is allowed too.
    default_image_hosts: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        api_url: str = "",
        api_key: str = "",
        timeout: tuple[float, float] = (5.0, 30.0),
        attempts: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_image_bytes: int = 20 * 1024 * 1024,
        download_deadline: float = 60.0,
        image_hosts: tuple[str, ...] | list[str] | None = None,
        allow_loopback: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.api_url = (api_url or self.default_api_url).rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_image_bytes = max_image_bytes
        self._retry_options = {"attempts": attempts, "backoff": backoff, "max_backoff": max_backoff, "sleep": sleep}
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "avatarsite-importer"
        hosts = tuple(image_hosts) if image_hosts else self.default_image_hosts
        self.download_policy = FetchPolicy(
            allowed_hosts=frozenset((*hosts, urlsplit(self.api_url).hostname or "")) - {""},
            max_bytes=max_image_bytes,
            connect_timeout=timeout[0],
            read_timeout=timeout[1],
            total_timeout=download_deadline,
            content_types=IMAGE_CONTENT_TYPES,
            allow_loopback=allow_loopback,
        )
        self._download_session: requests.Session | None = None

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    def _retrying(self) -> Retrying:
        return retrying(**self._retry_options)

    def _ensure_own_host(self, url: str) -> None:
        """Cursors come from the source: never send our key to another host."""
        if urlsplit(url).netloc != urlsplit(self.api_url).netloc:
            raise PermanentSourceError("the cursor points outside the configured API host; not sending the key there")

    def download(self, url: str) -> bytes:
        if self._download_session is None:
            self._download_session = guarded_session(self.download_policy, user_agent="avatarsite-importer")
        return download_image(url, self.download_policy, self._download_session)
