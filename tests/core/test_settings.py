"""The settings switch between the embedded default and the real services by environment alone."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import PROJECT_DIR, PYTHON, embedded_env

PROBE = """
import json, django
from django.conf import settings
django.setup()
from django.core.files.storage import storages
from channels.layers import get_channel_layer
from avatarsite.celery import app
public = storages["public"]
private = storages["default"]
def opts(storage):
    cfg = getattr(storage, "client_config", None)
    return {
        "class": type(storage).__name__,
        "region": getattr(storage, "region_name", None),
        "default_acl": getattr(storage, "default_acl", "n/a"),
        "querystring_auth": getattr(storage, "querystring_auth", None),
        "object_parameters": getattr(storage, "object_parameters", None),
        "checksum": getattr(cfg, "request_checksum_calculation", None),
        "signature": getattr(cfg, "signature_version", None),
        "custom_domain": getattr(storage, "custom_domain", None),
    }
print(json.dumps({
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "broker": app.conf.broker_url,
    "result_backend": app.conf.result_backend,
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION", ""),
    "channel_layer": type(get_channel_layer()).__name__,
    "queues": sorted(q.name for q in app.conf.task_queues),
    "public": opts(public),
    "private": opts(private),
    "debug": settings.DEBUG,
    "polling_interval": app.conf.broker_transport_options.get("polling_interval"),
    "queue_concurrency": settings.GENERATION_QUEUE_CONCURRENCY,
}))
"""


def _settings_seen_with(env: dict[str, str]) -> dict:
    result = subprocess.run([PYTHON, "-c", PROBE], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_without_env_vars_run_everything_embedded(tmp_path):
    seen = _settings_seen_with(embedded_env(tmp_path / "media"))

    assert seen["db_engine"] == "django.db.backends.sqlite3"
    assert seen["db_name"] == str(PROJECT_DIR / "db.sqlite3")
    assert seen["broker"] == "memory://"
    assert seen["cache"].endswith("LocMemCache")
    assert seen["channel_layer"] == "EmbeddedChannelLayer"
    assert seen["public"]["class"] == seen["private"]["class"] == "FileSystemStorage"
    assert seen["queues"] == ["batch", "enterprise", "premium", "standard"]
    # The in-process broker looks for work often: at kombu's 1 s each job of a queue waited up to a
    # second for a thread already free (the 3.75 s for the fourth of four instant avatars).
    assert seen["polling_interval"] <= 0.1
    # The worker's threads take turns on one interpreter: the ETA counts one job at a time per lane.
    assert seen["queue_concurrency"] == {"enterprise": 1, "premium": 1, "standard": 1}


def test_settings_with_env_vars_use_postgres_redis_and_r2(services):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "avatarsite.settings.base"}
    env.pop("R2_REGION")  # R2's own region is the default

    seen = _settings_seen_with(env)

    assert seen["db_engine"] == "django.db.backends.postgresql"
    assert seen["db_name"] == "avatarsite"
    redis = f"redis://127.0.0.1:{services.redis.port}"
    # Broker, results, cache and channels each get their own Redis database.
    assert seen["broker"] == f"{redis}/0"
    assert seen["result_backend"] == f"{redis}/1"
    assert seen["cache"] == "avatarsite.runtime.redis_cache.ReusingRedisCache"
    assert seen["cache_location"] == f"{redis}/2"
    assert seen["channel_layer"] == "RedisChannelLayer"
    assert seen["polling_interval"] is None  # Redis hands a waiting worker its message at once
    assert seen["queue_concurrency"] == {"enterprise": 2, "premium": 4, "standard": 4}  # as docker-compose runs them
    for storage in (seen["public"], seen["private"]):
        assert storage["class"] == "R2Storage"
        assert storage["region"] == "auto"
        assert storage["signature"] == "s3v4"
        assert storage["checksum"] == "when_required"
        assert storage["default_acl"] is None
    assert seen["public"]["querystring_auth"] is False
    assert seen["public"]["custom_domain"] == f"127.0.0.1:{services.s3.port}/avatarsite-public"
    assert seen["public"]["object_parameters"] == {"CacheControl": "public, max-age=31536000, immutable"}
    assert seen["private"]["querystring_auth"] is True
    assert seen["private"]["custom_domain"] is None


def test_visibility_timeout_outlasts_the_longest_task():
    """No task runs twice because it outlived the visibility timeout. A task still running when the visibility
    timeout passes would be handed to a second worker; a generation run is bounded by its own timeout well
    inside the task's time limit."""
    from django.conf import settings

    from avatarsite.celery import app

    visibility_timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility_timeout > settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["visibility_timeout"] == visibility_timeout
    app.loader.import_default_modules()  # every task of the project, with its own limits
    for name, task in app.tasks.items():
        if not name.startswith("celery."):
            assert (task.time_limit or settings.CELERY_TASK_TIME_LIMIT) < visibility_timeout, name
    longest_run = settings.GENERATION_RUN_TIMEOUT_SECONDS + settings.GENERATION_RECONCILE_GRACE_SECONDS
    assert longest_run < settings.CELERY_TASK_SOFT_TIME_LIMIT
    # A countdown or ETA longer than the visibility timeout would be redelivered while it waits:
    # the project sends none (scheduled work goes through beat, which sends when due), except
    # job_run's own retries, which are bounded far below it: a busy job is looked at again once the
    # other run's lease would have expired; an infrastructure fault backs off up to 15 s.
    from generation.tasks import infrastructure_backoff

    assert visibility_timeout / 10 > settings.GENERATION_LEASE_SECONDS + 1
    assert max(infrastructure_backoff(n) for n in range(100)) <= 15 < visibility_timeout / 10
    project = Path(__file__).resolve().parents[2]
    for package in ("avatarsite", "gallery", "generation", "billing"):
        for source in (project / package).rglob("*.py"):
            for line in source.read_text().splitlines():
                if re.search(r"apply_async\(|\.retry\(|signature\(", line) and source != project / "generation" / "tasks.py":
                    assert not re.search(r"\b(countdown|eta)\s*=", line), f"{source}: {line}"
    assert app.conf.task_default_priority is not None  # unlabelled tasks do not jump ahead of prioritised ones
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "avatarsite.settings.production",
    "DJANGO_SECRET_KEY": "x7#k2!pQ9vL$mZ4wR8tY1uN6bH3jF0cD5eG@aS2dF7hJ9kL1zX4cV6bN8mQ",
    "DJANGO_ALLOWED_HOSTS": "avatars.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://avatars.example.com",
    "EMAIL_URL": "smtp+tls://mailer:password@smtp.example.com:587",
    "DJANGO_DEFAULT_FROM_EMAIL": "avatarsite <noreply@avatars.example.com>",
    "R2_PUBLIC_URL": "https://cdn.example.com",
}


def test_production_settings_pass_check_deploy(services):
    """`check --deploy --fail-level WARNING` passes with the production settings."""
    env = {**os.environ, **PRODUCTION_ENV}

    result = subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "R2_ENDPOINT_URL"])
def test_production_settings_refuse_to_start_without_required_values(services, missing):
    env = {**os.environ, **PRODUCTION_ENV}
    env.pop(missing)

    result = subprocess.run([PYTHON, "manage.py", "check"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
