"""A 429 with Retry-After met while polling a provider's status (not at submission) is waited out by
the adapter, and the job still succeeds from the same request: nothing submitted or paid twice."""

from collections.abc import Iterator

import pytest

from avatarsite.accounts.services import user_create
from generation.models import CostEntry, GeneratedImage
from generation.services import generation_job_create, generation_job_run
from tests.fakes.fal import FakeFal
from tests.fakes.replicate import FakeReplicate
from tests.generation.conftest import Fakes, providers_point_at

PROMPT = "A smiling woman with curly red hair and round glasses"


@pytest.fixture
def fakes(settings) -> Iterator[Fakes]:
    """The real fal adapter against the fake, which offers no status stream (so the adapter polls);
    Replicate's fake behind it as the fallback."""
    started = Fakes(FakeFal(latency=0.3, stream_available=False).start(), FakeReplicate(latency=0.1).start())
    # The fake's options cap waits at 0.05 s for speed; the deployed adapter caps them at 30 s.
    providers_point_at(settings, started, max_backoff=30.0)
    # One pipeline attempt per provider: only the adapter's own wait can save the request.
    settings.GENERATION_PROVIDER_ATTEMPTS = 1
    yield started
    started.fal.stop()
    started.replicate.stop()


@pytest.fixture
def user(db):
    return user_create(username="ada", email="ada@example.com", password="a-long-password-1")


def test_a_429_with_retry_after_while_polling_fals_status_is_waited_out_and_the_job_succeeds(fakes, user):
    fal = fakes.fal
    fal.status_faults.append(429)  # the first status poll: 429 with Retry-After: 1
    job = generation_job_create(user_id=user.pk, prompt=PROMPT)

    done = generation_job_run(job_id=str(job.id))

    assert (done.status, done.error_kind) == ("succeeded", "")
    assert not fal.status_faults  # the 429 was answered
    polls = [seen for seen in fal.requests if seen["method"] == "GET" and seen["path"].endswith("/status")]
    assert len(polls) >= 2
    waited = polls[1]["time"] - polls[0]["time"]
    assert 1.0 <= waited < 10.0, waited  # at least as long as fal asked
    # The adapter kept polling the same request: no resubmission, no new stream, no fallback.
    assert sum(seen["method"] == "POST" for seen in fal.requests) == fal.submissions == 1
    assert sum(seen["path"].endswith("/status/stream") for seen in fal.requests) == 1  # the 404 that sent it to polling
    assert fakes.replicate.submissions == 0
    call = CostEntry.objects.get(job=job)
    assert (call.provider, call.outcome, call.request_id) == ("fal", "succeeded", next(iter(fal.jobs)))
    assert call.cost_usd > 0
    assert GeneratedImage.objects.get(job=job).provider == "fal"
