"""The HTTP side of the ASGI application (the middleware chain and view in one trip to the sync
thread): both kinds of view, sync pages and the async health check, are served through it."""

import threading

import pytest
from asgiref.testing import ApplicationCommunicator


async def _get(path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    from avatarsite.asgi import application

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 50000), "server": ("localhost", 80),
    }  # fmt: skip
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(timeout=10)
    body = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait()
    return start["status"], {name.lower(): value for name, value in start["headers"]}, body


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_sync_page_and_async_health_check_are_served(settings):
    status, headers, body = await _get("/pricing/")
    assert status == 200
    assert b"Premium" in body
    assert headers[b"x-frame-options"] == b"DENY"  # the last middleware ran

    status, _, body = await _get("/healthz")
    assert status == 200
    assert b'"ok"' in body


def test_tasks_sent_from_request_threads_share_the_process_result_backend():
    """Django runs each ASGI request in a new thread; a backend per thread (Celery's default) was
    built anew for every task a request sent."""
    from avatarsite.celery import app

    backends = []
    for _ in range(3):
        thread = threading.Thread(target=lambda: backends.append(app.backend))
        thread.start()
        thread.join()

    assert len(backends) == 3
    assert all(backend is app.backend for backend in backends)
