"""The fal adapter against a fake fal queue API over loopback HTTP."""

import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from PIL import Image

from avatarsite.core import outbound
from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    PermanentProviderError,
    ProviderCanceledError,
    TransientProviderError,
)
from generation.providers.fal import FalProvider
from tests.fakes.fal import FakeFal
from tests.fakes.server import SCRIPTED_BY, outcome_scripted

REQUEST = GenerationRequest(prompt="a smiling woman with red hair", seed=42, size=256)


@pytest.fixture
def fake() -> Iterator[FakeFal]:
    server = FakeFal(latency=0.1).start()
    yield server
    server.stop()


def adapter(fake: FakeFal, **overrides: object) -> FalProvider:
    return FalProvider(**{**fake.adapter_options(), **overrides})


@dataclass
class Recorder:
    """A CallContext that remembers what the adapter told it."""

    fake: FakeFal
    cancel_after: float | None = None
    submitted: list = field(default_factory=list)
    progress: list = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def on_submitted(self, request_id: str) -> None:
        self.submitted.append((request_id, self.fake.phase(request_id), len(self.progress)))

    def context(self, **options: object) -> CallContext:
        return CallContext(
            on_progress=lambda percent, message: self.progress.append((percent, message)),
            on_submitted=self.on_submitted,
            should_cancel=lambda: self.cancel_after is not None and time.monotonic() - self.started > self.cancel_after,
            **options,
        )


def paths(fake: FakeFal, method: str = "GET") -> list[str]:
    return [seen["path"] for seen in fake.requests if seen["method"] == method]


# --- the happy path ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("width", "height", "megapixels_billed"),
    [(256, 256, 1), (1024, 1024, 1), (1024, 1088, 2), (2048, 2048, 4)],
)
def test_each_image_is_billed_by_the_1024_square_megapixel_rounded_up(fake: FakeFal, width, height, megapixels_billed) -> None:
    assert adapter(fake).cost("fal-ai/flux/schnell", width=width, height=height, count=1) == pytest.approx(0.003 * megapixels_billed)


def test_generate_returns_the_downloaded_image_with_cost_licence_and_request_id(fake: FakeFal) -> None:
    recorder = Recorder(fake)
    result = adapter(fake).generate(REQUEST, recorder.context())

    assert result.provider == "fal"
    assert result.model == "fal-ai/flux/schnell"
    assert result.request_id == recorder.submitted[0][0]
    assert len(result.images) == 1
    image = result.images[0]
    assert image.data.startswith(b"\xff\xd8")
    assert (image.content_type, image.width, image.height) == ("image/jpeg", 256, 256)
    assert result.cost_usd == pytest.approx(0.003)  # 256x256 is billed as one megapixel
    assert result.licence_note.startswith("FLUX.1 [schnell]")
    assert result.refused_count == 0
    assert result.metadata["seed"] == 42
    assert result.metadata["metrics"] == {"inference_time": 0.1}


# --- sizes: a square in 16 px steps, up to the model's max_side (1024 unless the catalogue says more) --
@pytest.mark.parametrize(("size", "side"), [(256, 256), (512, 512), (768, 768), (1024, 1024), (777, 784), (2048, 1024)])
def test_each_size_is_asked_as_the_square_flux_delivers_and_comes_back_at_that_side(fake: FakeFal, size, side) -> None:
    provider = adapter(fake)

    result = provider.generate(GenerationRequest(prompt="a robot", seed=3, size=size, model="fal-ai/flux/dev"))

    assert fake.inputs[0]["image_size"] == {"width": side, "height": side}
    assert provider.native_size("fal-ai/flux/dev", size) == side
    assert provider.max_side("fal-ai/flux/dev") == provider.max_side() == 1024
    image = result.images[0]
    assert (image.width, image.height) == (side, side) == Image.open(io.BytesIO(image.data)).size


def test_a_2048_request_is_asked_and_billed_at_the_1024_square_the_model_makes(fake: FakeFal) -> None:
    result = adapter(fake).generate(GenerationRequest(prompt="a robot", seed=3, size=2048))

    assert fake.inputs[0]["image_size"] == {"width": 1024, "height": 1024}
    assert result.cost_usd == pytest.approx(0.003)  # one megapixel, not four


def test_a_side_fal_would_round_down_is_asked_rounded_up_so_the_image_is_never_smaller_than_asked(fake: FakeFal) -> None:
    fake.side_multiple = 16  # as diffusers' FLUX pipeline does with other sides (UNCONFIRMED for fal)

    result = adapter(fake).generate(GenerationRequest(prompt="a robot", seed=3, size=777))

    assert result.images[0].width == result.images[0].height == 784 >= 777


def test_the_catalogue_may_raise_a_models_max_side(fake: FakeFal) -> None:
    provider = adapter(fake, models={"fal-ai/flux/dev": {"cost_per_megapixel": 0.025, "max_side": 2048, "side_step": 16}})

    result = provider.generate(GenerationRequest(prompt="a robot", seed=3, size=2048, model="fal-ai/flux/dev"))

    assert fake.inputs[0]["image_size"] == {"width": 2048, "height": 2048}
    assert (result.images[0].width, provider.max_side("fal-ai/flux/dev"), provider.max_side()) == (2048, 2048, 1024)


def test_a_catalogue_max_side_off_its_step_stops_the_adapter_being_built(fake: FakeFal) -> None:
    with pytest.raises(ValueError, match="multiple"):
        adapter(fake, models={"fal-ai/flux/dev": {"max_side": 1000, "side_step": 16}})


@pytest.mark.parametrize("scripted_by", SCRIPTED_BY)
def test_the_fake_answers_an_undersized_image_when_scripted_and_the_adapter_reports_its_real_size(fake: FakeFal, scripted_by) -> None:
    prompt = outcome_scripted(fake, "undersized", prompt="a robot", by=scripted_by)

    result = adapter(fake).generate(GenerationRequest(prompt=prompt, seed=3, size=1024))

    image = result.images[0]
    assert (image.width, image.height) == (64, 64) == Image.open(io.BytesIO(image.data)).size
    assert fake.inputs[0]["image_size"] == {"width": 1024, "height": 1024}  # it was asked for 1024 px


def test_submit_sends_the_flux_input_and_the_key_header(fake: FakeFal) -> None:
    adapter(fake).generate(GenerationRequest(prompt="a robot", seed=3, size=320, num_images=2))

    assert fake.inputs == [
        {
            "prompt": "a robot",
            "image_size": {"width": 320, "height": 320},
            "seed": 3,
            "num_images": 2,
            "output_format": "jpeg",
            "enable_safety_checker": True,
            "num_inference_steps": 4,
        }
    ]
    api_calls = [seen for seen in fake.requests if not seen["path"].startswith("/files/")]
    assert {seen["headers"]["Authorization"] for seen in api_calls} == {f"Key {fake.api_key}"}
    assert paths(fake, "POST") == ["/fal-ai/flux/schnell"]
    # Status and result drop the model's sub-path: /{owner}/{app}/requests/{id}.
    assert all(path.startswith("/fal-ai/flux/requests/") for path in paths(fake) if not path.startswith("/files/"))


def test_on_submitted_is_called_once_with_the_id_before_the_request_completes(fake: FakeFal) -> None:
    fake.queue_seconds = 0.5  # wide enough that a loaded machine still sees the id before the request runs
    recorder = Recorder(fake)
    result = adapter(fake).generate(REQUEST, recorder.context())

    assert len(recorder.submitted) == 1
    request_id, phase_then, progress_before = recorder.submitted[0]
    assert request_id == result.request_id
    assert phase_then == "IN_QUEUE"
    assert progress_before == 0


def test_progress_reports_the_queue_position_then_the_steps_once_each(fake: FakeFal) -> None:
    fake.queue_seconds, fake.queue_position, fake.latency = 0.3, 2, 0.2
    recorder = Recorder(fake)
    adapter(fake).generate(REQUEST, recorder.context())

    messages = [message for _, message in recorder.progress]
    assert messages[:3] == ["Waiting at fal, position 3", "Waiting at fal, position 2", "Waiting at fal, position 1"]
    assert [m for m in messages if "step" in m] == [f"Generating at fal (step {i}/4)" for i in range(1, 5)]
    assert messages[-1] == "Generating at fal (step 4/4)"  # fetching the outputs is no stage of its own
    percents = [percent for percent, _ in recorder.progress]
    assert percents == sorted(percents)
    assert all(5 <= p <= 15 for p in percents[:3])
    assert all(20 <= p <= 90 for p, m in recorder.progress if "step" in m)
    assert len(set(recorder.progress)) == len(recorder.progress)


# --- waiting: the stream, and polling when there is none ---------------------------------------------
@pytest.mark.parametrize("event_name", ["", "status"])
def test_the_status_stream_is_followed_and_completion_is_seen_within_milliseconds(fake: FakeFal, event_name: str) -> None:
    fake.latency, fake.stream_event_name = 0.3, event_name
    result = adapter(fake).generate(REQUEST)

    gets = paths(fake)
    assert any(path.endswith("/status/stream") for path in gets)
    assert not any(path.endswith("/status") for path in gets)  # never polled
    result_call = next(seen for seen in fake.requests if seen["path"].endswith(f"/requests/{result.request_id}"))
    assert result_call["time"] - fake.jobs[result.request_id].completed_at < 0.03


def test_polling_takes_over_when_the_stream_is_not_offered(fake: FakeFal) -> None:
    fake.stream_available = False
    recorder = Recorder(fake)
    result = adapter(fake).generate(REQUEST, recorder.context())

    assert result.images
    gets = paths(fake)
    assert sum(path.endswith("/status/stream") for path in gets) == 1  # the 404, then polls only
    assert sum(path.endswith("/status") for path in gets) >= 2
    assert all(seen["query"] == {"logs": ["1"]} for seen in fake.requests if seen["path"].endswith("/status"))
    assert any("step" in message for _, message in recorder.progress)


def test_polling_is_used_when_the_adapter_is_told_not_to_stream(fake: FakeFal) -> None:
    result = adapter(fake, status_stream=False).generate(REQUEST)

    assert result.images
    assert not any(path.endswith("/status/stream") for path in paths(fake))


def test_a_dropped_stream_is_reopened(fake: FakeFal) -> None:
    fake.stream_faults.append("drop")
    result = adapter(fake).generate(REQUEST)

    assert result.images
    assert sum(path.endswith("/status/stream") for path in paths(fake)) >= 2


def test_a_malformed_stream_event_is_a_resumable_transient_error(fake: FakeFal) -> None:
    fake.latency = 1.0
    fake.stream_faults.append("malformed")
    with pytest.raises(TransientProviderError) as caught:
        adapter(fake).generate(REQUEST)

    assert caught.value.resumable
    assert caught.value.request_id == next(iter(fake.jobs))


def test_outputs_sent_inline_as_data_uris_are_decoded(fake: FakeFal) -> None:
    fake.data_uri_outputs = True
    result = adapter(fake).generate(REQUEST)

    assert result.images[0].data.startswith(b"\xff\xd8")
    assert not any(path.startswith("/files/") for path in paths(fake))


def test_fifty_concurrent_generations_all_complete(fake: FakeFal) -> None:
    fake.latency = 0.3
    results, errors = [], []

    def run(seed: int) -> None:
        try:
            results.append(adapter(fake).generate(GenerationRequest(prompt="crowd", seed=seed, size=64)))
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(50)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert errors == []
    assert len({result.request_id for result in results}) == 50
    assert time.monotonic() - started < 5


# --- resume --------------------------------------------------------------------------------------
class Crash(Exception):
    """The worker dying right after it recorded the request id."""


def test_resume_waits_on_the_recorded_request_without_submitting_again(fake: FakeFal) -> None:
    recorded = []

    def record_then_die(request_id: str) -> None:
        recorded.append(request_id)
        raise Crash

    provider = adapter(fake)
    with pytest.raises(Crash):
        provider.generate(REQUEST, CallContext(on_submitted=record_then_die))
    result = provider.generate(REQUEST, CallContext(resume_id=recorded[0]))

    assert fake.submissions == 1
    assert result.request_id == recorded[0]
    assert result.images[0].width == 256


def test_resume_of_an_unknown_request_is_permanent(fake: FakeFal) -> None:
    with pytest.raises(PermanentProviderError, match="404"):
        adapter(fake).generate(REQUEST, CallContext(resume_id="no-such-request"))
    assert fake.submissions == 0


# --- cancel and deadline -------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [True, False])
def test_user_cancel_mid_run_cancels_at_fal(fake: FakeFal, stream: bool) -> None:
    fake.latency, fake.stream_available = 5.0, stream
    recorder = Recorder(fake, cancel_after=0.15)
    with pytest.raises(ProviderCanceledError) as caught:
        adapter(fake).generate(REQUEST, recorder.context())

    request_id = recorder.submitted[0][0]
    assert caught.value.request_id == request_id
    assert fake.cancellations == [request_id]
    assert any(seen["method"] == "PUT" and seen["path"].endswith(f"/{request_id}/cancel") for seen in fake.requests)
    assert time.monotonic() - recorder.started < 1.0


def test_the_stream_reader_thread_is_gone_soon_after_a_cancel(fake: FakeFal) -> None:
    fake.latency, fake.heartbeat = 5.0, 5.0  # a quiet stream: the reader is blocked in a read
    recorder = Recorder(fake, cancel_after=0.1)
    with pytest.raises(ProviderCanceledError):
        adapter(fake).generate(REQUEST, recorder.context())

    time.sleep(0.1)
    assert not [thread for thread in threading.enumerate() if thread.name == "fal-status-stream"]


@pytest.mark.parametrize("stream", [True, False])
def test_deadline_cancels_at_fal_and_raises_transient(fake: FakeFal, stream: bool) -> None:
    fake.stream_available = stream
    fake.next_outcomes.append("hang")
    recorder = Recorder(fake)
    started = time.monotonic()
    with pytest.raises(TransientProviderError) as caught:
        adapter(fake).generate(REQUEST, recorder.context(deadline=started + 0.3))

    assert 0.3 <= time.monotonic() - started < 0.8
    assert not caught.value.resumable  # canceled there: nothing left to resume
    assert fake.cancellations == [recorder.submitted[0][0]]


def test_cancel_is_best_effort_on_completed_unknown_and_unreachable_requests(fake: FakeFal) -> None:
    provider = adapter(fake)
    done = provider.generate(REQUEST)

    provider.cancel(done.request_id, model="fal-ai/flux/schnell")  # ALREADY_COMPLETED (400)
    provider.cancel("no-such-request")  # NOT_FOUND (404)
    FalProvider(**{**fake.adapter_options(), "api_url": "http://127.0.0.1:9", "attempts": 1}).cancel("x")

    assert fake.cancellations == [done.request_id, "no-such-request"]
    assert paths(fake, "PUT") == [f"/fal-ai/flux/requests/{done.request_id}/cancel", "/fal-ai/flux/requests/no-such-request/cancel"]


# --- outcomes --------------------------------------------------------------------------------------
def test_all_images_flagged_nsfw_is_content_refused(fake: FakeFal) -> None:
    fake.next_outcomes.append("nsfw")
    with pytest.raises(ContentRefusedError) as caught:
        adapter(fake).generate(REQUEST)
    assert caught.value.request_id == next(iter(fake.jobs))
    assert (caught.value.cost_usd, caught.value.megapixels) == (pytest.approx(0.003), pytest.approx(0.065536))  # fal bills it


def test_partly_flagged_images_are_dropped_and_counted(fake: FakeFal) -> None:
    fake.next_outcomes.append("nsfw_partial")
    result = adapter(fake).generate(GenerationRequest(prompt="two", seed=5, size=256, num_images=2))

    assert len(result.images) == 1
    assert result.refused_count == 1
    assert result.images[0].data == requests.get(f"{fake.url}/files/6-256x256.jpeg", timeout=5).content  # the second one
    assert result.cost_usd == pytest.approx(0.006)  # fal made (and bills) both


def test_completed_with_a_validation_error_is_permanent(fake: FakeFal) -> None:
    fake.next_outcomes.append("error_permanent")
    with pytest.raises(PermanentProviderError, match="422") as caught:
        adapter(fake).generate(REQUEST)
    assert caught.value.request_id
    assert not caught.value.resumable


def test_an_invalid_input_fails_with_the_models_message(fake: FakeFal) -> None:
    provider = adapter(fake, models={"fal-ai/flux/schnell": {"input": {"num_images": 9}}})
    with pytest.raises(PermanentProviderError, match="num_images must be between 1 and 4"):
        provider.generate(REQUEST)


def test_completed_with_a_server_error_is_transient_and_not_resumable(fake: FakeFal) -> None:
    fake.next_outcomes.append("error_transient")
    with pytest.raises(TransientProviderError, match="500") as caught:
        adapter(fake).generate(REQUEST)
    assert caught.value.request_id
    assert not caught.value.resumable
    result_calls = [path for path in paths(fake) if path.endswith(f"/requests/{caught.value.request_id}")]
    assert len(result_calls) == 1  # a failed request's error is not asked for again


def test_a_bad_model_id_is_refused_before_anything_is_sent(fake: FakeFal) -> None:
    with pytest.raises(PermanentProviderError, match="model id"):
        adapter(fake).generate(GenerationRequest(prompt="x", model="../admin"))
    assert fake.requests == []


# --- endpoint faults -----------------------------------------------------------------------------
def test_429_on_submit_is_transient_with_retry_after_and_not_retried(fake: FakeFal) -> None:
    fake.submit_faults.append(429)
    with pytest.raises(TransientProviderError) as caught:
        adapter(fake).generate(REQUEST)

    assert caught.value.retry_after == 1
    assert not caught.value.resumable
    assert paths(fake, "POST") == ["/fal-ai/flux/schnell"]
    assert fake.submissions == 0


def test_503_on_submit_is_raised_to_the_pipeline_not_retried(fake: FakeFal) -> None:
    fake.submit_faults.append(503)
    with pytest.raises(TransientProviderError, match="503"):
        adapter(fake).generate(REQUEST)
    assert len(paths(fake, "POST")) == 1


def test_a_locked_account_is_permanent_with_fals_words(fake: FakeFal) -> None:
    fake.submit_faults.append(403)
    with pytest.raises(PermanentProviderError, match="Exhausted balance"):
        adapter(fake).generate(REQUEST)


def test_a_wrong_key_is_permanent(fake: FakeFal) -> None:
    with pytest.raises(PermanentProviderError, match="401"):
        adapter(fake, api_key="wrong-key").generate(REQUEST)
    assert fake.submissions == 0


def test_a_status_503_is_retried_and_then_the_request_completes(fake: FakeFal) -> None:
    fake.stream_available = False
    fake.status_faults.extend([503, 503])
    result = adapter(fake).generate(REQUEST)

    assert result.images
    assert fake.submissions == 1


def test_status_failing_after_every_retry_is_resumable(fake: FakeFal) -> None:
    fake.stream_available = False
    fake.status_faults.extend([503] * 4)
    with pytest.raises(TransientProviderError, match="503") as caught:
        adapter(fake).generate(REQUEST)
    assert caught.value.resumable
    assert caught.value.request_id == next(iter(fake.jobs))


def test_malformed_json_while_polling_is_a_resumable_transient_error(fake: FakeFal) -> None:
    fake.stream_available = False
    fake.status_faults.append("malformed")
    with pytest.raises(TransientProviderError) as caught:
        adapter(fake).generate(REQUEST)

    assert caught.value.resumable
    assert caught.value.request_id == next(iter(fake.jobs))
    assert fake.cancellations == []  # the request lives on; the pipeline resumes it


def test_a_malformed_submit_answer_is_transient_without_an_id(fake: FakeFal) -> None:
    fake.submit_faults.append("malformed")
    recorder = Recorder(fake)
    with pytest.raises(TransientProviderError) as caught:
        adapter(fake).generate(REQUEST, recorder.context())
    assert not caught.value.resumable
    assert recorder.submitted == []


# --- where the key and the downloads may go ---------------------------------------------------------
def test_a_status_url_on_another_host_is_refused_and_gets_no_key(fake: FakeFal) -> None:
    other = FakeFal(api_key=fake.api_key).start()
    try:
        fake.public_url = other.url
        recorder = Recorder(fake)
        with pytest.raises(PermanentProviderError, match="another host") as caught:
            adapter(fake).generate(REQUEST, recorder.context())
    finally:
        other.stop()

    assert other.requests == []
    assert caught.value.request_id == recorder.submitted[0][0]
    assert fake.cancellations == [caught.value.request_id]  # canceled on fal's own host, not paid for


def test_an_output_redirect_to_a_private_address_is_refused_without_following(fake: FakeFal, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved = []
    real_resolve = outbound.resolve
    monkeypatch.setattr(outbound, "resolve", lambda host, port: resolved.append(host) or real_resolve(host, port))
    fake.next_outcomes.append("redirect_private")
    with pytest.raises(PermanentProviderError, match="redirect") as caught:
        adapter(fake).generate(REQUEST)
    assert caught.value.cost_usd == pytest.approx(0.003)  # made, so billed, though never fetched

    assert "127.0.0.1" in resolved  # the output was asked for...
    assert "169.254.169.254" not in resolved  # ...and its redirect never followed


def test_an_output_over_the_byte_limit_is_refused(fake: FakeFal) -> None:
    fake.next_outcomes.append("huge_output")
    with pytest.raises(PermanentProviderError, match="byte limit"):
        adapter(fake, max_output_bytes=100_000).generate(REQUEST)


def test_a_submit_answer_slower_than_the_read_timeout_is_transient_and_not_resubmitted(fake: FakeFal) -> None:
    fake.submit_faults.append(("slow", 0.3))
    with pytest.raises(TransientProviderError, match="unreachable"):
        adapter(fake, read_timeout=0.1).generate(REQUEST)
    assert len(paths(fake, "POST")) == 1


# --- the fake itself speaks the documented protocol ---------------------------------------------------
def test_the_fake_answers_status_result_and_cancel_with_fals_codes(fake: FakeFal) -> None:
    fake.latency = 0.2
    key = {"Authorization": f"Key {fake.api_key}"}
    submitted = requests.post(f"{fake.url}/fal-ai/flux/dev", json={"prompt": "p", "image_size": "square"}, headers=key, timeout=5)
    body = submitted.json()
    assert submitted.status_code == 200
    assert body["status"] == "IN_QUEUE"
    assert body["gateway_request_id"] == body["request_id"]
    assert body["status_url"] == f"{fake.url}/fal-ai/flux/requests/{body['request_id']}/status"

    running = requests.get(body["status_url"], params={"logs": "true"}, headers=key, timeout=5)
    quiet = requests.get(body["status_url"], params={"logs": "0"}, headers=key, timeout=5)
    assert (running.status_code, running.json()["status"]) == (202, "IN_PROGRESS")
    assert running.json()["logs"][0]["message"] == "step 1/4"
    assert quiet.json()["logs"] is None
    assert requests.get(body["response_url"], headers=key, timeout=5).status_code == 400  # not done yet

    with requests.get(f"{body['status_url']}/stream", headers=key, stream=True, timeout=5) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        events = [json.loads(line[5:]) for line in stream.iter_lines() if line.startswith(b"data:")]
    assert events[-1]["status"] == "COMPLETED"
    assert events[-1]["metrics"] == {"inference_time": 0.2}

    done = requests.get(body["status_url"], headers=key, timeout=5)
    assert (done.status_code, done.json()["status"]) == (200, "COMPLETED")
    output = requests.get(body["response_url"], headers=key, timeout=5).json()
    assert (output["images"][0]["width"], output["images"][0]["height"]) == (512, 512)
    assert output["has_nsfw_concepts"] == [False]

    assert requests.put(body["cancel_url"], headers=key, timeout=5).json() == {"status": "ALREADY_COMPLETED"}
    missing = requests.put(f"{fake.url}/fal-ai/flux/requests/nope/cancel", headers=key, timeout=5)
    assert (missing.status_code, missing.json()) == (404, {"status": "NOT_FOUND"})
    assert requests.get(body["status_url"], timeout=5).status_code == 401  # no key


def test_the_fake_accepts_a_cancel_while_queued(fake: FakeFal) -> None:
    fake.queue_seconds = 1.0
    key = {"Authorization": f"Key {fake.api_key}"}
    body = requests.post(f"{fake.url}/fal-ai/flux/schnell", json={"prompt": "p"}, headers=key, timeout=5).json()
    assert body["queue_position"] == 2

    canceled = requests.put(body["cancel_url"], headers=key, timeout=5)
    assert (canceled.status_code, canceled.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    assert fake.phase(body["request_id"]) == "COMPLETED"
