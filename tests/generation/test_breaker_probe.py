"""The circuit breaker's half-open probe, end to end: real failures at the fake fal open it, a real
job after the (shortened) cool-down is the probe, and its outcome closes or re-opens the breaker.

The real fal and Replicate adapters run against their fakes in-process; the breaker lives in the
test run's Redis cache (emptied before each test).
"""

import time

import pytest

from avatarsite.accounts.services import user_create
from billing.models import Plan
from generation.breaker import breaker_state
from generation.models import CostEntry, GeneratedImage, GenerationJob
from generation.services import generation_job_create, generation_job_run
from tests.generation.conftest import Fakes, job_run_aside

PROMPT = "A smiling woman with curly red hair and round glasses"
COOLDOWN = 1.5  # long enough to run a job while the breaker is open, short enough to wait out


@pytest.fixture(autouse=True)
def quick_breaker(settings) -> None:
    """A breaker that opens after two failing jobs and cools down in COOLDOWN."""
    # One call per provider and job, so each failing job is one failure; two open the breaker.
    settings.GENERATION_PROVIDER_ATTEMPTS = 1
    settings.GENERATION_BREAKER_FAILURES = 2
    settings.GENERATION_BREAKER_WINDOW_SECONDS = 60
    settings.GENERATION_BREAKER_COOLDOWN_SECONDS = COOLDOWN


def _user(username: str):
    Plan.objects.filter(slug="free").update(daily_quota=50)  # more jobs than a free day allows
    return user_create(username=username, email=f"{username}@example.com", password="a-long-password-1")


@pytest.fixture
def user(db):
    return _user("ada")


def _run(user, n: int) -> GenerationJob:
    job = generation_job_create(user_id=user.pk, prompt=f"{PROMPT} {n}")
    assert job.provider_chain[0].startswith("fal:")
    return generation_job_run(job_id=str(job.id))


def _served_by(job: GenerationJob) -> str:
    assert job.status == "succeeded", (job.status, job.message)
    return GeneratedImage.objects.get(job=job).provider


def _ledger(job: GenerationJob) -> list[tuple[str, str]]:
    return list(CostEntry.objects.filter(job=job).order_by("created_at", "id").values_list("provider", "outcome"))


def _open_the_breaker(fakes: Fakes, user) -> float:
    """Two jobs meet a 503 at fal (and are served by Replicate): the breaker opens. Returns when it may be probed."""
    fakes.fal.submit_faults.extend([503, 503])
    for n in range(2):
        job = _run(user, n)
        assert _served_by(job) == "replicate"
        assert _ledger(job) == [("fal", "failed"), ("replicate", "succeeded")]
    state = breaker_state(provider="fal")
    assert state.state == "open"
    return state.open_until


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()) + 0.05)


def test_a_probe_job_that_succeeds_after_the_cool_down_closes_the_breaker(fakes, user):
    open_until = _open_the_breaker(fakes, user)

    skipped = _run(user, 2)
    assert time.time() < open_until, "the skipped job ran after the cool-down; raise COOLDOWN"
    assert fakes.fal_submits() == 2  # fal not asked while open
    assert (_served_by(skipped), _ledger(skipped)) == ("replicate", [("replicate", "succeeded")])

    _wait_until(open_until)
    assert breaker_state(provider="fal").state == "half-open"
    probe = _run(user, 3)

    assert fakes.fal_submits() == 3
    assert (_served_by(probe), _ledger(probe)) == ("fal", [("fal", "succeeded")])
    state = breaker_state(provider="fal")
    assert (state.state, state.failures, state.open_until) == ("closed", 0, None)

    after = _run(user, 4)  # closed: every job goes to fal again, not only a probe
    assert (_served_by(after), fakes.fal_submits()) == ("fal", 4)


def test_a_probe_job_that_fails_opens_the_breaker_for_another_cool_down(fakes, user):
    open_until = _open_the_breaker(fakes, user)
    _wait_until(open_until)
    assert breaker_state(provider="fal").state == "half-open"

    fakes.fal.submit_faults.append(503)
    probe_started = time.time()
    probe = _run(user, 2)

    assert fakes.fal_submits() == 3  # the probe went to fal, failed there, and Replicate served it
    assert (_served_by(probe), _ledger(probe)) == ("replicate", [("fal", "failed"), ("replicate", "succeeded")])
    state = breaker_state(provider="fal")
    assert state.state == "open"
    assert state.open_until >= probe_started + COOLDOWN  # a new cool-down, from the failed probe

    skipped = _run(user, 3)
    assert time.time() < state.open_until, "the skipped job ran after the cool-down; raise COOLDOWN"
    assert fakes.fal_submits() == 3  # skipped again
    assert (_served_by(skipped), _ledger(skipped)) == ("replicate", [("replicate", "succeeded")])

    # That cool-down over, the next job may probe again (the failed probe did not keep the slot).
    _wait_until(state.open_until)
    again = _run(user, 4)
    assert (_served_by(again), fakes.fal_submits()) == ("fal", 4)
    assert breaker_state(provider="fal").state == "closed"


@pytest.mark.django_db(transaction=True)
def test_while_one_job_probes_the_half_open_breaker_other_jobs_still_skip_the_provider(fakes, monkeypatch):
    """The probe runs in its own thread (a worker of its own) and takes a while at fal; a job run
    meanwhile does not become a second probe."""
    monkeypatch.setattr("generation.dispatch.job_run_enqueue", lambda job: None)  # the broker is not under test here
    owner = _user("prober")
    open_until = _open_the_breaker(fakes, owner)
    _wait_until(open_until)
    fakes.fal.latency = 2.0  # the probe's request stays at fal this long
    probe = generation_job_create(user_id=owner.pk, prompt=f"{PROMPT} probe")

    with job_run_aside(str(probe.id), until=lambda: fakes.fal.submissions > 0, waiting_for="the probe at fal") as prober:
        meanwhile = _run(owner, 5)
        probe_still_running = prober.thread.is_alive()
    outcome = prober.outcome

    assert probe_still_running, "the probe finished before the other job ran; raise fal's latency"
    assert fakes.fal_submits() == 3  # two failures, then the probe: the other job did not go to fal
    assert (_served_by(meanwhile), _ledger(meanwhile)) == ("replicate", [("replicate", "succeeded")])
    assert "error" not in outcome, outcome
    assert (_served_by(outcome["job"]), _ledger(outcome["job"])) == ("fal", [("fal", "succeeded")])
    assert breaker_state(provider="fal").state == "closed"
