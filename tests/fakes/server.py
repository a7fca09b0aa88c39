"""The plumbing every fake service shares: a threaded HTTP server on a free loopback port, a
request handler base that answers quietly, and the control endpoints of a fake run as a process.

A fake started as a process (`python -m tests.fakes.fal --port N`) is read and steered over HTTP
under `/_fake/` (never part of the provider's protocol): `GET /_fake/stats` answers what it
received per request id, `POST /_fake/script` (a JSON object) changes how it behaves from now on,
`POST /_fake/reset` forgets what it saw and returns to how it was started (see FakeControl)."""

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

CONTROL_PREFIX = "/_fake/"


class FakeHandler(BaseHTTPRequestHandler):
    """No access log; `_send` writes one answer, and a client that already hung up (some tests time
    out on purpose) is not an error."""

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes | dict, content_type: str = "application/json", headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def _control(self, fake: "FakeControl") -> bool:
        """Answer a `/_fake/...` control request (True), or leave the request alone (False)."""
        if not self.path.startswith(CONTROL_PREFIX):
            return False
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        action = self.path[len(CONTROL_PREFIX) :].split("?", 1)[0].strip("/")
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("a JSON object is required")
            if (self.command, action) == ("GET", "stats"):
                answer = fake.control_stats()
            elif (self.command, action) == ("POST", "script"):
                answer = fake.control_script(body)
            elif (self.command, action) == ("POST", "reset"):
                answer = fake.control_reset()
            else:
                self._send(404, {"detail": f"no control {self.command} {action}"})
                return True
        except (ValueError, TypeError, AttributeError) as exc:
            self._send(400, {"detail": str(exc)})
            return True
        self._send(200, answer)
        return True


class FakeControl:
    """What a fake offers its control endpoints (see the module docstring)."""

    # Fields `POST /_fake/script` may set, with the type each takes.
    scriptable: dict[str, type] = {}

    def control_stats(self) -> dict[str, Any]:
        raise NotImplementedError

    def control_reset(self) -> dict[str, Any]:
        raise NotImplementedError

    def control_snapshot(self) -> dict[str, Any]:
        """The scriptable fields as they are now."""
        return {name: getattr(self, name) for name in self.scriptable}

    def control_script(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - set(self.scriptable)
        if unknown:
            raise ValueError(f"not scriptable: {', '.join(sorted(unknown))}")
        for name, value in body.items():
            kind = self.scriptable[name]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ValueError(f"{name} must be a {kind.__name__}")
            setattr(self, name, value)
        return self.control_snapshot()


class LoopbackServer:
    """Subclasses define `_handler()`; call `_serve()` from their __post_init__. It listens on
    127.0.0.1 at `self.port` (0 or absent: a free one), one daemon thread per request."""

    server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer
    # The listen backlog: None is socketserver's 5, too few when a benchmark opens ~50 connections at once.
    backlog: int | None = None
    # How often serve_forever looks for shutdown: a short poll makes stop() quick (tests start and stop a fake each).
    poll_interval: float = 0.5

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _serve(self) -> None:
        server_class = self.server_class
        if self.backlog is not None:
            server_class = type(f"{type(self).__name__}Server", (server_class,), {"request_queue_size": self.backlog})
        self._server = server_class(("127.0.0.1", getattr(self, "port", 0)), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": self.poll_interval}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# The three ways a test scripts a fake's next outcome (the fal and Replicate fakes take all three).
SCRIPTED_BY = ("next_outcomes", "prompt marker", "default_outcome")


def outcome_scripted(fake, outcome: str, *, prompt: str, by: str) -> str:
    """Script `fake`'s next request to end in `outcome` in one of SCRIPTED_BY ways; the prompt to send."""
    if by == "next_outcomes":
        fake.next_outcomes.append(outcome)
    elif by == "prompt marker":
        prompt += f" [fake:{outcome}]"
    else:
        fake.default_outcome = outcome
    return prompt
