"""The plumbing every fake service shares: a threaded HTTP server on a free loopback port, and a
request handler base that answers quietly."""

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


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


class LoopbackServer:
    """Subclasses define `_handler()`; call `_serve()` from their __post_init__."""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _serve(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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
