"""Promises of the progress channel: Celery's messages reach the browser without leaking Redis
connections, and a client that missed messages converges on reconnect (it is sent the stored state first)."""

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
import requests
import websockets
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from django.conf import settings as django_settings
from django.test import Client

from avatarsite.accounts.services import user_create
from avatarsite.asgi import application
from generation.consumers import JobProgressConsumer
from generation.models import GenerationJob
from generation.services import generation_job_create, generation_job_run
from generation.tasks import job_progress_publish
from tests.fakes.fal import FakeFal
from tests.support.processes import celery_worker_args, free_port, project_env, running, subprocess_database_url, uvicorn_args

PASSWORD = "a-long-password-1"
ORIGIN = "http://127.0.0.1:8000"
BURST = 500
WARM_UP = 20


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def _redis_clients(client: redis.Redis) -> int:
    return int(client.info("clients")["connected_clients"])


def _settled_clients(client: redis.Redis, *, timeout: float = 20.0) -> int:
    """connected_clients once it holds still for a second (connections closing are counted until they are gone)."""
    deadline = time.monotonic() + timeout
    last, since = _redis_clients(client), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = _redis_clients(client)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            break
    return last


async def _until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _publish(job_id: str, messages: list[tuple[int, str]]) -> None:
    for progress, message in messages:
        job_progress_publish.apply_async(args=[job_id, progress, message], queue="standard", ignore_result=True)


# --- progress from a worker reaches the owner's socket, and no Redis connection leaks -------------------
@pytest.mark.django_db(transaction=True)
def test_celery_progress_reaches_the_owners_socket_and_500_sends_leak_no_redis_connections(artifacts_dir):
    """Progress from a worker reaches the socket without leaking connections: real uvicorn + a real worker (-c
    1): progress sent with async_to_sync(group_send) from the worker reaches the owner's websocket; after 500
    more such tasks in the same worker process, Redis' connected_clients has not grown (measured after a
    warm-up)."""
    owner = user_create(username="listener", email="listener@example.com", password=PASSWORD)
    job = GenerationJob.objects.create(user=owner, prompt="a cat astronaut")
    job_id = str(job.pk)
    cookie = _session_cookie(owner)
    port = free_port()
    env = project_env(DATABASE_URL=subprocess_database_url())
    info = redis.Redis.from_url(django_settings.REDIS_URL)
    measured: dict = {}

    async def listen() -> list[dict]:
        received: list[dict] = []
        headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}

        def seen(message: str) -> bool:
            return any(state.get("message") == message for state in received)

        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/jobs/{job_id}/", additional_headers=headers, open_timeout=30) as socket:

            async def read() -> None:
                async for raw in socket:
                    received.append(json.loads(raw))

            reader = asyncio.create_task(read())
            await _until(lambda: bool(received), timeout=30, what="the state sent on connect")
            await asyncio.to_thread(_publish, job_id, [(40, "from celery")])
            await _until(lambda: seen("from celery"), timeout=90, what="the worker's first progress message")

            await asyncio.to_thread(_publish, job_id, [(n, f"warm-up {n}") for n in range(WARM_UP)])
            await _until(lambda: seen(f"warm-up {WARM_UP - 1}"), timeout=90, what="the warm-up messages")
            measured["before"] = await asyncio.to_thread(_settled_clients, info)

            burst = [(n % 100, f"burst {n}") for n in range(BURST - 1)] + [(100, "burst done")]
            await asyncio.to_thread(_publish, job_id, burst)
            await _until(lambda: seen("burst done"), timeout=240, what=f"the last of {BURST} progress messages")
            measured["after"] = await asyncio.to_thread(_settled_clients, info)
            reader.cancel()
            return received

    with (
        running(uvicorn_args(port), env=env, port=port, log=artifacts_dir / "ws-promises-uvicorn.log"),
        running(celery_worker_args("standard", concurrency=1), env=env, log=artifacts_dir / "ws-promises-worker.log"),
    ):
        received = asyncio.run(listen())
    info.close()
    (artifacts_dir / "ws-promises-redis-clients.json").write_text(json.dumps({**measured, "messages_received": len(received)}))

    assert received[0]["status"] == "queued"
    first = next(state for state in received if state.get("message") == "from celery")
    assert (first["job_id"], first["progress"]) == (job_id, 40)
    job.refresh_from_db()
    assert (job.progress, job.message) == (100, "burst done")  # all 500 ran, in order, in the one worker process
    assert measured["after"] <= measured["before"], measured


# --- on (re)connect the stored state comes first, so a client that missed messages converges -------------
@pytest.fixture
def capacity_one_layer(settings) -> Iterator[None]:
    """channels-redis on the test Redis with room for one message per channel (its own prefix)."""
    layer = copy.deepcopy(settings.CHANNEL_LAYERS["default"])
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    layer["CONFIG"].update(capacity=1, prefix=f"asgi-capacity-{uuid.uuid4().hex[:8]}")
    settings.CHANNEL_LAYERS = {"default": layer}
    channel_layers.backends.clear()  # setting_changed does this too; the layer must be rebuilt
    yield
    channel_layers.backends.clear()


@pytest.fixture
def fal(settings) -> Iterator[FakeFal]:
    """The free plan's first provider, slow enough to report its queue and steps."""
    fake = FakeFal(latency=0.6, queue_seconds=0.5, queue_position=3).start()
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "generation.providers.fal.FalProvider", "OPTIONS": fake.adapter_options()},
    }
    yield fake
    fake.stop()


async def _drain(communicator: WebsocketCommunicator, *, quiet: float = 1.5) -> list[dict]:
    """Everything the app sends until it has been quiet for `quiet` seconds (never cancels the app)."""
    messages = []
    while not await communicator.receive_nothing(timeout=quiet, interval=0.02):
        messages.append(await communicator.receive_json_from(timeout=5))
    return messages


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_client_that_missed_dropped_messages_gets_the_final_state_first_on_reconnect(capacity_one_layer, fal, monkeypatch):
    """A client that missed messages converges on reconnect: with capacity 1, the group messages of a client
    that does not read are dropped; the job still finishes (the row says so), and a reconnecting client first
    receives that final state."""
    monkeypatch.setattr("generation.dispatch.job_run_enqueue", lambda job: None)  # the broker is not under test here
    monkeypatch.setattr("generation.dispatch.images_finish_enqueue", lambda job: None)
    # A client that does not read: the consumer's sends to it are held until the gate opens, as a
    # send blocks on a socket whose buffers are full; meanwhile it takes nothing from its channel.
    gate, stall = asyncio.Event(), {"on": True}
    forward = JobProgressConsumer.job_state

    async def held_job_state(self, event: dict) -> None:
        if stall["on"]:
            await gate.wait()
        await forward(self, event)

    monkeypatch.setattr(JobProgressConsumer, "job_state", held_job_state)
    sent: list[tuple[str, int]] = []
    group_send = RedisChannelLayer.group_send

    async def counting_group_send(self, group: str, message: dict) -> None:
        sent.append((message.get("status"), message.get("progress")))
        await group_send(self, group, message)

    monkeypatch.setattr(RedisChannelLayer, "group_send", counting_group_send)

    owner = await database_sync_to_async(user_create)(username="slowreader", email="slow@example.com", password=PASSWORD)
    job = await database_sync_to_async(generation_job_create)(user_id=owner.pk, prompt="a fox in a hoodie")
    headers = [(b"origin", ORIGIN.encode()), (b"cookie", (await database_sync_to_async(_session_cookie)(owner)).encode())]
    path = f"/ws/jobs/{job.pk}/"

    first_client = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await first_client.connect(timeout=10)
    assert connected
    assert (await first_client.receive_json_from(timeout=10))["status"] == "queued"

    # The whole job runs while the client does not read (group_send runs on this loop, between awaits).
    done = await database_sync_to_async(generation_job_run)(job_id=str(job.pk))
    row = await database_sync_to_async(GenerationJob.objects.get)(pk=job.pk)

    stall["on"] = False
    gate.set()
    missed = await _drain(first_client)
    await first_client.disconnect()

    assert done.status == row.status == "succeeded"
    assert row.progress == 100
    assert len(sent) >= 4, sent  # running, several progress steps, succeeded
    assert sent[-1] == ("succeeded", 100)
    assert len(missed) <= 2  # the one taken before the stall and the one the channel had room for
    assert len(missed) < len(sent)
    assert "succeeded" not in [state["status"] for state in missed]  # the final message was among the dropped

    second_client = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await second_client.connect(timeout=10)
    assert connected
    state = await second_client.receive_json_from(timeout=10)
    await second_client.disconnect()

    assert (state["job_id"], state["status"], state["progress"]) == (str(job.pk), "succeeded", 100)
    assert len(state["images"]) == 1
    urls = [variant["url"] for variant in state["images"][0]["variants"]]
    assert urls
    assert all("X-Amz-Signature=" in url for url in urls)
    download = await asyncio.to_thread(requests.get, urls[0], timeout=10)
    assert download.status_code == 200
    assert download.content[:2] == b"\xff\xd8"  # the stored JPEG
