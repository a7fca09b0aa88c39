"""A TCP proxy on 127.0.0.1 that a test can cut and restore: the fault suite puts it in front of the
S3 server, so storage goes away for the processes that use it while the server keeps its objects.

`cut("refuse")` closes the listening socket (new connections are refused, as by a server that is
down) and resets every connection in flight; `cut("reset")` keeps accepting but resets each new
connection at once (as a proxy or load balancer without a healthy backend does). `restore()` takes
connections again, on the same port. `latency`: seconds each answer from the target is held before
it is passed on (a slow server: every request takes at least that long).
"""

import contextlib
import select
import socket
import struct
import threading
import time
from typing import Literal, Self

from tests.support.services import free_port

CutMode = Literal["refuse", "reset"]
_CHUNK = 64 * 1024


def _reset(sock: socket.socket) -> None:
    """Close with an RST (linger 0), so the peer sees `connection reset`, not a clean end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target_port`, one pair of pump threads per connection."""

    def __init__(self, target_port: int, *, port: int | None = None, latency: float = 0.0) -> None:
        self.target_port = target_port
        self.latency = latency
        self.port = port or free_port()
        self.mode: CutMode | None = None  # None: passing traffic
        self.cuts = 0
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._ends: dict[tuple[socket.socket, socket.socket], int] = {}  # directions of a pair that ended
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, name=f"tcp-proxy-{self.port}", daemon=True)
        self._thread.start()
        return self

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        with self._lock:
            self._listener = listener

    def cut(self, mode: CutMode = "refuse") -> None:
        """Storage goes away: new connections refused (or reset), the ones in flight reset."""
        with self._lock:
            self.mode, self.cuts = mode, self.cuts + 1
            listener, self._listener = (self._listener, None) if mode == "refuse" else (None, self._listener)
            pairs, self._pairs = self._pairs, set()
        if listener is not None:
            # shutdown() first: it stops listening at once, even while the accept loop's select()
            # still holds the socket (close() alone lets it take one more connection, then reset it).
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for client, upstream in pairs:
            _reset(client)
            _reset(upstream)

    def restore(self) -> None:
        """Connections pass again (on the same port)."""
        with self._lock:
            closed = self._listener is None
            self.mode = None
        if closed:
            self._listen()

    def stop(self) -> None:
        self._stopping.set()
        self.cut("refuse")
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:  # cut: nothing listens until restore()
                self._stopping.wait(0.02)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):  # closed by cut() meanwhile
                continue
            if self.mode == "reset":
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            for source, sink, delay in ((client, upstream, 0.0), (upstream, client, self.latency)):
                threading.Thread(target=self._pump, args=(source, sink, pair, delay), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pair: tuple[socket.socket, socket.socket], delay: float = 0.0) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                sink.sendall(data)
        except OSError:
            pass
        # One side ended: pass the end on, and close the pair once both directions are done.
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with self._lock:
            ends = self._ends.get(pair, 0) + 1
            self._ends[pair] = ends
            if ends == 2:
                del self._ends[pair]
                self._pairs.discard(pair)
        if ends == 2:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.close()
