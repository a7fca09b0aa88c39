"""Paths that match nothing, under a real uvicorn: a websocket is refused cleanly (no 500, no traceback in
the server's log) and an /api/ URL is a JSON 404, with DEBUG on as well as off."""

import asyncio

import pytest
import requests
import websockets

from tests.support.processes import embedded_env, free_port, running, uvicorn_args


async def _handshake_status(url: str, origin: str) -> int:
    try:
        async with websockets.connect(url, additional_headers={"Origin": origin}, open_timeout=10):
            return 101
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code


@pytest.mark.parametrize("debug", ["true", "false"])
def test_unrouted_websockets_are_refused_and_unrouted_api_paths_are_json_404s(tmp_path, artifacts_dir, debug):
    env = embedded_env(tmp_path / "media", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DJANGO_DEBUG=debug)
    port = free_port()
    base, origin = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    log = artifacts_dir / f"unrouted-debug-{debug}.log"

    with running(uvicorn_args(port), env=env, port=port, log=log):
        sockets = {
            path: asyncio.run(_handshake_status(f"ws://{base}{path}", origin)) for path in ("/ws/jobs/not-a-uuid/", "/anything", "/")
        }
        api = {
            path: requests.get(f"http://{base}{path}", timeout=10, allow_redirects=False)
            for path in ("/api/v1/nothing", "/api/nothing/here/")
        }
        # A POST without a CSRF token: a 404 too (an API client has no CSRF cookie), not a 403.
        api["POST /api/v1/nothing"] = requests.post(f"http://{base}/api/v1/nothing", json={}, timeout=10, allow_redirects=False)
        docs = requests.get(f"http://{base}/api/docs", timeout=10, allow_redirects=False)

    assert sockets == {"/ws/jobs/not-a-uuid/": 403, "/anything": 403, "/": 403}
    for path, response in api.items():
        assert (path, response.status_code, response.headers["Content-Type"]) == (path, 404, "application/json")
        assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "details": {}}}
    assert (docs.status_code, docs.headers["Location"]) == (301, "/api/docs/")  # APPEND_SLASH still applies
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert "No route found" not in text
