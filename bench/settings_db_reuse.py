"""bench.settings plus CELERY_DB_REUSE_MAX, to measure what the workers would gain from it:
`python -m bench.generation --worker-env DJANGO_SETTINGS_MODULE=bench.settings_db_reuse`.

Without it, Celery's Django fixup closes every database connection before and after each task and,
in a prefork worker with psycopg pooling on (DATABASE_POOL, the default), the whole pool too
(`close_pool()`): each task opens a new pool of min_size connections before its first query.
With it, a connection is kept for that many tasks."""

from bench.settings import *  # noqa: F403

CELERY_DB_REUSE_MAX = 100
