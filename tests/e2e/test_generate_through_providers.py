"""With the fake servers' URLs and keys set, the same flow runs through fal and Replicate.

Real uvicorn and a real Celery worker (lanes standard and premium) as subprocesses, configured only
by environment variables (FAL_KEY, FAL_QUEUE_URL, FAL_OUTPUT_HOSTS, REPLICATE_API_TOKEN,
REPLICATE_API_URL, REPLICATE_OUTPUT_HOSTS) pointing at FakeFal and FakeReplicate in this process.
A free and a premium user each sign in, ask for a photo avatar through the form, follow to the job
page, listen on its websocket until it succeeds, and download the presigned image URLs.
"""

import asyncio
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websockets
from PIL import Image

from avatarsite.accounts.services import user_create
from generation.models import GeneratedImage, GenerationJob
from tests.fakes.fal import FakeFal
from tests.fakes.replicate import FakeReplicate
from tests.support.processes import celery_worker_args, free_port, project_env, running, subprocess_database_url, uvicorn_args

PASSWORD = "a-long-password-1"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
JOB_PATH = re.compile(r"/generate/jobs/([0-9a-f-]{36})/$")
TERMINAL = ("succeeded", "failed", "canceled")


@pytest.fixture
def provider_fakes() -> Iterator[tuple[FakeFal, FakeReplicate]]:
    fal, replicate = FakeFal(latency=0.5).start(), FakeReplicate(latency=0.5).start()
    yield fal, replicate
    fal.stop()
    replicate.stop()


def _csrf(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def _sign_in(site: str, username: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    form = session.get(f"{site}/accounts/login/", timeout=30)
    answer = session.post(
        f"{site}/accounts/login/",
        data={"login": username, "password": PASSWORD, "csrfmiddlewaretoken": _csrf(form.text)},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:500]
    assert "sessionid" in session.cookies, f"{username} was not signed in"
    return session


def _generate(site: str, session: requests.Session, prompt: str) -> str:
    """POST the generate form and follow to the job page; the job's id."""
    form = session.get(f"{site}/generate/", timeout=30)
    page = session.post(f"{site}/generate/", data={"prompt": prompt, "style": "photo", "csrfmiddlewaretoken": _csrf(form.text)}, timeout=60)
    assert page.status_code == 200, page.text[:500]
    assert page.history, "the form did not redirect to the job page"
    match = JOB_PATH.search(page.url)
    assert match, page.url
    return match.group(1)


async def _listen_until_done(url: str, *, cookie: str, origin: str, timeout: float = 180.0) -> list[dict]:
    """Every state the job's websocket sends, until a terminal one."""
    states: list[dict] = []
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": origin}, open_timeout=30) as socket:
        deadline = time.monotonic() + timeout
        while not states or states[-1]["status"] not in TERMINAL:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no terminal state within {timeout}s: {[(s['status'], s['progress']) for s in states]}"
            states.append(json.loads(await asyncio.wait_for(socket.recv(), remaining)))
    return states


def _run_flow(site: str, username: str, prompt: str) -> tuple[str, list[dict], list[bytes]]:
    session = _sign_in(site, username)
    job_id = _generate(site, session, prompt)
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    ws_url = site.replace("http://", "ws://") + f"/ws/jobs/{job_id}/"
    # In a thread of its own: while the e2e tests' shared browser is open, Playwright's event loop
    # counts as running in this thread, and asyncio.run() refuses to start a second one here.
    with ThreadPoolExecutor(max_workers=1) as thread:
        states = thread.submit(asyncio.run, _listen_until_done(ws_url, cookie=cookie, origin=site)).result()
    final = states[-1]
    assert final["status"] == "succeeded", final
    urls = [variant["url"] for image in final["images"] for variant in image["variants"]]
    downloads = []
    for url in urls:
        answer = requests.get(url, timeout=30)  # presigned: no session, no cookie
        assert answer.status_code == 200, (url, answer.status_code)
        downloads.append(answer.content)
    return job_id, states, downloads


def _variant_count(job_id: str) -> int:
    return sum(len(image.variants) for image in GeneratedImage.objects.filter(job_id=job_id))


def _wait_for(predicate: Callable[[], bool], *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.django_db(transaction=True)
def test_the_same_flow_runs_through_fal_for_free_and_replicate_for_premium(provider_fakes, artifacts_dir):
    from billing.models import Plan, Subscription

    fal, replicate = provider_fakes
    user_create(username="freeuser", email="free@example.com", password=PASSWORD)
    premium = user_create(username="premiumuser", email="premium@example.com", password=PASSWORD)
    Subscription.objects.create(user=premium, plan=Plan.objects.get(slug="premium"))
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = project_env(
        DATABASE_URL=subprocess_database_url(),
        FAL_KEY=fal.api_key,
        FAL_QUEUE_URL=fal.url,
        FAL_OUTPUT_HOSTS="127.0.0.1",
        REPLICATE_API_TOKEN=replicate.api_key,
        REPLICATE_API_URL=replicate.url,
        REPLICATE_OUTPUT_HOSTS="127.0.0.1",
        OUTBOUND_ALLOW_LOOPBACK="1",  # the fakes serve plain http on loopback
        GENERATION_POLL_INTERVAL_SECONDS="0.1",
    )

    with (
        running(uvicorn_args(port), env=env, port=port, log=artifacts_dir / "e2e-providers-uvicorn.log"),
        running(celery_worker_args("standard", "premium"), env=env, log=artifacts_dir / "e2e-providers-worker.log"),
    ):
        free_job, free_states, free_downloads = _run_flow(site, "freeuser", "A smiling woman with curly red hair")
        premium_job, premium_states, premium_downloads = _run_flow(site, "premiumuser", "An old sailor with a white beard")
        # The other sizes follow in a task of their own: let it finish before the worker stops, so
        # no message is left in the broker for a later test's worker.
        all_sizes = _wait_for(lambda: all(_variant_count(job_id) >= 10 for job_id in (free_job, premium_job)), timeout=120)

    assert all_sizes, (artifacts_dir / "e2e-providers-worker.log").read_text()[-3000:]
    for states, downloads, provider, model in (
        (free_states, free_downloads, "fal", "fal-ai/flux/schnell"),
        (premium_states, premium_downloads, "replicate", "black-forest-labs/flux-dev"),
    ):
        final = states[-1]
        assert (final["progress"], len(final["images"])) == (100, 1)
        provenance = final["images"][0]["provenance"]
        assert (provenance["provider"], provenance["model"]) == (provider, model)
        assert provenance["licence_note"]
        assert all("X-Amz-Signature=" in variant["url"] for variant in final["images"][0]["variants"])
        assert downloads
        for data in downloads:
            Image.open(io.BytesIO(data)).load()
    assert GenerationJob.objects.get(pk=free_job).queue == "standard"
    assert GenerationJob.objects.get(pk=premium_job).queue == "premium"
    assert fal.submissions == 1
    assert replicate.submissions == 1
