"""A process a stack of ours runs (the fault suite's, the benchmarks'): in its own session, logging
to a file (appended to across restarts), started until it listens or says it is ready, stopped
warmly or killed with everything it started."""

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import PROJECT_DIR
from tests.support.services import wait_for_port
from tests.support.workers import child_pids


@dataclass
class Proc:
    """A process of the stack in its own session, logging to `log` (appended to across restarts)."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self, *, port: int | None = None, ready_text: str = "", timeout: float = 90.0) -> "Proc":
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.args, cwd=PROJECT_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        if port is not None:
            wait_for_port(port, timeout=timeout, proc=self.proc)
        if ready_text:
            deadline = time.monotonic() + timeout
            while ready_text not in log_since(self.log, offset):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not get ready:\n{log_since(self.log, offset)[-3000:]}")
                time.sleep(0.1)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def children(self) -> list[int]:
        return child_pids(self.pid) if self.alive else []

    def kill(self) -> None:
        """SIGKILL to the whole process group (the worker and its pool children at once)."""
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the leader alone (a worker's warm shutdown, uvicorn's graceful one), then
        SIGKILL to what is left of its group while the leader is unreaped (WNOWAIT keeps it a
        zombie, so its group id cannot have been reused)."""
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
            time.sleep(0.05)
        self.kill()

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def log_since(path: Path, offset: int) -> str:
    if not path.exists():
        return ""
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")
