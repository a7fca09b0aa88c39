"""What a server process (a Celery prefork child, a web server process) does once, as it starts."""

import json
import subprocess

from tests.support.processes import PROJECT_DIR, PYTHON, project_env

CHILD_START = """
import gc, json
import django
django.setup()
from celery.signals import worker_process_init
import avatarsite.celery  # noqa: F401 - connects the handlers
from django.core.files.storage import storages
before = gc.get_freeze_count()
worker_process_init.send(sender=None)
print(json.dumps({"before": before, "after": gc.get_freeze_count(), "tracked": len(gc.get_objects()),
                  "connection": storages["default"]._process_connection is not None}))
"""


def test_a_starting_child_makes_its_lifelong_objects_and_hides_them_from_the_garbage_collector():
    """Full collections walked every object Django and boto3 keep: a pause of up to 160 ms in the
    middle of a job. Frozen at the child's start, a collection walks a fraction of them."""
    result = subprocess.run([PYTHON, "-c", CHILD_START], cwd=PROJECT_DIR, env=project_env(), capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0
    assert seen["connection"]  # the S3 client, made before the freeze rather than by the first task
    assert seen["after"] > 10 * seen["tracked"]


WEB_START = """
import gc, json
before = gc.get_freeze_count()
from avatarsite.asgi import application  # what uvicorn imports in each of its processes
from django.core.files.storage import storages
print(json.dumps({"before": before, "after": gc.get_freeze_count(), "tracked": len(gc.get_objects()),
                  "connection": storages["default"]._process_connection is not None}))
"""


def test_a_web_server_process_freezes_its_lifelong_objects_before_its_first_request():
    """A full collection in the web process paused every request in flight (108 ms measured)."""
    result = subprocess.run([PYTHON, "-c", WEB_START], cwd=PROJECT_DIR, env=project_env(), capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0
    assert seen["connection"]
    assert seen["after"] > 10 * seen["tracked"]
