"""Benchmark of on-demand generation through the real pipeline, against the fake fal server.

Starts a throwaway PostgreSQL, Redis and S3 server (moto), two fake fal servers in their own
processes (`tests.fakes.fal`: one with a fixed generation latency L, 0.75 s by default, one with
none), the ASGI app under uvicorn (one process, as the image runs it) and a Celery worker on the
enterprise lane (prefork, 2 processes by default, as issue 4 measured it; docker-compose.yml now
runs that lane on 64 threads, measured by bench/capacity.py; the enterprise plan has no caps).
Every client is a signed-in user: it POSTs the generate form and follows the job on its websocket,
as the job page does (the page itself is not fetched: it is rendering, not the pipeline).

1. end to end with L, one job at a time on an idle pipeline (the next request once the last job's
   other sizes are stored, so one job's follow-up render does not slow the next): from the form
   POST to the websocket's `succeeded`, p50/p95 and over L; where the time goes, from the stamps
   the pipeline saves (job row, claim, provider call opened and settled, success) and the client's
   clock, and the CPU each part used per job (from /proc, follow-up renders included);
2. the websocket's own latency, worker to client: the receive time of each state message after
   the first (the persisted state, sent on connect) minus its `updated_at`, which the worker saved
   just before sending it (same machine clock);
3. cache hits: the same prompt, style, size and seed again, by the same user; from the POST until
   the websocket's first message holds the stored result (no provider call: the ledger must not grow);
4. throughput: 50 users request at once; jobs/s from the first POST to the last `succeeded`;
5. overhead of the pipeline alone: as 1 against the zero-latency fake (a worker started against it), target p95 < 50 ms;
   then the same back to back, where the follow-up renders share the lane's processes.

The fakes' output files are drawn before each phase (a fake's drawing is not provider latency and
would take this machine's CPU from the pipeline). `--worker-env NAME=VALUE` changes the workers'
environment, e.g. `DJANGO_SETTINGS_MODULE=bench.settings_db_close` (see that module).
Ends with `generation overhead_p50=<e2e p50 / L> cache_hit_p95_ms=<ms> ws_p95_ms=<ms>`.
Everything started is stopped on the way out, also on Ctrl-C, SIGTERM or an error.
Run: `make bench` or `.venv/bin/python -m bench.generation --jobs 40 --burst 50` (about 2.5 minutes).
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from websockets.asyncio.client import connect as ws_connect

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.stack import BENCH_ENV, django_setup, percentile, uvicorn_command  # noqa: E402
from tests.conftest import PRIVATE_BUCKET, PUBLIC_BUCKET, S3_KEY_ID, S3_SECRET, create_buckets  # noqa: E402
from tests.support.managed import Proc  # noqa: E402
from tests.support.services import PostgresServer, RedisServer, S3Server, free_port  # noqa: E402

PYTHON = sys.executable
TERMINAL = ("succeeded", "failed", "canceled")
SIDE = 1024  # the enterprise plan's default size: what the fake draws and the pipeline stores
PICKUP = "job row saved -> worker claimed it (commit, enqueue, pickup)"
PROMPT = "A smiling woman with curly red hair and round glasses, studio light, portrait {n}"


def p50_p95(values: list[float]) -> str:
    return f"p50 {statistics.median(values):8.1f}  p95 {percentile(values, 0.95):8.1f}  max {max(values):8.1f}"


# --- processes ------------------------------------------------------------------------------------


# --- the client -----------------------------------------------------------------------------------


@dataclass
class Client:
    username: str
    cookie: str  # sessionid and csrftoken
    csrf: str


@dataclass
class Run:
    """One request, as the client saw it (perf_counter seconds, and wall time for the server's stamps)."""

    job_id: str = ""
    wall0: float = 0.0
    t0: float = 0.0
    answered: float = 0.0  # the POST's 302 is in
    server_ms: float = 0.0  # Django's own time for the POST (Server-Timing)
    opened: float = 0.0  # the websocket is open
    done: float = 0.0  # the final state message is in
    done_wall: float = 0.0
    sizes_done: float = 0.0  # (when waited for) the follow-up task's message with every size is in
    status: str = ""
    first_status: str = ""
    reused: bool = False
    images: int = 0
    messages: int = 0
    lags_ms: list[float] = field(default_factory=list)  # worker to client, messages after the first

    @property
    def e2e_ms(self) -> float:
        return (self.done - self.t0) * 1000


async def post_form(port: int, path: str, fields: dict[str, str], client: Client) -> tuple[int, dict[str, str], float, bytes]:
    """A browser's form POST on a fresh connection: (status, headers, perf_counter when the head arrived, body)."""
    body = urlencode({"csrfmiddlewaretoken": client.csrf, **fields}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\nCookie: {client.cookie}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        raw = await reader.readuntil(b"\r\n\r\n")
        arrived = time.perf_counter()
        status_line, *header_lines = raw.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.read()  # the rest, until the server closes
        return int(status_line.split()[1]), headers, arrived, body
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def all_sizes_in(state: dict) -> bool:
    """Does this state hold every size and format of every image (the follow-up task has run)?"""
    from gallery.imaging import VARIANT_FORMATS
    from generation.services.images import generated_sizes

    images = state.get("images") or []
    return bool(images) and all(len(image["variants"]) >= len(generated_sizes(image["width"])) * len(VARIANT_FORMATS) for image in images)


async def request_and_follow(port: int, client: Client, *, prompt: str, seed: int, timeout: float, sizes: bool = False) -> Run:
    """POST the generate form, then listen on the job's websocket until a final state arrives (with
    `sizes`, on until the follow-up task announces the other sizes, so the next request starts on an
    idle pipeline)."""
    run = Run(wall0=time.time(), t0=time.perf_counter())
    fields = {"prompt": prompt, "style": "photo", "seed": str(seed)}
    status, headers, run.answered, body = await post_form(port, "/generate/", fields, client)
    if status != 302 or "/generate/jobs/" not in headers.get("location", ""):
        errors = b" ".join(re.findall(rb'<ul class="errorlist[^>]*>(.*?)</ul>', body, re.DOTALL))
        raise RuntimeError(f"POST /generate/ answered {status} for {client.username}: {errors[:300].decode(errors='replace')}")
    with contextlib.suppress(ValueError, IndexError):
        run.server_ms = float(headers.get("server-timing", "").split("dur=")[1])
    run.job_id = headers["location"].rstrip("/").rsplit("/", 1)[-1]
    url = f"ws://127.0.0.1:{port}/ws/jobs/{run.job_id}/"
    async with asyncio.timeout(timeout):
        async with ws_connect(url, origin=f"http://127.0.0.1:{port}", additional_headers={"Cookie": client.cookie}) as socket:
            run.opened = time.perf_counter()
            async for raw in socket:
                now, wall = time.perf_counter(), time.time()
                state = json.loads(raw)
                if not run.status:
                    if run.messages:  # the first is the persisted state, sent on connect
                        run.lags_ms.append((wall - datetime.fromisoformat(state["updated_at"]).timestamp()) * 1000)
                    else:
                        run.first_status = state["status"]
                    run.messages += 1
                    if state["status"] in TERMINAL:
                        run.done, run.done_wall, run.status = now, wall, state["status"]
                        run.reused, run.images = bool(state.get("reused")), len(state.get("images") or [])
                if run.status and (not sizes or run.status != "succeeded" or all_sizes_in(state)):
                    run.sizes_done = now
                    break
    if run.status != "succeeded":
        raise RuntimeError(f"job {run.job_id} ended {run.status or 'without a final state'}")
    return run


async def sequential(port: int, clients: list[Client], seeds: list[int], timeout: float, *, sizes: bool = False) -> list[Run]:
    """One request at a time, the next as soon as the last one's result is in (with `sizes`: its other sizes too)."""
    runs = []
    for index, seed in enumerate(seeds):
        client = clients[index % len(clients)]
        runs.append(await request_and_follow(port, client, prompt=PROMPT.format(n=seed), seed=seed, timeout=timeout, sizes=sizes))
    return runs


async def isolated(port: int, clients: list[Client], seeds: list[int], timeout: float) -> list[Run]:
    """One request at a time on an idle pipeline: the next after the last one's follow-up task too."""
    return await sequential(port, clients, seeds, timeout, sizes=True)


async def concurrent(port: int, clients: list[Client], seeds: list[int], timeout: float) -> list[Run]:
    """All at once, each by another user (while there are users)."""
    return list(
        await asyncio.gather(
            *(
                request_and_follow(port, clients[index % len(clients)], prompt=PROMPT.format(n=seed), seed=seed, timeout=timeout)
                for index, seed in enumerate(seeds)
            )
        )
    )


# --- the database side ----------------------------------------------------------------------------


def make_clients(count: int) -> list[Client]:
    """Users on the enterprise plan (no caps, its own lane), each with a signed-in session."""
    from django.contrib.auth import get_user_model
    from django.test import Client as DjangoClient
    from django.utils.crypto import get_random_string

    from billing.models import Plan, Subscription

    enterprise = Plan.objects.get(slug="enterprise")
    clients = []
    for number in range(count):
        user = get_user_model().objects.create_user(f"bench{number}", f"bench{number}@example.com", password=None)
        Subscription.objects.create(user=user, plan=enterprise)
        browser = DjangoClient()
        browser.force_login(user)
        csrf = get_random_string(32)  # a CSRF secret, as the cookie the form's GET sets; Django takes it unmasked in the form too
        clients.append(Client(user.username, f"sessionid={browser.cookies['sessionid'].value}; csrftoken={csrf}", csrf))
    return clients


def wait_for_follow_ups(job_ids: list[str], timeout: float) -> float:
    """Until every image of these jobs has all its sizes (the follow-up task ran); the seconds waited."""
    from gallery.imaging import VARIANT_FORMATS
    from generation.models import GeneratedImage
    from generation.services.images import generated_sizes

    started = time.monotonic()
    while True:
        images = list(GeneratedImage.objects.filter(job_id__in=job_ids).values_list("width", "variants"))
        if all(len(variants) >= len(generated_sizes(width)) * len(VARIANT_FORMATS) for width, variants in images):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the other sizes of {len(job_ids)} jobs were not all rendered within {timeout:.0f} s")
        time.sleep(0.1)


def provider_calls() -> int:
    from generation.models import CostEntry

    return CostEntry.objects.count()


def breakdown(runs: list[Run], latency: float) -> dict[str, list[float]]:
    """Where each job's time went, from the stamps the pipeline saved (ms, same machine clock)."""
    from generation.models import CostEntry, GenerationJob

    ids = [run.job_id for run in runs]
    jobs = {str(job.pk): job for job in GenerationJob.objects.filter(pk__in=ids)}
    calls = {str(call.job_id): call for call in CostEntry.objects.filter(job_id__in=ids, outcome=CostEntry.Outcome.SUCCEEDED)}
    segments: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        segments.setdefault(name, []).append(seconds * 1000)

    for run in runs:
        job, call = jobs[run.job_id], calls[run.job_id]
        add("POST answered (client)", run.answered - run.t0)
        add("  of which Django's own time (Server-Timing)", run.server_ms / 1000)
        add("websocket open after the POST (client)", run.opened - run.answered)
        add("request sent -> job row saved", job.created_at.timestamp() - run.wall0)
        add(PICKUP, job.started_at.timestamp() - job.created_at.timestamp())
        add("claimed -> provider call opened (breaker, ledger row)", call.created_at.timestamp() - job.started_at.timestamp())
        add(
            f"provider call incl. download and decoding, minus L={latency:g}",
            call.finished_at.timestamp() - call.created_at.timestamp() - latency,
        )
        # The JPEG is encoded and uploaded from the decoding on, while the ledger line is settled,
        # the job row finished (its conditional UPDATE) and the image rows written.
        add("call settled -> job row finished", job.finished_at.timestamp() - call.finished_at.timestamp())
        add("job row finished -> client has the message (image rows, upload's end, commit)", run.done_wall - job.finished_at.timestamp())
    return segments


def print_breakdown(title: str, segments: dict[str, list[float]]) -> None:
    print(f"\n{title} (ms)")
    for name, values in segments.items():
        print(f"  {name:<80}{p50_p95(values)}")


def cpu_seconds(stack: "Stack") -> dict[str, float]:
    """CPU time (user + system, with ended children's) used so far by each part, from /proc: our
    children's process groups, PostgreSQL's server processes, and this process (the clients)."""
    tick = os.sysconf("SC_CLK_TCK")
    groups = {child.proc.pid: child.name for child in stack.children if child.proc is not None and child.proc.returncode is None}
    groups.update(
        {service.proc.pid: type(service).__name__.removesuffix("Server").lower() for service in stack.services[1:] if service.proc}
    )
    postmaster = int((stack.services[0].root / "data" / "postmaster.pid").read_text().split()[0])
    used: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid, pgid = int(entry.name), int(fields[1]), int(fields[2])
        label = groups.get(pgid) or ("postgres" if postmaster in (pid, ppid) else "bench client" if pid == os.getpid() else None)
        if label:
            # utime + stime, and cutime + cstime: children that ended (PostgreSQL's closed backends)
            used[label] = used.get(label, 0.0) + sum(int(value) for value in fields[11:15]) / tick
    return used


def print_cpu(before: dict[str, float], after: dict[str, float], jobs: int) -> None:
    spent = {label: (after.get(label, 0.0) - before.get(label, 0.0)) * 1000 / jobs for label in after}
    parts = "  ".join(f"{label} {ms:.0f}" for label, ms in sorted(spent.items(), key=lambda item: -item[1]) if ms >= 0.5)
    print(f"  CPU per job, follow-up renders included (ms): {parts}  (total {sum(spent.values()):.0f})")


# --- the benchmark --------------------------------------------------------------------------------


def warm_fake_files(fal_url: str, seeds: list[int]) -> None:
    """Have the fake draw each output file now (it caches them): its drawing is not provider latency."""
    for seed in seeds:
        with urllib.request.urlopen(f"{fal_url}/files/{seed}-{SIDE}x{SIDE}.jpeg", timeout=30) as response:  # noqa: S310 - loopback fake
            response.read()


def worker_args(pool: str, concurrency: int, loglevel: str = "WARNING") -> list[str]:
    return [
        PYTHON, "-m", "celery", "-A", "avatarsite", "worker", "-Q", "enterprise", "-n", "bench@%h", "-P", pool, "-c", str(concurrency),
        "-O", "fair", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", loglevel,
    ]  # fmt: skip


class Stack:
    """Everything the benchmark runs, started in order and stopped in reverse (also on Ctrl-C or an
    error): PostgreSQL, Redis, S3, the two fakes, uvicorn, and a Celery worker per phase."""

    def __init__(self, *, latency: float, clients: int, web_workers: int, pool: str, concurrency: int, timeout: float,
                 logs: Path | None = None, worker_loglevel: str = "WARNING", worker_env: dict[str, str] | None = None) -> None:  # fmt: skip
        self.latency, self.pool, self.concurrency, self.timeout = latency, pool, concurrency, timeout
        self.web_workers, self.client_count, self.worker_loglevel = web_workers, clients, worker_loglevel
        self.worker_env = worker_env or {}
        self.keep_logs = logs is not None
        self.logs = logs or Path(tempfile.mkdtemp(prefix="avatarsite-bench-generation-"))
        self.logs.mkdir(parents=True, exist_ok=True)
        self.services = [PostgresServer(), RedisServer(), S3Server()]
        self.children: list[Proc] = []
        self.fakes: dict[float, str] = {}
        self.worker: Proc | None = None
        self._seeds = iter(random.Random(11).sample(range(1, 2**31 - 1000), 10_000))

    def __enter__(self) -> "Stack":
        try:
            self._start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _start(self) -> None:
        postgres, redis, s3 = self.services
        for service in self.services:
            service.start()
        create_buckets(s3.url)
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            **BENCH_ENV,
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "R2_ENDPOINT_URL": s3.url,
            "R2_REGION": "us-east-1",
            "R2_ACCESS_KEY_ID": S3_KEY_ID,
            "R2_SECRET_ACCESS_KEY": S3_SECRET,
            "R2_BUCKET": PRIVATE_BUCKET,
            "R2_PUBLIC_BUCKET": PUBLIC_BUCKET,
            "R2_PUBLIC_URL": f"{s3.url}/{PUBLIC_BUCKET}",
            "FAL_KEY": "fal-bench-key",
            "FAL_OUTPUT_HOSTS": "127.0.0.1",
            "OUTBOUND_ALLOW_LOOPBACK": "1",
            "REPLICATE_API_TOKEN": "",
        }
        django_setup(self.env)
        from django.db import connection

        self.clients = make_clients(self.client_count)
        connection.close()
        for latency in dict.fromkeys((self.latency, 0.0)):
            port = free_port()
            fake = Proc(f"fal-{latency:g}", [PYTHON, "-m", "tests.fakes.fal", "--port", str(port), "--latency", str(latency),
                         "--api-key", self.env["FAL_KEY"]], self.env, self.logs / f"fal-{latency:g}.log")  # fmt: skip
            self.children.append(fake.start(port=port))
            self.fakes[latency] = f"http://127.0.0.1:{port}"
        self.web_port = free_port()
        command = uvicorn_command(self.web_port, workers=self.web_workers)
        self.web = Proc("uvicorn", command, self.env, self.logs / "uvicorn.log")
        self.children.append(self.web.start(port=self.web_port))

    def __exit__(self, *exc_info) -> None:
        for child in reversed(self.children):
            child.stop()
        for service in reversed(self.services):
            service.stop()
        if exc_info[0] is not None and issubclass(exc_info[0], Exception):
            for child in self.children:
                print(f"--- {child.name} log ({child.log}), last lines ---\n{child.tail()}", file=sys.stderr)
        if not self.keep_logs:
            shutil.rmtree(self.logs, ignore_errors=True)

    def seeds(self, count: int) -> list[int]:
        return [next(self._seeds) for _ in range(count)]

    def start_worker(self, latency: float) -> None:
        """A worker against the fake with this latency (the provider URL is read at start), warmed up."""
        self.stop_worker()
        env = {**self.env, "FAL_QUEUE_URL": self.fakes[latency], **self.worker_env}
        log = self.logs / f"worker-{latency:g}.log"
        self.worker = Proc("worker", worker_args(self.pool, self.concurrency, self.worker_loglevel), env, log)
        self.children.append(self.worker.start())
        # Readiness, and warm connections in every process: a few jobs two at a time, and a cache hit.
        warm = self.seeds(2 * max(2, self.concurrency, self.web_workers))
        warm_fake_files(self.fakes[latency], warm)
        for pair in range(0, len(warm), 2):
            self.run(concurrent, warm[pair : pair + 2])
        self.run(sequential, warm[:2])  # cache hits: the web process signs the stored result's URLs
        wait_for_follow_ups(self.all_jobs(), timeout=60)

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def run(self, how, seeds: list[int], timeout: float | None = None) -> list[Run]:
        return asyncio.run(how(self.web_port, self.clients, seeds, timeout or self.timeout))

    @staticmethod
    def all_jobs() -> list[str]:
        from generation.models import GenerationJob

        return [str(pk) for pk in GenerationJob.objects.order_by("created_at").values_list("pk", flat=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.75, help="the fake provider's generation latency L (s)")
    parser.add_argument("--jobs", type=int, default=40, help="sequential jobs with L, and again with no latency")
    parser.add_argument("--cache-hits", type=int, default=40)
    parser.add_argument("--burst", type=int, default=50, help="concurrent requests for the throughput run")
    parser.add_argument("--pool", default="prefork", help="the Celery pool of the worker")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (or threads) of that pool")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn processes (the image runs one)")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for one job")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    parser.add_argument("--worker-loglevel", default="WARNING")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the worker, e.g. DJANGO_SETTINGS_MODULE=bench.settings_db_close")  # fmt: skip
    args = parser.parse_args()
    # Ctrl-C (even when started with SIGINT ignored, as a background job is) and SIGTERM unwind
    # through Stack.__exit__, which stops everything it started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    L = args.latency
    print(f"pipeline: uvicorn x{args.web_workers}, Celery {args.pool} -c {args.concurrency} on the enterprise lane, fake fal L={L:g} s;"
          f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start"
          + (f"; worker environment {' '.join(args.worker_env)}" if args.worker_env else ""))  # fmt: skip

    with Stack(latency=L, clients=max(args.burst, 2), web_workers=args.web_workers, pool=args.pool, concurrency=args.concurrency,
               timeout=args.timeout, logs=args.logs, worker_loglevel=args.worker_loglevel,
               worker_env=dict(item.split("=", 1) for item in args.worker_env)) as stack:  # fmt: skip
        # 1-3: with the provider's latency.
        stack.start_worker(L)
        seq_seeds, burst_seeds = stack.seeds(args.jobs), stack.seeds(args.burst)
        warm_fake_files(stack.fakes[L], seq_seeds + burst_seeds)

        cpu_before = cpu_seconds(stack)
        runs = stack.run(isolated, seq_seeds)
        cpu_after = cpu_seconds(stack)
        e2e = [run.e2e_ms for run in runs]
        lags = [lag for run in runs for lag in run.lags_ms]
        ratio50, ratio95 = statistics.median(e2e) / 1000 / L, percentile(e2e, 0.95) / 1000 / L
        print(f"\nend to end, one job at a time on an idle pipeline, L={L * 1000:.0f} ms, {len(runs)} jobs (ms)")
        print(f"  form POST -> websocket 'succeeded'   {p50_p95(e2e)}")
        print(f"  over L                               p50 {ratio50:8.3f}  p95 {ratio95:8.3f}")
        print(f"  overhead (e2e - L)                   {p50_p95([value - L * 1000 for value in e2e])}")
        print(f"  'succeeded' -> all sizes stored      {p50_p95([(run.sizes_done - run.done) * 1000 for run in runs])}")
        print_breakdown("where the time goes, one job at a time", breakdown(runs, L))
        print_cpu(cpu_before, cpu_after, len(runs))
        print(f"\nwebsocket, worker saved the state -> client received it, {len(lags)} messages (ms)")
        print(f"  {p50_p95(lags)}")

        wait_for_follow_ups([run.job_id for run in runs], timeout=120)
        calls_before = provider_calls()
        hit_seeds = [seq_seeds[index % len(seq_seeds)] for index in range(args.cache_hits)]
        hits = stack.run(sequential, hit_seeds)  # each by the user who asked first
        new_calls = provider_calls() - calls_before
        if new_calls or not all(hit.reused and hit.images and hit.first_status == "succeeded" for hit in hits):
            raise RuntimeError(f"identical requests were not all answered from the stored result ({new_calls} provider calls)")
        hit_ms = [hit.e2e_ms for hit in hits]
        print(f"\ncache hits: the same prompt, style, size and seed, {len(hits)} requests, no provider call (ms)")
        print(f"  form POST -> websocket's first message holds the result   {p50_p95(hit_ms)}")
        print(f"  form POST answered (302 to the finished job)              {p50_p95([(hit.answered - hit.t0) * 1000 for hit in hits])}")
        print(f"  of which Django's own time (Server-Timing)                {p50_p95([hit.server_ms for hit in hits])}")
        print(f"  websocket open -> first message                           {p50_p95([(hit.done - hit.opened) * 1000 for hit in hits])}")

        # 4: throughput.
        burst = stack.run(concurrent, burst_seeds, timeout=args.timeout * 3)
        span = max(run.done for run in burst) - min(run.t0 for run in burst)
        ceiling = (
            f"; {args.concurrency} processes each held for L allow at most {args.concurrency / L:.2f} jobs/s"
            if args.pool == "prefork"
            else ""
        )
        print(f"\nthroughput: {args.burst} requests at once, Celery {args.pool} -c {args.concurrency}")
        print(f"  {args.burst / span:.2f} jobs/s ({span:.2f} s from the first POST to the last 'succeeded'{ceiling})")
        print(f"  end to end under load (ms)          {p50_p95([run.e2e_ms for run in burst])}")
        print(f"  websocket worker -> client (ms)     {p50_p95([lag for run in burst for lag in run.lags_ms])}")
        waited = wait_for_follow_ups([run.job_id for run in burst], timeout=300)
        print(f"  the other sizes of the last job were rendered {waited:.1f} s after the burst ended")

        # 5: the pipeline's own overhead, no provider latency.
        stack.start_worker(0.0)
        zero_seeds = stack.seeds(2 * args.jobs)
        warm_fake_files(stack.fakes[0.0], zero_seeds)
        cpu_before = cpu_seconds(stack)
        zero = stack.run(isolated, zero_seeds[: args.jobs])
        cpu_after = cpu_seconds(stack)
        zero_ms = [run.e2e_ms for run in zero]
        print(f"\nPipeline overhead, zero-latency provider, one job at a time on an idle pipeline, {len(zero)} jobs (ms; target p95 < 50)")
        print(f"  form POST -> websocket 'succeeded'   {p50_p95(zero_ms)}")
        print(f"  already final in the first message   {sum(run.first_status == 'succeeded' for run in zero)} of {len(zero)}")
        print_breakdown("where the time goes, no provider latency", breakdown(zero, 0.0))
        print_cpu(cpu_before, cpu_after, len(zero))
        back = stack.run(sequential, zero_seeds[args.jobs :])
        print(f"\n  the same back to back (the next request once 'succeeded' is in; the follow-up renders compete), {len(back)} jobs")
        print(f"  form POST -> websocket 'succeeded'   {p50_p95([run.e2e_ms for run in back])}")
        print(f"  job row saved -> worker claimed it   {p50_p95(breakdown(back, 0.0)[PICKUP])}")
        wait_for_follow_ups([run.job_id for run in zero + back], timeout=120)
        stack.stop_worker()

    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    print(f"perf3 p95_ms={percentile(zero_ms, 0.95):.1f} throughput_jobs_per_s={args.burst / span:.2f}")
    print(f"generation overhead_p50={ratio50:.3f} cache_hit_p95_ms={percentile(hit_ms, 0.95):.1f} ws_p95_ms={percentile(lags, 0.95):.1f}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
