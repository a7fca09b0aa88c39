"""Fixtures the generation tests share: the provider stand-ins and two users."""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.fakes.fal import FakeFal
from tests.fakes.replicate import FakeReplicate
from tests.generation import scripted

PASSWORD = "a-long-password-1"


@dataclass
class Fakes:
    fal: FakeFal
    replicate: FakeReplicate

    def fal_submits(self) -> int:
        """Submit calls fal received (answered or faulted; `submissions` counts created requests only)."""
        return sum(1 for seen in self.fal.requests if seen["method"] == "POST")


def providers_point_at(settings, fakes: Fakes, **fal_options: object) -> None:
    """The real fal and Replicate adapters, pointed at the fakes (the registry rebuilds adapters
    when the setting changes); `fal_options` override the fal adapter's."""
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "generation.providers.fal.FalProvider", "OPTIONS": {**fakes.fal.adapter_options(), **fal_options}},
        "replicate": {"BACKEND": "generation.providers.replicate.ReplicateProvider", "OPTIONS": fakes.replicate.adapter_options()},
    }


@pytest.fixture
def fakes(settings) -> Iterator[Fakes]:
    """FakeFal and FakeReplicate, with the real adapters pointed at them."""
    started = Fakes(FakeFal(latency=0.1).start(), FakeReplicate(latency=0.1).start())
    providers_point_at(settings, started)
    yield started
    started.fal.stop()
    started.replicate.stop()


@pytest.fixture
def providers(settings) -> scripted.Script:
    """fal and Replicate stood in by scripted adapters; the free plan's chain is fal then replicate.
    The returned script, this test's own, holds their answers (`say`) and records their calls."""
    script = scripted.Script()
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal", "script": script}},
        "replicate": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "replicate", "script": script}},
    }
    settings.GENERATION_PROVIDER_BACKOFF_SECONDS = 0.01
    return script


def _user(name: str):
    from avatarsite.accounts.services import user_create  # this file is loaded before Django is set up

    return user_create(username=name, email=f"{name}@example.com", password=PASSWORD)


@pytest.fixture
def ada(db):
    return _user("ada")


@pytest.fixture
def bob(db):
    return _user("bob")


@dataclass
class RunAside:
    thread: threading.Thread
    outcome: dict  # once the run ends: the finished job ("job") or what it raised ("error")


@contextlib.contextmanager
def job_run_aside(job_id: str, *, until: Callable[[], bool], waiting_for: str) -> Iterator[RunAside]:
    """generation_job_run on a thread of its own, as another worker would run it; the block is
    entered once `until()` holds (within 30 s, the run still going), and the run joined after it."""
    from django.db import connection

    from generation.services import generation_job_run

    outcome: dict = {}

    def run() -> None:
        try:
            outcome["job"] = generation_job_run(job_id=job_id)
        except BaseException as exc:  # reported by the test's assertions
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="job-run-aside", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not until():
            assert time.monotonic() < deadline, f"{waiting_for}: not within 30 s"
            assert thread.is_alive(), outcome
            time.sleep(0.02)
        yield RunAside(thread, outcome)
    finally:
        thread.join(timeout=60)
