"""The fault suite's stack, started once for the package when its first case needs it (about 30 s)
and stopped after the last; its processes log to test-artifacts/faults/."""

from collections.abc import Iterator

import pytest

from tests.faults.stack import FaultStack

# The stack's database, seen from this process beside the test database (which stays the default).
FAULTS_DB = "faults"


def _attach(url: str) -> str:
    """Register the stack's database as the FAULTS_DB alias of this process (no pool: a case
    restarts the server, and each read after it opens a new connection)."""
    import environ
    from django.db import connections

    config = environ.Env.db_url_config(url)
    config.update(CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=True, OPTIONS={})
    connections.settings[FAULTS_DB] = connections.configure_settings({"default": config})["default"]
    return FAULTS_DB


def _detach() -> None:
    from django.db import connections

    if FAULTS_DB in connections.settings:
        connections[FAULTS_DB].close()
        del connections.settings[FAULTS_DB]
        if hasattr(connections._connections, FAULTS_DB):
            delattr(connections._connections, FAULTS_DB)


@pytest.fixture(scope="package")
def faults_stack(django_db_setup, django_db_blocker, artifacts_dir) -> Iterator[FaultStack]:
    """The stack (tests/faults/stack.py). It asks for the test database first, so that database is
    made before the stack's alias exists (pytest-django makes one for every alias it sees)."""
    stack = FaultStack(logs=artifacts_dir / "faults", attach_database=_attach)
    with django_db_blocker.unblock():
        stack.start()
    try:
        yield stack
    finally:
        with django_db_blocker.unblock():
            stack.stop()
            _detach()


@pytest.fixture
def faults(faults_stack, django_db_blocker) -> Iterator[FaultStack]:
    """The stack, with this process's access to its database open for the test."""
    with django_db_blocker.unblock():
        yield faults_stack
