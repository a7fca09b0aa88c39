"""The enqueue seam sends the generation tasks by name: each name it sends is one the Celery app
registers, with the queue and priority of the job's plan (the other sizes just after it)."""

from types import SimpleNamespace

import pytest

from avatarsite.celery import app
from generation import dispatch, tasks

pytestmark = pytest.mark.fast


def _sent(monkeypatch) -> list[tuple[str, dict]]:
    sent = []
    monkeypatch.setattr("generation.dispatch.task_send", lambda name, **options: sent.append((name, options)))
    return sent


def test_every_task_dispatch_sends_is_a_task_the_celery_app_registers(monkeypatch):
    sent = _sent(monkeypatch)
    job = SimpleNamespace(id="6f1c2b1e-0000-4000-8000-000000000001", queue="premium", priority=2)

    dispatch.job_run_enqueue(job)
    dispatch.images_finish_enqueue(job)
    dispatch.webhook_delivery_enqueue("delivery-1")

    names = [name for name, _ in sent]
    assert names == list(dispatch.TASK_NAMES)  # every public enqueue function, one message each
    assert set(names) <= set(app.tasks)
    assert [tasks.job_run.name, tasks.job_images_finish.name, tasks.webhook_deliver.name] == names


def test_a_job_s_messages_go_to_its_plan_s_lane_and_the_other_sizes_just_after_it(monkeypatch):
    sent = _sent(monkeypatch)

    dispatch.job_run_enqueue(SimpleNamespace(id="a", queue="premium", priority=2))
    dispatch.images_finish_enqueue(SimpleNamespace(id="a", queue="premium", priority=2))
    dispatch.images_finish_enqueue(SimpleNamespace(id="b", queue="batch", priority=9))
    dispatch.webhook_delivery_enqueue("d")

    assert [options for _, options in sent] == [
        {"args": ["a"], "queue": "premium", "priority": 2},
        {"args": ["a"], "queue": "premium", "priority": 3},
        {"args": ["b"], "queue": "batch", "priority": 9},  # never past the lowest priority
        {"args": ["d"]},  # the generation tasks' default route
    ]
