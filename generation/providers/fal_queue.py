"""fal's queue protocol: request URLs, statuses and their server-sent event stream, progress from its logs."""

import contextlib
import json
import queue
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3

from .base import ProviderError, TransientProviderError
from .http import HttpProvider

# fal's official clients know only these three; others (FAILED, CANCELED in 3rd-party schemas) are tolerated.
QUEUED, RUNNING, COMPLETED = "IN_QUEUE", "IN_PROGRESS", "COMPLETED"
FAILED_STATUSES = ("FAILED", "ERROR")
CANCELED_STATUSES = ("CANCELED", "CANCELLED")
# fal's infrastructure "request errors": a new try may succeed.
TRANSIENT_ERROR_TYPES = frozenset(
    {
        "request_timeout",
        "startup_timeout",
        "runner_scheduling_failure",
        "runner_connection_timeout",
        "runner_disconnected",
        "runner_connection_refused",
        "runner_connection_error",
        "runner_incomplete_response",
        "runner_server_error",
        "internal_error",
        "client_disconnected",
    }
)
STEP = re.compile(r"\b(\d+)\s*/\s*(\d+)\b")
MAX_EVENT_BYTES = 1024 * 1024


class StatusStream:
    """One connection to a request's status stream, read by a helper thread into `items`: status
    objects, then ENDED (closed, cut or quiet past the read timeout) or UNAVAILABLE (no stream here:
    404/405, another answer, or no connection), or an error to raise (401/403, a malformed event)."""

    ENDED, UNAVAILABLE = object(), object()

    def __init__(self, provider: HttpProvider, url: str, *, request_id: str) -> None:
        self.items: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._response: requests.Response | None = None
        threading.Thread(target=self._read, args=(provider, url, request_id), name="fal-status-stream", daemon=True).start()

    def _read(self, provider: HttpProvider, url: str, request_id: str) -> None:
        try:
            self._open_and_read(provider, url, request_id)
        except ProviderError as exc:
            self.items.put(exc)
        except Exception as exc:  # the waiting thread must hear of any failure, or it would wait until the deadline
            self.items.put(TransientProviderError(f"fal status stream failed: {exc!r}", request_id=request_id, resumable=True))

    def _open_and_read(self, provider: HttpProvider, url: str, request_id: str) -> None:
        headers = {**provider.auth_headers(), "Accept": "text/event-stream"}
        try:
            response = provider.session.get(url, headers=headers, stream=True, timeout=provider.timeout)
        except (requests.ConnectionError, requests.Timeout):
            self.items.put(self.UNAVAILABLE)
            return
        with self._lock:
            self._response = response
            closed = self._closed
        with response:
            if closed:
                return
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if response.status_code in (401, 403):
                self.items.put(provider.error_for(response, request_id=request_id))
            elif response.status_code != 200 or content_type != "text/event-stream":
                self.items.put(self.UNAVAILABLE)  # 404/405 = no stream here; other answers: polling has the retries
            else:
                for status in read_events(response, request_id=request_id):
                    self.items.put(status)
                self.items.put(self.ENDED)

    def close(self) -> None:
        """Stop the reader: shutting the socket wakes its blocked read at once (close() alone would not)."""
        with self._lock:
            self._closed = True
            response = self._response
        connection = getattr(response.raw, "connection", None) if response is not None else None
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True)
class RequestUrls:
    """Where a request's status, result and cancel are (fal's answer names them, or they are computed)."""

    status: str
    response: str
    cancel: str


class FalProgress:
    """Turns fal statuses into progress reports, sent only when they change (and never backwards)."""

    def __init__(self, on_progress: Callable[[int, str], None]) -> None:
        self.on_progress = on_progress
        self.percent, self.message = 0, ""

    def report(self, percent: int, message: str) -> None:
        percent = max(percent, self.percent)
        if (percent, message) != (self.percent, self.message):
            self.percent, self.message = percent, message
            self.on_progress(percent, message)

    def status(self, status: dict) -> None:
        name = status.get("status")
        if name == QUEUED:
            position = status.get("queue_position")
            if isinstance(position, int) and position >= 0:
                # fal's position is 0-based ("0" = next to run); people count from 1.
                self.report(15 - min(position, 10), f"Waiting at fal, position {position + 1}")
            else:
                self.report(5, "Waiting at fal")
        elif name == RUNNING:
            step = last_step(status.get("logs"))
            if step is None:
                self.report(20, "Generating at fal")
            else:
                done, total = step
                self.report(20 + round(70 * done / total), f"Generating at fal (step {done}/{total})")


def last_step(logs: object) -> tuple[int, int] | None:
    """The latest "step i/n" (or tqdm "i/n") in fal's log lines."""
    if not isinstance(logs, list):
        return None
    for entry in reversed(logs):
        message = entry.get("message") if isinstance(entry, dict) else None
        match = STEP.search(message) if isinstance(message, str) else None
        if match and int(match.group(2)) > 0 and int(match.group(1)) <= int(match.group(2)):
            return int(match.group(1)), int(match.group(2))
    return None


def with_query(url: str, query: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


def with_path_suffix(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


def positive_int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def stream_url(urls: RequestUrls) -> str:
    """The status stream of a request, with its logs (progress steps)."""
    return with_query(with_path_suffix(urls.status, "/stream"), "logs=1")


def read_events(response: requests.Response, *, request_id: str) -> Iterator[dict]:
    """Each server-sent event's data as a status object (`event:`, `id:` and comments ignored)."""
    buffer, data = b"", []
    while True:
        try:
            # read1 hands over whatever arrived (read(n) would wait for n bytes: a late event).
            chunk = response.raw.read1(64 * 1024)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError, ValueError):
            return  # timed out, dropped, or shut by close(): the caller reopens if still waiting
        if not chunk:
            if data:
                yield _event(data, request_id=request_id)
            return
        buffer += chunk
        if len(buffer) > MAX_EVENT_BYTES:
            raise TransientProviderError("fal sent an oversized status event", request_id=request_id, resumable=True)
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            line = line.rstrip(b"\r")
            if not line:
                if data:
                    yield _event(data, request_id=request_id)
                    data = []
            elif line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))


def _event(data: list[bytes], *, request_id: str) -> dict:
    try:
        status = json.loads(b"\n".join(data))
    except ValueError:
        status = None
    return checked_status(status, request_id=request_id)


def checked_status(status: object, *, request_id: str) -> dict:
    if not isinstance(status, dict) or not isinstance(status.get("status"), str):
        raise TransientProviderError("fal sent a status that is not a JSON status object", request_id=request_id, resumable=True)
    return status


def finished(status: dict) -> bool:
    return status["status"] in (COMPLETED, *FAILED_STATUSES, *CANCELED_STATUSES)
