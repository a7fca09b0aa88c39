"""/metrics in multiprocess mode, with real processes: a Celery worker runs a job and records its
duration into PROMETHEUS_MULTIPROC_DIR, and a scrape of a separate uvicorn server (parsed by
prometheus-client's own parser, then by a real Prometheus when its binary is installed) shows it."""

import json
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from avatarsite.accounts.services import user_create
from generation.models import GenerationJob
from generation.services import generation_job_create
from tests.generation.factories import GenerationJobFactory
from tests.support.processes import project_env, running, subprocess_database_url, uvicorn_args
from tests.support.services import free_port
from tests.support.workers import log_tail, wait_for, worker_args

TOKEN = "metrics-token-for-processes-0123456789"
PROMETHEUS = shutil.which("prometheus")


def scrape(port: int) -> dict[tuple, float]:
    """GET /metrics from the server with the bearer token: {(sample name, labels...): value}."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server on loopback
        text = response.read().decode()
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def job_count(samples: dict, job: GenerationJob) -> float | None:
    provider = job.provider_chain[0].partition(":")[0]
    labels = sorted({"lane": job.queue, "provider": provider, "outcome": "succeeded"}.items())
    return samples.get(("avatarsite_generation_job_duration_seconds_count", *labels))


def prometheus_query(port: int, query: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["data"]["result"]


def prometheus_config(folder: Path, web_port: int, token: str) -> Path:
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: avatarsite\n    metrics_path: /metrics\n"
        f"    authorization:\n      credentials: {token}\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{web_port}']\n"
    )
    return config


@pytest.mark.django_db(transaction=True)
def test_a_job_finished_in_a_worker_process_appears_in_the_web_servers_scrape(tmp_path, artifacts_dir):
    folder = tmp_path / "metrics"
    env = project_env(DATABASE_URL=subprocess_database_url(), PROMETHEUS_MULTIPROC_DIR=str(folder), METRICS_TOKEN=TOKEN)
    user = user_create(username="metered", email="metered@example.com", password="a-long-password-1")
    worker_log, web_log = artifacts_dir / "metrics-worker.log", artifacts_dir / "metrics-web.log"
    web_port = free_port()

    with running(worker_args("standard", name="metrics"), env=env, log=worker_log) as worker:
        job = generation_job_create(user_id=user.pk, prompt="a lighthouse keeper in a yellow raincoat", size=256)
        wait_for(
            lambda: GenerationJob.objects.filter(pk=job.pk, status__in=GenerationJob.TERMINAL_STATUSES).exists(),
            timeout=120,
            what=f"the job to finish\n{log_tail(worker_log)}",
        )
        job.refresh_from_db()
        assert job.status == "succeeded", log_tail(worker_log)
        # The pool child writes its histogram to a file of its own, named by host and pid, once the job is saved.
        wait_for(lambda: list(folder.glob("histogram_*.db")), timeout=30, what=f"the worker's histogram file\n{log_tail(worker_log)}")
    assert worker.returncode is not None

    # The server is another process, started after the worker has gone: it reads the worker's file.
    with running(uvicorn_args(web_port), env=env, port=web_port, log=web_log):
        samples = scrape(web_port)
        assert job_count(samples, job) == 1, log_tail(web_log)
        assert (
            samples[
                (
                    "avatarsite_generation_jobs_total",
                    ("lane", job.queue),
                    ("outcome", "succeeded"),
                    ("provider", job.provider_chain[0].partition(":")[0]),
                )
            ]
            == 1
        )
        # Its own request before this one is there too, by view name.
        latency = scrape(web_port)[
            ("avatarsite_http_request_duration_seconds_count", ("method", "GET"), ("status", "2xx"), ("view", "metrics"))
        ]
        assert latency >= 1

        if PROMETHEUS is None:
            return  # prometheus-client's own parser read it above; no Prometheus binary to scrape it here
        prometheus_port = free_port()
        args = [
            PROMETHEUS, f"--config.file={prometheus_config(tmp_path, web_port, TOKEN)}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ]  # fmt: skip
        prometheus_log = artifacts_dir / "metrics-prometheus.log"
        with running(args, env=project_env(), port=prometheus_port, log=prometheus_log):
            up = wait_for(lambda: _ready(prometheus_port, "up"), timeout=60, what=f"Prometheus to scrape\n{log_tail(prometheus_log)}")
            assert up[0]["value"][1] == "1", up
            found = wait_for(
                lambda: _ready(prometheus_port, "avatarsite_generation_job_duration_seconds_count"), timeout=30, what="the job's duration"
            )
            assert [row["value"][1] for row in found] == ["1"], found
            spend = prometheus_query(prometheus_port, "sum(avatarsite_spend_usd_total)")
            assert spend, "the spend series is missing from Prometheus"


def _ready(port: int, query: str) -> list[dict] | None:
    try:
        return prometheus_query(port, query) or None
    except OSError:
        return None


@pytest.mark.django_db(transaction=True)
def test_with_redis_unreachable_the_scrape_still_answers_and_says_which_sources_are_missing(tmp_path, artifacts_dir):
    """Redis (cache, broker) at an address where nothing listens: /metrics answers 200 within seconds with
    the database's figures, and avatarsite_metrics_source_up says the cache and the broker could not be read."""
    dead = free_port()
    env = project_env(DATABASE_URL=subprocess_database_url(), REDIS_URL=f"redis://127.0.0.1:{dead}/0", METRICS_TOKEN=TOKEN)
    web_port, web_log = free_port(), artifacts_dir / "metrics-web-redis-down.log"
    GenerationJobFactory(queue="premium", provider_chain=["fal:fal-ai/flux/schnell"], status="failed")
    with running(uvicorn_args(web_port), env=env, port=web_port, log=web_log):
        started = time.monotonic()
        samples = scrape(web_port)
        elapsed = time.monotonic() - started
    up = {labels[0][1]: value for (name, *labels), value in samples.items() if name == "avatarsite_metrics_source_up"}
    assert up == {"database": 1.0, "cache": 0.0, "broker": 0.0}, log_tail(web_log)
    finished = ("avatarsite_generation_jobs_total", ("lane", "premium"), ("outcome", "failed"), ("provider", "fal"))
    assert samples[finished] == 1  # the database's figures are all there
    assert not any(name == "avatarsite_queue_messages" for name, *_ in samples)
    assert elapsed < 15, f"the scrape took {elapsed:.1f} s with Redis down"
