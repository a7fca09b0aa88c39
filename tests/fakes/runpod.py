"""A local RunPod serverless endpoint API (run, status, cancel, output files), with faults on demand.

Run it on its own for development:

    python -m tests.fakes.runpod --port 8125 --latency 0.75

It speaks providers.md §5.8 / C.8: `POST /{endpoint}/run` answers `{"id", "status": "IN_QUEUE"}`,
`GET /{endpoint}/status/{id}` the job (`id`, `status`, `output`, `error`, `delayTime`,
`executionTime` in ms, `workerId`), `POST /{endpoint}/cancel/{id}` the job canceled. Endpoints are
the keys of `ENDPOINTS`; every call needs `Authorization: Bearer <api_key>` (401 otherwise).

A job's state depends on time: `queue_seconds` IN_QUEUE, then `latency` seconds `running_status`
("IN_PROGRESS" as the client says, or "RUNNING" as the job-states page says), then its outcome. The
worker answers worker-comfyui's shape, `{"images": [{"filename", "type", "data"}]}`, its images
inline (`output_mode` "base64") or as URLs under /output/ ("s3_url"). The outcome of a job is a
marker `[fake:<outcome>]` in its prompt, else the next of `next_outcomes`, else `default_outcome`:

* "ok": COMPLETED, `num_images` images of width x height;
* "nsfw": FAILED with an NSFW error from the worker;
* "nsfw_partial": COMPLETED, the last image marked `"nsfw": true` (with one image: as "nsfw");
* "error_permanent": FAILED with a handler exception;
* "error_transient": TIMED_OUT (the worker ran past the execution timeout);
* "hang": stays running until canceled;
* "redirect_private": COMPLETED with an s3_url output that answers 302 to the metadata address;
* "undersized": COMPLETED with `undersized_side` px images whatever was asked.

An input with a "workflow" (worker-comfyui) is read for its prompt, size, batch and seed (`workflow_params`).

Endpoint faults come from `run_faults`, `status_faults` and `cancel_faults` (one per call): an int
status answered with `{"error": ...}` (429 carries `Retry-After: retry_after`; nothing is created),
or ("slow", seconds): the answer is held that long first.
"""

import argparse
import base64
import io
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

from tests.fakes.server import FakeControl, FakeHandler, LoopbackServer

ENDPOINTS = {"flux-schnell": "fake-flux-schnell", "flux-dev": "fake-flux-dev"}
# What the fake's endpoints bill per GPU-second (USD), as the adapter is told in `adapter_options()`.
COST_PER_GPU_SECOND = 0.00044
NSFW_ERROR = "NSFW content detected by the safety checker"
HANDLER_ERROR = "Traceback (most recent call last): ValueError: workflow validation failed"
PRIVATE_REDIRECT = "http://169.254.169.254/latest/meta-data/"
OUTCOMES = ("ok", "nsfw", "nsfw_partial", "error_permanent", "error_transient", "hang", "redirect_private", "undersized")
OUTCOME_MARKER = re.compile(r"\[fake:([a-z_]+)\]", re.IGNORECASE)
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")


def png_image(seed: int, index: int, side: int) -> bytes:
    """A small distinct PNG per (seed, index)."""
    image = Image.new("RGB", (side, side), ((seed * 37 + index * 91) % 200 + 30, 120, 160))
    ImageDraw.Draw(image).ellipse((side // 4, side // 4, 3 * side // 4, 3 * side // 4), fill=(240, 200, 170))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def workflow_params(workflow: dict) -> dict:
    """What worker-comfyui would make of an API-format graph: the prompt of its first text encoder,
    the latent's size and batch, the sampler's seed (the nodes of FLUX and SD workflows)."""
    params: dict = {}
    for node in workflow.values():
        kind, inputs = node.get("class_type", ""), node.get("inputs", {})
        if kind == "CLIPTextEncode" and "prompt" not in params:
            params["prompt"] = inputs.get("text")
        elif kind in ("EmptyLatentImage", "EmptySD3LatentImage"):
            params.update(width=inputs.get("width"), height=inputs.get("height"), num_images=inputs.get("batch_size", 1))
        elif kind in ("KSampler", "RandomNoise"):
            params["seed"] = inputs.get("seed", inputs.get("noise_seed"))
    return {key: value for key, value in params.items() if value is not None}


@dataclass
class FakeJob:
    id: str
    endpoint: str
    input: dict
    outcome: str
    created: float
    queue_seconds: float
    latency: float
    running_status: str
    canceled_at: float | None = None

    @property
    def done_at(self) -> float:
        return float("inf") if self.outcome == "hang" else self.created + self.queue_seconds + self.latency

    @property
    def count(self) -> int:
        return int(self.input.get("num_images", 1))

    def status(self, now: float) -> str:
        if self.canceled_at is not None and self.canceled_at <= now:
            return "CANCELLED"
        if now < self.created + self.queue_seconds:
            return "IN_QUEUE"
        if now < self.done_at:
            return self.running_status
        if self.outcome in ("nsfw", "error_permanent") or (self.outcome == "nsfw_partial" and self.count < 2):
            return "FAILED"
        return "TIMED_OUT" if self.outcome == "error_transient" else "COMPLETED"

    def execution_ms(self, now: float) -> int:
        started = self.created + self.queue_seconds
        end = min(now, self.done_at, self.canceled_at if self.canceled_at is not None else now)
        return max(0, round((end - started) * 1000))


@dataclass
class FakeRunPod(LoopbackServer, FakeControl):
    scriptable = {"latency": float, "queue_seconds": float, "default_outcome": str, "running_status": str, "output_mode": str}

    api_key: str = "rpa_fake-runpod-key"
    queue_seconds: float = 0.05
    latency: float = 0.2
    running_status: str = "IN_PROGRESS"
    output_mode: str = "base64"
    port: int = 0
    retry_after: int = 7
    undersized_side: int = 64
    next_outcomes: deque = field(default_factory=deque)
    default_outcome: str = "ok"
    run_faults: deque = field(default_factory=deque)
    status_faults: deque = field(default_factory=deque)
    cancel_faults: deque = field(default_factory=deque)
    # /run POSTs received (answered or not); `jobs` holds those that created a job.
    submissions: int = 0
    cancellations: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    jobs: dict = field(default_factory=dict)
    # The bodies of /run POSTs, as sent.
    bodies: list = field(default_factory=list)
    default_model: str = "flux-schnell"

    poll_interval = 0.05

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._initial = self.control_snapshot()
        self._serve()

    # --- the common fake interface -------------------------------------------------------------
    def adapter_options(self) -> dict:
        return {
            "api_url": f"{self.url}/v2",
            "api_key": self.api_key,
            "output_hosts": ["127.0.0.1"],
            "allow_loopback": True,
            "poll_interval": 0.05,
            "backoff": 0.01,
            "max_backoff": 0.05,
            "models": {
                model: {
                    "endpoint_id": endpoint,
                    "cost_per_gpu_second": COST_PER_GPU_SECOND,
                    "max_side": 1024,
                    "side_step": 64,
                    "licence": f"{model} on RunPod (fake)",
                }
                for model, endpoint in ENDPOINTS.items()
            },
        }

    def status_of(self, job_id: str) -> str:
        return self.jobs[job_id].status(time.monotonic())

    # --- control (tests/fakes/server.py) -------------------------------------------------------
    def control_script(self, body: dict) -> dict:
        if body.get("default_outcome", "ok") not in OUTCOMES:
            raise ValueError(f"default_outcome must be one of {', '.join(OUTCOMES)}")
        return super().control_script(body)

    def control_stats(self) -> dict:
        now = time.monotonic()
        with self._lock:
            jobs = list(self.jobs.values())
        seen = [
            {"id": job.id, "prompt": job.input.get("prompt"), "state": job.status(now), "execution_ms": job.execution_ms(now)}
            for job in jobs
        ]
        return {"provider": "runpod", "submit_posts": self.submissions, "requests": seen, "script": self.control_snapshot()}

    def control_reset(self) -> dict:
        with self._lock:
            for collection in (self.jobs, self.requests, self.cancellations, self.bodies):
                collection.clear()
            for faults in (self.next_outcomes, self.run_faults, self.status_faults, self.cancel_faults):
                faults.clear()
            self.submissions = 0
        return self.control_script(dict(self._initial))

    # --- state ---------------------------------------------------------------------------------
    def _outcome_for(self, job_input: dict) -> str:
        prompt = job_input.get("prompt")
        marker = OUTCOME_MARKER.search(prompt) if isinstance(prompt, str) else None
        if marker and marker.group(1).lower() in OUTCOMES:
            return marker.group(1).lower()
        with self._lock:
            return self.next_outcomes.popleft() if self.next_outcomes else self.default_outcome

    def create(self, endpoint: str, job_input: dict) -> FakeJob:
        if isinstance(job_input.get("workflow"), dict):
            job_input = {**job_input, **workflow_params(job_input["workflow"])}
        job = FakeJob(
            id=f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-e1",
            endpoint=endpoint,
            input=job_input,
            outcome=self._outcome_for(job_input),
            created=time.monotonic(),
            queue_seconds=self.queue_seconds,
            latency=self.latency,
            running_status=self.running_status,
        )
        with self._lock:
            self.jobs[job.id] = job
        return job

    def cancel(self, job: FakeJob) -> None:
        with self._lock:
            self.cancellations.append(job.id)
            now = time.monotonic()
            if job.status(now) not in TERMINAL:
                job.canceled_at = now

    def _side(self, job: FakeJob) -> int:
        if job.outcome == "undersized":
            return self.undersized_side
        return int(job.input.get("width", 1024))

    def _images(self, job: FakeJob) -> list[dict]:
        seed = int(job.input.get("seed", 0))
        images = []
        for index in range(job.count):
            item = {"filename": f"ComfyUI_{index:05}_.png", "type": "base64"}
            if job.outcome == "redirect_private" or self.output_mode == "s3_url":
                item.update(type="s3_url", data=f"{self.url}/output/{job.id}/{index}.png")
            else:
                item["data"] = base64.b64encode(png_image(seed, index, self._side(job))).decode()
            if job.outcome == "nsfw_partial" and index == job.count - 1:
                item["nsfw"] = True
            images.append(item)
        return images

    def as_json(self, job: FakeJob) -> dict:
        now = time.monotonic()
        status = job.status(now)
        body = {"id": job.id, "status": status, "delayTime": int(job.queue_seconds * 1000)}
        if status not in ("IN_QUEUE",):
            body.update(executionTime=job.execution_ms(now), workerId="fakeworker01")
        if status == "COMPLETED":
            body["output"] = {"images": self._images(job)}
        elif status == "FAILED":
            body["error"] = NSFW_ERROR if job.outcome in ("nsfw", "nsfw_partial") else HANDLER_ERROR
        elif status == "TIMED_OUT":
            body["error"] = "Job timed out"
        return body

    # --- HTTP ----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            def _record(self) -> tuple[list[str], bytes]:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                fake.requests.append({"method": self.command, "path": path, "headers": dict(self.headers), "time": time.monotonic()})
                return [part for part in path.split("/") if part], body

            def _fault(self, faults: deque) -> bool:
                if not faults:
                    return False
                fault = faults.popleft()
                if isinstance(fault, tuple) and fault[0] == "slow":
                    time.sleep(fault[1])
                    return False
                headers = {"Retry-After": str(fake.retry_after)} if fault == 429 else None
                self._send(int(fault), {"error": f"fake fault {fault}"}, headers=headers)
                return True

            def _route(self, segments: list[str]) -> tuple[str, str, str] | None:
                """(endpoint, action, job id) of /v2/{endpoint}/{action}[/{id}], or None (404 sent)."""
                if len(segments) in (3, 4) and segments[0] == "v2" and segments[1] in ENDPOINTS.values():
                    return segments[1], segments[2], segments[3] if len(segments) == 4 else ""
                self._send(404, {"error": "not found"})
                return None

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {fake.api_key}":
                    return True
                self._send(401, {"error": "Unauthorized"})
                return False

            def do_GET(self) -> None:
                if self._control(fake):
                    return
                segments, _ = self._record()
                if segments[:1] == ["output"]:
                    self._output(segments)
                    return
                route = self._route(segments)
                if route is None or not self._authorised():
                    return
                endpoint, action, job_id = route
                job = fake.jobs.get(job_id)
                if action != "status" or job is None or job.endpoint != endpoint:
                    self._send(404, {"error": "request does not exist"})
                elif not self._fault(fake.status_faults):
                    self._send(200, fake.as_json(job))

            def do_POST(self) -> None:
                if self._control(fake):
                    return
                segments, raw = self._record()
                route = self._route(segments)
                if route is None or not self._authorised():
                    return
                endpoint, action, job_id = route
                if action == "run" and not job_id:
                    self._run(endpoint, raw)
                elif action == "cancel" and job_id in fake.jobs:
                    if not self._fault(fake.cancel_faults):
                        fake.cancel(fake.jobs[job_id])
                        self._send(200, fake.as_json(fake.jobs[job_id]))
                else:
                    self._send(404, {"error": "request does not exist"})

            def _run(self, endpoint: str, raw: bytes) -> None:
                fake.submissions += 1
                if self._fault(fake.run_faults):
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, {"error": "invalid JSON"})
                    return
                if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
                    self._send(400, {"error": "input is required"})
                    return
                fake.bodies.append(body)
                job = fake.create(endpoint, body["input"])
                self._send(200, {"id": job.id, "status": "IN_QUEUE"})

            def _output(self, segments: list[str]) -> None:
                job = fake.jobs.get(segments[1]) if len(segments) == 3 else None
                if job is None:
                    self._send(404, b"no such file", "text/plain")
                elif job.outcome == "redirect_private":
                    self._send(302, b"", "text/plain", headers={"Location": PRIVATE_REDIRECT})
                else:
                    index = int(segments[2].split(".")[0])
                    self._send(200, png_image(int(job.input.get("seed", 0)), index, fake._side(job)), "image/png")

        return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8125)
    parser.add_argument("--latency", type=float, default=0.75)
    parser.add_argument("--default-outcome", default="ok", choices=OUTCOMES)
    args = parser.parse_args(argv)
    fake = FakeRunPod(port=args.port, latency=args.latency, default_outcome=args.default_outcome)
    print(f"fake RunPod on {fake.url}/v2 (key {fake.api_key})", flush=True)
    fake._server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
