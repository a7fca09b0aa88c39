"""A client following only the API docs: the guide's end-to-end example, run as written (this site's
address and a real key in the variables it reads) against the running site on PostgreSQL and R2 (the
S3 server) and a real worker, saves an avatar: its image link is absolute and works without the key."""

import io
import re
from pathlib import Path

import pytest
from PIL import Image

from billing.models import Plan, Subscription
from billing.services import api_key_create
from tests.support.processes import celery_worker_args, project_env, running, subprocess_database_url
from tests.support.workers import log_tail

GUIDE = Path(__file__).resolve().parents[2] / "avatarsite" / "core" / "api_docs.md"


def _guide_example() -> str:
    section = GUIDE.read_text().split("## Generating an avatar, end to end", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.django_db(transaction=True)
def test_the_guides_example_generates_and_saves_an_avatar(live_server, django_user_model, broker, artifacts_dir, tmp_path, monkeypatch):
    user = django_user_model.objects.create_user("integrator", "integrator@example.com", "pw-123456789")
    Subscription.objects.create(user=user, plan=Plan.objects.get(slug="enterprise"))
    _, raw_key = api_key_create(user=user, name="docs example")
    example = _guide_example()  # run as written: the site and the key come from the variables it names
    monkeypatch.setenv("AVATARSITE_API", f"{live_server.url}/api/v1")
    monkeypatch.setenv("AVATARSITE_API_KEY", raw_key)
    monkeypatch.chdir(tmp_path)
    log = artifacts_dir / "docs-example-worker.log"

    with running(celery_worker_args("enterprise"), env=project_env(DATABASE_URL=subprocess_database_url()), log=log):
        namespace: dict = {}
        exec(compile(example, str(GUIDE), "exec"), namespace)  # noqa: S102 - our own documentation's example

    assert namespace["job"]["status"] == "succeeded", log_tail(log)
    saved = Image.open(io.BytesIO((tmp_path / "avatar.jpg").read_bytes()))
    assert saved.size == (1024, 1024)
