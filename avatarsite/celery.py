"""The Celery app: named queues per lane and the routes that put tasks on them."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings.base")

app = Celery("avatarsite")
app.config_from_object("django.conf:settings", namespace="CELERY")

# One queue per lane, each consumed by its own worker processes in production, so a backlog of
# free or batch work never delays premium jobs.
QUEUE_PREMIUM = "premium"
QUEUE_STANDARD = "standard"
QUEUE_BATCH = "batch"
QUEUE_ENTERPRISE = "enterprise"
QUEUES = (QUEUE_ENTERPRISE, QUEUE_PREMIUM, QUEUE_STANDARD, QUEUE_BATCH)

app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = QUEUE_STANDARD
# Generation jobs are sent to the queue of the user's plan at enqueue time; these are the
# defaults for everything else.
app.conf.task_routes = {
    "gallery.tasks.*": {"queue": QUEUE_BATCH},
    "billing.tasks.*": {"queue": QUEUE_STANDARD},
    "generation.tasks.*": {"queue": QUEUE_STANDARD},
}
app.autodiscover_tasks()
