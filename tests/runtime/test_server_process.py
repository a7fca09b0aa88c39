"""What a server process (a Celery prefork child, a web server process) does once, as it starts."""

import json
import subprocess

from avatarsite.runtime.server_process import IMAGE_MEMORY_BLOCKS_KEPT, THREAD_SWITCH_INTERVAL_SECONDS
from tests.support.processes import PROJECT_DIR, PYTHON, project_env


def _process_started(code: str) -> dict:
    """Run `code` in a fresh Python process of the project; the JSON it prints last."""
    result = subprocess.run([PYTHON, "-c", code], cwd=PROJECT_DIR, env=project_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


CHILD_START = """
import gc, json, sys
import django
django.setup()
from celery.signals import worker_process_init
import avatarsite.celery  # noqa: F401 - connects the handlers
from django.core.files.storage import storages
from PIL import Image
before = gc.get_freeze_count()
worker_process_init.send(sender=None)
print(json.dumps({"before": before, "after": gc.get_freeze_count(), "tracked": len(gc.get_objects()),
                  "connection": storages["default"].connected, "image_blocks": Image.core.get_blocks_max(),
                  "switch_interval": sys.getswitchinterval()}))
"""


def test_a_starting_child_makes_its_lifelong_objects_and_hides_them_from_the_garbage_collector():
    """Full collections walked every object Django and boto3 keep: a pause of up to 160 ms in the
    middle of a job. Frozen at the child's start, a collection walks a fraction of them."""
    seen = _process_started(CHILD_START)

    assert seen["before"] == 0
    assert seen["connection"]  # the S3 client, made before the freeze rather than by the first task
    assert seen["after"] > 10 * seen["tracked"]
    assert seen["image_blocks"] == IMAGE_MEMORY_BLOCKS_KEPT  # Pillow's default, 0, gives each image's memory back
    assert seen["switch_interval"] == THREAD_SWITCH_INTERVAL_SECONDS  # Python's default is 0.005


WEB_START = """
import asyncio, gc, json, sys
from asgiref.testing import ApplicationCommunicator
from avatarsite.asgi import application  # what uvicorn imports in each of its processes
from django.core.files.storage import storages
from PIL import Image
imported = gc.get_freeze_count()

async def start():
    server = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await server.send_input({"type": "lifespan.startup"})
    return (await server.receive_output(timeout=30))["type"]

started = asyncio.run(start())
print(json.dumps({"imported": imported, "started": started, "after": gc.get_freeze_count(), "tracked": len(gc.get_objects()),
                  "connection": storages["default"].connected, "image_blocks": Image.core.get_blocks_max(),
                  "switch_interval": sys.getswitchinterval()}))
"""


def test_a_web_server_process_freezes_its_lifelong_objects_at_startup():
    """A full collection in the web process paused every request in flight (108 ms measured).
    At the server's start (the ASGI lifespan), not on import: a test process imports it too."""
    seen = _process_started(WEB_START)

    assert (seen["imported"], seen["started"]) == (0, "lifespan.startup.complete")
    assert seen["connection"]
    assert seen["after"] > 10 * seen["tracked"]
    assert seen["image_blocks"] == IMAGE_MEMORY_BLOCKS_KEPT
    assert seen["switch_interval"] == THREAD_SWITCH_INTERVAL_SECONDS


WORKER_START = """
import gc, json, sys
import django
django.setup()
from celery.signals import worker_init
import avatarsite.celery  # noqa: F401 - connects the handlers
class Worker:  # what the handler reads of the WorkController that sends worker_init
    pool_cls = sys.argv[1]
worker_init.send(sender=Worker())
print(json.dumps({"frozen": gc.get_freeze_count(), "switch_interval": sys.getswitchinterval()}))
"""


def test_a_thread_pool_worker_sets_up_its_one_process_and_a_prefork_main_process_leaves_it_to_its_children():
    """On the thread pool the worker's own process runs the tasks: no child sends worker_process_init,
    so the worker does what a child would as it starts. A prefork worker's main process runs no task."""
    threads = _process_started(WORKER_START.replace("sys.argv[1]", "'threads'"))
    prefork = _process_started(WORKER_START.replace("sys.argv[1]", "'prefork'"))

    assert threads["frozen"] > 0
    assert threads["switch_interval"] == THREAD_SWITCH_INTERVAL_SECONDS
    assert (prefork["frozen"], prefork["switch_interval"]) == (0, 0.005)
