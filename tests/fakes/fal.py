"""A local fal.ai queue API (submit, status, status stream, result, cancel, output files) with faults on demand.

Run it by hand: `python -m tests.fakes.fal --port 8123 --latency 0.75` serves until Ctrl-C; as a
process it is read and steered through `/_fake/stats`, `/_fake/script` and `/_fake/reset` (see
tests/fakes/server.py).

Outputs have the size fal's flux makes for the input: `image_size` {width, height} exactly (or a
preset's), each side rounded down to a multiple of `side_multiple` (1 = not rounded; UNCONFIRMED
whether fal rounds: diffusers' FLUX pipeline rounds down to a multiple of 16, so set 16 to model it).

A request's outcome (see OUTCOMES) is, in this order: a marker `[fake:<outcome>]` in its prompt
(e.g. "a pirate [fake:undersized]": scripts a job driven through the site's API, with the fake in
another process), else the next of `next_outcomes`, else `default_outcome` (`--default-outcome`).
"undersized" completes normally but its images are `undersized_side` px square (64 by default,
`--undersized-side`) whatever was asked, and the result reports that size: a provider answering a
1024 px request with a 64 px image.
"""

import argparse
import base64
import functools
import io
import json
import math
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw

from tests.fakes.server import FakeControl, FakeHandler, LoopbackServer

STEPS = 4
MAX_SIDE = 14142  # fal toolkit's ImageSize limit
# fal toolkit IMAGE_SIZE_PRESETS (width, height).
PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
OUTCOMES = ("ok", "nsfw", "nsfw_partial", "error_permanent", "error_transient", "hang", "redirect_private", "huge_output", "undersized")
# A prompt's own outcome: "[fake:<outcome>]" anywhere in it.
OUTCOME_MARKER = re.compile(r"\[fake:([a-z_]+)\]", re.IGNORECASE)
METADATA_URL = "http://169.254.169.254/latest/meta-data/"
LOCKED_DETAIL = "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
# Bodies for scripted endpoint faults (an int status), shaped like fal's (§1.10).
FAULT_BODIES = {
    401: {"detail": "Unauthorized"},
    403: {"detail": LOCKED_DETAIL},
    429: {"detail": "Too many requests", "error_type": "rate_limited"},
    500: {"detail": "Internal error", "error_type": "internal_error"},
    502: {"detail": "Runner returned an incomplete response", "error_type": "runner_incomplete_response"},
    503: {"detail": "Could not schedule a runner", "error_type": "runner_scheduling_failure"},
    504: {"detail": "Request timed out", "error_type": "request_timeout"},
}
_SERVER_ERROR = {"detail": "Runner server error", "error_type": "runner_server_error"}


@functools.lru_cache(maxsize=256)
def output_jpeg(seed: int, width: int, height: int, black: bool = False) -> bytes:
    """A cheap, distinct picture per seed: a two-colour gradient with a few shapes (or all black, as
    fal's safety filter leaves a flagged image)."""
    if black:
        image = Image.new("RGB", (width, height))
    else:
        rng = random.Random(seed)
        top = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
        bottom = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
        image = Image.composite(bottom, top, Image.linear_gradient("L").resize((width, height)))
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x, y, r = rng.random() * width, rng.random() * height, (0.1 + rng.random() * 0.2) * min(width, height)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog (5) drops connections when 50 clients arrive at once
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # a client hung up: nothing to report
            return
        super().handle_error(request, client_address)


@dataclass
class FalJob:
    """One queued request. Its state follows the clock (not how often it is polled): `queue_seconds`
    IN_QUEUE with the position counting down, `latency` IN_PROGRESS (logs "step i/4"), then COMPLETED."""

    request_id: str
    app: str  # "owner/app" (with the namespace, if any): the prefix of its status/result/cancel paths
    model: str
    input: dict
    outcome: str
    created: float
    queue_seconds: float
    latency: float
    queue_position: int
    seed: int
    width: int
    height: int
    count: int
    detail: str = ""  # the validation message of an invalid input
    canceled: threading.Event = field(default_factory=threading.Event)
    logs: list = field(default_factory=list)

    def phase(self, now: float) -> tuple[str, int]:
        """(status, n): n is the queue position IN_QUEUE, the steps logged IN_PROGRESS."""
        if self.canceled.is_set():
            return "COMPLETED", 0
        elapsed = now - self.created
        if elapsed < self.queue_seconds:
            remaining = (self.queue_seconds - elapsed) / self.queue_seconds
            return "IN_QUEUE", min(self.queue_position, int(remaining * (self.queue_position + 1)))
        elapsed -= self.queue_seconds
        if self.outcome == "hang":
            return "IN_PROGRESS", 1
        if elapsed < self.latency:
            return "IN_PROGRESS", min(STEPS, 1 + int(elapsed / self.latency * STEPS))
        return "COMPLETED", STEPS

    def next_change(self, now: float) -> float:
        """When the phase changes next (inf when it never does)."""
        start = self.created + self.queue_seconds
        times = [self.created + self.queue_seconds * (1 - p / (self.queue_position + 1)) for p in range(self.queue_position + 1)]
        if self.outcome != "hang":
            times += [start + self.latency * s / STEPS for s in range(1, STEPS + 1)]
        return min((t for t in times if t > now), default=math.inf)

    @property
    def completed_at(self) -> float:
        return self.created + self.queue_seconds + self.latency


@dataclass
class FakeFal(LoopbackServer, FakeControl):
    """fal's queue API as documented (§1 of the protocol notes); see `adapter_options()` for the adapter side."""

    scriptable = {"latency": float, "queue_seconds": float, "default_outcome": str, "down": bool, "submit_latency": float}

    api_key: str = "fal-test-key"
    port: int = 0
    latency: float = 0.2
    queue_seconds: float = 0.0
    # Queue position right after submit when queue_seconds > 0 (counts down to 0).
    queue_position: int = 2
    # The stream repeats the current status at least this often (a heartbeat).
    heartbeat: float = 0.2
    stream_available: bool = True
    # UNCONFIRMED: fal's SSE `event:` names; "" sends `data:` lines only.
    stream_event_name: str = ""
    # Base of the status/response/cancel URLs in answers ("" = this fake); another host tests the adapter's refusal.
    public_url: str = ""
    # UNCONFIRMED in the docs: submit's code (200 or 202) and the codes of ALREADY_COMPLETED / NOT_FOUND cancels.
    submit_status: int = 200
    already_completed_status: int = 400
    not_found_status: int = 404
    huge_output_bytes: int = 4 * 1024 * 1024
    # Answer outputs inline as data: URIs (what `sync_mode: true` does); also on when the input asks for it.
    data_uri_outputs: bool = False
    default_model: str = "fal-ai/flux/schnell"
    # Outcome of the next submissions (see OUTCOMES); when empty, `default_outcome`. A prompt's
    # "[fake:<outcome>]" marker comes first (see the module docstring).
    next_outcomes: deque = field(default_factory=deque)
    default_outcome: str = "ok"
    # The side of an "undersized" outcome's images.
    undersized_side: int = 64
    # Output sides are rounded down to a multiple of this (UNCONFIRMED for fal; see the module docstring).
    side_multiple: int = 1
    # fal is down: every API call (not the output files) answers 503, and nothing is created.
    down: bool = False
    # Seconds a submit's answer takes once the request is created (fal's gateway takes 0.1-0.5 s).
    submit_latency: float = 0.0
    # Scripted answers for the next calls of one endpoint: an int status (429 carries Retry-After: 1),
    # "malformed" (a broken JSON body) or ("slow", seconds) (then the normal answer).
    submit_faults: deque = field(default_factory=deque)
    status_faults: deque = field(default_factory=deque)
    result_faults: deque = field(default_factory=deque)
    # For the next status streams: "malformed" (a broken event) or "drop" (cut after the first event).
    stream_faults: deque = field(default_factory=deque)
    # What it saw: jobs created, cancel requests (ids), every request, the inputs submitted.
    submissions: int = 0
    cancellations: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    jobs: dict = field(default_factory=dict)
    # Per request id: status reads (polls and streams), result reads, cancels; and every submit POST.
    counts: dict = field(default_factory=dict)
    submit_posts: int = 0

    # _Server: a deep backlog, and a client hanging up is not an error.
    server_class, poll_interval = _Server, 0.05

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._initial = self.control_snapshot()
        self._serve()

    # --- control (tests/fakes/server.py) -------------------------------------------------------
    def control_script(self, body: dict) -> dict:
        if body.get("default_outcome", "ok") not in OUTCOMES:
            raise ValueError(f"default_outcome must be one of {', '.join(OUTCOMES)}")
        return super().control_script(body)

    def count(self, request_id: str, kind: str) -> None:
        with self._lock:
            counts = self.counts.setdefault(request_id, {"polls": 0, "results": 0, "cancels": 0})
            counts[kind] += 1

    def control_stats(self) -> dict:
        """Every request created since the last reset: its state now and what was asked about it."""
        now, wall = time.monotonic(), time.time()
        with self._lock:
            jobs, counts, posts = list(self.jobs.values()), {key: dict(value) for key, value in self.counts.items()}, self.submit_posts
        seen = []
        for job in jobs:
            if job.canceled.is_set():
                state = "canceled"
            elif job.phase(now)[0] != "COMPLETED":
                state = "running"
            else:
                state = "failed" if job.outcome in ("error_permanent", "error_transient") else "completed"
            seen.append(
                {
                    "id": job.request_id,
                    "model": job.model,
                    "prompt": job.input.get("prompt"),
                    "created": wall - (now - job.created),
                    "state": state,
                    # fal bills a request that made images (flagged or undersized ones too), not a canceled or failed one.
                    "billable": state == "completed",
                    "submissions": 1,
                    **counts.get(job.request_id, {"polls": 0, "results": 0, "cancels": 0}),
                }
            )
        return {"provider": "fal", "submit_posts": posts, "requests": seen, "script": self.control_snapshot()}

    def control_reset(self) -> dict:
        with self._lock:
            for collection in (self.jobs, self.counts):
                collection.clear()
            for collection in (self.requests, self.inputs, self.cancellations):
                collection.clear()
            for faults in (self.next_outcomes, self.submit_faults, self.status_faults, self.result_faults, self.stream_faults):
                faults.clear()
            self.submissions = self.submit_posts = 0
        return self.control_script(dict(self._initial))

    def adapter_options(self) -> dict:
        """Keyword arguments for FalProvider pointing at this fake (fast polls and backoff for tests)."""
        return {
            "api_url": self.url,
            "api_key": self.api_key,
            "output_hosts": ["127.0.0.1"],
            "allow_loopback": True,
            "poll_interval": 0.05,
            "backoff": 0.01,
            "max_backoff": 0.05,
            "models": {
                "fal-ai/flux/schnell": {"cost_per_megapixel": 0.003, "licence": "FLUX.1 [schnell] (Apache-2.0): commercial use allowed."},
                "fal-ai/flux/dev": {"cost_per_megapixel": 0.025, "licence": "FLUX.1 [dev] through fal: commercial use allowed."},
            },
        }

    # --- the queue -----------------------------------------------------------------------------
    def _urls(self, job: FalJob) -> dict:
        base = f"{self.public_url or self.url}/{job.app}/requests/{job.request_id}"
        return {"request_id": job.request_id, "response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}

    def submit(self, model: str, payload: dict) -> FalJob:
        """Queue a request as fal would: the input is validated by the model later (a bad one ends in an error)."""
        parts = model.split("/")
        app = "/".join(parts[:3] if parts[0] in ("workflows", "comfy") else parts[:2])
        outcome = self._outcome_for(payload)
        width, height, count, detail = self._validate(payload)
        if detail:
            outcome = "error_permanent"
        elif outcome == "undersized":
            width = height = self.undersized_side
        else:
            width, height = (max(1, side - side % self.side_multiple) for side in (width, height))
        seed = payload.get("seed")
        job = FalJob(
            request_id=str(uuid.uuid4()),
            app=app,
            model=model,
            input=payload,
            outcome=outcome,
            created=time.monotonic(),
            queue_seconds=self.queue_seconds,
            latency=self.latency,
            queue_position=self.queue_position if self.queue_seconds > 0 else 0,
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else random.randrange(2**31),
            width=width,
            height=height,
            count=max(2, count) if outcome == "nsfw_partial" else count,
            detail=detail or "prompt was rejected by the model",
        )
        if outcome in ("ok", "nsfw", "nsfw_partial", "undersized") and width * height <= 4 * 1024 * 1024:
            # Drawn while the job "runs", so the download is not slowed by it (Pillow mostly releases the GIL).
            for index in range(job.count):
                black = outcome == "nsfw" or (outcome == "nsfw_partial" and index == 0)
                threading.Thread(target=output_jpeg, args=(job.seed + index, width, height, black), daemon=True).start()
        with self._lock:
            self.jobs[job.request_id] = job
            self.submissions += 1
            self.inputs.append(payload)
        return job

    def _outcome_for(self, payload: dict) -> str:
        prompt = payload.get("prompt")
        marker = OUTCOME_MARKER.search(prompt) if isinstance(prompt, str) else None
        if marker and marker.group(1).lower() in OUTCOMES:
            return marker.group(1).lower()
        with self._lock:
            return self.next_outcomes.popleft() if self.next_outcomes else self.default_outcome

    @staticmethod
    def _validate(payload: dict) -> tuple[int, int, int, str]:
        width, height = PRESETS["landscape_4_3"]
        size = payload.get("image_size", "landscape_4_3")
        if isinstance(size, str):
            if size not in PRESETS:
                return width, height, 1, f"image_size must be one of {', '.join(PRESETS)}"
            width, height = PRESETS[size]
        elif isinstance(size, dict):
            width, height = size.get("width", 512), size.get("height", 512)
            if not all(isinstance(v, int) and 0 < v <= MAX_SIDE for v in (width, height)):
                return 512, 512, 1, f"image_size width and height must be between 1 and {MAX_SIDE}"
        count = payload.get("num_images", 1)
        if not isinstance(count, int) or not 1 <= count <= 4:
            return width, height, 1, "num_images must be between 1 and 4"
        if not isinstance(payload.get("prompt"), str):
            return width, height, count, "field required"
        return width, height, count, ""

    def status_of(self, job: FalJob, *, logs: bool, now: float | None = None) -> tuple[int, dict]:
        """The status endpoint's answer: (202 while queued or running, 200 when complete; body)."""
        now = time.monotonic() if now is None else now
        name, n = job.phase(now)
        body: dict = {"status": name, **self._urls(job)}
        if name == "IN_QUEUE":
            body["queue_position"] = n
            return 202, body
        if logs:
            with self._lock:
                while len(job.logs) < n:  # stamped when first shown, as a runner logs them
                    message = f"step {len(job.logs) + 1}/{STEPS}"
                    job.logs.append({"message": message, "level": "INFO", "source": "USER", "timestamp": _now_iso()})
                body["logs"] = job.logs[:n]
        else:
            body["logs"] = None
        if name == "IN_PROGRESS":
            return 202, body
        body["metrics"] = {"inference_time": job.latency}
        if job.canceled.is_set():
            body.update(error="Request was cancelled", error_type="client_cancelled")
        elif job.outcome == "error_permanent":
            body.update(error="Invalid status code: 422", error_type="validation_error")
        elif job.outcome == "error_transient":
            body.update(error="Runner server error", error_type="runner_server_error")
        return 200, body

    def result_of(self, job: FalJob) -> tuple[int, dict, dict]:
        """The result endpoint's answer: (status, body, headers); a failed request answers its error again."""
        if job.phase(time.monotonic())[0] != "COMPLETED":
            return 400, {"detail": "Request is still in progress"}, {}  # UNCONFIRMED: fal's code here
        if job.canceled.is_set():
            return 499, {"detail": "Request was cancelled", "error_type": "client_cancelled"}, {"X-Fal-Error-Type": "client_cancelled"}
        if job.outcome == "error_permanent":
            return 422, {"detail": [{"loc": ["body", "prompt"], "msg": job.detail, "type": "value_error"}]}, {}
        if job.outcome == "error_transient":
            return 500, _SERVER_ERROR, {"X-Fal-Error-Type": "runner_server_error", "X-Fal-Retryable": "true"}
        flags = [job.outcome == "nsfw" or (job.outcome == "nsfw_partial" and index == 0) for index in range(job.count)]
        images = [self._image(job, index, black=flags[index]) for index in range(job.count)]
        body = {
            "images": images,
            "seed": job.seed,
            "has_nsfw_concepts": flags,
            "prompt": job.input.get("prompt"),
            "timings": {"inference": job.latency},
        }
        return 200, body, {}

    def _image(self, job: FalJob, index: int, *, black: bool) -> dict:
        seed = job.seed + index
        name = f"{seed}-{job.width}x{job.height}{'-black' if black else ''}.jpeg"
        url = f"{self.url}/files/{name}"
        if job.outcome == "redirect_private":
            url = f"{self.url}/files/redirect/{name}"
        elif job.outcome == "huge_output":
            url = f"{self.url}/files/huge/{name}"
        elif self.data_uri_outputs or job.input.get("sync_mode") is True:
            url = "data:image/jpeg;base64," + base64.b64encode(output_jpeg(seed, job.width, job.height, black)).decode()
        return {"url": url, "width": job.width, "height": job.height, "content_type": "image/jpeg", "file_name": name}

    def cancel(self, job: FalJob) -> tuple[int, dict]:
        if job.phase(time.monotonic())[0] == "COMPLETED":
            return self.already_completed_status, {"status": "ALREADY_COMPLETED"}
        job.canceled.set()
        return 202, {"status": "CANCELLATION_REQUESTED"}

    def phase(self, request_id: str) -> str:
        """The request's status right now (for tests)."""
        return self.jobs[request_id].phase(time.monotonic())[0]

    # --- HTTP ----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as fal's gateway; the stream is chunked
            timeout = 60  # idle keep-alive connections are closed after this
            # Headers and body go out in two writes: with Nagle on, the body waits for the client's delayed ACK (40 ms).
            disable_nagle_algorithm = True

            def _fault(self, faults: deque) -> bool:
                """Answer a scripted fault for this endpoint; False when the normal answer should follow."""
                if not faults:
                    return False
                fault = faults.popleft()
                if isinstance(fault, tuple):
                    time.sleep(fault[1])
                    return False
                if fault == "malformed":
                    self._send(200, b'{"status": "IN_QUEUE", "request_')
                    return True
                body = FAULT_BODIES.get(fault, {"detail": f"HTTP {fault}"})
                headers = {"Retry-After": "1"} if fault == 429 else {}
                if "error_type" in body:
                    headers["X-Fal-Error-Type"] = body["error_type"]
                self._send(fault, body, headers=headers)
                return True

            def _record(self) -> tuple[list[str], dict, bytes]:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": parse_qs(parts.query),
                        "headers": dict(self.headers),
                        "time": time.monotonic(),
                    }
                )
                return [p for p in parts.path.split("/") if p], parse_qs(parts.query), body

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") == f"Key {fake.api_key}":
                    return True
                self._send(401, {"detail": "Unauthorized"})
                return False

            def _job(self, segments: list[str], suffix: int) -> FalJob | None:
                """The job a .../{owner}/{app}/requests/{id}[/suffix...] path names (only owner/app may precede it)."""
                request_id = segments[-1 - suffix]
                job = fake.jobs.get(request_id)
                if job is None or "/".join(segments[: -2 - suffix]) != job.app:
                    return None
                return job

            def _down(self) -> bool:
                """fal is down (scripted): answer 503 as its gateway would."""
                if not fake.down:
                    return False
                self._send(503, FAULT_BODIES[503], headers={"X-Fal-Error-Type": FAULT_BODIES[503]["error_type"]})
                return True

            def do_GET(self) -> None:
                if self._control(fake):
                    return None
                segments, query, _ = self._record()
                if segments[:1] == ["files"]:
                    return self._file(segments)
                if not self._authorised() or self._down():
                    return None
                if len(segments) >= 5 and segments[-4] == "requests" and segments[-2:] == ["status", "stream"]:
                    return self._stream(segments, query)
                if len(segments) >= 4 and segments[-3] == "requests" and segments[-1] == "status":
                    job = self._job(segments, 1)
                    if job is None:
                        return self._send(404, {"detail": "Request not found"})
                    fake.count(job.request_id, "polls")
                    if self._fault(fake.status_faults):
                        return None
                    status, body = fake.status_of(job, logs=query.get("logs", ["0"])[0].lower() in ("1", "true"))
                    return self._send(status, body)
                if len(segments) >= 3 and segments[-2] == "requests":
                    job = self._job(segments, 0)
                    if job is None:
                        return self._send(404, {"detail": "Request not found"})
                    fake.count(job.request_id, "results")
                    if self._fault(fake.result_faults):
                        return None
                    status, body, headers = fake.result_of(job)
                    return self._send(status, body, headers=headers)
                return self._send(404, {"detail": "Not found"})

            def do_POST(self) -> None:
                if self._control(fake):
                    return None
                segments, _, raw = self._record()
                if not self._authorised():
                    return None
                if len(segments) < 2 or "requests" in segments:
                    return self._send(405 if "requests" in segments else 404, {"detail": "Not found"})
                with fake._lock:
                    fake.submit_posts += 1
                if self._down():
                    return None
                try:
                    payload = json.loads(raw or b"{}")
                except ValueError:
                    payload = None
                if not isinstance(payload, dict):
                    return self._send(422, {"detail": [{"loc": ["body"], "msg": "a JSON object is required", "type": "type_error"}]})
                fault = fake.submit_faults[0] if fake.submit_faults else None
                if isinstance(fault, int):
                    return self._fault(fake.submit_faults)
                job = fake.submit("/".join(segments), payload)
                if fake.submit_latency:
                    time.sleep(fake.submit_latency)
                if self._fault(fake.submit_faults):  # malformed: created, but the answer is unreadable
                    return None
                name, position = job.phase(time.monotonic())
                body = {
                    **fake._urls(job),
                    "gateway_request_id": job.request_id,
                    "status": "IN_QUEUE",
                    "queue_position": position if name == "IN_QUEUE" else 0,
                }
                return self._send(fake.submit_status, body)

            def do_PUT(self) -> None:
                segments, _, _ = self._record()
                if not self._authorised() or self._down():
                    return None
                if len(segments) >= 4 and segments[-3] == "requests" and segments[-1] == "cancel":
                    fake.cancellations.append(segments[-2])
                    fake.count(segments[-2], "cancels")
                    job = self._job(segments, 1)
                    if job is None:
                        return self._send(fake.not_found_status, {"status": "NOT_FOUND"})
                    status, body = fake.cancel(job)
                    return self._send(status, body)
                return self._send(404, {"detail": "Not found"})

            def _stream(self, segments: list[str], query: dict) -> None:
                job = self._job(segments, 2)
                if not fake.stream_available or job is None:
                    return self._send(404, {"detail": "Not found" if job else "Request not found"})
                fake.count(job.request_id, "polls")
                fault = fake.stream_faults.popleft() if fake.stream_faults else None
                logs = query.get("logs", ["0"])[0].lower() in ("1", "true")
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                last, sent_at = None, 0.0
                try:
                    while True:
                        now = time.monotonic()
                        _, status = fake.status_of(job, logs=logs, now=now)
                        shown = (status["status"], status.get("queue_position"), len(status.get("logs") or []))
                        if shown != last or now - sent_at >= fake.heartbeat:
                            event = f"event: {fake.stream_event_name}\n" if fake.stream_event_name else ""
                            self._chunk(f"{event}data: {json.dumps(status)}\n\n".encode())
                            last, sent_at = shown, now
                            if fault == "malformed":
                                self._chunk(b'data: {"status": "IN_PRO\n\n')
                            if fault == "drop":
                                self.close_connection = True  # no final chunk: the client sees the stream cut
                                return None
                        if status["status"] == "COMPLETED":
                            break
                        # A hair past the change, so the clock has certainly moved on when it is read.
                        wake = min(job.next_change(now) + 0.0001, sent_at + fake.heartbeat)
                        job.canceled.wait(max(0.0, wake - time.monotonic()))
                    self._chunk(b"")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                return None

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

            def _file(self, segments: list[str]) -> None:
                """Output files, public as on fal's CDN: /files/[redirect/|huge/]{seed}-{w}x{h}[-black].jpeg."""
                if segments[1:2] == ["redirect"]:
                    return self._send(302, b"", "text/plain", headers={"Location": METADATA_URL})
                if segments[1:2] == ["huge"]:
                    return self._send(200, b"\xff\xd8\xff" + b"\0" * fake.huge_output_bytes, "image/jpeg")
                try:
                    stem = segments[-1].removesuffix(".jpeg")
                    seed, dimensions, *black = stem.split("-")
                    width, height = (int(v) for v in dimensions.split("x"))
                    data = output_jpeg(int(seed), width, height, bool(black))
                except ValueError:
                    return self._send(404, {"detail": "File not found"})
                return self._send(200, data, "image/jpeg", headers={"Cache-Control": "public, max-age=3600"})

        return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake fal.ai queue API until Ctrl-C.")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--latency", type=float, default=0.75, help="seconds from the end of the queue to COMPLETED")
    parser.add_argument("--queue-seconds", type=float, default=0.0)
    parser.add_argument("--api-key", default="fal-test-key")
    parser.add_argument("--no-stream", action="store_true", help="answer 404 on /status/stream (clients must poll)")
    parser.add_argument("--default-outcome", choices=OUTCOMES, default="ok", help="outcome of requests not otherwise scripted")
    parser.add_argument("--undersized-side", type=int, default=64, help="side (px) of an 'undersized' outcome's images")
    args = parser.parse_args(argv)
    fake = FakeFal(
        port=args.port,
        latency=args.latency,
        queue_seconds=args.queue_seconds,
        api_key=args.api_key,
        stream_available=not args.no_stream,
        default_outcome=args.default_outcome,
        undersized_side=args.undersized_side,
    ).start()
    print(f"fake fal serving at {fake.url}", flush=True)
    print(f"api key: {fake.api_key}", flush=True)
    print(f"settings: FAL_QUEUE_URL={fake.url} FAL_KEY={fake.api_key} FAL_OUTPUT_HOSTS=127.0.0.1 OUTBOUND_ALLOW_LOOPBACK=1", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly when a benchmark script ends it
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
