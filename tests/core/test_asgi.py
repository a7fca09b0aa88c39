"""The HTTP side of the ASGI application (the middleware chain and view in one trip to the sync
thread): both kinds of view, sync pages and the async health check, are served through it."""

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
