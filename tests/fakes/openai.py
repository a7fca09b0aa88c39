"""A local OpenAI images API (`POST /v1/images/generations`, base64 answers), with faults on demand.

Run it on its own for development or a benchmark:

    python -m tests.fakes.openai --port 8125 --latency 0.75

Each call is answered after `latency` seconds. Its outcome is a marker `[fake:<outcome>]` in its
prompt, else the next of `next_outcomes`, else `default_outcome` ("ok"):

* "ok": 200 with `n` base64 images of the size asked for, `usage` for gpt-image models;
* "nsfw": 400, the safety system's refusal (`moderation_blocked` for gpt-image, else `content_policy_violation`);
* "error_permanent": 400 `invalid_request_error`; "error_transient": 500 `server_error`;
* "rate_limited": 429 with `Retry-After` (`retry_after` seconds) and `retry-after-ms`;
* "hang": no answer until the client gives up (or `hang_seconds` pass, or the fake stops);
* "undersized": 200 with `undersized_side` px squares whatever was asked;
* "malformed": 200 with a body that is not JSON.

The request is checked as OpenAI does: a bearer key, a known model, a size that model makes
(dall-e-2: 256/512/1024 squares; dall-e-3 and gpt-image: 1024x1024 and oblong sizes), `n` in range
(dall-e-3: 1), `response_format` only for dall-e (UNCONFIRMED that gpt-image rejects it: the notes
say it always answers base64); anything else is a 400 `invalid_request_error` and nothing is made.
There is no cancel in the protocol: `cancellations` stays empty (the contract suite's common interface).
"""

import argparse
import base64
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fakes.replicate import output_image
from tests.fakes.server import FakeControl, FakeHandler, LoopbackServer

OUTCOMES = ("ok", "nsfw", "error_permanent", "error_transient", "rate_limited", "hang", "undersized", "malformed")
OUTCOME_MARKER = re.compile(r"\[fake:([a-z_]+)\]", re.IGNORECASE)
OBLONG = ("1536x1024", "1024x1536")
MODELS = {
    "dall-e-2": {"sizes": ("256x256", "512x512", "1024x1024"), "max_n": 10},
    "dall-e-3": {"sizes": ("1024x1024", "1792x1024", "1024x1792"), "max_n": 1},
    "gpt-image-1": {"sizes": ("1024x1024", *OBLONG, "auto"), "max_n": 10},
    "gpt-image-1-mini": {"sizes": ("1024x1024", *OBLONG, "auto"), "max_n": 10},
}
# Per-image prices for the adapter's catalogue in tests (dall-e-2 by size, as OpenAI bills it).
COSTS = {"dall-e-2": {"cost_per_image_by_side": {"256": 0.016, "512": 0.018, "1024": 0.02}}, "dall-e-3": {"cost_per_image": 0.04}}
TOKEN_COSTS = {"cost_per_million_input_tokens": 5.0, "cost_per_million_output_tokens": 40.0}
# Output tokens a gpt-image 1024 px square costs at medium quality (OpenAI's table).
OUTPUT_TOKENS = 1056
FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}


class Refusal(Exception):
    """A request the fake answers with an error and makes nothing for: (status, body, headers)."""

    def __init__(self, status: int, body: dict, headers: dict | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def error_body(message: str, *, kind: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def encoded_image(seed: int, index: int, side: int, fmt: str) -> str:
    """A distinct picture per (seed, index), base64 (the replicate fake's drawing; it names JPEG "jpg")."""
    return base64.b64encode(output_image(seed, index, (side, side), {"jpeg": "jpg"}.get(fmt, fmt))).decode()


@dataclass
class FakeOpenAI(FakeControl, LoopbackServer):
    port: int = 0
    api_key: str = "sk-fake-openai"
    latency: float = 0.0
    retry_after: int = 7
    undersized_side: int = 64
    hang_seconds: float = 30.0
    default_model: str = "dall-e-2"
    default_outcome: str = "ok"
    next_outcomes: deque = field(default_factory=deque)
    submissions: int = 0
    cancellations: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    scriptable = {"latency": float, "default_outcome": str, "retry_after": int, "undersized_side": int}
    provider_name = "openai"
    default_port = 8125
    generations_path = "/v1/images/generations"

    # A deep backlog (a benchmark may open many connections at once), a short shutdown poll.
    backlog, poll_interval = 256, 0.05

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._started_with = self.control_snapshot()
        self._serve()

    def stop(self) -> None:
        self._stopping.set()  # releases the "hang" answers
        super().stop()

    # --- the catalogue the adapter is built with ------------------------------------------------
    def adapter_options(self) -> dict:
        models = {model: {**COSTS.get(model, TOKEN_COSTS), "licence": f"{model} licence (fake)"} for model in MODELS}
        return {**self.common_options(), "models": models}

    def common_options(self) -> dict:
        return {"api_url": f"{self.url}/v1", "api_key": self.api_key, "poll_interval": 0.05, "backoff": 0.01, "max_backoff": 0.05}

    # --- control --------------------------------------------------------------------------------
    def control_stats(self) -> dict:
        with self._lock:
            return {"provider": self.provider_name, "submit_posts": self.submissions, "requests": list(self.requests)}

    def control_reset(self) -> dict:
        with self._lock:
            self.requests.clear()
            self.next_outcomes.clear()
            self.submissions = 0
        return self.control_script(self._started_with)

    def outcome_for(self, prompt: str) -> str:
        marker = OUTCOME_MARKER.search(prompt)
        if marker and marker.group(1).lower() in OUTCOMES:
            return marker.group(1).lower()
        with self._lock:
            return self.next_outcomes.popleft() if self.next_outcomes else self.default_outcome

    # --- the protocol ---------------------------------------------------------------------------
    def check(self, headers, body: object) -> tuple[str, int, int, str]:
        """(model, side, n, output format) of a valid request; else Refusal."""
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            raise Refusal(401, error_body("Incorrect API key provided.", kind="invalid_request_error", code="invalid_api_key"))
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str) or not body["prompt"]:
            raise Refusal(400, error_body("Missing required parameter: 'prompt'.", kind="invalid_request_error", param="prompt"))
        model = body.get("model", "dall-e-2")
        if model not in MODELS:
            raise Refusal(404, error_body(f"The model '{model}' does not exist.", kind="invalid_request_error", code="model_not_found"))
        spec, size, n = MODELS[model], body.get("size", "1024x1024"), body.get("n", 1)
        if size not in spec["sizes"] or size == "auto" or size.split("x")[0] != size.split("x")[1]:
            raise Refusal(400, error_body(f"Invalid size '{size}' for {model}.", kind="invalid_request_error", param="size"))
        if not isinstance(n, int) or not 1 <= n <= spec["max_n"]:
            raise Refusal(400, error_body(f"Invalid 'n' for {model}.", kind="invalid_request_error", param="n"))
        dall_e = model.startswith("dall-e")
        if "response_format" in body and (not dall_e or body["response_format"] not in ("url", "b64_json")):
            raise Refusal(400, error_body("Unknown parameter: 'response_format'.", kind="invalid_request_error", param="response_format"))
        if dall_e and body.get("response_format") != "b64_json":
            raise Refusal(400, error_body("This fake answers b64_json only.", kind="invalid_request_error", param="response_format"))
        return model, int(size.split("x")[0]), n, str(body.get("output_format", "png")) if not dall_e else "png"

    def refusal_for(self, outcome: str, model: str) -> Refusal | None:
        if outcome == "nsfw":
            if model.startswith("gpt-image"):
                message = "Your request was rejected by the safety system."
                return Refusal(400, error_body(message, kind="image_generation_user_error", code="moderation_blocked"))
            message = "Your request was rejected as a result of our safety system."
            return Refusal(400, error_body(message, kind="invalid_request_error", code="content_policy_violation"))
        if outcome == "error_permanent":
            return Refusal(
                400, error_body("Billing hard limit has been reached.", kind="invalid_request_error", code="billing_hard_limit_reached")
            )
        if outcome == "error_transient":
            return Refusal(500, error_body("The server had an error while processing your request.", kind="server_error"))
        if outcome == "rate_limited":
            headers = {"Retry-After": str(self.retry_after), "retry-after-ms": str(self.retry_after * 1000)}
            return Refusal(
                429, error_body("Rate limit reached for images per minute.", kind="requests", code="rate_limit_exceeded"), headers
            )
        return None

    def answer(self, model: str, side: int, n: int, fmt: str, body: dict, outcome: str) -> dict:
        seed = int(body.get("seed") or 0) if isinstance(body.get("seed"), int) else 0
        side = self.undersized_side if outcome == "undersized" else side
        answer = {"created": int(time.time()), "data": [{"b64_json": encoded_image(seed, i, side, fmt)} for i in range(n)]}
        if model.startswith("gpt-image"):
            answer["usage"] = {"input_tokens": 12, "output_tokens": OUTPUT_TOKENS * n, "total_tokens": 12 + OUTPUT_TOKENS * n}
            answer.update({"size": f"{side}x{side}", "quality": body.get("quality", "medium"), "output_format": fmt})
        if model == "dall-e-3":
            answer["data"][0]["revised_prompt"] = f"A picture: {body['prompt']}"
        return answer

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            def do_GET(self) -> None:
                if not self._control(fake):
                    self._send(404, error_body("Not found", kind="invalid_request_error"))

            def do_POST(self) -> None:
                if self._control(fake):
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                with fake._lock:
                    fake.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
                if self.path.split("?")[0] != fake.generations_path:
                    self._send(404, error_body(f"Invalid URL (POST {self.path})", kind="invalid_request_error"))
                    return
                request_id = f"req_{secrets.token_hex(16)}"
                status, answer, headers = fake.handle(self.headers, body)
                self._send(status, answer, headers={"x-request-id": request_id, **headers})

        return Handler

    def handle(self, headers, body: object) -> tuple[int, dict | bytes, dict]:
        """(status, body, headers) for one generations call."""
        try:
            model, side, n, fmt = self.check(headers, body)
        except Refusal as refusal:
            return refusal.status, refusal.body, refusal.headers
        outcome = self.outcome_for(body["prompt"])
        with self._lock:
            self.submissions += 1
        if outcome == "hang":
            self.wait(self.hang_seconds)
            return 504, error_body("Gateway timeout", kind="server_error"), {}
        self.wait(self.latency)
        refusal = self.refusal_for(outcome, model)
        if refusal is not None:
            return refusal.status, refusal.body, refusal.headers
        if outcome == "malformed":
            return 200, b'{"created": 1, "data": [', {}
        return 200, self.answer(model, side, n, fmt, body, outcome), {}


def main(fake_class: type = FakeOpenAI, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"A fake {fake_class.provider_name} images API on loopback.")
    parser.add_argument("--port", type=int, default=fake_class.default_port)
    parser.add_argument("--latency", type=float, default=0.75, help="seconds before each answer")
    parser.add_argument("--default-outcome", choices=OUTCOMES, default="ok", help="outcome of calls not otherwise scripted")
    args = parser.parse_args(argv)
    fake = fake_class(port=args.port, latency=args.latency, default_outcome=args.default_outcome).start()
    print(f"Fake {fake.provider_name} at {fake.url}/v1  key {fake.api_key}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
