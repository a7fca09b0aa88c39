"""The fault suite's stack, as production runs it, with faults injected from outside: its own
PostgreSQL (restartable on the same port and data), Redis (append-only file, noeviction, as in
docker-compose.yml), the S3 server behind a TCP proxy the suite can cut, uvicorn serving the site,
one Celery prefork worker per lane, beat with short intervals, and the fal and Replicate fakes as
processes that count every request they receive (read and scripted over `/_fake/`).

Used by tests/faults (one stack for the package's cases, its database reached through a Django
alias of its own) and by bench/faults.py (Django set up on the stack's database). Every process logs to
`logs/<name>.log` (test-artifacts/faults/ for the tests); each case writes a marker line into
every log when it starts, so a case's lines can be found.
"""

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import PRIVATE_BUCKET, PUBLIC_BUCKET, S3_KEY_ID, S3_SECRET, SERVICE_ENV_VARS, create_buckets
from tests.faults.books import Books, ProviderRequest, books_check, prompt_key, s3_object_exists
from tests.support.managed import Proc, log_since
from tests.support.processes import PROJECT_DIR, uvicorn_args
from tests.support.services import PostgresServer, RedisServer, S3Server, free_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.workers import worker_args

PYTHON = sys.executable
# Worker processes per lane: two where jobs run, so two runs of one job can really run at once.
LANES = {"standard": 2, "premium": 2, "batch": 1}
JOB_LANES = ("standard", "premium")
BROKER_QUEUES = ("enterprise", "premium", "standard", "batch")
TERMINAL = ("succeeded", "failed", "canceled")
# The last line of a traceback in a log: "psycopg.OperationalError: ...".
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")


@dataclass(frozen=True)
class Timings:
    """The stack's settings, short enough for a case to see a run deadline, the reconciler and a
    redelivery; the visibility timeout stays longer than any task may run. The run deadline is long
    enough that a job finished promptly after a short fault (tests/faults/cases.py SETTLE_SHORT)
    cannot have waited for the reconciler to find it."""

    provider_latency: float = 1.5  # seconds each fake takes to generate
    run_timeout: int = 45  # GENERATION_RUN_TIMEOUT_SECONDS
    queue_timeout: int = 90  # GENERATION_QUEUE_TIMEOUT_SECONDS
    reconcile_every: int = 2  # GENERATION_RECONCILE_EVERY_SECONDS (beat)
    reconcile_grace: int = 2  # GENERATION_RECONCILE_GRACE_SECONDS
    task_time_limit: int = 80  # CELERY_TASK_TIME_LIMIT (its soft limit, 20 s earlier, must not cut a run short)
    visibility_timeout: int = 100  # CELERY_VISIBILITY_TIMEOUT
    provider_backoff: float = 0.5  # GENERATION_PROVIDER_BACKOFF_SECONDS
    poll_interval: float = 0.2  # GENERATION_POLL_INTERVAL_SECONDS
    breaker_failures: int = 5  # GENERATION_BREAKER_FAILURES
    lease: float = 6.0  # GENERATION_LEASE_SECONDS: a dead run's job is taken over this soon
    requeue_after: int = 20  # GENERATION_REQUEUE_AFTER_SECONDS: a queued job's lost message is sent again

    def __post_init__(self) -> None:
        soft_limit = self.task_time_limit - min(30, self.task_time_limit // 4)  # as avatarsite/settings/base.py
        assert self.visibility_timeout > self.task_time_limit, "a task must end before Redis hands it out again"
        assert soft_limit > self.run_timeout + 10, "a run must reach its own deadline before the soft time limit"


@dataclass
class FakeProcess:
    """A provider fake run as a process, read and scripted over its `/_fake/` endpoints."""

    proc: Proc
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, method: str, action: str, body: dict | None = None) -> dict:
        import requests

        response = requests.request(method, f"{self.url}/_fake/{action}", json=body if method == "POST" else None, timeout=10)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        return self._call("GET", "stats")

    def script(self, **changes: object) -> dict:
        """E.g. script(down=True), script(default_outcome="hang"), script(latency=3.0)."""
        return self._call("POST", "script", changes)

    def reset(self) -> dict:
        return self._call("POST", "reset")

    def requests(self) -> list[ProviderRequest]:
        return ProviderRequest.from_stats(self.stats())


# --- the stack -------------------------------------------------------------------------------------


@dataclass
class User:
    name: str
    plan: str
    key: str


@dataclass
class FaultStack:
    """Start with `start()`, stop with `stop()`; `attach_database(url)` makes the stack's database
    reachable from this process and returns its Django alias (called once it runs)."""

    logs: Path
    attach_database: Callable[[str], str]
    timings: Timings = field(default_factory=Timings)
    postgres: PostgresServer = field(default_factory=lambda: PostgresServer(durable=True))
    redis: RedisServer = field(default_factory=lambda: RedisServer(appendonly=True))
    s3: S3Server = field(default_factory=S3Server)
    db: str = "default"
    users: dict[str, User] = field(default_factory=dict)
    workers: dict[str, Proc] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    case: str = ""

    def __post_init__(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for old in self.logs.glob("*.log"):
            old.unlink()
        self.tmp = Path(tempfile.mkdtemp(prefix="avatarsite-faults-"))
        self.redis.logfile = self.logs / "redis.log"
        self._proxy: TcpProxy | None = None
        self.fakes: dict[str, FakeProcess] = {}
        self.web_port = free_port()
        self._started: list[Callable[[], None]] = []
        self._object_exists: Callable[[str], bool] | None = None
        self.postgres_running = False
        self.case_offsets: dict[Path, int] = {}

    # --- start and stop ------------------------------------------------------------------------
    def start(self) -> "FaultStack":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        t = self.timings
        self.postgres.start()
        self.postgres_running = True
        self._started.append(self._stop_postgres)
        self.redis.start()
        self._started.append(self.redis.remove)
        self.s3.start()
        self._started.append(self.s3.stop)
        create_buckets(self.s3.url)
        self._proxy = TcpProxy(self.s3.port).start()
        self._started.append(self.proxy.stop)
        self._object_exists = s3_object_exists(endpoint_url=self.s3.url, bucket=PRIVATE_BUCKET, access_key=S3_KEY_ID, secret_key=S3_SECRET)
        for name in ("fal", "replicate"):
            port = free_port()
            proc = self._proc(
                f"fake-{name}", [PYTHON, "-m", f"tests.fakes.{name}", "--port", str(port), "--latency", str(t.provider_latency)]
            )
            proc.start(port=port)
            self.fakes[name] = FakeProcess(proc, port)
        self._setup_command([PYTHON, "manage.py", "migrate", "--noinput"])
        seeded = self._setup_command([PYTHON, "-m", "tests.faults.seed"])
        from tests.faults.seed import USERS

        self.users = {name: User(name, USERS[name], key) for name, key in json.loads(seeded).items()}
        self.db = self.attach_database(self.postgres.url)
        self._proc("uvicorn", uvicorn_args(self.web_port)).start(port=self.web_port)
        for lane in LANES:
            self.worker_start(lane)
        beat = [PYTHON, "-m", "celery", "-A", "avatarsite", "beat", "-s", str(self.tmp / "beat-schedule"), "-l", "INFO"]
        self._beat = self._proc("beat", beat).start(ready_text="beat: Starting")

    def _setup_command(self, args: list[str]) -> str:
        """Run a command on the stack to its end; its output (stderr goes to setup.log)."""
        with open(self.logs / "setup.log", "ab") as log:
            done = subprocess.run(args, cwd=PROJECT_DIR, env=self.env(), stdout=subprocess.PIPE, stderr=log)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[1:])} failed ({done.returncode}): see {self.logs / 'setup.log'}")
        return done.stdout.decode()

    def _proc(self, name: str, args: list[str]) -> Proc:
        proc = Proc(name, args, self.env(), self.logs / f"{name}.log")
        self.procs.append(proc)
        return proc

    def _stop_postgres(self) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            log = (self.postgres.root / "log").read_bytes()
            (self.logs / "postgres.log").write_bytes(log)
        self.postgres.stop()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(grace=5)
        for stop in reversed(self._started):
            with contextlib.suppress(Exception):
                stop()
        self._started.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """Every process's environment: the project's variables (README) pointing at this stack."""
        t = self.timings
        inherited = {
            key: value
            for key, value in os.environ.items()
            if key not in SERVICE_ENV_VARS and not key.startswith(("FAL_", "REPLICATE_", "GENERATION_", "CELERY_", "DJANGO_", "DATABASE_"))
        }
        fal = self.fakes["fal"].url if "fal" in self.fakes else ""
        replicate = self.fakes["replicate"].url if "replicate" in self.fakes else ""
        storage = self._proxy.url if self._proxy else ""
        return {
            **inherited,
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "avatarsite.settings.test",
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "R2_ENDPOINT_URL": storage,
            "R2_REGION": "us-east-1",
            "R2_ACCESS_KEY_ID": S3_KEY_ID,
            "R2_SECRET_ACCESS_KEY": S3_SECRET,
            "R2_BUCKET": PRIVATE_BUCKET,
            "R2_PUBLIC_BUCKET": PUBLIC_BUCKET,
            "R2_PUBLIC_URL": f"{storage}/{PUBLIC_BUCKET}",
            "FAL_KEY": "fal-test-key",
            "FAL_QUEUE_URL": fal,
            "FAL_OUTPUT_HOSTS": "127.0.0.1",
            "REPLICATE_API_TOKEN": "r8_fake-replicate-token",
            "REPLICATE_API_URL": replicate,
            "REPLICATE_OUTPUT_HOSTS": "127.0.0.1",
            "REPLICATE_PREFER_WAIT_SECONDS": "5",
            "OUTBOUND_ALLOW_LOOPBACK": "true",
            "GENERATION_RUN_TIMEOUT_SECONDS": str(t.run_timeout),
            "GENERATION_QUEUE_TIMEOUT_SECONDS": str(t.queue_timeout),
            "GENERATION_RECONCILE_EVERY_SECONDS": str(t.reconcile_every),
            "GENERATION_RECONCILE_GRACE_SECONDS": str(t.reconcile_grace),
            "GENERATION_PROVIDER_BACKOFF_SECONDS": str(t.provider_backoff),
            "GENERATION_POLL_INTERVAL_SECONDS": str(t.poll_interval),
            "GENERATION_BREAKER_FAILURES": str(t.breaker_failures),
            "GENERATION_LEASE_SECONDS": str(t.lease),
            "GENERATION_REQUEUE_AFTER_SECONDS": str(t.requeue_after),
            "CELERY_TASK_TIME_LIMIT": str(t.task_time_limit),
            "CELERY_VISIBILITY_TIMEOUT": str(t.visibility_timeout),
            "GALLERY_IMPORT_TIME_LIMIT_SECONDS": str(t.task_time_limit),
            "SITE_URL": f"http://127.0.0.1:{self.web_port}",
        }

    @property
    def proxy(self) -> TcpProxy:
        assert self._proxy is not None, "the stack is not started"
        return self._proxy

    @property
    def fal(self) -> FakeProcess:
        return self.fakes["fal"]

    @property
    def replicate(self) -> FakeProcess:
        return self.fakes["replicate"]

    # --- workers ---------------------------------------------------------------------------------
    def worker_start(self, lane: str) -> Proc:
        """The lane's worker (a new one if it was killed), once it says it is ready."""
        current = self.workers.get(lane)
        if current is not None and current.alive:
            return current
        if current is None:
            current = self._proc(f"worker-{lane}", worker_args(lane, name=f"faults-{lane}", concurrency=LANES[lane]))
            self.workers[lane] = current
        current.start(ready_text=" ready.")
        return current

    def beat_stop(self) -> None:
        self._beat.stop()

    def beat_start(self) -> None:
        if not self._beat.alive:
            self._beat.start(ready_text="beat: Starting")

    def queue_drop(self, queue: str, *, priority: int) -> int:
        """Delete the messages waiting in `queue` at `priority`; how many there were."""
        import redis

        name = queue if priority == 0 else f"{queue}:{priority}"  # Redis lists per priority step (0: the bare name)
        with redis.Redis.from_url(self.redis.url) as broker:
            waiting, _ = broker.pipeline().llen(name).delete(name).execute()
        return int(waiting)

    def worker_stop(self, lane: str) -> None:
        """Stop the lane's worker as a deploy does (SIGTERM: it finishes what it runs)."""
        self.workers[lane].stop(grace=30)

    def worker_kill(self, lane: str) -> None:
        """SIGKILL the lane's whole worker (main process and pool children)."""
        self.workers[lane].kill()

    def pool_children(self, lane: str) -> list[int]:
        return self.workers[lane].children()

    def kill_pool_children(self, lane: str) -> list[int]:
        """SIGKILL every pool child of the lane's worker (the main process replaces them)."""
        killed = self.pool_children(lane)
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return killed

    # --- faults -----------------------------------------------------------------------------------
    def postgres_down(self) -> None:
        self.postgres.halt()
        self.postgres_running = False

    def postgres_up(self) -> None:
        self.postgres.resume()
        self.postgres_running = True

    def redis_restart(self, *, down_seconds: float = 1.0) -> None:
        self.redis.restart(down_seconds=down_seconds)

    def s3_cut(self) -> None:
        self.proxy.cut("refuse")

    def s3_restore(self) -> None:
        self.proxy.restore()

    # --- the API -----------------------------------------------------------------------------------
    def submit(self, user: str, prompt: str, *, size: int = 1024) -> str:
        """POST /api/v1/generations as `user` (with its API key); the new job's id."""
        import requests

        response = requests.post(
            f"http://127.0.0.1:{self.web_port}/api/v1/generations",
            json={"prompt": prompt, "size": size},
            headers={"Authorization": f"Bearer {self.users[user].key}"},
            timeout=30,
        )
        if response.status_code != 202:
            raise RuntimeError(f"POST /api/v1/generations as {user} answered {response.status_code}: {response.text[:500]}")
        return response.json()["id"]

    def submit_together(self, requests: list[tuple[str, str]], *, size: int = 1024) -> list[str]:
        """Send these (user, prompt) requests at the same moment (one thread each); their job ids."""
        barrier = threading.Barrier(len(requests))
        ids: list[str | BaseException] = [""] * len(requests)

        def send(index: int, user: str, prompt: str) -> None:
            barrier.wait(timeout=30)
            try:
                ids[index] = self.submit(user, prompt, size=size)
            except BaseException as exc:  # raised below, in the caller's thread
                ids[index] = exc

        threads = [threading.Thread(target=send, args=(index, *request)) for index, request in enumerate(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for value in ids:
            if isinstance(value, BaseException):
                raise value
        return [str(value) for value in ids]

    def publish_job_run(self, job_id: str) -> None:
        """One more `job_run` message for the job, on its queue at its priority (as a redelivery)."""
        from avatarsite.celery import app
        from generation.models import GenerationJob
        from generation.tasks import job_run

        queue, priority = GenerationJob.objects.using(self.db).filter(pk=job_id).values_list("queue", "priority").get()
        with app.connection_for_write(self.redis.url) as connection:
            job_run.apply_async(args=[job_id], queue=queue, priority=priority, connection=connection)

    # --- reading the database (which a case may have taken down) ------------------------------------
    def read(self, query: Callable[[], object], default: object = None) -> object:
        """`query()`, or `default` when the database cannot answer now (the connection is dropped)."""
        from django.db import Error, connections

        try:
            return query()
        except Error:
            connections[self.db].close()
            return default

    def job_states(self, job_ids: list[str]) -> dict[str, str]:
        from generation.models import GenerationJob

        rows = self.read(lambda: list(GenerationJob.objects.using(self.db).filter(pk__in=job_ids).values_list("pk", "status")), [])
        return {str(pk): status for pk, status in rows}

    def in_flight(self, job_ids: list[str]) -> list[str]:
        """Jobs mid-generation: a provider holds a running request for the job, and (fal) the ledger
        has recorded its id. Replicate's id is recorded only when its create call answers, which with
        `Prefer: wait` is when the prediction is done: a running prediction is the job's mid-generation."""
        from generation.models import CostEntry, GenerationJob

        def rows() -> tuple[dict[str, str], set[str]]:
            prompts = GenerationJob.objects.using(self.db).filter(pk__in=job_ids).values_list("pk", "prompt")
            recorded = CostEntry.objects.using(self.db).filter(job_id__in=job_ids, outcome=CostEntry.Outcome.PENDING).exclude(request_id="")
            return {prompt_key(prompt): str(pk) for pk, prompt in prompts}, set(recorded.values_list("request_id", flat=True))

        jobs, recorded = self.read(rows, ({}, set()))
        running = [request for request in self.fal.requests() + self.replicate.requests() if request.state == "running"]
        return sorted(
            {
                jobs[prompt_key(request.prompt)]
                for request in running
                if prompt_key(request.prompt) in jobs and (request.id in recorded or request.provider == "replicate")
            }
        )

    def wait_in_flight(self, job_ids: list[str], *, count: int, lanes: tuple[str, ...] = JOB_LANES, timeout: float = 30.0) -> list[str]:
        """Until `count` of these jobs (of these lanes) are mid-generation; their ids."""
        from generation.models import GenerationJob

        lane_of = dict(self.read(lambda: list(GenerationJob.objects.using(self.db).filter(pk__in=job_ids).values_list("pk", "queue")), []))
        wanted = {str(pk) for pk, lane in lane_of.items() if lane in lanes}
        deadline = time.monotonic() + timeout
        while True:
            busy = [job_id for job_id in self.in_flight(job_ids) if job_id in wanted]
            if len(busy) >= count:
                return busy
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(busy)} of {count} jobs got to their provider within {timeout:.0f} s")
            time.sleep(0.05)

    def wait_final(self, job_ids: list[str], *, until: float) -> dict[str, str]:
        """Until every job is final or time.monotonic() passes `until`; the last states read."""
        while True:
            states = self.job_states(job_ids)
            if len(states) == len(job_ids) and all(status in TERMINAL for status in states.values()):
                return states
            if time.monotonic() > until:
                return states
            time.sleep(0.25)

    def books(self, job_ids: list[str]) -> Books:
        assert self._object_exists is not None
        requests = self.fal.requests() + self.replicate.requests()
        return books_check(job_ids=job_ids, provider_requests=requests, object_exists=self._object_exists, db=self.db)

    # --- between cases -----------------------------------------------------------------------------
    def case_begin(self, name: str) -> None:
        """A clean stack for the next case (see `clean`), and a marker in every log."""
        self.clean()
        self.case = name
        self.mark(f"===== fault case {name} starts =====")
        self.case_offsets = {path: path.stat().st_size for path in self.logs.glob("*.log")}

    def mark(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        for path in self.logs.glob("*.log"):
            with open(path, "ab") as log:
                log.write(f"\n[{stamp}] {text}\n".encode())

    def clean(self) -> None:
        """Services up, proxy passing, every lane's worker idle (restarted when a job of the last case
        still runs), no job rows, queues empty, no stored images, breakers closed, fakes as started.
        Beat waits meanwhile, and the rows go first: a reconcile of the last case's jobs can then
        neither settle one nor queue work for it into the next case."""
        import redis

        from generation.models import GenerationJob

        self.proxy.restore()
        if not self.postgres_running:
            self.postgres_up()
        if not (self.redis.proc and self.redis.proc.poll() is None):
            self.redis.start()
        self.beat_stop()
        busy = self._jobs_busy()
        for lane in JOB_LANES:
            if busy or not self.workers[lane].alive:
                self.workers[lane].kill()  # nothing of the last case may run on into this one
                self.worker_start(lane)
        for lane in LANES:
            self.worker_start(lane)
        self.read(lambda: GenerationJob.objects.using(self.db).all().delete())
        with redis.Redis.from_url(self.redis.url) as broker:
            keys = [f"{queue}{suffix}" for queue in BROKER_QUEUES for suffix in ("", *(f":{n}" for n in range(1, 10)))]
            broker.delete(*keys, "unacked", "unacked_index", "unacked_mutex")  # the bindings stay
        for db in (1, 2, 3):  # results, cache (breakers, throttles), channel layer
            with redis.Redis.from_url(self.redis.url.rsplit("/", 1)[0] + f"/{db}") as other:  # the URL's db wins over db=
                other.flushdb()
        self._bucket_empty()
        self.fal.reset()
        self.replicate.reset()
        self.beat_start()
        self._site_healthy()

    def _site_healthy(self, *, timeout: float = 30.0) -> None:
        """Until /healthz says every part is up: after an outage the web process's database pool
        reconnects with a backoff of its own, and the next case's requests must not meet that."""
        import requests

        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{self.web_port}/healthz", timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the site was not healthy within {timeout:.0f} s of the clean-up")
            time.sleep(0.2)

    def _jobs_busy(self, *, wait: float = 10.0) -> bool:
        """Does a job of the last case still run after `wait` seconds: a row not final, or a job task
        held by a worker (a killed worker's messages stay held: they count only while their job runs)?"""
        import redis

        from generation.models import GenerationJob

        deadline = time.monotonic() + wait
        with redis.Redis.from_url(self.redis.url) as broker:
            while True:
                running = self.read(
                    lambda: {
                        str(pk) for pk in GenerationJob.objects.using(self.db).exclude(status__in=TERMINAL).values_list("pk", flat=True)
                    },
                    None,
                )
                held = [
                    message
                    for message in _held_job_messages(broker)
                    if message["task"] == "generation.tasks.job_images_finish" or running is None or message["job_id"] in running
                ]
                if running == set() and not held:
                    return False
                if time.monotonic() > deadline:
                    return True
                time.sleep(0.2)

    def _bucket_empty(self) -> None:
        import boto3

        client = boto3.client(
            "s3", endpoint_url=self.s3.url, region_name="us-east-1", aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET
        )
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=PRIVATE_BUCKET):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=PRIVATE_BUCKET, Delete={"Objects": keys})

    # --- evidence ----------------------------------------------------------------------------------
    def case_log_lines(self, needles: list[str], *, limit: int = 40) -> str:
        """This case's log lines that mention any of `needles` (job ids, ...), warnings, errors and
        the exceptions that ended tracebacks, per log."""
        out = []
        for path, offset in sorted(self.case_offsets.items()):
            lines = [
                line
                for line in log_since(path, offset).splitlines()
                if any(needle in line for needle in needles) or "ERROR/" in line or "WARNING/" in line or EXCEPTION_LINE.match(line)
            ]
            if lines:
                out.append(f"--- {path.name} ({len(lines)} line(s); first {min(limit, len(lines))}) ---")
                out.extend(line[:400] for line in lines[:limit])
        return "\n".join(out)

    def case_log(self, lane_or_name: str) -> str:
        """This case's part of one process's log (e.g. "worker-standard", "beat")."""
        path = self.logs / f"{lane_or_name}.log"
        return log_since(path, self.case_offsets.get(path, 0))


def _held_job_messages(broker) -> list[dict]:
    """The job tasks the broker holds as delivered and unacknowledged: [{"task", "job_id"}]."""
    held = []
    for raw in broker.hvals("unacked"):
        message = json.loads(raw)[0]
        task = message["headers"]["task"]
        if task.startswith("generation.tasks.job_"):
            args = json.loads(base64.b64decode(message["body"]))[0]
            held.append({"task": task, "job_id": str(args[0]) if args else ""})
    return held


@contextlib.contextmanager
def fault_stack(*, logs: Path, attach_database: Callable[[str], str], timings: Timings | None = None) -> Iterator[FaultStack]:
    stack = FaultStack(logs=logs, attach_database=attach_database, timings=timings or Timings())
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
