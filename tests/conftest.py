"""Test-run wiring: start the real services, point the settings at them, then let Django set up.

pytest-django sets Django up in its own (trylast) pytest_configure when no settings module was
given earlier, so the services below are started and exported first.

`--fast` (`make test-fast`) is the fast tier: no service is started, the settings fall back to the
embedded default (an in-memory SQLite test database, the local-memory cache, the in-process broker and
channel layer, files in a temporary folder), and only the tests marked `fast` run. The full run
(`make test`) runs those same tests again on the real services, with everything else.
"""

import os
from pathlib import Path

import pytest

from tests.support.services import PostgresServer, RedisServer, S3Server

PRIVATE_BUCKET = "avatarsite-private"
PUBLIC_BUCKET = "avatarsite-public"
S3_KEY_ID = "testing-key-id"
S3_SECRET = "testing-secret-key"  # moto accepts any credentials
ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "test-artifacts"

# Variables that switch the settings away from the embedded default.
SERVICE_ENV_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "R2_ENDPOINT_URL",
    "R2_REGION",
    "R2_ACCESS_KEY_ID",
    "R2_SECRET_ACCESS_KEY",
    "R2_BUCKET",
    "R2_PUBLIC_BUCKET",
    "R2_PUBLIC_URL",
)


class TestServices:
    """The services started for this run, and the environment that points at them."""

    __test__ = False

    def __init__(self) -> None:
        self.postgres = PostgresServer()
        self.redis = RedisServer()
        self.s3 = S3Server()
        self._started: list = []

    def start(self) -> None:
        for service in (self.postgres, self.redis, self.s3):
            service.start()
            self._started.append(service)
        create_buckets(self.s3.url)

    def stop(self) -> None:
        for service in reversed(self._started):
            service.stop()
        self._started.clear()

    def environ(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "R2_ENDPOINT_URL": self.s3.url,
            "R2_REGION": "us-east-1",  # moto refuses region "auto"; R2 uses it
            "R2_ACCESS_KEY_ID": S3_KEY_ID,
            "R2_SECRET_ACCESS_KEY": S3_SECRET,
            "R2_BUCKET": PRIVATE_BUCKET,
            "R2_PUBLIC_BUCKET": PUBLIC_BUCKET,
            "R2_PUBLIC_URL": f"{self.s3.url}/{PUBLIC_BUCKET}",
        }


def create_buckets(endpoint_url: str) -> None:
    """The private bucket, and the public one readable anonymously (as an R2 public bucket is)."""
    import json

    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint_url, region_name="us-east-1", aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET
    )
    for bucket in (PRIVATE_BUCKET, PUBLIC_BUCKET):
        client.create_bucket(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{PUBLIC_BUCKET}/*"}],
    }
    client.put_bucket_policy(Bucket=PUBLIC_BUCKET, Policy=json.dumps(policy))


_services: TestServices | None = None
_fast_media_root: str | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="the fast tier: only tests marked `fast`, on SQLite and in-process parts, with no PostgreSQL, Redis or S3 server",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _services
    if config.option.help or config.option.version:
        return
    if config.getoption("fast"):
        _configure_fast_tier()  # in each xdist worker too: the fast tier starts nothing to share
        return
    if hasattr(config, "workerinput"):
        return
    _services = TestServices()
    try:
        _services.start()
    except BaseException:
        _services.stop()
        raise
    os.environ.update(_services.environ())
    os.environ["DJANGO_SETTINGS_MODULE"] = "avatarsite.settings.test"
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    # pytest-django's own setup skips Django when nothing has imported it yet.
    import django

    django.setup()


def _configure_fast_tier() -> None:
    """The embedded default's parts, in this process: nothing to start, nothing left behind."""
    import tempfile

    for name in SERVICE_ENV_VARS:
        os.environ.pop(name, None)
    global _fast_media_root
    _fast_media_root = tempfile.mkdtemp(prefix="avatarsite-fast-media-")
    os.environ["DJANGO_MEDIA_ROOT"] = _fast_media_root
    os.environ["DJANGO_SETTINGS_MODULE"] = "avatarsite.settings.test"
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    import django

    django.setup()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fast tier keeps only the tests marked `fast`; the others are reported as deselected."""
    if not config.getoption("fast"):
        return
    kept = [item for item in items if item.get_closest_marker("fast")]
    deselected = [item for item in items if not item.get_closest_marker("fast")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_unconfigure(config: pytest.Config) -> None:
    if _services is not None:
        _services.stop()
    if _fast_media_root is not None:
        import shutil

        shutil.rmtree(_fast_media_root, ignore_errors=True)


@pytest.fixture(scope="session")
def services() -> TestServices:
    assert _services is not None, "services are started in pytest_configure"
    return _services


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    return ARTIFACTS_DIR


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with an empty cache: cached pages and throttle counts of earlier tests,
    whose database rows were rolled back, must not leak into it."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _empty_broker() -> None:
    """Each test starts with empty queues: messages an earlier test enqueued (for jobs whose rows
    are gone) must not reach the workers a later test starts, nor its message counts."""
    import redis
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return  # the fast tier's in-process broker: no worker runs there to receive an earlier test's messages
    with redis.Redis.from_url(settings.CELERY_BROKER_URL) as broker:
        broker.flushdb()


@pytest.fixture
def broker():
    """A client on the broker's Redis database (emptied before each test), to look at the queues."""
    import redis
    from django.conf import settings

    with redis.Redis.from_url(settings.CELERY_BROKER_URL) as client:
        yield client


@pytest.fixture(autouse=True)
def _default_plans(request) -> None:
    """Tests with database access find the seeded plans, even after a transactional test flushed
    the tables (a flush also empties what data migrations created)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and not {"db", "transactional_db"} & set(request.fixturenames):
        return
    transactional = bool(marker and marker.kwargs.get("transaction")) or "transactional_db" in request.fixturenames
    request.getfixturevalue("transactional_db" if transactional else "db")
    from billing.services import plan_defaults_ensure

    plan_defaults_ensure()
