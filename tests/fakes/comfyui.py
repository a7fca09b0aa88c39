"""A local ComfyUI server (prompt, history, queue, interrupt, view), with faults on demand.

It speaks providers.md §5.7 / C.7: `POST /prompt` takes `{"prompt": graph, "client_id", "prompt_id"?}`
(our own id, C.7; one is made when absent) and answers `{"prompt_id", "number", "node_errors": {}}`;
`GET /history/{id}` is `{}` until the prompt ends, then `{id: {"prompt", "outputs", "status", "meta"}}`;
`GET /queue` lists `queue_running` / `queue_pending` items `[number, prompt_id, graph, extra, outputs]`;
`POST /queue {"delete": [ids]}` drops pending ones, `POST /interrupt {"prompt_id"}` stops it if running;
`GET /view?filename&subfolder&type` serves the PNG. Every route is also under `/api/`. No auth.
`GET /ws?clientId=…` is ComfyUI's websocket (`websocket=False`: 404, as behind a proxy that drops
it): a `status` message first, then, for the prompts that client sent only, `progress` per sampler
step (`steps` of them over the run), and at the end `executing` with node null and
`execution_success` / `execution_error` / `execution_interrupted`.

The graph is read as a FLUX workflow (`tests.fakes.runpod.workflow_params`). A prompt waits
`queue_seconds`, runs `latency` seconds, then ends in its outcome: a `[fake:<outcome>]` marker in
its text, else the next of `next_outcomes`, else `default_outcome`:

* "ok": success, `batch_size` images; "undersized": images of `undersized_side` px;
* "nsfw": execution_error raised by a safety-checker node ("NSFW content detected");
* "nsfw_partial": success with the last image dropped by the checker (one image: as "nsfw");
* "error_permanent": execution_error of a node (a bad workflow); "error_transient": CUDA out of memory;
* "hang": runs until interrupted; "redirect_private": /view answers 302 to the metadata address.

`prompt_faults` / `history_faults` (one per call): an int status answered with ComfyUI's error body
(429 with `Retry-After: retry_after`), or ("slow", seconds).
"""

import base64
import hashlib
import json
import re
import select
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes.runpod import COST_PER_GPU_SECOND, PRIVATE_REDIRECT, png_image, workflow_params
from tests.fakes.server import FakeHandler, LoopbackServer

OUTCOMES = ("ok", "nsfw", "nsfw_partial", "error_permanent", "error_transient", "hang", "redirect_private", "undersized")
OUTCOME_MARKER = re.compile(r"\[fake:([a-z_]+)\]", re.IGNORECASE)
ERRORS = {
    "nsfw": ("NSFWDetectedError", "NSFW content detected by the safety checker"),
    "error_permanent": ("ValueError", "Value not in list: ckpt_name: 'flux1-schnell.safetensors' not in []"),
    "error_transient": ("torch.OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB"),
}


@dataclass
class FakePrompt:
    id: str
    number: int
    graph: dict
    params: dict
    outcome: str
    created: float
    queue_seconds: float
    latency: float
    interrupted_at: float | None = None
    client_id: str = ""

    @property
    def count(self) -> int:
        return int(self.params.get("num_images", 1))

    def state(self, now: float) -> str:
        if self.interrupted_at is not None and self.interrupted_at <= now:
            return "interrupted"
        if now < self.created + self.queue_seconds:
            return "pending"
        if self.outcome == "hang" or now < self.created + self.queue_seconds + self.latency:
            return "running"
        if self.outcome in ERRORS or (self.outcome == "nsfw_partial" and self.count < 2):
            return "error"
        return "success"


@dataclass
class FakeComfyUI(LoopbackServer):
    queue_seconds: float = 0.05
    latency: float = 0.2
    retry_after: int = 5
    undersized_side: int = 64
    next_outcomes: deque = field(default_factory=deque)
    default_outcome: str = "ok"
    prompt_faults: deque = field(default_factory=deque)
    history_faults: deque = field(default_factory=deque)
    submissions: int = 0
    cancellations: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    prompts: dict = field(default_factory=dict)
    default_model: str = "flux-schnell"
    websocket: bool = True
    steps: int = 4
    ws_clients: list = field(default_factory=list)

    poll_interval = 0.05

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._serve()

    def adapter_options(self, workflow: dict | None = None) -> dict:
        return {
            "api_url": self.url,
            "poll_interval": 0.05,
            "backoff": 0.01,
            "max_backoff": 0.05,
            "models": {
                "flux-schnell": {
                    "workflow": workflow or FLUX_WORKFLOW,
                    "cost_per_gpu_second": COST_PER_GPU_SECOND,
                    "licence": "FLUX.1 [schnell] on our own ComfyUI (fake)",
                }
            },
        }

    def status_of(self, prompt_id: str) -> str:
        prompt = self.prompts.get(prompt_id)
        return prompt.state(time.monotonic()) if prompt else "unknown"

    def _outcome_for(self, params: dict) -> str:
        marker = OUTCOME_MARKER.search(str(params.get("prompt", "")))
        if marker and marker.group(1).lower() in OUTCOMES:
            return marker.group(1).lower()
        with self._lock:
            return self.next_outcomes.popleft() if self.next_outcomes else self.default_outcome

    def events_due(self, prompt: FakePrompt, now: float) -> list[dict]:
        """Every websocket event of `prompt` up to `now`, in order (the socket sends the new ones)."""
        start = prompt.created + prompt.queue_seconds
        if now < start:
            return []
        ran = min(now, prompt.interrupted_at or now) - start
        done = prompt.state(now) not in ("pending", "running")
        last = self.steps if done and prompt.state(now) == "success" else min(self.steps - 1, int(ran / prompt.latency * self.steps))
        events = [{"type": "execution_start", "data": {"prompt_id": prompt.id}}]
        events += [
            {"type": "progress", "data": {"value": k, "max": self.steps, "prompt_id": prompt.id, "node": "31"}} for k in range(1, last + 1)
        ]
        if done:
            ending = {"success": "execution_success", "error": "execution_error", "interrupted": "execution_interrupted"}[prompt.state(now)]
            events += [
                {"type": "executing", "data": {"node": None, "prompt_id": prompt.id}},
                {"type": ending, "data": {"prompt_id": prompt.id}},
            ]
        return events

    def create(self, graph: dict, prompt_id: str = "", client_id: str = "") -> FakePrompt:
        params = workflow_params(graph)
        with self._lock:
            number = len(self.prompts)
        prompt = FakePrompt(
            id=prompt_id or str(uuid.uuid4()),
            number=number,
            graph=graph,
            params=params,
            outcome=self._outcome_for(params),
            created=time.monotonic(),
            queue_seconds=self.queue_seconds,
            latency=self.latency,
            client_id=client_id,
        )
        with self._lock:
            self.prompts[prompt.id] = prompt
        return prompt

    def _side(self, prompt: FakePrompt) -> int:
        return self.undersized_side if prompt.outcome == "undersized" else int(prompt.params.get("width", 1024))

    def history_entry(self, prompt: FakePrompt, now: float) -> dict:
        state = prompt.state(now)
        started = int((prompt.created + prompt.queue_seconds) * 1000)
        ended = int(min(now, prompt.created + prompt.queue_seconds + prompt.latency) * 1000)
        messages: list = [["execution_start", {"prompt_id": prompt.id, "timestamp": started}]]
        outputs: dict = {}
        if state == "success":
            kept = prompt.count - 1 if prompt.outcome == "nsfw_partial" else prompt.count
            files = [{"filename": f"ComfyUI_{prompt.number:05}_{i}_.png", "subfolder": "", "type": "output"} for i in range(kept)]
            outputs["9"] = {"images": files}
            messages.append(["execution_success", {"prompt_id": prompt.id, "timestamp": ended}])
        elif state == "error":
            kind, message = ERRORS["nsfw" if prompt.outcome == "nsfw_partial" else prompt.outcome]
            error = {"prompt_id": prompt.id, "node_id": "8", "node_type": "SafetyChecker", "exception_type": kind}
            messages.append(["execution_error", {**error, "exception_message": message, "timestamp": ended}])
        else:  # interrupted
            messages.append(["execution_interrupted", {"prompt_id": prompt.id, "node_id": "31", "timestamp": ended}])
        status = {"status_str": "success" if state == "success" else "error", "completed": state == "success", "messages": messages}
        return {"prompt": [prompt.number, prompt.id, prompt.graph, {}, ["9"]], "outputs": outputs, "status": status, "meta": {}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            def _record(self) -> tuple[str, dict, bytes]:
                parts = urlsplit(self.path)
                path = parts.path[len("/api") :] if parts.path.startswith("/api/") else parts.path
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append({"method": self.command, "path": path, "headers": dict(self.headers), "time": time.monotonic()})
                return path, parse_qs(parts.query), body

            def _fault(self, faults: deque) -> bool:
                if not faults:
                    return False
                fault = faults.popleft()
                if isinstance(fault, tuple):
                    time.sleep(fault[1])
                    return False
                headers = {"Retry-After": str(fake.retry_after)} if fault == 429 else None
                self._send(int(fault), {"error": {"type": "fault", "message": f"fake fault {fault}"}, "node_errors": {}}, headers=headers)
                return True

            def do_GET(self) -> None:
                path, query, _ = self._record()
                now = time.monotonic()
                if path.startswith("/history/"):
                    prompt = fake.prompts.get(path[len("/history/") :])
                    if self._fault(fake.history_faults):
                        return
                    done = prompt is not None and prompt.state(now) not in ("pending", "running")
                    self._send(200, {prompt.id: fake.history_entry(prompt, now)} if done else {})
                elif path == "/queue":
                    items = {"running": [], "pending": []}
                    for prompt in list(fake.prompts.values()):
                        if prompt.state(now) in items:
                            items[prompt.state(now)].append([prompt.number, prompt.id, prompt.graph, {}, ["9"]])
                    self._send(200, {"queue_running": items["running"], "queue_pending": items["pending"]})
                elif path == "/view":
                    self._view(query)
                elif path == "/ws" and fake.websocket and self.headers.get("Upgrade", "").lower() == "websocket":
                    self._websocket(query.get("clientId", [""])[0])
                else:
                    self._send(404, b"404: Not Found", "text/plain")

            def _websocket(self, client_id: str) -> None:
                key = self.headers.get("Sec-WebSocket-Key", "")
                # RFC 6455 fixes SHA-1 for the handshake: not a security use.
                accept = base64.b64encode(
                    hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode(), usedforsecurity=False).digest()
                ).decode()
                # Written raw: the handler's own status line says HTTP/1.0, which a websocket client refuses.
                handshake = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                handshake += f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
                self.wfile.write(handshake.encode())
                self.wfile.flush()
                self.close_connection = True
                fake.ws_clients.append(client_id)
                sent: dict[str, int] = {}
                try:
                    self._frame({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}})
                    while not self._client_closed():
                        for prompt in [p for p in list(fake.prompts.values()) if p.client_id == client_id]:
                            events = fake.events_due(prompt, time.monotonic())
                            for event in events[sent.get(prompt.id, 0) :]:
                                self._frame(event)
                            sent[prompt.id] = len(events)
                except OSError:  # the client went away
                    pass

            def _frame(self, event: dict) -> None:
                payload = json.dumps(event).encode()  # a text frame, unmasked (server to client), short
                length = bytes([len(payload)]) if len(payload) < 126 else bytes([126]) + len(payload).to_bytes(2, "big")
                self.connection.sendall(bytes([0x81]) + length + payload)

            def _client_closed(self) -> bool:
                """Waits 20 ms for the client; True when it closed (a close frame, or the socket ended)."""
                readable, _, _ = select.select([self.connection], [], [], 0.02)
                if not readable:
                    return False
                head = self.connection.recv(2)
                if len(head) < 2 or head[0] & 0x0F == 0x8:
                    return True
                size = head[1] & 0x7F
                size = int.from_bytes(self.connection.recv(2 if size == 126 else 8), "big") if size >= 126 else size
                self.connection.recv(4 + size)  # mask and payload: a client's message is not used
                return False

            def _view(self, query: dict) -> None:
                name = query.get("filename", [""])[0]
                match = re.fullmatch(r"ComfyUI_(\d+)_(\d+)_\.png", name)
                prompt = next((p for p in fake.prompts.values() if match and p.number == int(match.group(1))), None)
                if prompt is None:
                    self._send(404, b"404: Not Found", "text/plain")
                elif prompt.outcome == "redirect_private":
                    self._send(302, b"", "text/plain", headers={"Location": PRIVATE_REDIRECT})
                else:
                    self._send(200, png_image(int(prompt.params.get("seed", 0)), int(match.group(2)), fake._side(prompt)), "image/png")

            def do_POST(self) -> None:
                path, _, raw = self._record()
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, {"error": {"type": "invalid_json", "message": "invalid JSON"}, "node_errors": {}})
                    return
                if path == "/prompt":
                    self._prompt(body)
                elif path == "/queue":
                    with fake._lock:
                        for prompt_id in body.get("delete", []):
                            prompt = fake.prompts.get(prompt_id)
                            if prompt and prompt.state(time.monotonic()) == "pending":
                                prompt.interrupted_at = time.monotonic()
                    self._send(200, b"", "text/plain")
                elif path == "/interrupt":
                    prompt = fake.prompts.get(body.get("prompt_id", ""))
                    if prompt is not None:
                        fake.cancellations.append(prompt.id)
                        if prompt.state(time.monotonic()) == "running":
                            prompt.interrupted_at = time.monotonic()
                    self._send(200, b"", "text/plain")
                else:
                    self._send(404, b"404: Not Found", "text/plain")

            def _prompt(self, body: dict) -> None:
                fake.submissions += 1
                if self._fault(fake.prompt_faults):
                    return
                if not isinstance(body.get("prompt"), dict):
                    error = {"type": "no_prompt", "message": "No prompt provided", "details": "No prompt provided", "extra_info": {}}
                    self._send(400, {"error": error, "node_errors": {}})
                    return
                prompt = fake.create(body["prompt"], str(body.get("prompt_id") or ""), str(body.get("client_id") or ""))
                self._send(200, {"prompt_id": prompt.id, "number": prompt.number, "node_errors": {}})

        return Handler


FLUX_WORKFLOW = {
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{prompt}", "clip": ["30", 1]}},
    "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": "{width}", "height": "{height}", "batch_size": "{num_images}"}},
    "31": {"class_type": "KSampler", "inputs": {"seed": "{seed}", "steps": 4, "cfg": 1, "sampler_name": "euler", "model": ["30", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["31", 0], "vae": ["30", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
