"""bench.settings with the workers' old database handling, to measure what keeping connections
across tasks saves: `python -m bench.generation --worker-env DJANGO_SETTINGS_MODULE=bench.settings_db_close`.

Without CELERY_DB_REUSE_MAX, Celery's Django fixup closes every database connection before and
after each task and, in a prefork worker with psycopg pooling on (DATABASE_POOL, the default), the
whole pool too (`close_pool()`): each task opens a new pool of min_size connections before its first
query. The project sets it (avatarsite/settings/base.py) and hands the connection back to the
process's pool around each task instead (avatarsite/celery.py)."""

from bench.settings import *  # noqa: F403

CELERY_DB_REUSE_MAX = None
