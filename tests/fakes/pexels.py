"""A local Pexels API (search, curated, images) that speaks the documented protocol, with faults on demand."""

import io
import json
import random
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from PIL import Image, ImageDraw

from tests.fakes.server import FakeHandler, LoopbackServer

MAX_PER_PAGE = 80


def pattern_image(seed: int, size: tuple[int, int] = (600, 900), fmt: str = "JPEG") -> bytes:
    """A distinct picture per seed (a grid of random colours), so hashes tell photos apart."""
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    cols, rows = 4, 6
    for row in range(rows):
        for col in range(cols):
            box = (col * size[0] // cols, row * size[1] // rows, (col + 1) * size[0] // cols, (row + 1) * size[1] // rows)
            draw.rectangle(box, fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=90)
    return buffer.getvalue()


@dataclass
class FakePexels(LoopbackServer):
    api_key: str = "pexels-test-key"
    photo_count: int = 10
    rate_limit: int = 200
    remaining: int = 200
    reset_at: int = field(default_factory=lambda: int(time.time()) + 3600)
    # Scripted answers for the next API calls: an int status, "malformed" or ("slow", seconds).
    api_faults: deque = field(default_factory=deque)
    # photo id -> "not-image" | "truncated" | "bomb" | "huge" | "missing" | int (serve that seed's image)
    image_faults: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._serve()

    def photo(self, photo_id: int) -> dict:
        page = f"https://www.pexels.com/photo/portrait-{photo_id}/"
        image = f"{self.url}/images/{photo_id}.jpeg"
        return {
            "id": photo_id,
            "width": 4000,
            "height": 6000,
            "url": page,
            "photographer": f"Photographer {photo_id}",
            "photographer_url": f"https://www.pexels.com/@photographer{photo_id}",
            "photographer_id": 1000 + photo_id,
            "avg_color": "#978E82",
            "alt": f"Smiling person number {photo_id} in a portrait",
            "liked": False,
            "src": {
                "original": image,
                "large2x": image + "?auto=compress&cs=tinysrgb&dpr=2&h=650&w=940",
                "portrait": image + "?auto=compress&cs=tinysrgb&fit=crop&h=1200&w=800",
                "tiny": image + "?auto=compress&cs=tinysrgb&dpr=1&fit=crop&h=200&w=280",
            },
        }

    def image_bytes(self, photo_id: int) -> tuple[int, str, bytes]:
        fault = self.image_faults.get(photo_id)
        if fault == "missing":
            return 404, "application/json", b'{"error": "Not Found"}'
        if fault == "not-image":
            return 200, "text/html", b"<html>not an image</html>"
        if fault == "truncated":
            return 200, "image/jpeg", pattern_image(photo_id)[:600]
        if fault == "bomb":
            buffer = io.BytesIO()
            Image.new("1", (20000, 20000)).save(buffer, "PNG")  # ~50 KB declaring 400 megapixels
            return 200, "image/png", buffer.getvalue()
        if fault == "huge":
            return 200, "image/jpeg", b"\xff\xd8" + b"\0" * (25 * 1024 * 1024)
        seed = fault if isinstance(fault, int) else photo_id
        return 200, "image/jpeg", pattern_image(seed)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                fake.requests.append({"path": parts.path, "query": parse_qs(parts.query), "headers": dict(self.headers)})
                if parts.path.startswith("/images/"):
                    status, content_type, body = fake.image_bytes(int(parts.path.rsplit("/", 1)[1].split(".")[0]))
                    return self._send(status, body, content_type)
                path = parts.path.rstrip("/")  # next_page URLs carry a trailing slash, as Pexels' do
                if path not in ("/v1/search", "/v1/curated"):
                    return self._send(404, b'{"error": "Not Found"}')
                if self.headers.get("Authorization") != fake.api_key:
                    return self._send(401, b'{"error": "Unauthorized"}')
                if fake.api_faults:
                    fault = fake.api_faults.popleft()
                    if fault == "malformed":
                        return self._send(200, b'{"page": 1, "photos": [', headers=fake._rate_headers())
                    if isinstance(fault, tuple):
                        time.sleep(fault[1])
                    else:
                        return self._send(fault, b'{"error": "scripted"}')
                if fake.remaining <= 0:
                    return self._send(429, b'{"error": "Rate limit exceeded"}')  # Pexels sends no rate headers on 429
                fake.remaining -= 1
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                page, per_page = int(query.get("page", 1)), min(int(query.get("per_page", 15)), MAX_PER_PAGE)
                ids = list(range(1, fake.photo_count + 1))[(page - 1) * per_page : page * per_page]
                body = {"page": page, "per_page": per_page, "photos": [fake.photo(i) for i in ids], "total_results": fake.photo_count}
                if page * per_page < fake.photo_count:
                    body["next_page"] = f"{fake.url}{path}/?{urlencode({**query, 'page': page + 1})}"
                if page > 1:
                    body["prev_page"] = f"{fake.url}{path}/?{urlencode({**query, 'page': page - 1})}"
                return self._send(200, json.dumps(body).encode(), headers=fake._rate_headers())

        return Handler

    def _rate_headers(self) -> dict:
        return {
            "X-Ratelimit-Limit": str(self.rate_limit),
            "X-Ratelimit-Remaining": str(self.remaining),
            "X-Ratelimit-Reset": str(self.reset_at),
        }
