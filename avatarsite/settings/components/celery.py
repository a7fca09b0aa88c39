"""Celery: acknowledgement, time limits, broker transport options, the beat schedule."""

from .cache import REDIS_CONNECT_TIMEOUT_SECONDS, REDIS_TIMEOUT_SECONDS, REDIS_URL
from .core import TIME_ZONE
from .database import DATABASES
from .env import env
from .gallery import GALLERY_IMPORT_SCHEDULE_HOURS, GALLERY_IMPORT_TIME_LIMIT_SECONDS
from .generation import GENERATION_RECONCILE_EVERY_SECONDS

# --- Celery ------------------------------------------------------------------------------------
CELERY_TASK_DEFAULT_QUEUE = "standard"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection around each task and, in a prefork child
# with psycopg pooling, the whole pool: each task then reconnected (about 15 ms before its first
# query). With this set it leaves them open (closing all only every that many tasks); instead
# avatarsite/celery.py hands the connection back to the process's pool around each task, as Django
# does around a request, and the pool checks connections as it hands them out (CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=10 * 60)
# 30 s to clean up before the hard kill, or a quarter of a short limit: "limit - 30" would be zero
# (no soft limit) or negative (raised as soon as any task starts) for a limit of 30 s or less.
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - min(30, CELERY_TASK_TIME_LIMIT // 4)
# Must exceed the longest task, or Redis hands a running task to a second worker.
CELERY_VISIBILITY_TIMEOUT = env.int(
    "CELERY_VISIBILITY_TIMEOUT", default=max(CELERY_TASK_TIME_LIMIT, GALLERY_IMPORT_TIME_LIMIT_SECONDS) + 5 * 60
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Ten priority steps (Redis: 0 runs first). A worker consuming several queues takes the highest
    # priority message among them, the order of its -Q list breaking ties (not round robin).
    "priority_steps": list(range(10)),
    "sep": ":",
    "queue_order_strategy": "priority",
    # A publish (a job enqueued from a request) must not wait forever on a broker that is gone: kombu's
    # default is no timeout. Longer than the 1 s BRPOP a worker waits on, which Redis answers in time.
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
}
if not REDIS_URL:
    # The in-process broker sleeps this long whenever its worker can take no message (none waiting,
    # or every thread busy): kombu's 1 s made each job of a queue wait up to a second for a thread
    # that was already free. A twentieth of a second costs an idle site nothing worth counting.
    CELERY_BROKER_TRANSPORT_OPTIONS["polling_interval"] = 0.05
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT_SECONDS
# Two more tries, half a second apart, then the request's 503: a broker restart of a moment is ridden out.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
# Without it, a task sent with no priority lands in the base list, which Redis serves first.
CELERY_TASK_DEFAULT_PRIORITY = 5
# A run goes on through a lost broker connection (a Redis restart): its message, which can no longer
# be acknowledged, is delivered again later and finds the job finished, or held by the run's lease
# (generation/lease.py), so nothing runs twice. Canceling it instead would leave the job to wait for
# its lease to expire and be taken over.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# One result backend per process, not per thread: under ASGI each request runs in a thread of its
# own, and every task sent from it built a new backend (a Redis client and pool) for its AsyncResult.
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 30
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "gallery-refresh-imports": {
        "task": "gallery.tasks.refresh_scheduled_imports",
        "schedule": GALLERY_IMPORT_SCHEDULE_HOURS * 3600,
        "options": {"queue": "batch"},
    },
    # Stripe events whose processing was lost, and subscriptions at their period's end, are
    # checked against Stripe: a missed webhook never leaves a paying user without their plan.
    "billing-reconcile-stripe": {
        "task": "billing.tasks.stripe_reconcile",
        "schedule": 5 * 60,
        "options": {"queue": "standard", "expires": 5 * 60},
    },
    # Completion webhooks due a (re)try: retried with backoff, without countdown tasks in the broker.
    "generation-webhooks-due": {
        "task": "generation.tasks.webhooks_due",
        "schedule": 30,
        "options": {"queue": "standard", "expires": 30},
    },
    # API idempotency keys are remembered for a day.
    "generation-prune-idempotency-keys": {
        "task": "generation.tasks.idempotency_keys_prune",
        "schedule": 3600,
        "options": {"queue": "batch", "expires": 3600},
    },
    # Spend budget thresholds crossed without a paid call being checked (a call billed above its
    # expected price, an operator's "try it"): their alert mails (once per threshold per month).
    "generation-budget-alerts": {
        "task": "generation.tasks.budget_alerts_check",
        "schedule": 5 * 60,
        "options": {"queue": "batch", "expires": 5 * 60},
    },
    # Settles jobs past their deadline (lost worker, lost provider answer): nothing stays "running".
    "generation-reconcile-jobs": {
        "task": "generation.tasks.jobs_reconcile",
        "schedule": GENERATION_RECONCILE_EVERY_SECONDS,
        "options": {"queue": "standard", "priority": 0, "expires": GENERATION_RECONCILE_EVERY_SECONDS},
    },
}

# --- Issue 19 point 6: waits that hold no worker process ---
# A run spends nearly all its time waiting on a provider (seconds to minutes) and a few tens of ms on
# CPU. On Celery's thread pool that wait holds a thread, not a process: one process runs dozens of
# jobs at once, and a lane's capacity is bounded by its CPU instead of its number of processes (50
# jobs of a 5 s provider in under 10 s on 2 cores: README "Capacity"). docker-compose.yml sets these
# per lane: threads for the lanes that call providers, prefork (Celery's default) for batch, whose
# imports and renders are CPU-bound. Set them per lane, not in .env: Celery takes `-P prefork` on a
# command line for "no -P given" and lets a configured pool win over it. The thread pool enforces no
# CELERY_TASK_TIME_LIMIT: a run ends at its own deadline (GENERATION_RUN_TIMEOUT_SECONDS).
# (`celery worker` also reads both names itself, as its -P and -c; read here, they are the app's
# configuration too, for a worker started from code.)
CELERY_WORKER_POOL = env.str("CELERY_WORKER_POOL", default="prefork")
# Unset: the command line's -c, or the CPU count.
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=None)
# The threads of one process share its psycopg pool, which psycopg caps at 4 connections unless told
# otherwise. A run hands its connection back whenever it starts waiting on a provider
# (generation/services/watch.py), so a connection is held only while a thread works: a few per
# process, whatever the thread count. PostgreSQL's max_connections (100 by default) must exceed the
# sum of this size over the web and worker processes.
if isinstance(DATABASES["default"]["OPTIONS"].get("pool"), dict):
    _pool_size = env.int("DATABASE_POOL_MAX_SIZE", default=8)
    DATABASES["default"]["OPTIONS"]["pool"].update(min_size=min(4, _pool_size), max_size=_pool_size)
