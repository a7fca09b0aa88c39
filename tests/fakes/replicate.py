"""A local Replicate predictions API (create with Prefer: wait, get, cancel, list, output files), with faults on demand.

Run it on its own for development or a benchmark:

    python -m tests.fakes.replicate --port 8124 --latency 0.75

A prediction's state depends on time, not on how often it is polled: `queue_seconds` in `starting`,
then `latency` seconds in `processing`, then its outcome. The outcome of each creation is a marker
`[fake:<outcome>]` in its prompt (e.g. "a pirate [fake:undersized]": scripts a job driven through the
site's API, with the fake in another process), else the next of `next_outcomes`, else
`default_outcome` ("ok"; `--default-outcome`):

* "ok": succeeded, one output per `num_outputs`;
* "nsfw": every image flagged: failed with cog-flux's NSFW error;
* "nsfw_partial": the last image flagged and dropped (with one output that is all of them: as "nsfw");
* "error_permanent": failed with a model error;
* "error_transient": an infrastructure failure: ends `canceled` without our asking (the default,
  `transient_status`), or with `transient_status = "failed"` fails with "Prediction interrupted; please retry";
* "hang": stays `processing` until canceled;
* "redirect_private": succeeded, but the output URL answers 302 to the cloud metadata address;
* "huge_output": succeeded, but the output file declares 64 MiB;
* "undersized": succeeded, but the output images are `undersized_side` px square (64 by default,
  `--undersized-side`) whatever was asked: a provider answering a 1024 px request with a 64 px image.

Otherwise outputs have the size cog-flux makes for the input: `aspect_ratio` at `megapixels` "1"
(1:1 = 1024 x 1024), both sides halved for "0.25" (512 x 512); no other value is accepted (422).
`default_outcome` replaces "ok" when `next_outcomes` is empty; with `down` every API call answers 503.
Run as a process, the fake is read and steered through `/_fake/stats`, `/_fake/script` and
`/_fake/reset` (see tests/fakes/server.py).

Endpoint faults are taken from `create_faults`, `poll_faults`, `list_faults` and `cancel_faults`
(one per call): an int status (answered with a Replicate-style error body; 429 carries Retry-After;
nothing is created), "malformed" (a truncated JSON body; a create still creates), ("slow", seconds)
(the answer is held that long first), and for creates "created_then_500" (created, answered 500).
"""

import argparse
import contextlib
import functools
import io
import json
import random
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from PIL import Image, ImageDraw

from tests.fakes.server import FakeControl, FakeHandler, LoopbackServer

NSFW_ERROR = "All generated images contained NSFW content. Try running it again with a different prompt."
MODEL_ERROR = "Prediction failed: RuntimeError: the model could not process this input"
INTERRUPTED_ERROR = "Prediction interrupted; please retry (code: PA)"
PRIVATE_REDIRECT = "http://169.254.169.254/latest/meta-data/"
MAX_WAIT = 60
OUTCOMES = ("ok", "nsfw", "nsfw_partial", "error_permanent", "error_transient", "hang", "redirect_private", "huge_output", "undersized")
HUGE_BYTES = 64 * 1024 * 1024
TERMINAL = ("succeeded", "failed", "canceled")
# cog-flux ASPECT_RATIOS at megapixels "1"; "0.25" halves both sides.
ASPECT_RATIOS = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "21:9": (1536, 640),
    "3:2": (1216, 832),
    "2:3": (832, 1216),
    "4:5": (896, 1088),
    "5:4": (1088, 896),
    "3:4": (896, 1152),
    "4:3": (1152, 896),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}
FORMATS = {"webp": ("WEBP", "image/webp"), "jpg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png")}
MODELS = {
    "black-forest-labs/flux-schnell": {"version": "c846a69991daf4c0e5d016514849d14ee5b2e6846ce6b9d6f21369e564cfe51e", "steps": 4},
    "black-forest-labs/flux-dev": {"version": "6e4a938f85952bdabcc15aa329178c4d681c52bf25a0342403287dc26944661d", "steps": 28},
}
COSTS = {"black-forest-labs/flux-schnell": 0.003, "black-forest-labs/flux-dev": 0.025}
OUTCOMES = (
    "ok",
    "nsfw",
    "nsfw_partial",
    "error_permanent",
    "error_transient",
    "hang",
    "redirect_private",
    "huge_output",
    "undersized",
)
# A prompt's own outcome: "[fake:<outcome>]" anywhere in it.
OUTCOME_MARKER = re.compile(r"\[fake:([a-z_]+)\]", re.IGNORECASE)
PROBLEMS = {
    400: ("Bad request", "The request body is not valid JSON."),
    401: ("Unauthenticated", "You did not pass a valid authentication token"),
    402: ("Insufficient credit", "You have insufficient credit to run this model. Go to https://replicate.com/account/billing."),
    404: ("Not found", "The requested resource could not be found."),
    422: ("Invalid version or not permitted", "The specified version does not exist (or perhaps you don't have permission to use it?)"),
    500: ("Internal server error", "Something went wrong on our end."),
    502: ("Bad gateway", "The server received an invalid response from an upstream server."),
    503: ("Service unavailable", "The service is temporarily unavailable. Please try again."),
    504: ("Gateway timeout", "The upstream server did not answer in time."),
}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@functools.lru_cache(maxsize=256)
def output_image(seed: int, index: int, size: tuple[int, int], fmt: str) -> bytes:
    """A cheap, distinct picture per (seed, index): a gradient-free face-ish drawing."""
    rng = random.Random(seed * 7919 + index)
    width, height = size
    image = Image.new("RGB", size, tuple(rng.randrange(60, 230) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    cx, cy, r = width // 2, height // 2, min(width, height) // 4
    draw.ellipse((cx - r * 2, cy + r, cx + r * 2, cy + r * 4), fill=tuple(rng.randrange(256) for _ in range(3)))
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(rng.randrange(150, 256) for _ in range(3)))
    for eye in (-1, 1):
        draw.ellipse((cx + eye * r // 3 - r // 10, cy - r // 5, cx + eye * r // 3 + r // 10, cy), fill=(30, 30, 40))
    buffer = io.BytesIO()
    image.save(buffer, FORMATS[fmt][0], **({"quality": 80} if fmt != "png" else {}))
    return buffer.getvalue()


@dataclass
class FakePrediction:
    id: str
    model: str
    version: str
    input: dict
    outcome: str
    created: float  # time.monotonic()
    created_wall: float  # time.time()
    queue_seconds: float
    latency: float
    transient_status: str
    canceled_at: float | None = None
    changed: threading.Event = field(default_factory=threading.Event)

    @property
    def count(self) -> int:
        return int(self.input.get("num_outputs", 1))

    def _wall(self, monotonic: float) -> float:
        return self.created_wall + (monotonic - self.created)

    @property
    def done_at(self) -> float:
        """When it turns terminal by itself (monotonic), inf for "hang"."""
        return float("inf") if self.outcome == "hang" else self.created + self.queue_seconds + self.latency

    def status(self, now: float) -> str:
        if self.canceled_at is not None and self.canceled_at <= now:
            return "canceled"
        if now < self.created + self.queue_seconds:
            return "starting"
        if now < self.done_at:
            return "processing"
        if self.outcome == "error_transient":
            return self.transient_status
        if self.outcome in ("nsfw", "error_permanent") or (self.outcome == "nsfw_partial" and self.count < 2):
            return "failed"
        return "succeeded"

    def error(self, now: float) -> str | None:
        if self.status(now) != "failed":
            return None
        if self.outcome == "error_transient":
            return INTERRUPTED_ERROR
        return MODEL_ERROR if self.outcome == "error_permanent" else NSFW_ERROR

    def output(self, now: float, base: str) -> list[str] | None:
        if self.status(now) != "succeeded":
            return None
        extension = self.input.get("output_format", "webp")
        kept = self.count - 1 if self.outcome == "nsfw_partial" else self.count
        return [f"{base}/output/{self.id}/out-{i}.{extension}" for i in range(kept)]

    def logs(self, now: float, steps: int) -> str:
        if now < self.created + self.queue_seconds:
            return ""
        lines = [f"Using seed: {self.input.get('seed')}", "Running quantized prediction"]
        end = min(now, self.canceled_at or now, self.done_at)
        fraction = 1.0 if self.latency <= 0 else min(1.0, (end - self.created - self.queue_seconds) / self.latency)
        if self.outcome == "hang":
            fraction = min(fraction, 0.5)
        for step in range(int(fraction * steps) + 1):
            percent = step * 100 // steps
            bar = ("█" * (percent // 10)).ljust(10)
            lines.append(f"{percent:3d}%|{bar}| {step}/{steps} [00:00<00:00, 4.20it/s]")
        return "\n".join(lines)

    def as_json(self, now: float, *, api_base: str, output_base: str) -> dict:
        status = self.status(now)
        started = self.created + self.queue_seconds
        completed = None
        if status == "canceled":
            completed = self.canceled_at
        elif status in TERMINAL:
            completed = self.done_at
        metrics = {}
        if completed is not None:
            metrics = {"predict_time": round(max(0.0, completed - started), 3), "total_time": round(completed - self.created, 3)}
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "input": self.input,
            "output": self.output(now, output_base),
            "logs": self.logs(now, MODELS[self.model]["steps"]),
            "error": self.error(now),
            "status": status,
            "source": "api",
            "data_removed": False,
            "created_at": _iso(self.created_wall),
            "started_at": _iso(self._wall(started))
            if now >= started and (self.canceled_at is None or self.canceled_at > started)
            else None,
            "completed_at": _iso(self._wall(completed)) if completed is not None else None,
            "deadline": None,
            "metrics": metrics,
            "urls": {
                "get": f"{api_base}/v1/predictions/{self.id}",
                "cancel": f"{api_base}/v1/predictions/{self.id}/cancel",
                "web": f"{api_base}/p/{self.id}",
            },
        }


@dataclass
class FakeReplicate(LoopbackServer, FakeControl):
    scriptable = {"latency": float, "queue_seconds": float, "default_outcome": str, "down": bool}

    api_key: str = "r8_fake-replicate-token"
    # Seconds in `starting`, then in `processing` (taken when a prediction is created).
    queue_seconds: float = 0.0
    latency: float = 0.2
    # How an "error_transient" prediction ends: "canceled", or "failed" with an interrupted error.
    transient_status: str = "canceled"
    port: int = 0
    page_size: int = 100
    # Retry-After (seconds) on a scripted 429.
    retry_after: int = 30
    # Where urls.get/cancel point (default: this server); set another host to test the adapter refuses it.
    urls_base: str = ""
    next_outcomes: deque = field(default_factory=deque)
    # The outcome when neither a prompt marker nor `next_outcomes` says.
    default_outcome: str = "ok"
    # The side of an "undersized" outcome's images.
    undersized_side: int = 64
    down: bool = False
    create_faults: deque = field(default_factory=deque)
    poll_faults: deque = field(default_factory=deque)
    list_faults: deque = field(default_factory=deque)
    cancel_faults: deque = field(default_factory=deque)
    # Create POSTs received (answered or not); `creations` counts predictions actually created.
    submissions: int = 0
    cancellations: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    predictions: dict = field(default_factory=dict)
    default_model: str = "black-forest-labs/flux-schnell"
    # Per prediction id: reads of the prediction (polls), output file downloads (results), cancels.
    counts: dict = field(default_factory=dict)

    # A deep listen backlog: a benchmark opens ~50 connections at once, some held by Prefer: wait.
    backlog, poll_interval = 256, 0.05

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}
        self._initial = self.control_snapshot()
        self._serve()

    # --- control (tests/fakes/server.py) -------------------------------------------------------
    def control_script(self, body: dict) -> dict:
        if body.get("default_outcome", "ok") not in OUTCOMES:
            raise ValueError(f"default_outcome must be one of {', '.join(OUTCOMES)}")
        return super().control_script(body)

    def count(self, prediction_id: str, kind: str) -> None:
        with self._lock:
            counts = self.counts.setdefault(prediction_id, {"polls": 0, "results": 0, "cancels": 0})
            counts[kind] += 1

    def control_stats(self) -> dict:
        """Every prediction created since the last reset: its state now and what was asked about it."""
        now = time.monotonic()
        with self._lock:
            predictions, counts = list(self.predictions.values()), {key: dict(value) for key, value in self.counts.items()}
            posts = self.submissions
        seen = []
        for prediction in predictions:
            status = prediction.status(now)
            state = {"succeeded": "completed", "failed": "failed", "canceled": "canceled"}.get(status, "running")
            seen.append(
                {
                    "id": prediction.id,
                    "model": prediction.model,
                    "prompt": prediction.input.get("prompt"),
                    "created": prediction.created_wall,
                    "state": state,
                    # flux on Replicate bills per output image: a succeeded prediction.
                    "billable": state == "completed",
                    "submissions": 1,
                    **counts.get(prediction.id, {"polls": 0, "results": 0, "cancels": 0}),
                }
            )
        return {"provider": "replicate", "submit_posts": posts, "requests": seen, "script": self.control_snapshot()}

    def control_reset(self) -> dict:
        with self._lock:
            for collection in (self.predictions, self.counts):
                collection.clear()
            for collection in (self.requests, self.cancellations):
                collection.clear()
            for faults in (self.next_outcomes, self.create_faults, self.poll_faults, self.list_faults, self.cancel_faults):
                faults.clear()
            self.submissions = 0
        return self.control_script(dict(self._initial))

    # --- the common fake interface -------------------------------------------------------------
    @property
    def creations(self) -> int:
        return len(self.predictions)

    def adapter_options(self) -> dict:
        return {
            "api_url": self.url,
            "api_key": self.api_key,
            "output_hosts": ["127.0.0.1"],
            "allow_loopback": True,
            "poll_interval": 0.05,
            "backoff": 0.01,
            "max_backoff": 0.05,
            # A short hold keeps tests that never finish ("hang") quick; Replicate allows up to 60.
            "prefer_wait": 1,
            "models": {model: {"cost_per_image": cost, "licence": f"{model} licence (fake)"} for model, cost in COSTS.items()},
        }

    # --- state ---------------------------------------------------------------------------------
    def add_prediction(self, model: str, model_input: dict, *, outcome: str = "ok", age: float = 0.0) -> FakePrediction:
        """A prediction created server-side, as if by an earlier run (`age` seconds ago)."""
        full_input = {"num_outputs": 1, "output_format": "webp", "aspect_ratio": "1:1", "megapixels": "1", **model_input}
        now, wall = time.monotonic() - age, time.time() - age
        prediction = FakePrediction(
            id=secrets.token_hex(13)[:26],
            model=model,
            version=MODELS[model]["version"],
            input=full_input,
            outcome=outcome,
            created=now,
            created_wall=wall,
            queue_seconds=self.queue_seconds,
            latency=self.latency,
            transient_status=self.transient_status,
        )
        with self._lock:
            self.predictions[prediction.id] = prediction
        return prediction

    def outcome_for(self, model_input: dict) -> str:
        """A new prediction's outcome: its prompt's marker, else the next scripted, else the default."""
        prompt = model_input.get("prompt")
        marker = OUTCOME_MARKER.search(prompt) if isinstance(prompt, str) else None
        if marker and marker.group(1).lower() in OUTCOMES:
            return marker.group(1).lower()
        with self._lock:
            return self.next_outcomes.popleft() if self.next_outcomes else self.default_outcome

    def status_of(self, prediction_id: str) -> str:
        return self.predictions[prediction_id].status(time.monotonic())

    def cancel_prediction(self, prediction_id: str) -> FakePrediction | None:
        with self._lock:
            prediction = self.predictions.get(prediction_id)
            if prediction is None:
                return None
            self.cancellations.append(prediction_id)
            now = time.monotonic()
            if prediction.status(now) not in TERMINAL:
                prediction.canceled_at = now
                prediction.changed.set()
            return prediction

    def as_json(self, prediction: FakePrediction) -> dict:
        return prediction.as_json(time.monotonic(), api_base=self.urls_base or self.url, output_base=self.url)

    def _rate_headers(self, bucket: str) -> dict:
        """ratelimit-remaining/-reset per one-minute window: 600 creates, 3000 other calls."""
        limit = 600 if bucket == "create" else 3000
        minute = int(time.time() // 60)
        with self._lock:
            window, used = self._windows.get(bucket, (minute, 0))
            used = used + 1 if window == minute else 1
            self._windows[bucket] = (minute, used)
        return {"ratelimit-remaining": str(max(0, limit - used)), "ratelimit-reset": str(60 - int(time.time()) % 60)}

    # --- HTTP ----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            protocol_version = "HTTP/1.1"

            def _json(self, status: int, body: object, bucket: str = "other", headers: dict | None = None) -> None:
                self._send(status, json.dumps(body).encode(), headers={**fake._rate_headers(bucket), **(headers or {})})

            def _problem(self, status: int, bucket: str = "other", detail: str = "") -> None:
                if status == 429:  # Replicate's throttle answer carries only `detail`
                    body: dict = {"detail": f"Request was throttled. Your rate limit resets in ~{fake.retry_after}s."}
                    return self._json(status, body, bucket, {"Retry-After": str(fake.retry_after)})
                title, default = PROBLEMS.get(status, ("Error", "Scripted error."))
                return self._json(status, {"title": title, "detail": detail or default, "status": status}, bucket)

            def _malformed(self, bucket: str) -> None:
                self._send(200 if bucket != "create" else 201, b'{"id": "', headers=fake._rate_headers(bucket))

            def _fault(self, faults: deque, bucket: str) -> bool:
                """Apply the next scripted fault; True when it answered already."""
                fault = faults.popleft() if faults else None
                if fault is None or fault in ("created_then_500",):
                    return False
                if isinstance(fault, tuple) and fault[0] == "slow":
                    time.sleep(fault[1])
                    return False
                if fault == "malformed":
                    self._malformed(bucket)
                    return True
                self._problem(int(fault), bucket)
                return True

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _record(self, body: bytes) -> tuple[str, dict]:
                parts = urlsplit(self.path)
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": parse_qs(parts.query),
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                return parts.path, {key: values[0] for key, values in parse_qs(parts.query).items()}

            def _authorized(self) -> bool:
                given = self.headers.get("Authorization", "")
                if given in (f"Bearer {fake.api_key}", f"Token {fake.api_key}"):
                    return True
                detail = "You did not pass a valid authentication token" if given else "You did not pass an authentication token"
                self._problem(401, detail=detail)
                return False

            def _down(self, bucket: str = "other") -> bool:
                if not fake.down:
                    return False
                self._problem(503, bucket)
                return True

            def do_GET(self) -> None:
                if self._control(fake):
                    return None
                path, query = self._record(self._body())
                if path.startswith("/output/"):
                    return self._output(path)
                if not self._authorized() or self._down():
                    return None
                if path.rstrip("/") == "/v1/predictions":
                    return self._list(query)
                segments = path.strip("/").split("/")
                if len(segments) == 3 and segments[:2] == ["v1", "predictions"]:
                    if self._fault(fake.poll_faults, "other"):
                        return None
                    prediction = fake.predictions.get(segments[2])
                    if prediction is not None:
                        fake.count(prediction.id, "polls")
                    return self._json(200, fake.as_json(prediction)) if prediction else self._problem(404)
                return self._problem(404)

            def do_POST(self) -> None:
                if self._control(fake):
                    return None
                path, _ = self._record(body := self._body())
                if not self._authorized():
                    return None
                segments = path.strip("/").split("/")
                if len(segments) == 5 and segments[:2] == ["v1", "models"] and segments[4] == "predictions":
                    return self._create(f"{segments[2]}/{segments[3]}", body)
                if segments == ["v1", "predictions"]:
                    return self._create("", body)
                if len(segments) == 4 and segments[:2] == ["v1", "predictions"] and segments[3] == "cancel":
                    fake.count(segments[2], "cancels")
                    if self._down() or self._fault(fake.cancel_faults, "other"):
                        return None
                    prediction = fake.cancel_prediction(segments[2])
                    return self._json(200, fake.as_json(prediction)) if prediction else self._problem(404)
                return self._problem(404)

            def _create(self, model: str, raw: bytes) -> None:
                with fake._lock:
                    fake.submissions += 1
                    fault = fake.create_faults.popleft() if fake.create_faults else None
                if self._down("create"):
                    return None
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
                    return self._problem(400, "create", "The request body must be a JSON object with an `input` object.")
                if not model:  # POST /v1/predictions {"version": "owner/name[:hash]" | "hash"}
                    version = str(body.get("version", ""))
                    model = next(
                        (name for name, info in MODELS.items() if version.split(":")[-1] == info["version"]), version.split(":")[0]
                    )
                if model not in MODELS:
                    return self._problem(404, "create")
                invalid = self._invalid(body["input"])
                if invalid:
                    return self._json(422, {"title": "Input validation failed", "detail": invalid, "status": 422}, "create")
                if isinstance(fault, int):
                    return self._problem(fault, "create")
                if isinstance(fault, tuple) and fault[0] == "slow":
                    time.sleep(fault[1])
                prediction = fake.add_prediction(model, body["input"], outcome=fake.outcome_for(body["input"]))
                if fault == "created_then_500":
                    return self._problem(500, "create")
                wait = self._prefer_wait()
                headers = {"Location": f"{fake.url}/v1/predictions/{prediction.id}"}
                if wait:
                    headers["Preference-Applied"] = f"wait={wait}"
                    hold_until = time.monotonic() + wait
                    while (now := time.monotonic()) < hold_until and prediction.status(now) not in TERMINAL:
                        prediction.changed.wait(min(hold_until, prediction.done_at) - now + 0.002)
                if fault == "malformed":
                    return self._malformed("create")
                return self._json(201, fake.as_json(prediction), "create", headers)

            def _prefer_wait(self) -> int:
                for preference in self.headers.get("Prefer", "").split(","):
                    name, _, value = preference.strip().partition("=")
                    if name.strip().lower() == "wait":
                        return max(1, min(MAX_WAIT, int(value))) if value.strip().isdigit() else MAX_WAIT
                return 0

            @staticmethod
            def _invalid(model_input: dict) -> str:
                problems = []
                if not isinstance(model_input.get("prompt"), str) or not model_input["prompt"]:
                    problems.append("- input: prompt is required")
                if not isinstance(model_input.get("num_outputs", 1), int) or not 1 <= model_input.get("num_outputs", 1) <= 4:
                    problems.append("- input.num_outputs: Must be between 1 and 4")
                if model_input.get("aspect_ratio", "1:1") not in ASPECT_RATIOS:
                    problems.append("- input.aspect_ratio: aspect_ratio must be one of the following: " + ", ".join(ASPECT_RATIOS))
                if model_input.get("megapixels", "1") not in ("1", "0.25"):
                    problems.append('- input.megapixels: megapixels must be one of the following: "1", "0.25"')
                if model_input.get("output_format", "webp") not in FORMATS:
                    problems.append('- input.output_format: output_format must be one of the following: "webp", "jpg", "png"')
                return "\n".join(problems)

            def _list(self, query: dict) -> None:
                if self._fault(fake.list_faults, "other"):
                    return None
                try:
                    after = _parse_iso(query["created_after"]) if "created_after" in query else None
                    before = _parse_iso(query["created_before"]) if "created_before" in query else None
                    cursor = int(query.get("cursor", 0))
                except ValueError:
                    return self._problem(400, detail="created_after, created_before and cursor must be valid")
                with fake._lock:
                    items = sorted(fake.predictions.values(), key=lambda p: p.created_wall, reverse=True)
                items = [p for p in items if (after is None or p.created_wall > after) and (before is None or p.created_wall < before)]
                page = items[cursor : cursor + fake.page_size]
                base = {key: value for key, value in query.items() if key != "cursor"}
                more = cursor + fake.page_size < len(items)
                body = {
                    "next": f"{fake.url}/v1/predictions?{urlencode({**base, 'cursor': cursor + fake.page_size})}" if more else None,
                    "previous": f"{fake.url}/v1/predictions?{urlencode({**base, 'cursor': max(0, cursor - fake.page_size)})}"
                    if cursor
                    else None,
                    "results": [fake.as_json(p) for p in page],
                }
                return self._json(200, body)

            def _output(self, path: str) -> None:
                segments = path.strip("/").split("/")  # output/{id}/out-{i}.{ext}
                prediction = fake.predictions.get(segments[1]) if len(segments) == 3 else None
                name, _, extension = segments[-1].partition(".")
                if prediction is None or not name.startswith("out-") or extension not in FORMATS:
                    return self._send(404, b"Not found", "text/plain")
                if prediction.outcome == "redirect_private":
                    return self._send(302, b"", "text/plain", {"Location": PRIVATE_REDIRECT})
                if prediction.outcome == "huge_output":
                    return self._huge(FORMATS[extension][1])
                fake.count(prediction.id, "results")
                width, height = ASPECT_RATIOS[prediction.input.get("aspect_ratio", "1:1")]
                if prediction.input.get("megapixels") == "0.25":
                    width, height = width // 2, height // 2
                if prediction.outcome == "undersized":
                    width = height = fake.undersized_side
                seed = int(prediction.input.get("seed") or 0)
                data = output_image(seed, int(name[4:] or 0), (width, height), extension)
                return self._send(200, data, FORMATS[extension][1], {"Cache-Control": "public, max-age=3600"})

            def _huge(self, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(HUGE_BYTES))
                self.end_headers()
                chunk = b"\0" * (1024 * 1024)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for _ in range(HUGE_BYTES // len(chunk)):
                        self.wfile.write(chunk)

        return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Replicate predictions API on loopback.")
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument("--latency", type=float, default=0.75, help="seconds in `processing`")
    parser.add_argument("--queue-seconds", type=float, default=0.0, help="seconds in `starting`")
    parser.add_argument("--token", default=FakeReplicate.api_key)
    parser.add_argument("--default-outcome", choices=OUTCOMES, default="ok", help="outcome of predictions not otherwise scripted")
    parser.add_argument("--undersized-side", type=int, default=64, help="side (px) of an 'undersized' outcome's images")
    args = parser.parse_args(argv)
    fake = FakeReplicate(
        port=args.port,
        latency=args.latency,
        queue_seconds=args.queue_seconds,
        api_key=args.token,
        default_outcome=args.default_outcome,
        undersized_side=args.undersized_side,
    ).start()
    print(f"Fake Replicate at {fake.url}  token {fake.api_key}", flush=True)
    print(
        f"  REPLICATE_API_URL={fake.url} REPLICATE_API_TOKEN={fake.api_key} REPLICATE_OUTPUT_HOSTS=127.0.0.1 OUTBOUND_ALLOW_LOOPBACK=true",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
