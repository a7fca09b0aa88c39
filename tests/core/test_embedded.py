"""The embedded default (no env vars): one process serves pages, websockets and Celery tasks."""

import json
import signal
import subprocess
import urllib.request

from tests.support.processes import PROJECT_DIR, PYTHON, embedded_env, free_port, running


def _embedded_env(tmp_path) -> dict[str, str]:
    # Still SQLite, but a file of the test's own rather than the project's.
    return embedded_env(tmp_path / "media", DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}")


def test_celery_task_reaches_a_websocket_client_on_the_embedded_default(tmp_path):
    result = subprocess.run(
        [PYTHON, "-m", "tests.support.embedded_probe", str(free_port())],
        cwd=PROJECT_DIR,
        env=_embedded_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["broker"] == "memory://"
    assert seen["channel_layer"] == "avatarsite.core.channel_layers.EmbeddedChannelLayer"
    assert seen["database"] == "django.db.backends.sqlite3"
    assert seen["health"]["status"] == "ok"
    first, second = seen["messages"]
    assert (first["status"], first["progress"]) == ("queued", 0)
    assert (second["progress"], second["message"]) == (70, "almost there")


def test_serve_command_answers_healthz_on_the_embedded_default(tmp_path, artifacts_dir):
    env = _embedded_env(tmp_path)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True, timeout=120)
    port = free_port()

    with running([PYTHON, "manage.py", "serve", "--port", str(port)], env=env, port=port, log=artifacts_dir / "serve.log") as serve:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            status, body = response.status, json.loads(response.read())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/site.css", timeout=10) as response:
            css_status = response.status
        serve.send_signal(signal.SIGINT)  # Ctrl-C stops the web server and the worker
        exit_code = serve.wait(timeout=30)

    assert status == 200
    assert body["checks"]["storage"]["backend"] == "default=local,public=local"
    assert body["checks"]["broker"]["backend"] == "memory"
    assert css_status == 200
    assert exit_code == 0


JOB_ON_SQLITE = """
import json
from avatarsite.accounts.services import user_create
from generation.models import GenerationJob
from generation.services import generation_job_claim, generation_job_create, generation_job_run

user = user_create(username="ada", email="ada@example.com", password="a-long-password-1")
done = generation_job_run(job_id=str(generation_job_create(user_id=user.pk, prompt="a fox in a scarf", style="flat").id))
again, again_lease = generation_job_claim(job_id=str(done.id))  # a redelivered task: left alone
cut = generation_job_create(user_id=user.pk, prompt="a fox in a hat", style="flat")
GenerationJob.objects.filter(pk=cut.pk).update(status="running", runs=1, progress=40)  # a run that was cut off
resumed, resumed_lease = generation_job_claim(job_id=str(cut.pk))
print(json.dumps({
    "done": [done.status, done.runs, done.images.count()], "again": [again.status, again.runs, bool(again_lease)],
    "resumed": [
        resumed.status, resumed.runs, resumed.progress, resumed.message, resumed.lease_token == resumed_lease != "",
        resumed.started_at is not None,
    ],
}))
"""


def test_a_job_is_claimed_and_runs_on_the_embedded_default_sqlite(tmp_path):
    """The claim (and its lease) is one UPDATE ... RETURNING, which SQLite (3.35+) takes as PostgreSQL does."""
    env = _embedded_env(tmp_path)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True, timeout=120)

    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", JOB_ON_SQLITE], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["done"] == ["succeeded", 1, 1]
    assert seen["again"] == ["succeeded", 1, False]
    assert seen["resumed"] == ["running", 2, 40, "Picking up where the last run stopped", True, True]
