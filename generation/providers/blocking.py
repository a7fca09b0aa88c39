"""Waiting on a provider whose answer is one blocking HTTP call (OpenAI, Together, Stability,
AUTOMATIC1111) while still honouring cancel and the deadline: the call runs on a daemon thread,
the caller watches."""

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def call_watching(call: Callable[[], T], *, watch: Callable[[], None], interval: float | Callable[[], float]) -> T:
    """`call()` on a daemon thread; `watch()` every `interval` seconds (or as long as `interval()`
    says, e.g. no later than a deadline) until it returns. `watch` stops the wait by raising (cancel,
    deadline): the call is then abandoned, its thread ends when the provider answers or its read
    timeout passes (a daemon: it never holds the process)."""
    next_wait = interval if callable(interval) else lambda: interval
    outcome: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the waiting caller, never lost on the thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="provider-call", daemon=True).start()
    while not done.wait(next_wait()):
        watch()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
