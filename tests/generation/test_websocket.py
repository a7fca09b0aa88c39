"""Job progress over websockets: who may listen, and messages from Celery reaching the browser."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from avatarsite.asgi import application
from generation.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from generation.models import GenerationJob
from generation.tasks import job_progress_publish
from tests.support.processes import celery_worker_args, free_port, project_env, running, subprocess_database_url, uvicorn_args

ORIGIN = "http://127.0.0.1:8000"
IDLE_SECONDS = 6


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture
def owner_and_job(django_user_model):
    owner = django_user_model.objects.create_user("owner", "owner@example.com", "pw-123456789")
    return owner, GenerationJob.objects.create(user=owner, prompt="a cat astronaut")


async def _connect(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None, WebsocketCommunicator]:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return connected, code, communicator


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_owner_connects_and_first_receives_the_persisted_job_state(owner_and_job):
    owner, job = owner_and_job
    cookie = await database_sync_to_async(_session_cookie)(owner)

    connected, _, communicator = await _connect(f"/ws/jobs/{job.pk}/", [(b"origin", ORIGIN.encode()), (b"cookie", cookie.encode())])

    assert connected
    state = await communicator.receive_json_from(timeout=5)
    assert state["job_id"] == str(job.pk)
    assert state["status"] == "queued"
    assert state["progress"] == 0
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_client_may_ask_for_the_state_again_at_most_once_a_second_and_garbage_is_ignored(owner_and_job):
    owner, job = owner_and_job
    cookie = await database_sync_to_async(_session_cookie)(owner)
    connected, _, communicator = await _connect(f"/ws/jobs/{job.pk}/", [(b"origin", ORIGIN.encode()), (b"cookie", cookie.encode())])
    assert connected
    await communicator.receive_json_from(timeout=5)  # the state on connect

    await communicator.send_to(text_data="{not json")
    await communicator.send_json_to({"type": "refresh"})
    refreshed = await communicator.receive_json_from(timeout=5)
    await communicator.send_json_to({"type": "refresh"})  # too soon: ignored

    assert (refreshed["job_id"], refreshed["status"], refreshed["queue_position"]) == (str(job.pk), "queued", 1)
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("who", "origin", "expected_close"),
    [
        ("anonymous", ORIGIN, CLOSE_UNAUTHENTICATED),
        ("stranger", ORIGIN, CLOSE_NOT_FOUND),
        ("owner", "https://evil.example.com", None),
        ("owner", None, None),
    ],
    ids=["anonymous", "another-users-job", "foreign-origin", "missing-origin"],
)
async def test_connect_is_refused_to_anyone_but_the_owner_from_our_own_origin(
    owner_and_job, django_user_model, who, origin, expected_close
):
    """An anonymous socket, another user's job, a foreign or a missing Origin: each is refused at connect."""
    owner, job = owner_and_job
    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if who == "owner":
        headers.append((b"cookie", (await database_sync_to_async(_session_cookie)(owner)).encode()))
    elif who == "stranger":
        stranger = await database_sync_to_async(django_user_model.objects.create_user)("stranger", "s@example.com", "pw-123456789")
        headers.append((b"cookie", (await database_sync_to_async(_session_cookie)(stranger)).encode()))

    connected, code, communicator = await _connect(f"/ws/jobs/{job.pk}/", headers)

    assert not connected
    if expected_close is not None:
        assert code == expected_close
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
def test_message_sent_by_a_celery_task_reaches_the_websocket_client_of_the_real_asgi_app(owner_and_job, artifacts_dir):
    """uvicorn serving the ASGI app + a Celery worker process, both on Redis; a real websocket client."""
    owner, job = owner_and_job
    port = free_port()
    env = project_env(DATABASE_URL=subprocess_database_url())

    async def listen() -> list[dict]:
        headers = {"Cookie": _session_cookie_sync, "Origin": f"http://127.0.0.1:{port}"}
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/jobs/{job.pk}/", additional_headers=headers, open_timeout=10) as socket:
            first = json.loads(await asyncio.wait_for(socket.recv(), 10))
            # Idle past the layer's 5 s blocking read: the consumer must still be alive afterwards.
            await asyncio.sleep(IDLE_SECONDS)
            await asyncio.to_thread(job_progress_publish.apply_async, args=[str(job.pk), 40, "sketching"], queue="standard")
            second = json.loads(await asyncio.wait_for(socket.recv(), 30))
            return [first, second]

    _session_cookie_sync = _session_cookie(owner)
    with (
        running(uvicorn_args(port), env=env, port=port, log=artifacts_dir / "uvicorn.log"),
        running(celery_worker_args("standard"), env=env, log=artifacts_dir / "ws-worker.log"),
    ):
        first, second = asyncio.run(listen())

    assert first["status"] == "queued"
    assert first["progress"] == 0
    assert second["job_id"] == str(job.pk)
    assert second["progress"] == 40
    assert second["message"] == "sketching"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_client_never_hears_a_state_older_than_one_it_was_sent(owner_and_job):
    """Messages from several processes may arrive out of order (a run's last
    report sent after the user's cancel): the page never moves backwards."""
    from channels.layers import get_channel_layer

    from generation.payloads import job_state

    owner, job = owner_and_job
    cookie = await database_sync_to_async(_session_cookie)(owner)
    connected, _, communicator = await _connect(f"/ws/jobs/{job.pk}/", [(b"origin", ORIGIN.encode()), (b"cookie", cookie.encode())])
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["status"] == "queued"
    layer = get_channel_layer()

    async def send(**fields) -> None:
        state = await database_sync_to_async(job_state)(
            job=GenerationJob(**{**{f.attname: getattr(job, f.attname) for f in job._meta.concrete_fields}, **fields})
        )
        await layer.group_send(job.group_name, {**state, "type": "job.state"})

    await send(status="running", progress=40, message="Generating at fal (step 2/4)")
    assert (await communicator.receive_json_from(timeout=5))["progress"] == 40
    await send(status="running", progress=20, message="an older report")  # behind: dropped
    await send(status="canceled", progress=40, message="Canceled")
    assert (await communicator.receive_json_from(timeout=5))["status"] == "canceled"
    await send(status="running", progress=60, message="Generating at fal (step 3/4)")  # after the end: dropped
    assert await communicator.receive_nothing(timeout=1)
    await communicator.disconnect()
