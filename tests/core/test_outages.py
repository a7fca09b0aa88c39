"""Redis, then PostgreSQL, stopped under a real uvicorn: every page and API call is answered within 5 s
with a 503 that says what is unavailable and when to retry, /healthz names the part, and the site
recovers on its own when the service is back. A worker's image-finishing task that meets the
database down is retried until it is back.

The stack has its own PostgreSQL and Redis: the session's shared ones are never stopped.
"""

import json
import subprocess
import time
from dataclasses import dataclass

import pytest
import requests

from tests.support.processes import PROJECT_DIR, PYTHON, celery_worker_args, embedded_env, free_port, running, uvicorn_args
from tests.support.services import PostgresServer, RedisServer
from tests.support.workers import wait_for

ANSWER_WITHIN_SECONDS = 5.0

SEED = """
import json
from django.test import Client
from avatarsite.accounts.services import user_create
from billing.models import Plan, Subscription
from billing.services import api_key_create

user = user_create(username="ada", email="ada@example.com", password="a-long-password-1")
Subscription.objects.create(user=user, plan=Plan.objects.get(slug="enterprise"))
_, raw_key = api_key_create(user=user, name="outage test")
client = Client()
client.force_login(user)
print(json.dumps({"session": client.cookies["sessionid"].value, "key": raw_key}))
"""


@dataclass
class Stack:
    base: str
    session: str
    key: str
    postgres: PostgresServer
    redis: RedisServer
    log: object
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, artifacts_dir):
    # durable: this cluster is crashed on purpose, and a commit made just before must survive it.
    postgres, redis_server = PostgresServer(durable=True), RedisServer()
    postgres.start()
    redis_server.start()
    tmp = tmp_path_factory.mktemp("outages")
    env = embedded_env(
        tmp / "media", DJANGO_SETTINGS_MODULE="avatarsite.settings.test", DATABASE_URL=postgres.url, REDIS_URL=redis_server.url
    )
    try:
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True, timeout=300)
        seeded = subprocess.run(
            [PYTHON, "manage.py", "shell", "-c", SEED], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        port = free_port()
        log = artifacts_dir / "outages-uvicorn.log"
        with running(uvicorn_args(port), env=env, port=port, log=log):
            yield Stack(f"http://127.0.0.1:{port}", seed["session"], seed["key"], postgres, redis_server, log, env)
    finally:
        redis_server.stop()
        postgres.stop()


def _requests(stack: Stack) -> dict[str, tuple[str, str, dict]]:
    """Every kind of call: pages (signed in), API reads and writes with a key, a wrong key."""
    signed_in = {"cookies": {"sessionid": stack.session}}
    key = {"headers": {"Authorization": f"Bearer {stack.key}"}}
    wrong_key = {"headers": {"Authorization": f"Bearer {stack.key[:-4]}{'AAAA' if not stack.key.endswith('AAAA') else 'BBBB'}"}}
    return {
        "home": ("GET", "/", signed_in),
        "gallery": ("GET", "/gallery/", signed_in),
        "generate": ("GET", "/generate/", signed_in),
        "account": ("GET", "/accounts/", signed_in),
        "api list": ("GET", "/api/v1/generations", key),
        "api usage": ("GET", "/api/v1/usage", key),
        # A new search each time: a page of the public read API already cached is served from Redis without the database.
        "api avatars": ("GET", f"/api/v1/avatars?q=heron{time.monotonic_ns()}", {}),
        "api create": ("POST", "/api/v1/generations", {**key, "json": {"prompt": "a heron in a flat cap", "style": "flat"}}),
        "api wrong key": ("GET", "/api/v1/generations", wrong_key),
    }


HEALTHY = {
    "home": 200, "gallery": 200, "generate": 200, "account": 200,
    "api list": 200, "api usage": 200, "api avatars": 200, "api create": 202, "api wrong key": 401,
}  # fmt: skip


def _call(stack: Stack, method: str, path: str, options: dict) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.request(method, f"{stack.base}{path}", timeout=30, allow_redirects=False, **options)
    return response, time.monotonic() - started


def _statuses(stack: Stack) -> dict[str, int]:
    return {name: _call(stack, *call)[0].status_code for name, call in _requests(stack).items()}


def _assert_outage_answers(stack: Stack, part: str) -> None:
    """Every call answered in time with 503, Retry-After, and a body naming `part`; /healthz names it too."""
    seen = {}
    for name, (method, path, options) in _requests(stack).items():
        response, elapsed = _call(stack, method, path, options)
        seen[name] = (response.status_code, round(elapsed, 1))
        assert response.status_code == 503, (name, response.status_code, response.text[:500])
        assert elapsed < ANSWER_WITHIN_SECONDS, (name, elapsed)
        assert int(response.headers["Retry-After"]) > 0, name
        if path.startswith("/api/"):
            error = response.json()["error"]
            assert (error["code"], error["details"]["unavailable"]) == ("service_unavailable", part), (name, error)
        else:
            assert response.headers["Content-Type"].startswith("text/html"), name
            assert f'data-unavailable="{part}"' in response.text, name
            assert "is unavailable right now" in response.text, name
    print(part, "down:", seen)
    started = time.monotonic()
    health = requests.get(f"{stack.base}/healthz", timeout=30)
    assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
    assert health.status_code == 503
    assert "Retry-After" in health.headers
    assert part in health.json()["down"], health.json()


def _recovered(stack: Stack) -> bool:
    return _statuses(stack) == HEALTHY and requests.get(f"{stack.base}/healthz", timeout=30).status_code == 200


def test_redis_then_postgresql_down_are_answered_with_503s_and_the_site_recovers(stack):
    assert _statuses(stack) == HEALTHY

    stack.redis.stop()
    _assert_outage_answers(stack, "cache")
    stack.redis.start()
    started = time.monotonic()
    wait_for(lambda: _recovered(stack), timeout=60, interval=1, what="the site to recover after Redis came back")
    print(f"recovered {time.monotonic() - started:.1f} s after Redis came back")

    stack.postgres.halt()
    _assert_outage_answers(stack, "database")
    stack.postgres.resume()
    started = time.monotonic()
    wait_for(lambda: _recovered(stack), timeout=90, interval=1, what="the site to recover after PostgreSQL came back")
    print(f"recovered {time.monotonic() - started:.1f} s after PostgreSQL came back")

    text = stack.log.read_text()
    assert "Traceback" not in text, text[-5000:]
    assert " 500 " not in text


JOB_WITHOUT_ITS_SIZES = """
import json
from django.contrib.auth import get_user_model
from generation.services import generation_job_create, generation_job_run

user = get_user_model().objects.get(username="ada")
job = generation_job_run(job_id=str(generation_job_create(user_id=user.pk, prompt="a heron with a lantern", style="comic", size=1024).id))
print(json.dumps({"id": str(job.id), "status": job.status, "variants": len(job.images.get().variants)}))
"""


def test_image_sizes_are_finished_once_the_database_is_back(stack, artifacts_dir):
    """The job succeeded with its first image; its other sizes' task meets the database down, is
    retried (Celery's retry, with backoff) and finishes them once PostgreSQL is back."""
    made = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", JOB_WITHOUT_ITS_SIZES],
        cwd=PROJECT_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    job = json.loads(made.stdout.strip().splitlines()[-1])
    assert (job["status"], job["variants"]) == ("succeeded", 1)  # the other sizes' task waits in the broker

    log = artifacts_dir / "outages-worker.log"
    stack.postgres.halt()
    try:
        with running([*celery_worker_args("enterprise"), "-n", "outages@%h"], env=stack.env, log=log):
            wait_for(  # its own retry line (a stale job_run of this job may be retried too)
                lambda: any("job_images_finish" in line and "retry: Retry in" in line for line in log.read_text().splitlines()),
                timeout=90,
                interval=0.5,
                what="the image-finishing task to meet the database down and be retried",
            )
            stack.postgres.resume()

            def sizes() -> int:
                state = requests.get(f"{stack.base}/generate/jobs/{job['id']}/status/", cookies={"sessionid": stack.session}, timeout=30)
                return state.status_code == 200 and len(state.json()["images"][0]["variants"])

            wait_for(lambda: sizes() == 10, timeout=120, interval=1, what="the job's ten sizes and formats")
    finally:
        if not stack.postgres.running():
            stack.postgres.resume()


class BrokerSwitch:
    """This process's Celery app publishing to a port where nothing listens (the broker down, the
    cache still up), until `restore()`."""

    def __init__(self) -> None:
        from avatarsite.celery import app

        self.app, self.saved = app, app.conf.broker_write_url

    def _reset_pools(self) -> None:
        self.app._pool = None
        self.app.amqp._producer_pool = None

    def cut(self) -> None:
        self.app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
        self._reset_pools()

    def restore(self) -> None:
        self.app.conf.broker_write_url = self.saved
        self._reset_pools()


@pytest.fixture
def broker_gone():
    switch = BrokerSwitch()
    switch.cut()
    yield switch
    switch.restore()


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_message_cannot_be_published_is_accepted_and_sent_once_the_broker_is_back(
    client, django_user_model, broker_gone, broker
):
    """The job is committed before its message is sent: when the broker cannot take it, the job is
    kept (queued, with its quota), marked as not sent, and the API answers 202 as for any accepted
    job; a retry with the same Idempotency-Key gets that job, not a second; the reconciler sends
    its message once the broker is back."""
    from billing.models import Plan, Subscription
    from billing.services import api_key_create
    from generation.models import GenerationJob
    from generation.services import generation_jobs_reconcile

    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw-123456789")
    Subscription.objects.create(user=user, plan=Plan.objects.get(slug="enterprise"))
    _, raw_key = api_key_create(user=user, name="test")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}", "HTTP_IDEMPOTENCY_KEY": "order-7"}
    body = {"prompt": "a heron in a flat cap", "style": "flat"}

    started = time.monotonic()
    response = client.post("/api/v1/generations", body, content_type="application/json", **headers)

    assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
    assert response.status_code == 202
    job = GenerationJob.objects.get(user=user)
    assert (str(job.id), job.status, job.enqueued_at) == (response.json()["id"], "queued", None)

    replay = client.post("/api/v1/generations", body, content_type="application/json", **headers)

    assert (replay.status_code, replay.json()["id"], replay["Idempotent-Replayed"]) == (202, str(job.id), "true")
    assert GenerationJob.objects.filter(user=user).count() == 1

    broker_gone.restore()
    assert generation_jobs_reconcile().requeued == 1
    assert str(job.id) in str([broker.lrange(key, 0, -1) for key in broker.scan_iter(match="enterprise*")])
    assert GenerationJob.objects.get(pk=job.pk).enqueued_at is not None
