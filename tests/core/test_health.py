"""/healthz reports each part: database, cache, broker, channel layer and storage."""

import pytest
from django.core.files.storage import storages

from tests.conftest import S3_KEY_ID, S3_SECRET, create_buckets
from tests.support.services import S3Server

PARTS = {"database", "cache", "broker", "channel_layer", "storage"}


@pytest.mark.django_db
def test_healthz_is_green_when_postgres_redis_and_s3_are_up(client):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["down"] == []
    assert set(body["checks"]) == PARTS
    assert body["checks"]["database"]["backend"] == "postgresql"
    assert body["checks"]["broker"]["backend"] == "redis"
    assert body["checks"]["cache"]["backend"] == "ReusingRedisCache"
    assert body["checks"]["channel_layer"]["backend"] == "RedisChannelLayer"
    assert body["checks"]["storage"]["backend"] == "default=s3,public=s3"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.fixture
def own_s3_server(settings):
    """An S3 server of this test's own, which the test may stop."""
    server = S3Server()
    server.start()
    create_buckets(server.url)
    for alias in ("default", "public"):
        settings.STORAGES = {**settings.STORAGES, alias: {**settings.STORAGES[alias]}}
        settings.STORAGES[alias]["OPTIONS"] = {
            **settings.STORAGES[alias]["OPTIONS"],
            "endpoint_url": server.url,
            "access_key": S3_KEY_ID,
            "secret_key": S3_SECRET,
        }
    yield server
    server.stop()


@pytest.mark.django_db
def test_healthz_answers_503_naming_storage_when_the_s3_server_stops(client, own_s3_server):
    assert storages["default"].endpoint_url == own_s3_server.url
    assert client.get("/healthz").status_code == 200

    own_s3_server.stop()
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "down"
    assert body["down"] == ["storage"]
    assert body["checks"]["storage"]["ok"] is False
    assert body["checks"]["storage"]["error"]
    assert body["checks"]["database"]["ok"] is True
    # Internal addresses stay in the log, not in a public response.
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_cache_when_redis_is_unreachable(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}}

    response = client.get("/healthz")

    assert response.status_code == 503
    assert "cache" in response.json()["down"]
