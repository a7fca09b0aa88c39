"""Runs the embedded stack (as `make run` does) and reports what a websocket client saw.

Started by a test in a subprocess with no service variables set, so the settings fall back to
SQLite, the in-memory broker and the in-process channel layer. Prints one JSON line.
"""

import asyncio
import json
import os
import sys
import threading
import time
import urllib.request

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "avatarsite.settings.base"
django.setup()

import websockets  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from avatarsite.celery import app as celery_app  # noqa: E402
from avatarsite.core.embedded import EmbeddedWorker, build_server  # noqa: E402
from generation.models import GenerationJob  # noqa: E402
from generation.tasks import job_progress_publish  # noqa: E402


def main(port: int) -> dict:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("embedded", "embedded@example.com", "pw-123456789")
    job = GenerationJob.objects.create(user=user, prompt="a robot with a flower")
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    worker = EmbeddedWorker(concurrency=1)
    worker.start()
    server = build_server("127.0.0.1", port, log_level="warning")
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start")
        time.sleep(0.05)

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        health = json.loads(response.read())

    async def listen() -> list[dict]:
        headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/jobs/{job.pk}/", additional_headers=headers) as socket:
            first = json.loads(await asyncio.wait_for(socket.recv(), 10))
            job_progress_publish.delay(str(job.pk), 70, "almost there")
            second = json.loads(await asyncio.wait_for(socket.recv(), 20))
            return [first, second]

    messages = asyncio.run(listen())
    server.should_exit = True
    worker.stop()
    return {
        "broker": celery_app.conf.broker_url,
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
        "database": settings.DATABASES["default"]["ENGINE"],
        "health": health,
        "messages": messages,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
