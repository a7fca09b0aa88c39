"""A fake S3 endpoint that records the headers of every request (moto accepts what R2 rejects)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class CapturedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class CaptureLog:
    requests: list[CapturedRequest] = field(default_factory=list)

    def puts(self) -> list[CapturedRequest]:
        return [r for r in self.requests if r.method == "PUT"]


def _handler(log: CaptureLog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            log.requests.append(CapturedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))

        def do_HEAD(self) -> None:  # the object does not exist yet
            self._record()
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_PUT(self) -> None:
            self._record()
            self.send_response(200)
            self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def s3_capture_server() -> Iterator[tuple[str, CaptureLog]]:
    log = CaptureLog()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
