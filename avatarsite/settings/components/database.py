"""The database: SQLite on the embedded default, PostgreSQL (pooled, bounded waits) when DATABASE_URL is set."""

from .env import BASE_DIR, env

# --- Database ----------------------------------------------------------------------------------
# Unset: a SQLite file in the project. Set (postgres://...): PostgreSQL through psycopg 3.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request may run in another thread: persistent connections would leak,
    # so connections are pooled by psycopg instead (Django 5.1+).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Bounded waits: with the database down a request gets its 503 (avatarsite/core/outage.py) within
    # a few seconds instead of waiting psycopg's default 30 s for a pooled connection.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # After an outage, psycopg's pool retries a failed connection with a doubling backoff for as long
    # as reconnect_timeout (5 minutes by default): 35 s down cost up to half a minute more before a
    # worker could reach the database again (the fault suite's postgres-down-35s). Giving up after a
    # few seconds lets the next request start a fresh attempt, right away.
    _pool = {
        "timeout": env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=3.0),
        "reconnect_timeout": env.float("DATABASE_POOL_RECONNECT_SECONDS", default=5.0),
    }
    _options["pool"] = _pool if env.bool("DATABASE_POOL", default=True) else False
    _options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=3))  # libpq: whole seconds, 2 at least
    # Pooled connections outlive requests and Celery tasks (avatarsite/celery.py): the pool checks
    # each one as it is handed out (an empty query), so one broken by a database restart is replaced.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves pages and runs the worker's threads on one file. SQLite's default
    # (deferred) transaction reads first and asks for the write lock later, when another writer may
    # hold it: that fails at once with "database is locked", whatever the busy timeout. Immediate
    # transactions take the write lock at BEGIN and wait for it up to the timeout; WAL lets readers
    # go on while one connection writes (synchronous=NORMAL, WAL's usual pairing: a power cut may
    # lose the last transactions, never corrupt the file).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.float("DATABASE_SQLITE_TIMEOUT_SECONDS", default=20.0),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
