"""The Celery app: named queues per lane and the routes that put tasks on them."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init, worker_process_shutdown
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


@task_prerun.connect
@task_postrun.connect
def _release_database_connections(task=None, **kwargs) -> None:
    """Around each task, as Django does around each request: hand the connection back to the pool
    (or close it when it is broken or too old). The pool itself stays open for the next task
    (settings.CELERY_DB_REUSE_MAX keeps Celery's fixup from closing it), which checks a connection
    before handing it out again."""
    if task is not None and getattr(task.request, "is_eager", False):
        return  # run inline by the caller, inside its own request or transaction
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
def _set_up_the_server_process(**kwargs) -> None:
    """Each prefork child, once it is set up (see avatarsite/runtime/server_process.py)."""
    from .runtime.server_process import server_process_setup

    server_process_setup()


@worker_process_shutdown.connect
def _metrics_process_exit(**kwargs) -> None:
    """A pool child that ends leaves the metrics' multiprocess folder as prometheus-client asks."""
    from .core.metrics import process_exit

    process_exit()


@worker_init.connect
def _set_up_a_thread_pool_worker(sender=None, **kwargs) -> None:
    """A worker whose pool runs tasks on threads of its own process (settings.CELERY_WORKER_POOL)
    is itself the server process: it is set up as a prefork child is (prefork sends
    worker_process_init in each child; the thread pool sends nothing). In the embedded stack this
    is the web server's process, already set up: doing it again changes nothing."""
    from celery.concurrency import get_implementation

    if "thread" in get_implementation(getattr(sender, "pool_cls", None) or "prefork").__module__:
        from .runtime.server_process import server_process_setup

        server_process_setup()
