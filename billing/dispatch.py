"""The one seam where billing enqueues its Celery tasks: each is sent by its registered name, so the
services that enqueue never import the tasks that call them (tests patch these functions)."""

from celery import current_app

# The names billing/tasks.py registers its tasks under (a test checks each is registered).
STRIPE_EVENT_PROCESS = "billing.tasks.stripe_event_process"
TASK_NAMES = (STRIPE_EVENT_PROCESS,)


def stripe_event_process(*, event_id: str) -> None:
    """Enqueue the processing of one stored Stripe event, ahead of the queue's other work."""
    current_app.send_task(STRIPE_EVENT_PROCESS, args=(event_id,), priority=0)
