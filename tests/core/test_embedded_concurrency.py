"""The embedded default (SQLite, in-process worker) under concurrent generation requests: every
submit is answered, every job runs, and every job gets all its sizes."""

import json
import re
import subprocess
import threading

import requests

from tests.support.processes import PROJECT_DIR, PYTHON, embedded_env, free_port, running
from tests.support.workers import wait_for

USERS = 10
SUBMITS_PER_USER = 2
CSRF = "c" * 32  # an unmasked secret is a valid form token for the same cookie

SIGN_IN = """
import json
from django.test import Client
from avatarsite.accounts.services import user_create

cookies = []
for n in range({users}):
    user = user_create(username=f"user{{n}}", email=f"user{{n}}@example.com", password="a-long-password-1")
    client = Client()
    client.force_login(user)
    cookies.append(client.cookies["sessionid"].value)
print(json.dumps(cookies))
"""


def _sign_in(env: dict[str, str]) -> list[str]:
    """Users and their sessions, written to the site's SQLite file before the server starts."""
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", SIGN_IN.format(users=USERS)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _expected_variants(width: int) -> int:
    # Every size of the gallery below the image's side, plus the side itself, in WebP and JPEG.
    largest = min(width, 2048)
    return (len([size for size in (64, 128, 256, 512, 1024) if size < largest]) + 1) * 2


def test_twenty_concurrent_submits_on_the_embedded_default_are_all_answered_and_finished(tmp_path, artifacts_dir):
    env = embedded_env(tmp_path / "media", DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}")
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True, timeout=120)
    sessions = _sign_in(env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = artifacts_dir / "embedded-concurrency.log"
    styles = ("flat", "pastel", "comic", "pixel")
    submits = [
        (sessions[n % USERS], f"a fox number {n} in a {styles[n % 4]} scarf", styles[n % 4]) for n in range(USERS * SUBMITS_PER_USER)
    ]
    answers: list[requests.Response | requests.RequestException | None] = [None] * len(submits)
    start = threading.Barrier(len(submits))

    def submit(index: int, session: str, prompt: str, style: str) -> None:
        start.wait()
        try:
            answers[index] = requests.post(
                f"{base}/generate/",
                data={"prompt": prompt, "style": style, "size": 1024, "csrfmiddlewaretoken": CSRF},
                cookies={"sessionid": session, "csrftoken": CSRF},
                allow_redirects=False,
                timeout=60,
            )
        except requests.RequestException as exc:  # reported by the assertion below
            answers[index] = exc

    with running([PYTHON, "manage.py", "serve", "--port", str(port)], env=env, port=port, log=log):
        threads = [threading.Thread(target=submit, args=(n, *args)) for n, args in enumerate(submits)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)

        statuses = [getattr(answer, "status_code", repr(answer)) for answer in answers]
        assert statuses == [302] * len(submits), statuses
        jobs = [
            (session, re.fullmatch(r"/generate/jobs/([0-9a-f-]+)/", answer.headers["Location"]).group(1))
            for (session, *_), answer in zip(submits, answers, strict=True)
        ]

        seen: list[tuple[str, list[int]]] = []

        def finished() -> bool:
            states = []
            for session, job_id in jobs:
                response = requests.get(f"{base}/generate/jobs/{job_id}/status/", cookies={"sessionid": session}, timeout=30)
                assert response.status_code == 200, (job_id, response.status_code)
                states.append(response.json())
            seen[:] = [(state["status"], [len(image["variants"]) for image in state["images"]]) for state in states]
            return all(
                state["status"] == "succeeded"
                and state["images"]
                and all(len(image["variants"]) == _expected_variants(image["width"]) for image in state["images"])
                for state in states
            )

        try:
            wait_for(finished, timeout=240, interval=1, what="every job succeeded with all its sizes")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; (status, variants per image) of each job: {seen}") from None

    text = log.read_text()
    assert "database is locked" not in text
    assert "Traceback" not in text, text[-3000:]
