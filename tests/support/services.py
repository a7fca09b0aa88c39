"""Real services for the test run: PostgreSQL, Redis and an S3 server (moto), each on 127.0.0.1.

Each one is started in a temporary folder on a free port and stopped at the end of the run. The
fault suite (tests/faults/) also takes PostgreSQL and Redis down and brings them back on the same
port and data (`PostgresServer.halt`/`resume`, `RedisServer.restart` with `appendonly`).
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def _pg_tool(name: str) -> str:
    for bin_dir in PG_BIN_DIRS:
        if (bin_dir / name).exists():
            return str(bin_dir / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return found


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl), run as `postgres` when we are root.

    Without `durable`, commits return before their WAL is written (fast, and a crash may lose the
    last ones); a cluster that a test crashes (`halt`) must be `durable`, so a commit stays committed."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="avatarsite-pg-")))
    durable: bool = False

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/avatarsite"

    def _run_as(self) -> list[str]:
        # initdb refuses to run as root; CI runs as root.
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def start(self) -> None:
        data = self.root / "data"
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        prefix = self._run_as()
        subprocess.run(
            [*prefix, _pg_tool("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        self.resume()
        subprocess.run(
            [_pg_tool("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", "CREATE DATABASE avatarsite"],
            check=True,
            capture_output=True,
        )

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self._run_as(), _pg_tool("pg_ctl"), "-D", str(self.root / "data"), *args], check=check, capture_output=True)

    def resume(self) -> None:
        """Start the server on the cluster made by start() (again after halt(): same port, same data)."""
        # fsync=off loses nothing when only the server dies (the operating system still holds the writes).
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off -c full_page_writes=off"
        if not self.durable:
            options += " -c synchronous_commit=off"
        self._pg_ctl("-o", options, "-l", str(self.root / "log"), "-w", "start")

    def halt(self) -> None:
        """Stop the server as a crash would (every connection cut, no checkpoint), keeping its data."""
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return self._pg_ctl("status", check=False).returncode == 0

    def stop(self) -> None:
        data = self.root / "data"
        if data.exists():
            subprocess.run([*self._run_as(), _pg_tool("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class ProcessServer:
    """A server process in its own process group, stopped with everything it started."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> None:
        wait_for_port(self.port, proc=self.proc)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.ready()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class RedisServer(ProcessServer):
    """`appendonly`: as docker-compose.yml runs it (an append-only file in `root`, which survives
    `restart()`); without it nothing is written to disk."""

    appendonly: bool = False
    root: Path | None = None
    logfile: Path | None = None

    def command(self) -> list[str]:
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        persistence = ["--appendonly", "no"]
        if self.appendonly:
            self.root = self.root or Path(tempfile.mkdtemp(prefix="avatarsite-redis-"))
            persistence = ["--appendonly", "yes", "--dir", str(self.root)]
        if self.logfile is not None:
            persistence += ["--logfile", str(self.logfile)]
        return [
            redis_server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            *persistence,
            "--maxmemory-policy",
            "noeviction",
        ]

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Stop (SIGTERM: Redis writes its append-only file and exits), stay down, start again on the same port."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def remove(self) -> None:
        """Stop, and delete the append-only file's folder."""
        self.stop()
        if self.appendonly and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class S3Server(ProcessServer):
    """moto in server mode: the S3 API over HTTP, standing in for R2 (see s3_server.py)."""

    def command(self) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("s3_server.py")), "-H", "127.0.0.1", "-p", str(self.port)]

    def ready(self) -> None:
        super().ready()
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=2).close()  # noqa: S310 - loopback test server
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
