"""A local Generated Photos faces API, shaped like its recorded responses, with faults on demand."""

import json
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes.pexels import pattern_image
from tests.fakes.server import FakeHandler, LoopbackServer

MAX_PER_PAGE = 100
SIZES = (32, 64, 128, 256, 512)
GENDERS = ("male", "female")
AGES = ("young-adult", "adult", "elderly")


@dataclass
class FakeGeneratedPhotos(LoopbackServer):
    api_key: str = "gp-test-key"
    face_count: int = 7
    api_faults: deque = field(default_factory=deque)  # int statuses for the next API calls
    image_overrides: dict = field(default_factory=dict)  # face index -> the image bytes to serve instead
    requests: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._serve()

    def face(self, index: int) -> dict:
        face_id = f"5dd0977cdef8b400084d{index:04x}"
        return {
            "id": face_id,
            "urls": [{str(size): f"{self.url}/images/{index}/{size}.jpg"} for size in SIZES],
            "meta": {
                "confidence": 0.9,
                "gender": [GENDERS[index % 2]],
                "age": [AGES[index % 3]],
                "ethnicity": ["asian"],
                "eye_color": ["brown"],
                "hair_color": ["black"],
                "hair_length": ["short"],
                "emotion": ["joy", "neutral"],
            },
        }

    def _authorised(self, handler: BaseHTTPRequestHandler, query: dict) -> bool:
        # Public clients use either form; both are accepted, as the real API seems to.
        return handler.headers.get("Authorization") == f"API-Key {self.api_key}" or query.get("api_key") == [self.api_key]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                fake.requests.append({"path": parts.path, "query": query, "headers": dict(self.headers)})
                if parts.path.startswith("/images/"):
                    index = int(parts.path.split("/")[2])
                    body = fake.image_overrides.get(index) or pattern_image(500 + index, size=(512, 512))
                    return self._send(200, body, "image/jpeg")
                if parts.path != "/api/v1/faces":
                    return self._send(404, b'{"detail": "Not found"}')
                if not fake._authorised(self, query):
                    return self._send(401, b'{"detail": "API key is invalid"}')
                if fake.api_faults:
                    return self._send(fake.api_faults.popleft(), b'{"detail": "scripted"}')
                page = int(query.get("page", ["1"])[0])
                per_page = min(int(query.get("per_page", ["10"])[0]), MAX_PER_PAGE)
                indexes = range((page - 1) * per_page + 1, min(page * per_page, fake.face_count) + 1)
                body = {"faces": [fake.face(i) for i in indexes], "total": fake.face_count}
                return self._send(200, json.dumps(body).encode())

        return Handler
