"""Benchmark of one lane's capacity: 50 jobs submitted at once to a lane whose provider answers in L seconds.

The real pipeline of bench/generation.py (PostgreSQL, Redis, the S3 server, uvicorn, the fake fal in
its own process, signed-in enterprise users POSTing the generate form and following each job on its
websocket), with the enterprise lane's worker as docker-compose.yml starts it: Celery's thread pool, 64 threads,
one process. A run waiting on the provider holds a
thread, not a process, so the 50 jobs wait at once: the target is all 50 final within 2 x L of the
first submission, at L = 5 s on 2 cores. For each L (5 s and 0.75 s) it prints the jobs/s (50 over the
time from the first POST to the last 'succeeded') and the p95 of each job's submission -> final, then
the same at L = 0.75 s on issue 4's worker (prefork, two processes), measured now, beside issue 4's
recorded figures (2.56 jobs/s, burst p95 18.8 s).

Lines: `capacity L=<s> pool=<pool> -c <n> jobs_per_s=<x> burst50_p95_s=<y> span_s=<z>`; the last one,
`capacity jobs_per_s=<x at L=5> burst50_p95_s=<y at L=5> l075_jobs_per_s=... l075_burst50_p95_s=...`.
Run: `.venv/bin/python -m bench.capacity` (about 2 minutes); `--no-compare` skips the prefork run.
"""

import argparse
import os
import signal
import statistics
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.generation import PYTHON, Stack, breakdown, concurrent, print_breakdown, wait_for_follow_ups, warm_fake_files  # noqa: E402
from bench.stack import percentile  # noqa: E402
from tests.support.managed import Proc  # noqa: E402
from tests.support.services import free_port  # noqa: E402

BURST = 50
# Issue 4's figures: bench/generation.py's throughput run, prefork -c 2 on the enterprise lane, L = 0.75 s.
ISSUE_4 = {"jobs_per_s": 2.56, "burst50_p95_s": 18.8}


def lane_worker_args(pool: str | None, concurrency: int | None) -> list[str]:
    """The enterprise lane's worker; pool and concurrency None: as the settings give them."""
    return [
        PYTHON, "-m", "celery", "-A", "avatarsite", "worker", "-Q", "enterprise", "-n", "capacity@%h",
        *(["-P", pool] if pool else []), *(["-c", str(concurrency)] if concurrency else []),
        "-O", "fair", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING",
    ]  # fmt: skip


class CapacityStack(Stack):
    """bench/generation.py's stack with a fake fal per latency and a lighter warm-up (one small burst:
    every thread need not be warmed, a burst of 50 meets cold threads as production does)."""

    def __init__(self, *, latencies: list[float], **kwargs) -> None:
        # Providers from the settings (FAL_QUEUE_URL: the fake), not from the catalogue's rows (issue 19
        # point 1), which the migration fills with the real services' addresses.
        os.environ.setdefault("GENERATION_PROVIDER_CATALOGUE", "")
        super().__init__(latency=latencies[0], **kwargs)
        self.latencies = latencies

    def _start(self) -> None:
        super()._start()
        for latency in self.latencies:
            if latency not in self.fakes:
                port = free_port()
                command = [
                    PYTHON,
                    "-m",
                    "tests.fakes.fal",
                    "--port",
                    str(port),
                    "--latency",
                    str(latency),
                    "--api-key",
                    self.env["FAL_KEY"],
                ]
                fake = Proc(f"fal-{latency:g}", command, self.env, self.logs / f"fal-{latency:g}.log")
                self.children.append(fake.start(port=port))
                self.fakes[latency] = f"http://127.0.0.1:{port}"

    def start_lane(self, latency: float, *, pool: str | None, concurrency: int | None) -> None:
        self.stop_worker()
        env = {**self.env, "FAL_QUEUE_URL": self.fakes[latency], **self.worker_env}
        log = self.logs / f"worker-{pool or 'settings'}-{latency:g}.log"
        self.worker = Proc("worker", lane_worker_args(pool, concurrency), env, log)
        self.children.append(self.worker.start())
        warm = self.seeds(4)
        warm_fake_files(self.fakes[latency], warm)
        wait_for_follow_ups([run.job_id for run in self.run(concurrent, warm)], timeout=120)


def burst(stack: CapacityStack, latency: float, *, pool: str | None, concurrency: int | None, timeout: float) -> dict[str, float]:
    """50 jobs at once on a fresh lane worker against the fake with this latency; prints and returns the figures."""
    stack.start_lane(latency, pool=pool, concurrency=concurrency)
    seeds = stack.seeds(BURST)
    warm_fake_files(stack.fakes[latency], seeds)
    runs = stack.run(concurrent, seeds, timeout=timeout)
    if not all(run.status == "succeeded" for run in runs):
        raise RuntimeError(f"not every job succeeded: {sorted({run.status for run in runs})}")
    span = max(run.done for run in runs) - min(run.t0 for run in runs)
    seconds = [run.e2e_ms / 1000 for run in runs]
    figures = {"jobs_per_s": BURST / span, "burst50_p95_s": percentile(seconds, 0.95), "span_s": span}
    shown = f"{pool or 'settings'} -c {concurrency or 'settings'}"
    print(
        f"\nL={latency:g} s, {BURST} jobs at once, Celery {shown}: all final {span:.2f} s after the first POST"
        f" ({span / latency:.2f} x L; target under 2 x L)"
        f"\n  submission -> final (s): p50 {statistics.median(seconds):.2f}  p95 {figures['burst50_p95_s']:.2f}  max {max(seconds):.2f}"
    )
    print_breakdown(f"where the time went, L={latency:g} s, {BURST} at once", breakdown(runs, latency))
    print(
        f"capacity L={latency:g} pool={pool or 'settings'} -c {concurrency or 'settings'}"
        f" jobs_per_s={figures['jobs_per_s']:.2f} burst50_p95_s={figures['burst50_p95_s']:.2f} span_s={span:.2f}"
    )
    wait_for_follow_ups([run.job_id for run in runs], timeout=300)
    stack.stop_worker()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", default="threads", help="the lane worker's pool (docker-compose.yml's provider lanes: threads)")
    parser.add_argument("--concurrency", type=int, default=64, help="its threads or processes (docker-compose.yml: 64)")
    parser.add_argument("--no-compare", action="store_true", help="skip issue 4's prefork -c 2 worker at L = 0.75 s")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for one job")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"capacity of one lane: uvicorn x1, fake fal, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")

    with CapacityStack(latencies=[5.0, 0.75], clients=BURST, web_workers=1, pool="threads", concurrency=0, timeout=args.timeout,
                       logs=args.logs) as stack:  # fmt: skip
        slow = burst(stack, 5.0, pool=args.pool, concurrency=args.concurrency, timeout=args.timeout)
        fast = burst(stack, 0.75, pool=args.pool, concurrency=args.concurrency, timeout=args.timeout)
        before = None if args.no_compare else burst(stack, 0.75, pool="prefork", concurrency=2, timeout=args.timeout)

    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    print(f"issue 4 (recorded, prefork -c 2, L=0.75): jobs_per_s={ISSUE_4['jobs_per_s']:.2f} burst50_p95_s={ISSUE_4['burst50_p95_s']:.1f}")
    if before is not None:
        now = f"jobs_per_s={before['jobs_per_s']:.2f} burst50_p95_s={before['burst50_p95_s']:.2f}"
        print(f"issue 4's worker now (prefork -c 2, L=0.75): {now}")
    print(
        f"capacity jobs_per_s={slow['jobs_per_s']:.2f} burst50_p95_s={slow['burst50_p95_s']:.2f}"
        f" l075_jobs_per_s={fast['jobs_per_s']:.2f} l075_burst50_p95_s={fast['burst50_p95_s']:.2f}"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
