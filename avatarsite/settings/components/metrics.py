"""Prometheus metrics at /metrics: who may read them, and where worker processes share their figures."""

from .env import env

# --- Issue 20 point 3: metrics ---------------------------------------------------------------
# A scraper sends `Authorization: Bearer <METRICS_TOKEN>`; staff may read /metrics signed in. Empty:
# staff only (every bearer token is refused).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# prometheus-client's multiprocess mode: a folder every process of the site (uvicorn, each Celery
# pool child) writes its counters and histograms to, and /metrics sums. Empty: one process's own
# figures (the embedded default, where the worker runs inside the server). prometheus-client reads
# the variable itself too, so it must be in the processes' environment, not only in .env.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")
