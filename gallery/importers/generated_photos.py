"""Generated Photos faces API: `API-Key` header, page numbers, `urls` as one-key objects, `meta` values as lists.

No official documentation was available; the shapes follow recorded responses and public clients
(see the protocol notes). Anything unknown is treated as absent rather than guessed.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

from .base import ImportQuery, PermanentSourceError, RateLimitState, RemoteAvatar, ResultPage
from .http import HttpImporter, get_with_retries

MAX_PER_PAGE = 100
FACE_FILTERS = frozenset({"gender", "age", "ethnicity", "eye_color", "hair_color", "hair_length", "emotion", "order_by"})
# Our attribute names for the API's meta keys.
META_ATTRIBUTES = {"gender": "gender", "age": "age_group", "ethnicity": "ethnicity", "hair_color": "hair_color", "emotion": "emotion"}


class GeneratedPhotosImporter(HttpImporter):
    """Lists faces page by page; the cursor is the next page's URL, built by us (the API gives none)."""

    slug = "generated_photos"
    default_api_url = "https://api.generated.photos"
    default_image_hosts = ("images.generated.photos",)

    def first_page_url(self, query: ImportQuery) -> str:
        unknown = set(query.filters) - FACE_FILTERS
        if unknown:
            raise PermanentSourceError(f"Generated Photos has no filter {', '.join(sorted(unknown))}")
        params = {"page": 1, "per_page": min(query.per_page, MAX_PER_PAGE), **query.filters}
        return f"{self.api_url}/api/v1/faces?{urlencode(params)}"

    def fetch_page(self, query: ImportQuery, cursor: str | None = None) -> ResultPage:
        url = cursor or self.first_page_url(query)
        self._ensure_own_host(url)
        response = get_with_retries(
            self.session,
            url,
            headers={"Authorization": f"API-Key {self.api_key}"},
            timeout=self.timeout,
            policy=self._retrying(),
            source_name="Generated Photos",
            rate_limited_until=lambda: datetime.now(UTC) + timedelta(hours=1),  # no rate-limit headers are known
        )
        try:
            body = response.json()
            items = [self._remote_avatar(face) for face in body["faces"]]
            total = int(body.get("total", 0))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise PermanentSourceError(f"unreadable Generated Photos response: {exc}") from exc
        params = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
        page, per_page = int(params.get("page", 1)), int(params.get("per_page", MAX_PER_PAGE))
        has_more = bool(items) and page * per_page < total
        next_url = f"{self.api_url}/api/v1/faces?{urlencode({**params, 'page': page + 1})}" if has_more else None
        return ResultPage(items=items, next_cursor=next_url, rate_limit=RateLimitState(remaining=None, reset_at=None))

    @staticmethod
    def _remote_avatar(face: dict) -> RemoteAvatar:
        # `urls` is a list of one-key objects ordered by size: merge them and take the largest.
        sizes = {int(size): url for entry in face["urls"] for size, url in entry.items()}
        largest = max(sizes)
        meta = face.get("meta") or {}
        attributes = {ours: str(meta[theirs][0]) for theirs, ours in META_ATTRIBUTES.items() if meta.get(theirs)}
        tags = tuple(dict.fromkeys(str(v) for key, values in meta.items() if isinstance(values, list) for v in values))
        description = " ".join(filter(None, [attributes.get("age_group"), attributes.get("gender")])) or "face"
        return RemoteAvatar(
            external_id=str(face["id"]),
            image_url=sizes[largest],
            width=largest,
            height=largest,
            title=f"Generated {description}".replace("-", " "),
            alt=f"AI-generated portrait of a {description.replace('-', ' ')}",
            tags=tags,
            attributes=attributes,
        )
