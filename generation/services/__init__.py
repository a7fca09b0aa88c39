"""Writes of the generation app, one module per stage: the request (request.py), the run's state
machine (run.py) and what it watches (watch.py), the provider call and its ledger lines (calls.py),
the images (images.py), the end of a job, its cancel and its followers (results.py), and the
reconciler (reconcile.py). Enqueueing goes through generation.dispatch.

This module re-exports the entry points only; a name without underscore inside a stage module
that is not listed here is shared between the stages, not part of the app's API."""

from ..errors import GenerationError, JobNotCancelableError, PromptRefusedError, StyleUnavailableError
from ..styles import LOCAL_STYLES
from .images import generation_job_images_finish
from .reconcile import ReconcileSummary, generation_jobs_reconcile
from .request import MAX_PROMPT_LENGTH, NormalisedRequest, generation_job_create, generation_request_normalise
from .results import generation_job_cancel, generation_job_fail
from .run import generation_job_claim, generation_job_run
from .watch import PROGRESS_EVERY_SECONDS, JobProgressRelay

__all__ = [
    "LOCAL_STYLES",
    "MAX_PROMPT_LENGTH",
    "PROGRESS_EVERY_SECONDS",
    "GenerationError",
    "JobNotCancelableError",
    "JobProgressRelay",
    "NormalisedRequest",
    "PromptRefusedError",
    "ReconcileSummary",
    "StyleUnavailableError",
    "generation_job_cancel",
    "generation_job_claim",
    "generation_job_create",
    "generation_job_fail",
    "generation_job_images_finish",
    "generation_job_run",
    "generation_jobs_reconcile",
    "generation_request_normalise",
]
