"""A local Stability AI v2beta Stable Image generate API (core, ultra, sd3), with faults on demand.

Run it on its own for development:

    python -m tests.fakes.stability --port 8126 --latency 0.5

`POST /v2beta/stable-image/generate/{core|ultra|sd3}` takes multipart/form-data only (a JSON or
urlencoded body is a 400, as the notes say the service answers) and `Authorization: Bearer <key>`.
`Accept: image/*` answers the image bytes with `finish-reason`, `seed` and `x-request-id` headers;
`Accept: application/json` answers `{"image": base64, "finish_reason", "seed"}` with content type
`application/json; type=image/<format>`. Errors: `{"id", "name", "errors": [...]}`.

The outcome of each POST is a marker `[fake:<outcome>]` in its prompt, else the next of
`next_outcomes`, else `default_outcome`:

* "ok": SUCCESS, a `side` px square (1:1);
* "nsfw": 200 with finish reason CONTENT_FILTERED (a blurred image, as the service sends);
* "nsfw_partial": this image SUCCESS, the next POST CONTENT_FILTERED;
* "refused_prompt": 403 `content_moderation`;
* "rate_limited": 429 with `Retry-After: <retry_after>` (none when `retry_after` is 0);
* "no_credits": 402 `payment_required`;
* "error_permanent": 400 `bad_request`; "error_transient": 500 `internal_error`;
* "hang": no answer until the client gives up or the fake stops;
* "undersized": SUCCESS, but an `undersized_side` px image.

There is no cancel in this protocol: `cancellations` stays empty (the common fake interface).
"""

import argparse
import base64
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.fakes.replicate import OUTCOME_MARKER, output_image
from tests.fakes.server import FakeControl, FakeHandler, LoopbackServer

GENERATE = "/v2beta/stable-image/generate/"
ENDPOINTS = ("core", "ultra", "sd3")
SD3_MODELS = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium")
# Credits per image (Stability's price list, 2026; the adapter's catalogue carries its own copy).
CREDITS = {"core": 3.0, "ultra": 8.0, "sd3.5-large": 6.5, "sd3.5-large-turbo": 4.0, "sd3.5-medium": 3.5}
FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}
OUTCOMES = (
    "ok",
    "nsfw",
    "nsfw_partial",
    "refused_prompt",
    "rate_limited",
    "no_credits",
    "error_permanent",
    "error_transient",
    "hang",
    "undersized",
)
ERRORS = {
    "refused_prompt": (403, "content_moderation", "Your request was flagged by our content moderation system."),
    "rate_limited": (429, "rate_limit_exceeded", "You have exceeded the rate limit of 150 requests within a 10 second period."),
    "no_credits": (402, "payment_required", "You lack sufficient credits to make this request."),
    "error_permanent": (400, "bad_request", "prompt: is required"),
    "error_transient": (500, "internal_error", "An unexpected server error has occurred."),
}
ASPECT_RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")


def parse_form(content_type: str, body: bytes) -> dict[str, str] | None:
    """The fields of a multipart/form-data body (files included, as text), or None when it is not one."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        return None
    fields = {}
    for part in message.get_payload():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return fields


@dataclass
class FakeStability(FakeControl, LoopbackServer):
    port: int = 0
    api_key: str = "sk-fake-stability"
    # Seconds before an answer.
    latency: float = 0.0
    # The side of a 1:1 image, and of an "undersized" one.
    side: int = 1024
    undersized_side: int = 64
    retry_after: int = 3
    # How long a "hang" holds its answer at most (stop() releases it at once).
    hang_seconds: float = 30.0
    default_outcome: str = "ok"
    next_outcomes: deque = field(default_factory=deque)
    submissions: int = 0
    cancellations: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    # What each POST was answered: {"id", "model", "outcome", "prompt", "billable"}.
    answered: list = field(default_factory=list)
    default_model: str = "core"

    scriptable = {"latency": float, "default_outcome": str, "side": int, "undersized_side": int, "retry_after": int}

    backlog, poll_interval = 128, 0.05

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._initial = self.control_snapshot()
        self._serve()

    def stop(self) -> None:
        self._released.set()
        super().stop()

    # --- the common fake interface -------------------------------------------------------------
    def adapter_options(self) -> dict:
        return {
            "api_url": self.url,
            "api_key": self.api_key,
            "poll_interval": 0.05,
            "backoff": 0.01,
            "max_backoff": 0.05,
            "usd_per_credit": 0.01,
            "models": {model: {"credits": credits, "licence": f"{model} licence (fake)"} for model, credits in CREDITS.items()},
        }

    def outcome_for(self, prompt: str) -> str:
        marker = OUTCOME_MARKER.search(prompt)
        with self._lock:
            if marker:
                return marker.group(1).lower()
            return self.next_outcomes.popleft() if self.next_outcomes else self.default_outcome

    # --- control (tests/fakes/server.py) -------------------------------------------------------
    def control_script(self, body: dict) -> dict:
        if body.get("default_outcome", "ok") not in OUTCOMES:
            raise ValueError(f"default_outcome must be one of {', '.join(OUTCOMES)}")
        return super().control_script(body)

    def control_stats(self) -> dict:
        with self._lock:
            seen = [{**answer, "submissions": 1} for answer in self.answered]
            posts = self.submissions
        return {"provider": "stability", "submit_posts": posts, "requests": seen, "script": self.control_snapshot()}

    def control_reset(self) -> dict:
        with self._lock:
            for collection in (self.requests, self.cancellations, self.answered):
                collection.clear()
            self.next_outcomes.clear()
            self.submissions = 0
        return self.control_script(dict(self._initial))

    # --- HTTP ----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            protocol_version = "HTTP/1.1"

            def _error(self, status: int, name: str, message: str, headers: dict | None = None) -> None:
                body = {"id": secrets.token_hex(16), "name": name, "errors": [message]}
                self._send(status, body, headers=headers)

            def do_GET(self) -> None:
                if not self._control(fake):
                    self._error(404, "not_found", "Not found")

            def do_POST(self) -> None:
                if self._control(fake):
                    return None
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                fake.requests.append({"method": "POST", "path": path, "headers": dict(self.headers), "body": raw})
                if not path.startswith(GENERATE) or path[len(GENERATE) :] not in ENDPOINTS:
                    return self._error(404, "not_found", f"{path} does not exist")
                if self.headers.get("Authorization", "") != f"Bearer {fake.api_key}":
                    return self._error(401, "unauthorized", "Missing or invalid API key")
                with fake._lock:
                    fake.submissions += 1
                return self._generate(path[len(GENERATE) :], self.headers.get("Content-Type", ""), raw)

            def _invalid(self, endpoint: str, form: dict[str, str] | None) -> str:
                if form is None:
                    return "content-type: must be multipart/form-data"
                if not form.get("prompt"):
                    return "prompt: is required"
                if form.get("aspect_ratio", "1:1") not in ASPECT_RATIOS:
                    return "aspect_ratio: must be one of " + ", ".join(ASPECT_RATIOS)
                allowed = ("png", "jpeg") if endpoint == "sd3" else tuple(FORMATS)
                if form.get("output_format", "png") not in allowed:
                    return "output_format: must be one of " + ", ".join(allowed)
                if endpoint == "sd3" and form.get("model", "sd3.5-large") not in SD3_MODELS:
                    return "model: must be one of " + ", ".join(SD3_MODELS)
                if not 0 <= int(form.get("seed") or 0) <= 4294967294:
                    return "seed: must be between 0 and 4294967294"
                return ""

            def _generate(self, endpoint: str, content_type: str, raw: bytes) -> None:
                form = parse_form(content_type, raw)
                problem = self._invalid(endpoint, form)
                if problem:
                    return self._error(400, "bad_request", problem)
                accept = self.headers.get("Accept", "")
                if accept not in ("image/*", "application/json"):
                    return self._error(400, "bad_request", "accept: must be image/* or application/json")
                outcome = fake.outcome_for(form["prompt"])
                model = form.get("model", "sd3.5-large") if endpoint == "sd3" else endpoint
                request_id = secrets.token_hex(16)
                billable = outcome in ("ok", "nsfw", "nsfw_partial", "undersized")
                with fake._lock:
                    state = "completed" if billable else "failed"
                    fake.answered.append(
                        {
                            "id": request_id,
                            "model": model,
                            "outcome": outcome,
                            "prompt": form["prompt"],
                            "billable": billable,
                            "state": state,
                        }
                    )
                if outcome == "nsfw_partial":
                    with fake._lock:
                        fake.next_outcomes.appendleft("nsfw")
                if outcome == "hang":
                    fake._released.wait(fake.hang_seconds)
                    return None
                time.sleep(fake.latency)
                if outcome in ERRORS:
                    status, name, message = ERRORS[outcome]
                    headers = {"Retry-After": str(fake.retry_after)} if status == 429 and fake.retry_after > 0 else None
                    return self._error(status, name, message, headers)
                return self._image(form, outcome, request_id, accept)

            def _image(self, form: dict[str, str], outcome: str, request_id: str, accept: str) -> None:
                side = fake.undersized_side if outcome == "undersized" else fake.side
                fmt = form.get("output_format", "png")
                seed = int(form.get("seed") or 0) or secrets.randbelow(4294967294) + 1
                data = output_image(seed, 0, (side, side), {"jpeg": "jpg"}.get(fmt, fmt))
                finish = "CONTENT_FILTERED" if outcome == "nsfw" else "SUCCESS"
                headers = {"x-request-id": request_id, "finish-reason": finish, "seed": str(seed)}
                if accept == "application/json":
                    body = {"image": base64.b64encode(data).decode(), "finish_reason": finish, "seed": seed}
                    return self._send(200, body, f"application/json; type={FORMATS[fmt][1]}", {"x-request-id": request_id})
                return self._send(200, data, FORMATS[fmt][1], headers)

        return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Stability AI v2beta Stable Image API on loopback.")
    parser.add_argument("--port", type=int, default=8126)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds before each answer")
    parser.add_argument("--key", default=FakeStability.api_key)
    parser.add_argument("--default-outcome", choices=OUTCOMES, default="ok")
    args = parser.parse_args(argv)
    fake = FakeStability(port=args.port, latency=args.latency, api_key=args.key, default_outcome=args.default_outcome).start()
    print(f"Fake Stability at {fake.url}  STABILITY_API_URL={fake.url} STABILITY_API_KEY={fake.api_key}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
