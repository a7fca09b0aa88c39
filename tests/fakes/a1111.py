"""A local AUTOMATIC1111 WebUI API (`--api`): txt2img, progress, interrupt, with faults on demand.

Run it on its own for development:

    python -m tests.fakes.a1111 --port 7860 --latency 1.0

`POST /sdapi/v1/txt2img` (JSON) holds its answer while the job "samples" for `latency` seconds,
one job at a time (A1111's queue lock), then answers `{"images": [base64 PNG], "parameters": <the
body>, "info": "<JSON string>"}` with `X-Process-Time`. `GET /sdapi/v1/progress` reports the
running job (`progress` 0..1, `state.job_count`, sampling steps); `POST /sdapi/v1/interrupt` stops
it (its answer then comes at once, with what was made; `state.interrupted`). With `auth`
("user:pass") every call needs HTTP Basic, as `--api-auth` does.

The outcome of each txt2img is a marker `[fake:<outcome>]` in its prompt, else the next of
`next_outcomes`, else `default_outcome`: "ok"; "undersized" (`undersized_side` px images);
"error_permanent" (422, a script error); "error_transient" (500, an out-of-memory error);
"rate_limited" (429 with Retry-After: not A1111's own, a proxy in front of it); "hang" (samples
until interrupted or the fake stops). A1111 has no refusal signal, so there is no "nsfw" outcome.
`cancellations` lists the `force_task_id` of each job an interrupt stopped ("" when idle).
"""

import argparse
import base64
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.fakes.replicate import OUTCOME_MARKER, output_image
from tests.fakes.server import FakeControl, FakeHandler, LoopbackServer

OUTCOMES = ("ok", "undersized", "error_permanent", "error_transient", "rate_limited", "hang")
ERRORS = {
    "error_permanent": (422, "RuntimeError", "always on script nonexistent not found"),
    "error_transient": (500, "OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB"),
}
STEPS = 20


@dataclass
class FakeJob:
    task_id: str
    body: dict
    outcome: str
    started: float = 0.0
    interrupted: threading.Event = field(default_factory=threading.Event)


@dataclass
class FakeA1111(FakeControl, LoopbackServer):
    port: int = 0
    # "user:pass" as --api-auth takes it; empty = no auth (A1111's default).
    auth: str = "avatarsite:fake-a1111"
    # Seconds a job samples.
    latency: float = 0.0
    undersized_side: int = 64
    retry_after: int = 3
    hang_seconds: float = 30.0
    default_outcome: str = "ok"
    next_outcomes: deque = field(default_factory=deque)
    submissions: int = 0
    cancellations: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    # Jobs by task id, finished or not; `current` is the one sampling.
    jobs: dict = field(default_factory=dict)
    current: FakeJob | None = None
    default_model: str = "sd_xl_base_1.0.safetensors"

    scriptable = {"latency": float, "default_outcome": str, "undersized_side": int, "retry_after": int}

    backlog, poll_interval = 128, 0.05

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        # A1111's queue lock: one job samples at a time.
        self._queue_lock = threading.Lock()
        self._initial = self.control_snapshot()
        self._serve()

    def stop(self) -> None:
        with self._lock:
            for job in self.jobs.values():
                job.interrupted.set()
        super().stop()

    # --- the common fake interface -------------------------------------------------------------
    def adapter_options(self) -> dict:
        return {
            "api_url": self.url,
            "api_key": self.auth,
            "poll_interval": 0.05,
            "backoff": 0.01,
            "max_backoff": 0.05,
            "cost_per_gpu_second": 0.0005,
            "models": {self.default_model: {"max_side": 1024, "side_step": 8, "licence": "CreativeML Open RAIL++-M (fake)"}},
        }

    def outcome_for(self, prompt: str) -> str:
        marker = OUTCOME_MARKER.search(prompt)
        with self._lock:
            if marker:
                return marker.group(1).lower()
            return self.next_outcomes.popleft() if self.next_outcomes else self.default_outcome

    def state_of(self, task_id: str) -> str:
        """ "sampling", "done" or "unknown": the contract suite's question."""
        job = self.jobs.get(task_id)
        if job is None:
            return "unknown"
        return "sampling" if job is self.current else "done"

    def interrupt(self) -> None:
        with self._lock:
            job = self.current
            self.cancellations.append(job.task_id if job else "")
        if job is not None:
            job.interrupted.set()

    # --- control (tests/fakes/server.py) -------------------------------------------------------
    def control_script(self, body: dict) -> dict:
        if body.get("default_outcome", "ok") not in OUTCOMES:
            raise ValueError(f"default_outcome must be one of {', '.join(OUTCOMES)}")
        return super().control_script(body)

    def control_stats(self) -> dict:
        with self._lock:
            jobs = list(self.jobs.values())
            seen = [
                {
                    "id": job.task_id,
                    "prompt": job.body.get("prompt"),
                    "outcome": job.outcome,
                    "state": "running" if job is self.current else ("canceled" if job.interrupted.is_set() else "completed"),
                    "billable": True,  # GPU time is spent whatever the outcome
                    "submissions": 1,
                }
                for job in jobs
            ]
        return {"provider": "a1111", "submit_posts": self.submissions, "requests": seen, "script": self.control_snapshot()}

    def control_reset(self) -> dict:
        with self._lock:
            for collection in (self.requests, self.cancellations):
                collection.clear()
            self.jobs.clear()
            self.next_outcomes.clear()
            self.submissions = 0
        return self.control_script(dict(self._initial))

    def progress(self) -> dict:
        job = self.current
        fraction = 0.0
        if job is not None and self.latency > 0:
            fraction = min(0.99, (time.monotonic() - job.started) / self.latency)
        if job is not None and job.outcome == "hang":
            fraction = min(fraction, 0.5)
        state = {
            "skipped": False,
            "interrupted": bool(job and job.interrupted.is_set()),
            "job": "txt2img" if job else "",
            "job_count": 1 if job else 0,
            "job_timestamp": time.strftime("%Y%m%d%H%M%S"),
            "job_no": 0,
            "sampling_step": int(fraction * STEPS),
            "sampling_steps": STEPS,
        }
        eta = (1 - fraction) * self.latency if job else 0.0
        return {"progress": fraction, "eta_relative": eta, "state": state, "current_image": None, "textinfo": None}

    # --- HTTP ----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            protocol_version = "HTTP/1.1"

            def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
                self._send(status, body, headers={"X-Process-Time": "0.001", **(headers or {})})

            def _error(self, status: int, error: str, detail: str, headers: dict | None = None) -> None:
                self._json(status, {"error": error, "detail": "", "body": "", "errors": detail}, headers)

            def _authorized(self) -> bool:
                if not fake.auth:
                    return True
                expected = "Basic " + base64.b64encode(fake.auth.encode()).decode()
                if self.headers.get("Authorization", "") == expected:
                    return True
                self._send(401, {"detail": "Incorrect username or password"}, headers={"WWW-Authenticate": "Basic"})
                return False

            def _read(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                fake.requests.append({"method": self.command, "path": urlsplit(self.path).path, "headers": dict(self.headers), "body": raw})
                return raw

            def do_GET(self) -> None:
                if self._control(fake):
                    return None
                self._read()
                if not self._authorized():
                    return None
                if urlsplit(self.path).path == "/sdapi/v1/progress":
                    return self._json(200, fake.progress())
                return self._send(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                if self._control(fake):
                    return None
                raw = self._read()
                if not self._authorized():
                    return None
                path = urlsplit(self.path).path
                if path == "/sdapi/v1/interrupt":
                    fake.interrupt()
                    return self._json(200, {})
                if path == "/sdapi/v1/txt2img":
                    return self._txt2img(raw)
                return self._send(404, {"detail": "Not Found"})

            def _txt2img(self, raw: bytes) -> None:
                with fake._lock:
                    fake.submissions += 1
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._send(422, {"detail": [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]})
                problem = _invalid(body)
                if problem:
                    return self._send(422, {"detail": [{"loc": ["body", problem], "msg": "invalid value", "type": "value_error"}]})
                outcome = fake.outcome_for(str(body.get("prompt", "")))
                if outcome == "rate_limited":
                    return self._send(429, {"detail": "Too Many Requests"}, headers={"Retry-After": str(fake.retry_after)})
                job = FakeJob(task_id=str(body.get("force_task_id") or f"task({time.time_ns()})"), body=body, outcome=outcome)
                started = time.monotonic()
                with fake._queue_lock:
                    with fake._lock:
                        fake.jobs[job.task_id], fake.current, job.started = job, job, time.monotonic()
                    # Until done, interrupted, or the fake stops (stop() interrupts every job).
                    job.interrupted.wait(fake.hang_seconds if outcome == "hang" else fake.latency)
                    with fake._lock:
                        fake.current = None
                elapsed = {"X-Process-Time": f"{time.monotonic() - started:.4f}"}
                if outcome in ERRORS:
                    status, error, detail = ERRORS[outcome]
                    return self._error(status, error, detail, elapsed)
                return self._json(200, _answer(body, outcome, fake.undersized_side), elapsed)

        return Handler


def _invalid(body: object) -> str:
    """The first field a real server would reject (its pydantic model), or ""."""
    if not isinstance(body, dict):
        return "__root__"
    for name in ("width", "height", "batch_size", "steps", "n_iter"):
        if name in body and (not isinstance(body[name], int) or body[name] < 1):
            return name
    if not isinstance(body.get("prompt", ""), str):
        return "prompt"
    return ""


def _answer(body: dict, outcome: str, undersized_side: int) -> dict:
    width, height = (
        (undersized_side, undersized_side) if outcome == "undersized" else (int(body.get("width", 512)), int(body.get("height", 512)))
    )
    seed = int(body.get("seed", -1))
    seed = seed if seed >= 0 else int(time.time()) % 4294967295
    count = int(body.get("batch_size", 1)) * int(body.get("n_iter", 1))
    images = [base64.b64encode(output_image(seed, index, (width, height), "png")).decode() for index in range(count)]
    info = {"prompt": body.get("prompt"), "seed": seed, "all_seeds": [seed + i for i in range(count)], "width": width, "height": height}
    info |= {
        "sd_model_name": str(body.get("override_settings", {}).get("sd_model_checkpoint", "sd_xl_base_1.0")),
        "sd_model_hash": "31e35c80fc",
    }
    return {"images": images, "parameters": body, "info": json.dumps(info)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake AUTOMATIC1111 WebUI API on loopback.")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds each job samples")
    parser.add_argument("--auth", default=FakeA1111.auth, help="user:pass for HTTP Basic ('' = none)")
    parser.add_argument("--default-outcome", choices=OUTCOMES, default="ok")
    args = parser.parse_args(argv)
    fake = FakeA1111(port=args.port, latency=args.latency, auth=args.auth, default_outcome=args.default_outcome).start()
    print(f"Fake AUTOMATIC1111 at {fake.url}  A1111_API_URL={fake.url} A1111_API_AUTH={fake.auth}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
