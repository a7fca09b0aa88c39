"""billing.dispatch sends each task by a name a worker has registered, with the options it always had,
so a service enqueues without importing the task module (and a renamed task cannot go unnoticed)."""

import pytest
from celery import current_app
from django.conf import settings

from avatarsite.celery import app
from billing import dispatch

pytestmark = pytest.mark.fast


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    """What the seam hands to Celery (the broker itself is not needed to check a name)."""
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **options: calls.append((name, options)))
    return calls


def _registered() -> set[str]:
    app.loader.import_default_modules()  # what a worker does at start: every installed app's tasks module
    return set(app.tasks)


def test_the_app_the_seam_sends_with_is_the_project_s():
    assert current_app == app


def test_each_name_dispatch_sends_is_registered(sent):
    dispatch.stripe_event_process(event_id="evt_1")

    assert [name for name, _ in sent] == list(dispatch.TASK_NAMES)
    registered = _registered()
    for name in dispatch.TASK_NAMES:
        assert name in registered, f"{name} is sent by billing.dispatch but no task is registered under it"


def test_an_event_is_sent_with_its_id_ahead_of_the_queue(sent):
    dispatch.stripe_event_process(event_id="evt_1")

    assert sent == [("billing.tasks.stripe_event_process", {"args": ("evt_1",), "priority": 0})]


def test_billing_s_scheduled_tasks_are_registered():
    names = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"].startswith("billing.")]

    assert names
    assert set(names) <= _registered()
