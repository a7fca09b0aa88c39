"""Loaded only into one test worker, with `celery worker --include tests.support.lossy_job_run`:
that worker runs the project's `generation.tasks.job_run` as Celery would without the project's
task options, for the guard test that shows a killed worker child then loses its job
(tests/generation/test_worker_faults.py). The worker imports this before it builds its request
handling and forks its pool, so the change holds in that worker's processes and nowhere else.

LOSSY_JOB_RUN (environment) picks what is taken away:
- "early-ack": Celery's default acknowledgement (before the task runs), no reject on worker loss;
- "late-ack-no-reject": late acknowledgement, but a lost child's message is acknowledged as failed.
"""

import os

from generation.tasks import job_run

MODES = {"early-ack": (False, False), "late-ack-no-reject": (True, False)}

try:
    job_run.acks_late, job_run.reject_on_worker_lost = MODES[os.environ["LOSSY_JOB_RUN"]]
except KeyError as exc:  # imported anywhere else, or with a typo: never run the project's task half-changed
    raise RuntimeError(f"set LOSSY_JOB_RUN to one of {', '.join(MODES)} for a worker that includes {__name__}") from exc
