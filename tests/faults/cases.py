"""The fault cases: each drives about ten jobs through the REST API on the fault stack
(free jobs: fal then Replicate on the standard lane; premium jobs: Replicate then fal on the premium
lane), injects one fault from outside, waits a bounded time for every job to end, and checks the
books (tests/faults/books.py) plus the case's own promise. tests/faults/test_fault_cases.py runs each
as a test; bench/faults.py runs them all and prints a table.

Bounds. After a Redis restart, PostgreSQL down 3 s or storage down 20 s every job must be final
within SETTLE_SHORT seconds of the fault's end: well before the reconciler could settle a job whose
run swallowed the fault and left it `running` (that takes the run deadline, 45 s from the claim,
plus its grace), and room enough for Celery retries with a backoff of up to about 15 s. After
PostgreSQL down 35 s, or when providers misbehave, SETTLE seconds. Every case expects every job to
succeed (the providers it breaks have a healthy fallback, and the infrastructure comes back).
"""

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.faults.books import Books
from tests.faults.stack import LANES, FaultStack

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SETTLE_SHORT = 20.0
SETTLE = 30.0
PROMPTS = (
    "A portrait of a lighthouse keeper with a grey beard and a yellow raincoat",
    "A smiling woman with curly red hair and round glasses, studio light",
    "An astronaut with a cheerful face, helmet under the arm, soft background",
    "A young chef in a white jacket laughing in a bright kitchen",
    "An old sailor with a pipe and a knitted blue cap, golden hour",
)


@dataclass
class CaseResult:
    name: str
    title: str
    rule: str  # the rule the case checks, in words
    jobs: int
    final: int
    succeeded: int
    balanced: bool
    seconds: float
    books: Books
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    evidence: str = ""

    @property
    def ok(self) -> bool:
        return self.balanced and not self.violations

    def report(self) -> str:
        lines = [f"fault case {self.name} ({self.title}; rule: {self.rule}): {'OK' if self.ok else 'BROKEN'} in {self.seconds:.1f} s"]
        lines += [f"  note: {note}" for note in self.notes]
        lines.append(f"  books: {self.books.summary()}")
        lines += [f"  promise broken: {violation}" for violation in self.violations]
        if self.evidence:
            lines += ["  log lines of this case (test-artifacts/faults/*.log):", self.evidence]
        return "\n".join(lines)

    def as_json(self) -> dict:
        data = asdict(self)
        data["books"] = {**self.books.counts(), "balanced": self.balanced, "problems": self.books.problems}
        return data


class Run:
    """One case on the stack: its jobs, the moment its fault ended, and its ending."""

    def __init__(self, stack: FaultStack, name: str) -> None:
        self.stack, self.name = stack, name
        self.nonce = secrets.token_hex(3)
        self.jobs: list[str] = []
        self.violations: list[str] = []
        self.notes: list[str] = []
        stack.case_begin(name)
        self.started = time.monotonic()

    def prompt(self, number: int) -> str:
        """A prompt of its own per job (the books match provider requests to jobs by it)."""
        return f"{PROMPTS[number % len(PROMPTS)]}, fault case {self.name} {self.nonce} number {number}"

    def submit(self, *, free: int = 5, premium: int = 5) -> list[str]:
        """Free and premium jobs, alternating (both lanes fill), spread over two users per plan."""
        plans = ["free"] * free + ["premium"] * premium
        order = sorted(range(len(plans)), key=lambda index: (index if index < free else index - free, plans[index] != "free"))
        counts = {"free": 0, "premium": 0}
        for index in order:
            plan = plans[index]
            user = f"{plan}-{counts[plan] % 2 + 1}"
            counts[plan] += 1
            self.jobs.append(self.stack.submit(user, self.prompt(len(self.jobs))))
        return self.jobs

    def lanes(self) -> dict[str, str]:
        from generation.models import GenerationJob

        rows = GenerationJob.objects.using(self.stack.db).filter(pk__in=self.jobs).values_list("pk", "queue")
        return {str(pk): queue for pk, queue in rows}

    def finish(self, *, settle_by: float, checks: Callable[[], None] | None = None) -> CaseResult:
        """Wait for every job to end (until `settle_by`, monotonic), then check the books, that every
        job succeeded, and the case's own promise (`checks`, which adds to `violations`)."""
        from generation.models import GenerationJob

        states = self.stack.wait_final(self.jobs, until=settle_by)
        if all(status in ("succeeded", "failed", "canceled") for status in states.values()) and len(states) == len(self.jobs):
            self.notes.append(f"every job final {time.monotonic() - self.started:.1f} s after the case started")
        books = self.stack.books(self.jobs)
        for job in GenerationJob.objects.using(self.stack.db).filter(pk__in=self.jobs).exclude(status="succeeded"):
            if job.status in ("failed", "canceled"):  # a job still running is counted as stuck by the books
                self.violations.append(f"job {job.pk} ({job.queue}) {job.status}: {job.message!r} (runs={job.runs})")
        if checks is not None:
            checks()
        suspects = {match for text in [*books.problems, *self.violations] for match in UUID.findall(text)}
        result = CaseResult(
            name=self.name,
            title=CASES[self.name].title,
            rule=CASES[self.name].rule,
            jobs=len(self.jobs),
            final=books.final,
            succeeded=books.succeeded,
            balanced=books.balanced,
            seconds=round(time.monotonic() - self.started, 1),
            books=books,
            violations=self.violations,
            notes=self.notes,
        )
        if not result.ok:
            result.evidence = self.stack.case_log_lines(sorted(suspects)[:10])
        self.stack.mark(f"===== fault case {self.name} ends: {'OK' if result.ok else 'BROKEN'} =====")
        return result


def _fault_for(seconds: float) -> float:
    """Hold a fault for `seconds` (its duration is the point, not a wait for something); when it ended."""
    time.sleep(seconds)
    return time.monotonic()


# --- the cases -------------------------------------------------------------------------------------


def worker_sigkill(stack: FaultStack) -> CaseResult:
    """SIGKILL of the pool children while they run jobs: each job is redelivered and resumes its
    provider request (no second submission), and ends once."""
    run = Run(stack, "worker-sigkill")
    run.submit()
    stack.wait_in_flight(run.jobs, count=LANES["standard"], lanes=("standard",))
    stack.wait_in_flight(run.jobs, count=1, lanes=("premium",))
    killed = stack.kill_pool_children("standard") + stack.kill_pool_children("premium")
    run.notes.append(f"killed {len(killed)} pool children mid-job")
    return run.finish(settle_by=time.monotonic() + SETTLE)


def redis_restart(stack: FaultStack) -> CaseResult:
    """Redis (broker, cache, channel layer) restarted, 1 s down, while jobs run and wait."""
    run = Run(stack, "redis-restart")
    run.submit()
    stack.wait_in_flight(run.jobs, count=2)
    stack.redis_restart(down_seconds=1.0)
    return run.finish(settle_by=time.monotonic() + SETTLE_SHORT)


def _postgres_down(stack: FaultStack, name: str, seconds: float, settle: float) -> CaseResult:
    run = Run(stack, name)
    run.submit()
    stack.wait_in_flight(run.jobs, count=2)
    queued = sum(1 for status in stack.job_states(run.jobs).values() if status == "queued")
    stack.postgres_down()
    ended = _fault_for(seconds)
    stack.postgres_up()
    run.notes.append(f"PostgreSQL down {seconds:.0f} s with {queued} job(s) queued and the others running")
    return run.finish(settle_by=ended + settle)


def postgres_down_3s(stack: FaultStack) -> CaseResult:
    return _postgres_down(stack, "postgres-down-3s", 3.0, SETTLE_SHORT)


def postgres_down_35s(stack: FaultStack) -> CaseResult:
    return _postgres_down(stack, "postgres-down-35s", 35.0, SETTLE)


def s3_down_during_stores(stack: FaultStack) -> CaseResult:
    """Storage refuses connections for 20 s from just before the first results come back."""
    run = Run(stack, "s3-down-stores")
    run.submit()
    stack.wait_in_flight(run.jobs, count=2)
    stack.s3_cut()
    ended = _fault_for(20.0)
    stack.s3_restore()
    return run.finish(settle_by=ended + SETTLE_SHORT)


def s3_down_during_reconcile(stack: FaultStack) -> CaseResult:
    """The standard lane's worker dies mid-job (its fal requests left running, their ids recorded)
    and a new one starts; storage goes down from just before those jobs' run deadline, so beat's
    reconciler meets the outage when it settles them. Each job is settled on its own (the reconcile
    task never fails as a whole) and, once storage is back, with its request's images."""
    from generation.models import GenerationJob

    run = Run(stack, "s3-down-reconcile")
    run.submit(free=6, premium=4)
    orphans = stack.wait_in_flight(run.jobs, count=LANES["standard"], lanes=("standard",))
    stack.worker_kill("standard")
    stack.worker_start("standard")  # beat's reconciler runs on this lane
    deadline = max(GenerationJob.objects.using(stack.db).filter(pk__in=orphans).values_list("deadline_at", flat=True))
    time.sleep(max(0.0, deadline.timestamp() - 1.0 - datetime.now(UTC).timestamp()))  # the fault is timed by those jobs' run deadline
    stack.s3_cut()
    ended = _fault_for(20.0)
    stack.s3_restore()
    run.notes.append(f"standard worker killed with {len(orphans)} job(s) mid-generation; storage down 20 s from 1 s before their deadline")

    def reconciles_never_failed() -> None:
        raised = [line for line in stack.case_log("worker-standard").splitlines() if "jobs_reconcile" in line and "raised" in line]
        if raised:
            run.violations.append(f"the reconcile task failed as a whole {len(raised)} time(s): {raised[0][:300]}")

    return run.finish(settle_by=ended + SETTLE, checks=reconciles_never_failed)


def fal_down(stack: FaultStack) -> CaseResult:
    """fal answers 503 to everything: free jobs fall back to Replicate; fal's breaker opens after
    GENERATION_BREAKER_FAILURES failures and is consulted before every attempt."""
    run = Run(stack, "fal-down")
    assert stack.fal is not None
    stack.fal.script(down=True)
    run.submit(free=8, premium=2)

    def breaker_held() -> None:
        posts = stack.fal.stats()["submit_posts"]
        # Attempts already under way when the breaker opens (one per other process of the lane) may still go out.
        allowed = stack.timings.breaker_failures + LANES["standard"] - 1
        run.notes.append(f"fal received {posts} submission(s) while down")
        if posts > allowed:
            run.violations.append(f"fal was tried {posts} times while down; its breaker allows {allowed}")

    return run.finish(settle_by=time.monotonic() + SETTLE, checks=breaker_held)


def fal_hang(stack: FaultStack) -> CaseResult:
    """fal accepts and never completes: each free job leaves fal in time to finish on Replicate
    within its run deadline (the chain splits it), and fal's requests are canceled."""
    from generation.models import GenerationJob

    run = Run(stack, "fal-hang")
    assert stack.fal is not None
    stack.fal.script(default_outcome="hang")
    run.submit(free=LANES["standard"], premium=10 - LANES["standard"])  # the free jobs run at once, each with a deadline

    def within_the_run_deadline() -> None:
        limit = stack.timings.run_timeout + 1.0
        for job in GenerationJob.objects.using(stack.db).filter(pk__in=run.jobs, queue="standard").exclude(finished_at=None):
            took = (job.finished_at - job.started_at).total_seconds()
            if took > limit:
                run.violations.append(
                    f"job {job.pk} ended {job.status} after {took:.1f} s running (run deadline {stack.timings.run_timeout} s)"
                )

    return run.finish(settle_by=time.monotonic() + stack.timings.run_timeout + 10.0, checks=within_the_run_deadline)


def duplicate_delivery(stack: FaultStack) -> CaseResult:
    """Every job's `job_run` message is there twice, taken at once by two worker processes of its
    lane (a redelivery after a visibility timeout or a broker restart): each job is paid for once."""
    run = Run(stack, "duplicate-delivery")
    # The lanes' workers wait while the messages are queued, so that each pair is taken at once by
    # the two processes of its lane; beat waits too (its reconcile message, first in the standard
    # queue, would put the pairs out of step).
    stack.beat_stop()
    for lane in ("standard", "premium"):
        stack.worker_stop(lane)
    stack.queue_drop("standard", priority=0)
    stack.fal.script(submit_latency=0.3)  # as fal's gateway answers a submission: 0.1-0.5 s
    for number in range(10):
        plan = "free" if number % 2 == 0 else "premium"
        job_id = stack.submit(f"{plan}-{number // 2 % 2 + 1}", run.prompt(number))
        stack.publish_job_run(job_id)
        run.jobs.append(job_id)
    for lane in ("standard", "premium"):
        stack.worker_start(lane)
    stack.beat_start()
    run.notes.append("each job_run message queued twice, side by side, before the workers started")
    return run.finish(settle_by=time.monotonic() + SETTLE)


def beat_recovery(stack: FaultStack) -> CaseResult:
    """Both job lanes' workers killed whole (main process and children) mid-job, new ones started at
    once: the killed runs' jobs are settled by beat's reconciler (resuming the provider requests)
    before Redis could hand their messages out again."""
    run = Run(stack, "beat-recovery")
    run.submit()
    orphans = stack.wait_in_flight(run.jobs, count=LANES["standard"], lanes=("standard",))
    orphans += stack.wait_in_flight(run.jobs, count=LANES["premium"], lanes=("premium",))
    for lane in ("standard", "premium"):
        stack.worker_kill(lane)
    killed = time.monotonic()
    for lane in ("standard", "premium"):
        stack.worker_start(lane)
    t = stack.timings
    bound = t.run_timeout + t.reconcile_grace + t.reconcile_every + 10.0
    assert bound < t.visibility_timeout, "the bound must fall before a redelivery could settle the jobs"
    run.notes.append(f"{len(set(orphans))} job(s) mid-generation when both workers were killed; bound {bound:.0f} s")
    return run.finish(settle_by=killed + bound)


def identical_requests(stack: FaultStack) -> CaseResult:
    """The same request sent twice at the same moment (by two users of a plan): charged once, one
    provider request, and both get the image."""
    run = Run(stack, "identical-requests")
    for number, plan in enumerate(("free", "premium", "free", "premium", "free")):
        prompt = run.prompt(number)
        run.jobs += stack.submit_together([(f"{plan}-1", prompt), (f"{plan}-2", prompt)])
    run.notes.append("five pairs of identical requests, each pair sent at once")
    return run.finish(settle_by=time.monotonic() + SETTLE)


def fal_undersized(stack: FaultStack) -> CaseResult:
    """fal delivers 64 px images for 1024 px requests: that is fal's failure (free jobs fall back to
    Replicate), never a success at full charge."""
    run = Run(stack, "fal-undersized")
    assert stack.fal is not None
    stack.fal.script(default_outcome="undersized")
    run.submit()
    return run.finish(settle_by=time.monotonic() + SETTLE)


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    rule: str
    run: Callable[[FaultStack], CaseResult]


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case(
            "worker-sigkill",
            "pool children SIGKILLed mid-job",
            "a killed worker's job is redelivered, resumes its provider request and ends once",
            worker_sigkill,
        ),
        Case(
            "redis-restart",
            "Redis restarted mid-run",
            "a run goes on through a Redis restart: infrastructure faults are retried, not absorbed",
            redis_restart,
        ),
        Case(
            "postgres-down-3s",
            "PostgreSQL down 3 s, jobs queued and running",
            "a database outage ends the attempt, which is retried with backoff and resumes",
            postgres_down_3s,
        ),
        Case(
            "postgres-down-35s",
            "PostgreSQL down 35 s, jobs queued and running",
            "a long database outage still leaves every job ended once and the books exact",
            postgres_down_35s,
        ),
        Case(
            "s3-down-stores",
            "S3 down 20 s during stores",
            "a failed store leaves the call open; the retried run stores the images without paying again",
            s3_down_during_stores,
        ),
        Case(
            "s3-down-reconcile",
            "S3 down 20 s during a reconcile",
            "the reconciler settles each job on its own, through a storage outage",
            s3_down_during_reconcile,
        ),
        Case(
            "fal-down", "fal down: fallback, breaker", "a failing provider: jobs fall back along the chain, and its breaker opens", fal_down
        ),
        Case(
            "fal-hang",
            "fal hangs: fallback within the run deadline",
            "a hanging provider: the job leaves it in time to finish on the next, and its request is canceled",
            fal_hang,
        ),
        Case(
            "duplicate-delivery",
            "every job_run delivered twice at once",
            "a job's message delivered twice at once is paid for once",
            duplicate_delivery,
        ),
        Case(
            "beat-recovery",
            "whole workers killed, beat's reconciler settles",
            "the jobs of killed workers are settled by the reconciler, resuming their provider requests",
            beat_recovery,
        ),
        Case(
            "identical-requests",
            "identical requests at the same moment",
            "identical requests at once: charged once, one provider request, both get the image",
            identical_requests,
        ),
        Case(
            "fal-undersized",
            "fal delivers 64 px for 1024 px",
            "an image smaller than asked is the provider's failure, never a success at full charge",
            fal_undersized,
        ),
    )
}


def run_case(stack: FaultStack, name: str, *, results: Path | None = None) -> CaseResult:
    """Run one case; with `results`, append its result as a JSON line there."""
    result = CASES[name].run(stack)
    if results is not None:
        with open(results, "a") as out:
            out.write(json.dumps(result.as_json(), default=str) + "\n")
    return result
