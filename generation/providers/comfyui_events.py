"""ComfyUI's websocket (`/ws?clientId=…`, providers.md §5.7, C.7): the sampler's steps of our
prompt, as they happen, and the moment it ends.

Execution events go only to the socket of the client that submitted the prompt, so the socket is
opened before `POST /prompt`, under the same client id. It only informs: the history stays the
truth about a prompt's end (a resumed run, whose socket is not the submitter's, hears nothing and
polls), and a socket that cannot be opened or drops leaves the adapter polling as before.
"""

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

logger = logging.getLogger(__name__)

# Events after which the prompt's history entry is written: ask for it at once.
ENDING = ("execution_success", "execution_error", "execution_interrupted")
# The band of the job's progress the sampler's steps fill (queued is 10, running starts at 40).
STEPS_FROM, STEPS_TO = 40, 90


def events_url(api_url: str, client_id: str) -> str:
    """http(s)://host[/prefix] → ws(s)://host[/prefix]/ws?clientId=…"""
    parts = urlsplit(api_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, f"{parts.path.rstrip('/')}/ws", urlencode({"clientId": client_id}), ""))


class PromptEvents:
    """One call's socket. `wait` replaces the sleep between two history polls."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection: ClientConnection | None = connection
        self.step = (0, 0)

    def wait(self, prompt_id: str, *, seconds: float, on_progress: Callable[[int, str], None]) -> None:
        """Up to `seconds`: report the prompt's sampler steps; return early when it has ended."""
        if self.connection is None:
            raise ConnectionError("the websocket is closed")
        try:
            message = self.connection.recv(timeout=max(0.0, seconds))
            while True:
                if self._read(message, prompt_id, on_progress):
                    return
                message = self.connection.recv(timeout=0)
        except TimeoutError:
            return
        except (OSError, WebSocketException) as exc:
            logger.info("comfyui: the websocket dropped (%r); progress by polling", exc)
            self.close()
            raise ConnectionError("the websocket dropped") from exc

    def _read(self, message: str | bytes, prompt_id: str, on_progress: Callable[[int, str], None]) -> bool:
        """True when the message says the prompt ended. Binary frames (previews) are skipped."""
        if isinstance(message, bytes):
            return False
        try:
            event = json.loads(message)
        except ValueError:
            return False
        kind, data = event.get("type"), event.get("data")
        if not isinstance(data, dict) or data.get("prompt_id") != prompt_id:
            return False
        if kind in ENDING or (kind == "executing" and data.get("node") is None):
            return True
        if kind == "progress" and isinstance(data.get("value"), int) and isinstance(data.get("max"), int) and data["max"] > 0:
            value, top = min(data["value"], data["max"]), data["max"]
            if (value, top) != self.step:
                self.step = (value, top)
                on_progress(STEPS_FROM + (STEPS_TO - STEPS_FROM) * value // top, f"Generating the image (step {value} of {top})")
        return False

    def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            connection.close()


@contextlib.contextmanager
def prompt_events(api_url: str, client_id: str, *, headers: dict[str, str], timeout: float) -> Iterator[PromptEvents | None]:
    """The call's socket while the call lasts, or None when it cannot be had (the adapter then only polls)."""
    # No proxy from the environment: ComfyUI is the operator's own server, as its HTTP calls are.
    try:
        opening = connect(events_url(api_url, client_id), additional_headers=headers, open_timeout=timeout, proxy=None)
        connection = opening.__enter__()
    except (OSError, TimeoutError, WebSocketException) as exc:
        logger.info("comfyui: no websocket (%r); progress by polling", exc)
        yield None
        return
    events = PromptEvents(connection)
    try:
        yield events
    finally:
        events.close()
