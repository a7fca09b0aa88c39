"""What the fakes of synchronous image APIs share (one POST answers the image: Hugging Face Inference,
DeepInfra): outcomes scripted like the fal and Replicate fakes, faults, and the fakes' common interface.

The outcome of each call is a marker `[fake:<outcome>]` in its prompt, else the next of `next_outcomes`,
else `default_outcome` ("ok"):

* "ok": the image(s) at the size asked for; "undersized": `undersized_side` px whatever was asked;
* "nsfw": refused; "nsfw_partial": the last image refused (each fake says how its provider signals it);
* "error_permanent": a 4xx model error; "error_transient": a 500;
* "rate_limited": 429 with Retry-After `retry_after`; "payment_required": 402;
* "hang": the answer is held `hang_seconds` (the client times out first);
* "malformed": a 200 whose body is not what the protocol promises.

These protocols have no cancel: `cancellations` stays empty (the common interface has it)."""

import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from tests.fakes.replicate import output_image
from tests.fakes.server import FakeControl, FakeHandler, LoopbackServer

OUTCOMES = (
    "ok",
    "nsfw",
    "nsfw_partial",
    "error_permanent",
    "error_transient",
    "rate_limited",
    "payment_required",
    "hang",
    "undersized",
    "malformed",
)
OUTCOME_MARKER = re.compile(r"\[fake:([a-z_]+)\]", re.IGNORECASE)


@dataclass
class SyncImageFake(LoopbackServer, FakeControl):
    """Subclasses set `api_key`, `default_model`, `costs`, and answer in `answer(handler, model, body, outcome)`."""

    scriptable = {"latency": float, "default_outcome": str, "down": bool, "hang_seconds": float}

    latency: float = 0.05
    port: int = 0
    retry_after: int = 7
    hang_seconds: float = 30.0
    undersized_side: int = 64
    down: bool = False
    next_outcomes: deque = field(default_factory=deque)
    default_outcome: str = "ok"
    submissions: int = 0
    cancellations: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    # Per call: {"id", "model", "prompt", "outcome"} (what /_fake/stats reports).
    calls: list = field(default_factory=list)

    provider = ""
    api_key = ""
    default_model = ""
    # Catalogue prices per model, as adapter options (e.g. {"cost_per_image": 0.002}).
    costs: ClassVar[dict] = {}
    # The outcomes this fake can play (a subclass may add its provider's own).
    outcomes: ClassVar[tuple] = OUTCOMES

    backlog, poll_interval = 256, 0.05

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._initial = self.control_snapshot()
        self._serve()

    # --- control -------------------------------------------------------------------------------
    def control_script(self, body: dict) -> dict:
        if body.get("default_outcome", "ok") not in self.outcomes:
            raise ValueError(f"default_outcome must be one of {', '.join(self.outcomes)}")
        return super().control_script(body)

    def control_stats(self) -> dict:
        with self._lock:
            seen = [{**call, "billable": call["outcome"] in ("ok", "undersized", "nsfw_partial")} for call in self.calls]
            return {"provider": self.provider, "submit_posts": self.submissions, "requests": seen, "script": self.control_snapshot()}

    def control_reset(self) -> dict:
        with self._lock:
            for collection in (self.requests, self.calls, self.cancellations, self.next_outcomes):
                collection.clear()
            self.submissions = 0
        return self.control_script(dict(self._initial))

    # --- the common fake interface -------------------------------------------------------------
    def adapter_options(self) -> dict:
        return {
            "api_url": self.url,
            "api_key": self.api_key,
            "allow_loopback": True,
            "backoff": 0.01,
            "max_backoff": 0.05,
            "models": {model: {**price, "licence": f"{model} licence (fake)"} for model, price in self.costs.items()},
        }

    def outcome_for(self, prompt: str) -> str:
        marker = OUTCOME_MARKER.search(prompt or "")
        if marker and marker.group(1).lower() in self.outcomes:
            return marker.group(1).lower()
        with self._lock:
            return self.next_outcomes.popleft() if self.next_outcomes else self.default_outcome

    def record_call(self, model: str, prompt: str, outcome: str) -> str:
        request_id = secrets.token_hex(8)
        with self._lock:
            self.calls.append({"id": request_id, "model": model, "prompt": prompt, "outcome": outcome, "created": time.time()})
        return request_id

    def image(self, seed: int, index: int, side: int, outcome: str) -> bytes:
        side = self.undersized_side if outcome == "undersized" else side
        return output_image(seed, index, (side, side), "png")

    # --- protocol (subclasses) -----------------------------------------------------------------
    def route(self, path: str) -> str | None:
        """The model a POST to `path` is for, or None when the path is not the protocol's."""
        raise NotImplementedError

    def authorized(self, header: str) -> bool:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict:
        raise NotImplementedError

    def answer(self, handler: "FakeHandler", model: str, body: dict, outcome: str) -> None:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            protocol_version = "HTTP/1.1"

            def error(self, status: int, message: str, headers: dict | None = None) -> None:
                self._send(status, json.dumps(fake.error_body(status, message)).encode(), headers=headers)

            def do_GET(self) -> None:
                if not self._control(fake):
                    self.error(404, "Not Found")

            def do_POST(self) -> None:
                if self._control(fake):
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = unquote(urlsplit(self.path).path)
                fake.requests.append({"method": "POST", "path": path, "headers": dict(self.headers), "body": raw})
                model = fake.route(path)
                if model is None:
                    return self.error(404, "Not Found")
                if not fake.authorized(self.headers.get("Authorization", "")):
                    return self.error(401, "Invalid credentials in Authorization header")
                if fake.down:
                    return self.error(503, "Service Unavailable")
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self.error(400, "the body is not JSON")
                with fake._lock:
                    fake.submissions += 1
                time.sleep(fake.latency)
                fake.answer(self, model, body if isinstance(body, dict) else {}, fake.outcome_for(str(body)))

        return Handler


def serve_forever(fake: SyncImageFake, env_line: str) -> None:
    """Run `fake` in the foreground (python -m tests.fakes.<name>) until interrupted."""
    fake.start()
    print(f"Fake {fake.provider} at {fake.url}  key {fake.api_key}\n  {env_line}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
