"""Is the ETA honest? Jobs queued at different places in line: the ETA the job page showed when each
was accepted against the time it really took.

Two stacks, each in a process of its own (Django is set up once per process):

- `embedded`: `manage.py serve` as `make run` starts it (SQLite, the in-process broker, the worker's
  two threads beside the web server), no AI key: the instant styles, drawn by the local generator;
- `real`: PostgreSQL, Redis, the S3 server, uvicorn, and a prefork Celery worker on the standard
  lane with four processes (as docker-compose deploys it), with fal set up against the fake fal
  at a generation latency L (0.75 s): instant styles, AI photos and both mixed.

Each stack first runs a few jobs one at a time (a site in use has measured its recent jobs), then
`--rounds` bursts: `--burst` free users each submit the generate form at once, back to back; right
after each POST the job's state (what the page shows) gives its place in line and ETA. Actual =
from the job's acceptance to its end (`created_at` -> `finished_at`, the job row). Between bursts
the lane drains (the other sizes of every image too) and rests a few seconds. Per place in line it prints the ETA shown and
the time taken (medians over the bursts), then the median of actual / predicted over every job and
the share of jobs within ±50 %. Last line:
`eta embedded_median_ratio=… real_median_ratio=… within_50pct=…` (1.0 = exact; the target is
0.5 to 1.5 at the median). Run: `.venv/bin/python -m bench.eta` (about 2 minutes).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.stack import BENCH_ENV, django_setup, uvicorn_command  # noqa: E402
from tests.conftest import PRIVATE_BUCKET, PUBLIC_BUCKET, S3_KEY_ID, S3_SECRET, SERVICE_ENV_VARS, create_buckets  # noqa: E402
from tests.support.managed import Proc  # noqa: E402
from tests.support.services import PostgresServer, RedisServer, S3Server, free_port  # noqa: E402

PYTHON = sys.executable
# Between bursts the lane rests as long as the ETA's measurements are cached (5 s), so each burst
# meets the measurements of the jobs before it, as on a site in use.
REST_SECONDS = 6
CSRF = "e" * 32  # an unmasked CSRF secret is a valid form token for the same cookie
PROMPTS = [
    "A smiling woman with curly red hair and round glasses",
    "A bearded man in a blue hat",
    "A girl with a blond ponytail, happy",
    "An old man with grey hair and glasses",
    "A boy with short black hair and a green shirt",
    "A woman with long brown hair and a red hat",
    "A bald man with a beard, serious",
    "A woman with a purple bun and a smile",
]


@dataclass
class Sample:
    """One job: what the page said when it was accepted, and what happened."""

    stack: str
    round: int
    kind: str  # instant | photo
    index: int  # its place in the burst (1 = first submitted)
    position: int | None  # the place in line the page showed (None: it was already running)
    predicted: float
    actual: float = 0.0

    @property
    def ratio(self) -> float:
        return self.actual / self.predicted if self.predicted else float("inf")


# --- the client -------------------------------------------------------------------------------------


def make_sessions(count: int, *, prefix: str) -> list[str]:
    """Free users with signed-in sessions (the database is this process's Django database)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    sessions = []
    for number in range(count):
        user = get_user_model().objects.create_user(f"{prefix}{number}", f"{prefix}{number}@example.com", password=None)
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies["sessionid"].value)
    return sessions


def submit(base: str, session: str, *, prompt: str, style: str, seed: int) -> tuple[str, dict]:
    """POST the generate form, then read the job's state at once (what its page shows on arrival)."""
    cookies = {"sessionid": session, "csrftoken": CSRF}
    headers = {"Origin": base, "Referer": f"{base}/generate/"}
    data = {"prompt": prompt, "style": style, "seed": str(seed), "csrfmiddlewaretoken": CSRF}
    answer = requests.post(f"{base}/generate/", data=data, cookies=cookies, headers=headers, allow_redirects=False, timeout=30)
    if answer.status_code != 302 or "/generate/jobs/" not in answer.headers.get("Location", ""):
        raise RuntimeError(f"POST /generate/ answered {answer.status_code}: {answer.text[:500]}")
    job_id = answer.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    state = requests.get(f"{base}/generate/jobs/{job_id}/status/", cookies=cookies, timeout=30).json()
    return job_id, state


def predicted_seconds(state: dict) -> float:
    """The ETA the page shows (its finer figure when the state has one)."""
    return float(state.get("eta") or state["eta_seconds"] or 0)


def wait_until_drained(job_ids: list[str], timeout: float = 180.0) -> None:
    """Until every job has ended and every image has its other sizes (the lane is idle again)."""
    from generation.models import GenerationJob

    deadline = time.monotonic() + timeout
    while True:
        jobs = GenerationJob.objects.filter(pk__in=job_ids)
        if all(job.status in GenerationJob.TERMINAL_STATUSES and not job.images_pending for job in jobs):
            bad = [str(job.pk) for job in jobs if job.status != GenerationJob.Status.SUCCEEDED]
            if bad:
                raise RuntimeError(f"{len(bad)} jobs did not succeed: {bad[:3]}")
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the lane did not drain within {timeout:.0f} s")
        time.sleep(0.2)


def actual_seconds(job_ids: list[str]) -> dict[str, float]:
    from generation.models import GenerationJob

    jobs = GenerationJob.objects.filter(pk__in=job_ids)
    return {str(job.pk): (job.finished_at - job.created_at).total_seconds() for job in jobs}


def run_bursts(base: str, *, stack: str, styles: dict[str, str], plans: list[str], rounds: int, burst: int, warm: int) -> list[Sample]:
    """Warm-up jobs one at a time, then each round's burst (`plans`: the kind of job of each round,
    "instant", "photo" or "mixed")."""
    seed = 1000
    sessions = make_sessions(burst * rounds + warm, prefix=f"{stack}-")
    warm_sessions, sessions = sessions[:warm], sessions[warm:]
    kinds_used = sorted({kind for plan in plans for kind in (("instant", "photo") if plan == "mixed" else (plan,))})
    for number, session in enumerate(warm_sessions):
        seed += 1
        kind = kinds_used[number % len(kinds_used)]
        job_id, _ = submit(base, session, prompt=PROMPTS[number % len(PROMPTS)], style=styles[kind], seed=seed)
        wait_until_drained([job_id])
    time.sleep(REST_SECONDS)
    samples = []
    for number in range(rounds):
        plan = plans[number % len(plans)]
        batch: list[tuple[str, Sample]] = []
        for index in range(burst):
            kind = ("instant", "photo")[index % 2] if plan == "mixed" else plan
            seed += 1
            session = sessions[number * burst + index]
            job_id, state = submit(base, session, prompt=PROMPTS[index % len(PROMPTS)], style=styles[kind], seed=seed)
            sample = Sample(stack, number + 1, kind, index + 1, state.get("queue_position"), predicted_seconds(state))
            batch.append((job_id, sample))
        wait_until_drained([job_id for job_id, _ in batch])
        actual = actual_seconds([job_id for job_id, _ in batch])
        for job_id, sample in batch:
            sample.actual = actual[job_id]
            samples.append(sample)
        time.sleep(REST_SECONDS)
    return samples


# --- the stacks -------------------------------------------------------------------------------------


def embedded(args: argparse.Namespace, folder: Path) -> list[Sample]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_ENV_VARS and not k.startswith(("FAL_", "REPLICATE_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "avatarsite.settings.base",
            "DATABASE_URL": f"sqlite:///{folder / 'eta.sqlite3'}",
            "DJANGO_MEDIA_ROOT": str(folder / "media"),
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    django_setup(env)
    from django.db import connection

    from generation.providers.local import STYLES

    port = free_port()
    server = Proc("serve", [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)], env, folder / "serve.log")
    server.start(port=port)
    try:
        samples = run_bursts(
            f"http://127.0.0.1:{port}", stack="embedded", styles={"instant": STYLES[0]}, plans=["instant"],
            rounds=args.rounds, burst=args.burst, warm=args.warm,
        )  # fmt: skip
    finally:
        connection.close()
        server.stop()
    return samples


def real(args: argparse.Namespace, folder: Path) -> list[Sample]:
    services = [PostgresServer(), RedisServer(), S3Server()]
    children: list[Proc] = []
    try:
        for service in services:
            service.start()
        postgres, redis, s3 = services
        create_buckets(s3.url)
        fal_port = free_port()
        env = {
            **os.environ, "PYTHONUNBUFFERED": "1", **BENCH_ENV, "DATABASE_URL": postgres.url, "REDIS_URL": redis.url,
            "R2_ENDPOINT_URL": s3.url, "R2_REGION": "us-east-1", "R2_ACCESS_KEY_ID": S3_KEY_ID, "R2_SECRET_ACCESS_KEY": S3_SECRET,
            "R2_BUCKET": PRIVATE_BUCKET, "R2_PUBLIC_BUCKET": PUBLIC_BUCKET, "R2_PUBLIC_URL": f"{s3.url}/{PUBLIC_BUCKET}",
            "FAL_KEY": "fal-bench-key", "FAL_QUEUE_URL": f"http://127.0.0.1:{fal_port}", "FAL_OUTPUT_HOSTS": "127.0.0.1",
            "OUTBOUND_ALLOW_LOOPBACK": "1", "REPLICATE_API_TOKEN": "",
        }  # fmt: skip
        django_setup(env)
        from django.db import connection

        from generation.providers.local import STYLES

        fal = [PYTHON, "-m", "tests.fakes.fal", "--port", str(fal_port), "--latency", str(args.latency), "--api-key", env["FAL_KEY"]]
        children.append(Proc("fal", fal, env, folder / "fal.log").start(port=fal_port))
        web_port = free_port()
        children.append(Proc("uvicorn", uvicorn_command(web_port), env, folder / "uvicorn.log").start(port=web_port))
        worker = [
            PYTHON, "-m", "celery", "-A", "avatarsite", "worker", "-Q", "standard", "-n", "eta@%h", "-c", str(args.concurrency),
            "-O", "fair", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
        ]  # fmt: skip
        children.append(Proc("worker", worker, env, folder / "worker.log").start(ready_text="ready", timeout=60))
        try:
            return run_bursts(
                f"http://127.0.0.1:{web_port}", stack="real", styles={"instant": STYLES[0], "photo": "photo"},
                plans=["instant", "photo", "mixed"], rounds=args.rounds, burst=args.burst, warm=args.warm,
            )  # fmt: skip
        finally:
            connection.close()
    finally:
        for child in reversed(children):
            child.stop()
        for service in reversed(services):
            service.stop()


# --- the report -------------------------------------------------------------------------------------


def report(samples: list[Sample]) -> dict:
    """Per place in the burst: medians of the ETA shown and the time taken; then the whole stack's."""
    stack = samples[0].stack
    print(f"\n{stack}: ETA shown on acceptance vs time taken (s), medians over {max(s.round for s in samples)} bursts")
    print(f"  {'#':>3} {'place':>6} {'kind':>8} {'predicted':>10} {'actual':>8} {'actual/predicted':>17}")
    for index in sorted({s.index for s in samples}):
        rows = [s for s in samples if s.index == index]
        places = sorted({s.position for s in rows if s.position is not None})
        place = "-" if not places else (str(places[0]) if len(places) == 1 else f"{places[0]}-{places[-1]}")
        kinds = "/".join(sorted({s.kind for s in rows}))
        predicted, actual = statistics.median(s.predicted for s in rows), statistics.median(s.actual for s in rows)
        ratio = statistics.median(s.ratio for s in rows)
        print(f"  {index:>3} {place:>6} {kinds:>8} {predicted:>10.2f} {actual:>8.2f} {ratio:>17.2f}")
    for kind in sorted({s.kind for s in samples}):
        rows = [s for s in samples if s.kind == kind]
        print(f"  {kind}: median actual/predicted {statistics.median(s.ratio for s in rows):.2f} over {len(rows)} jobs")
    for number in sorted({s.round for s in samples}):
        rows = [s for s in samples if s.round == number]
        kinds = "/".join(sorted({s.kind for s in rows}))
        print(f"  burst {number} ({kinds}): median actual/predicted {statistics.median(s.ratio for s in rows):.2f}")
    ratio = statistics.median(s.ratio for s in samples)
    within = sum(1 for s in samples if 0.5 <= s.ratio <= 1.5) / len(samples)
    print(f"  {stack}: median actual/predicted {ratio:.2f}; {within:.0%} of {len(samples)} jobs within ±50 %")
    return {"stack": stack, "median_ratio": ratio, "within": within, "jobs": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", choices=("embedded", "real", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3, help="bursts per stack")
    parser.add_argument("--burst", type=int, default=8, help="jobs submitted back to back in a burst")
    parser.add_argument("--warm", type=int, default=6, help="jobs one at a time before the bursts (3 of each kind on the real stack)")
    parser.add_argument("--latency", type=float, default=0.75, help="the fake fal's generation latency L (s)")
    parser.add_argument("--concurrency", type=int, default=4, help="the real stack's worker processes on the standard lane")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.stack == "both":
        # One process per stack: each sets Django up on its own database.
        summaries = {}
        for stack in ("embedded", "real"):
            options = [f"--{name}={getattr(args, name)}" for name in ("rounds", "burst", "warm", "latency", "concurrency")]
            command = [PYTHON, "-m", "bench.eta", "--stack", stack, *options]
            finished = subprocess.run(command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True, check=True)
            for line in finished.stdout.splitlines():
                if line.startswith("{"):
                    summaries[stack] = json.loads(line)
                else:
                    print(line)
        jobs = sum(s["jobs"] for s in summaries.values())
        within = sum(s["within"] * s["jobs"] for s in summaries.values()) / jobs
        print(
            f"eta embedded_median_ratio={summaries['embedded']['median_ratio']:.2f} "
            f"real_median_ratio={summaries['real']['median_ratio']:.2f} within_50pct={within:.2f}"
        )
        return
    print(f"{args.stack}: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory(prefix=f"avatarsite-bench-eta-{args.stack}-") as folder:
        samples = (embedded if args.stack == "embedded" else real)(args, Path(folder))
    summary = report(samples)
    print(json.dumps({**summary, "samples": [asdict(s) for s in samples]}))


if __name__ == "__main__":
    main()
