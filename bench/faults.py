"""The fault suite as a benchmark: the cases of tests/faults/cases.py on the same stack
(tests/faults/stack.py: PostgreSQL, Redis with its append-only file, the S3 server behind a cuttable
proxy, uvicorn, a Celery worker per lane, beat, and the fal and Replicate fakes as processes), run
outside pytest, one after the other, each ending with the books check (tests/faults/books.py).

Prints a table, one row per case: its jobs, how many ended (final), whether its books balanced,
the jobs still not final at its bound (stuck), the requests a provider billed more than once
(double_paid), the provider requests without a ledger line (unbooked), its duration, and what else
broke (other imbalances, and the case's own promise: every job succeeded, the breaker's bound ...).
Last line: `faults cases=<n> balanced=<n> stuck=<n> double_paid=<n> unbooked=<n>`, where balanced is
the number of cases whose books balanced and the others add up over the cases.

Every process's log, and each case's result as a JSON line (results.jsonl), go to --logs
(test-artifacts/faults-bench/). Run: `make bench`, or `.venv/bin/python -m bench.faults` (about 8
minutes; `--case NAME` runs only that case, repeatable).
"""

import argparse
import os
import signal
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.faults.books import IMBALANCES  # noqa: E402
from tests.faults.cases import CASES, CaseResult, run_case  # noqa: E402
from tests.faults.stack import FaultStack  # noqa: E402

COLUMNS = ("case", "jobs", "final", "balanced", "stuck", "double_paid", "unbooked", "seconds")
WIDTHS = (20, 5, 6, 9, 6, 12, 9, 8)


def line(cells: tuple, other: str) -> str:
    """One table line: the case name left-aligned, the figures right-aligned, then `other`."""
    text = "".join(
        f"{cell:<{width}}" if index == 0 else f"{cell:>{width}}" for index, (cell, width) in enumerate(zip(cells, WIDTHS, strict=True))
    )
    return f"{text}  {other}"


def row(result: CaseResult) -> str:
    books = result.books
    other = [f"{name}={getattr(books, name)}" for name in IMBALANCES if name not in COLUMNS and getattr(books, name)]
    if result.violations:
        other.append(f"{len(result.violations)} promise(s) broken: {result.violations[0][:90]}")
    balanced = "yes" if result.balanced else "no"
    cells = (result.name, result.jobs, result.final, balanced, books.stuck, books.double_paid, books.unbooked, f"{result.seconds:.1f}")
    return line(cells, "; ".join(other))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="run only this case (repeatable)")
    parser.add_argument("--logs", type=Path, default=PROJECT_DIR / "test-artifacts" / "faults-bench")
    args = parser.parse_args(argv)
    names = args.case or list(CASES)

    def attach_database(url: str) -> str:
        """Django in this process, on the stack's database and services (as its processes are),
        without a connection pool: a case restarts the database under it."""
        os.environ.update({**stack.env(), "DATABASE_POOL": "false"})
        import django

        django.setup()
        return "default"

    # SIGTERM stops the stack as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    stack = FaultStack(logs=args.logs, attach_database=attach_database)
    results: list[CaseResult] = []
    print(f"starting the stack (logs in {args.logs}) ...", flush=True)
    stack.start()
    try:
        print("\n" + line(COLUMNS, "other"))
        for name in names:
            result = run_case(stack, name, results=args.logs / "results.jsonl")
            results.append(result)
            print(row(result), flush=True)
    finally:
        stack.stop()
    for result in results:
        if not result.ok:
            print(f"\n{result.report()}")
    totals = {name: sum(getattr(result.books, name) for result in results) for name in ("stuck", "double_paid", "unbooked")}
    balanced = sum(result.balanced for result in results)
    print(
        f"\nfaults cases={len(results)} balanced={balanced} stuck={totals['stuck']} "
        f"double_paid={totals['double_paid']} unbooked={totals['unbooked']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
