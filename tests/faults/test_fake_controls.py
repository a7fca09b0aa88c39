"""The provider fakes' control endpoints, which the fault suite reads its books from: what each
request id received (submissions, status reads, result reads, cancels), and the behaviours a case
scripts (down, hang, undersized), driven by the real adapters."""

import time

import pytest
import requests

from generation.providers.base import CallContext, GenerationRequest, TransientProviderError
from generation.providers.fal import FalProvider
from generation.providers.replicate import ReplicateProvider
from tests.fakes.fal import FakeFal
from tests.fakes.replicate import FakeReplicate


def control(url: str, action: str, body: dict | None = None) -> dict:
    response = requests.request("GET" if body is None else "POST", f"{url}/_fake/{action}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def fal():
    fake = FakeFal(latency=0.2).start()
    yield fake
    fake.stop()


@pytest.fixture
def replicate():
    fake = FakeReplicate(latency=0.2).start()
    yield fake
    fake.stop()


def _request(model: str, size: int = 256) -> GenerationRequest:
    return GenerationRequest(prompt="A portrait of a lighthouse keeper", model=model, seed=7, size=size)


def test_fal_stats_count_what_each_request_received(fal):
    adapter = FalProvider(**fal.adapter_options())

    result = adapter.generate(_request("fal-ai/flux/schnell"))

    stats = control(fal.url, "stats")
    [seen] = stats["requests"]
    assert (stats["provider"], stats["submit_posts"]) == ("fal", 1)
    assert (seen["id"], seen["prompt"]) == (result.request_id, "A portrait of a lighthouse keeper")
    assert (seen["state"], seen["billable"]) == ("completed", True)
    assert (seen["submissions"], seen["results"], seen["cancels"]) == (1, 1, 0)
    assert seen["polls"] >= 1


def test_fal_scripted_down_hang_and_undersized(fal):
    adapter = FalProvider(**fal.adapter_options())

    control(fal.url, "script", {"down": True})
    with pytest.raises(TransientProviderError):
        adapter.generate(_request("fal-ai/flux/schnell"))
    assert (control(fal.url, "stats")["submit_posts"], control(fal.url, "stats")["requests"]) == (1, [])

    control(fal.url, "script", {"down": False, "default_outcome": "hang"})
    with pytest.raises(TransientProviderError):
        adapter.generate(_request("fal-ai/flux/schnell"), CallContext(deadline=time.monotonic() + 0.5))
    [hung] = control(fal.url, "stats")["requests"]
    assert (hung["state"], hung["billable"], hung["cancels"]) == ("canceled", False, 1)

    control(fal.url, "script", {"default_outcome": "undersized"})
    result = adapter.generate(_request("fal-ai/flux/schnell", size=1024))
    assert (result.images[0].width, result.images[0].height) == (64, 64)

    control(fal.url, "reset", {})
    assert control(fal.url, "stats") == {
        "provider": "fal",
        "submit_posts": 0,
        "requests": [],
        "script": {"latency": 0.2, "queue_seconds": 0.0, "default_outcome": "ok", "down": False, "submit_latency": 0.0},
    }


def test_replicate_stats_and_scripted_behaviour(replicate):
    adapter = ReplicateProvider(**replicate.adapter_options())

    result = adapter.generate(_request("black-forest-labs/flux-schnell"))
    [seen] = control(replicate.url, "stats")["requests"]
    assert (seen["id"], seen["state"], seen["billable"], seen["submissions"], seen["results"]) == (
        result.request_id, "completed", True, 1, 1,
    )  # fmt: skip

    control(replicate.url, "script", {"default_outcome": "undersized"})
    result = adapter.generate(_request("black-forest-labs/flux-schnell", size=1024))
    assert (result.images[0].width, result.images[0].height) == (64, 64)

    control(replicate.url, "script", {"default_outcome": "hang"})
    with pytest.raises(TransientProviderError):
        adapter.generate(_request("black-forest-labs/flux-schnell"), CallContext(deadline=time.monotonic() + 1.5))
    hung = control(replicate.url, "stats")["requests"][-1]
    assert (hung["state"], hung["billable"], hung["cancels"]) == ("canceled", False, 1)

    control(replicate.url, "script", {"down": True})
    with pytest.raises(TransientProviderError):
        adapter.generate(_request("black-forest-labs/flux-schnell"))
    stats = control(replicate.url, "stats")
    assert (stats["submit_posts"], len(stats["requests"])) == (4, 3)


def test_a_script_the_fake_does_not_know_is_refused(fal):
    for script in ({"default_outcome": "explode"}, {"latency": "fast"}, {"colour": "red"}):
        response = requests.post(f"{fal.url}/_fake/script", json=script, timeout=10)
        assert response.status_code == 400, script
    assert control(fal.url, "stats")["script"]["default_outcome"] == "ok"
