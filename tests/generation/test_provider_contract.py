"""The provider contract (generation/providers/base.py), one suite for every adapter.

Every remote adapter (fal, Replicate, RunPod, ComfyUI, OpenAI, Together, Hugging Face, DeepInfra,
Stability, AUTOMATIC1111) runs against its fake over loopback HTTP through the fakes' common
interface (`adapter_options()`, `next_outcomes`, `submissions`, `cancellations`, `default_model`);
the local generator joins the cases that apply to a provider without a remote request. Adapters
whose one call answers the images (`synchronous`) skip, saying why, the cases about request ids,
resuming, cancel at the provider and output URLs, and have their own cases at the end. Sizes:
every adapter delivers `native_size(model, size)` px (at least the request up to its `max_side`)
and reports the dimensions it really got ("undersized" answers included).
Protocol details of each adapter are tested in test_provider_<name>.py.
"""

import io
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from PIL import Image

from avatarsite.core import outbound
from generation.providers.a1111 import A1111Provider
from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    PermanentProviderError,
    Provider,
    ProviderCanceledError,
    TransientProviderError,
)
from generation.providers.comfyui import ComfyUIProvider
from generation.providers.deepinfra import DeepInfraProvider
from generation.providers.fal import FalProvider
from generation.providers.huggingface import HuggingFaceProvider
from generation.providers.local import LocalProvider
from generation.providers.openai import OpenAIImagesProvider
from generation.providers.replicate import ReplicateProvider
from generation.providers.runpod import RunPodProvider
from generation.providers.stability import StabilityProvider
from generation.providers.together import TogetherProvider
from tests.fakes.a1111 import FakeA1111
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.deepinfra import FakeDeepInfra
from tests.fakes.fal import FakeFal
from tests.fakes.huggingface import FakeHuggingFace
from tests.fakes.openai import FakeOpenAI
from tests.fakes.replicate import FakeReplicate
from tests.fakes.runpod import FakeRunPod
from tests.fakes.stability import FakeStability
from tests.fakes.together import FakeTogether

pytestmark = pytest.mark.fast

# 512 px is a size every adapter can deliver exactly (Replicate's flux: 0.25 megapixels at 1:1),
# but Stability, whose models make one square each (1024): its native size is what it must match.
SIZE = 512
METADATA_HOST = "169.254.169.254"
CONTENT_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


@dataclass
class Subject:
    """One adapter under contract, with its fake (None for the local generator)."""

    name: str
    provider: Provider
    fake: (
        FakeFal
        | FakeReplicate
        | FakeOpenAI
        | FakeTogether
        | FakeHuggingFace
        | FakeDeepInfra
        | FakeRunPod
        | FakeComfyUI
        | FakeStability
        | FakeA1111
        | None
    ) = None
    # Is the provider's request still unfinished there (fake-specific, behind one question)?
    unfinished: Callable[[str], bool] = lambda request_id: False
    # Where the fake serves output files.
    output_prefix: str = ""
    # One call answers with the images inline: no request id before the end, nothing to resume,
    # poll or cancel at the provider, no output URL (OpenAI, Together, Hugging Face, DeepInfra,
    # Stability, AUTOMATIC1111).
    synchronous: bool = False
    # It has a refusal signal of its own (A1111 has none: a check of our own has to do it).
    refuses: bool = True
    # Scripts the next submission to answer 429 and returns the Retry-After the fake sends; and what a
    # call should cost by the fake's catalogue (the cases over `priced` below).
    throttle: Callable[[], float] | None = None
    expected_cost: Callable[[GenerationRequest, object], float] | None = None

    def outputs_fetched(self) -> int:
        if self.fake is None:
            return 0
        return sum(1 for seen in self.fake.requests if seen["method"] == "GET" and seen["path"].startswith(self.output_prefix))


def _subject(name: str) -> Subject:
    if name == "fal":
        fal = FakeFal(latency=0.1).start()
        return Subject(
            name,
            FalProvider(**fal.adapter_options()),
            fal,
            unfinished=lambda request_id: fal.phase(request_id) != "COMPLETED",
            output_prefix="/files/",
            throttle=lambda: fal.submit_faults.append(429) or 1.0,
            expected_cost=lambda request, result: 0.003 * len(result.images),  # schnell: each image a megapixel at most
        )
    if name == "replicate":
        replicate = FakeReplicate(latency=0.1).start()
        return Subject(
            name,
            ReplicateProvider(**replicate.adapter_options()),
            replicate,
            unfinished=lambda request_id: replicate.status_of(request_id) not in ("succeeded", "failed", "canceled"),
            output_prefix="/output/",
            throttle=lambda: replicate.create_faults.append(429) or float(replicate.retry_after),
            expected_cost=lambda request, result: 0.003 * len(result.images),  # schnell: per image
        )
    if name in ("huggingface", "deepinfra"):
        fake = (FakeHuggingFace if name == "huggingface" else FakeDeepInfra)(latency=0.05).start()
        provider = (HuggingFaceProvider if name == "huggingface" else DeepInfraProvider)(**fake.adapter_options())
        return Subject(name, provider, fake, synchronous=True)
    if name in ("openai", "together"):
        fake = (FakeOpenAI if name == "openai" else FakeTogether)(latency=0.1).start()
        provider = (OpenAIImagesProvider if name == "openai" else TogetherProvider)(**fake.adapter_options())
        return Subject(name, provider, fake, synchronous=True)
    if name == "runpod":
        runpod = FakeRunPod(latency=0.1).start()
        return Subject(
            name,
            RunPodProvider(**runpod.adapter_options()),
            runpod,
            unfinished=lambda request_id: runpod.status_of(request_id) not in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"),
            output_prefix="/output/",
        )
    if name == "comfyui":
        comfyui = FakeComfyUI(latency=0.1).start()
        return Subject(
            name,
            ComfyUIProvider(**comfyui.adapter_options()),
            comfyui,
            unfinished=lambda request_id: comfyui.status_of(request_id) in ("pending", "running", "unknown"),
            output_prefix="/view",
        )
    if name == "stability":
        stability = FakeStability(latency=0.1).start()
        return Subject(
            name,
            StabilityProvider(**stability.adapter_options()),
            stability,
            synchronous=True,
            throttle=lambda: stability.next_outcomes.append("rate_limited") or float(stability.retry_after),
            expected_cost=lambda request, result: 0.01 * 3.0 * request.num_images,  # core: 3 credits at $0.01
        )
    if name == "a1111":
        a1111 = FakeA1111(latency=0.1).start()
        return Subject(
            name,
            A1111Provider(**a1111.adapter_options()),
            a1111,
            unfinished=lambda request_id: a1111.state_of(request_id) == "sampling",
            synchronous=True,
            refuses=False,
            throttle=lambda: a1111.next_outcomes.append("rate_limited") or float(a1111.retry_after),
            expected_cost=lambda request, result: round(0.0005 * result.metadata["gpu_seconds"], 6),
        )
    return Subject(name, LocalProvider())


@pytest.fixture(params=["fal", "replicate", "runpod", "comfyui", "openai", "together", "huggingface", "deepinfra", "stability", "a1111"])
def remote(request) -> Iterator[Subject]:
    """An adapter that calls a provider over HTTP, against its fake."""
    subject = _subject(request.param)
    yield subject
    subject.fake.stop()


@pytest.fixture(
    params=["fal", "replicate", "local", "runpod", "comfyui", "openai", "together", "huggingface", "deepinfra", "stability", "a1111"]
)
def any_provider(request) -> Iterator[Subject]:
    """Every adapter, the local generator included."""
    subject = _subject(request.param)
    yield subject
    if subject.fake is not None:
        subject.fake.stop()


def _request(subject: Subject, **overrides: object) -> GenerationRequest:
    model = subject.fake.default_model if subject.fake is not None else ""
    return GenerationRequest(**{"prompt": "a smiling woman with red hair", "model": model, "seed": 42, "size": SIZE, **overrides})


@dataclass
class Recorder:
    """A CallContext that remembers what the adapter told it, and can cancel once submitted."""

    subject: Subject
    cancel_after_submit: float | None = None
    submitted: list = field(default_factory=list)
    progress: list = field(default_factory=list)
    submitted_at: float | None = None

    def on_submitted(self, request_id: str) -> None:
        self.submitted_at = time.monotonic()
        self.submitted.append(
            {"id": request_id, "unfinished": self.subject.unfinished(request_id), "outputs_fetched": self.subject.outputs_fetched()}
        )

    def should_cancel(self) -> bool:
        if self.cancel_after_submit is None or self.submitted_at is None:
            return False
        return time.monotonic() - self.submitted_at >= self.cancel_after_submit

    def context(self, **options: object) -> CallContext:
        return CallContext(
            on_progress=lambda percent, message: self.progress.append((percent, message)),
            on_submitted=self.on_submitted,
            should_cancel=self.should_cancel,
            **options,
        )


# --- the happy path ----------------------------------------------------------------------------------
def test_generate_returns_decodable_images_of_the_requested_size_with_provenance_and_cost(any_provider: Subject) -> None:
    result = any_provider.provider.generate(_request(any_provider), Recorder(any_provider).context())

    assert len(result.images) == 1
    image = result.images[0]
    decoded = Image.open(io.BytesIO(image.data))
    decoded.load()  # the whole file decodes, not only its header
    native = any_provider.provider.native_size(_request(any_provider).model, SIZE)  # SIZE, but Stability's one square
    assert decoded.size == (image.width, image.height) == (native, native)
    assert decoded.format == CONTENT_FORMATS[image.content_type]
    assert result.provider == any_provider.provider.name == any_provider.name
    assert result.licence_note
    assert result.refused_count == 0
    if any_provider.fake is not None:
        assert result.model == any_provider.fake.default_model
        assert result.request_id
        assert result.cost_usd > 0
        assert any_provider.fake.submissions == 1
    else:
        assert result.model == LocalProvider.model
        assert result.cost_usd == 0


@pytest.mark.parametrize("size", [256, 512, 768, 1024, 2048])
def test_each_size_comes_back_at_the_adapters_native_size_at_least_the_request_up_to_its_max_side(any_provider: Subject, size) -> None:
    provider = any_provider.provider
    request = _request(any_provider, size=size)

    result = provider.generate(request, Recorder(any_provider).context())

    native = provider.native_size(request.model, size)
    assert min(size, provider.max_side(request.model)) <= native <= provider.max_side(request.model)
    image = result.images[0]
    assert (image.width, image.height) == (native, native) == Image.open(io.BytesIO(image.data)).size


def test_an_undersized_answer_is_returned_with_its_real_dimensions_for_the_pipeline_to_judge(remote: Subject) -> None:
    remote.fake.next_outcomes.append("undersized")

    result = remote.provider.generate(_request(remote, size=1024), Recorder(remote).context())

    image = result.images[0]
    assert (image.width, image.height) == (64, 64) == Image.open(io.BytesIO(image.data)).size


def test_on_submitted_is_called_once_with_the_request_id_before_the_request_completes(remote: Subject) -> None:
    _skip_if_synchronous(remote, "no request id exists before the answer")
    # Well past Replicate's Prefer: wait (1 s in the fake's options): the create answers while it still
    # runs. The others answer their submit at once, so any latency leaves the request running there.
    remote.fake.latency = 3.0 if remote.name == "replicate" else 1.0
    recorder = Recorder(remote)

    result = remote.provider.generate(_request(remote), recorder.context())

    assert [call["id"] for call in recorder.submitted] == [result.request_id]
    assert recorder.submitted[0]["unfinished"]  # the provider was still working on it
    assert recorder.submitted[0]["outputs_fetched"] == 0  # nothing was downloaded yet
    assert remote.fake.submissions == 1


def test_the_local_generator_never_reports_a_provider_request() -> None:
    local = _subject("local")
    recorder = Recorder(local)
    result = local.provider.generate(_request(local), recorder.context())

    assert recorder.submitted == []
    assert result.request_id == ""


class Crash(Exception):
    """The worker dying right after it recorded the provider's request id."""


def test_resuming_with_the_recorded_id_finishes_that_request_without_a_new_submission(remote: Subject) -> None:
    _skip_if_synchronous(remote, "no request to resume")
    recorded: list[str] = []

    def record_then_die(request_id: str) -> None:
        recorded.append(request_id)
        raise Crash

    with pytest.raises(Crash):
        remote.provider.generate(_request(remote), CallContext(on_submitted=record_then_die))
    resumed_recorder = Recorder(remote)
    result = remote.provider.generate(_request(remote), resumed_recorder.context(resume_id=recorded[0]))

    assert remote.fake.submissions == 1
    assert result.request_id == recorded[0]
    assert (result.images[0].width, result.images[0].height) == (SIZE, SIZE)
    assert resumed_recorder.submitted == []  # nothing new was submitted, so nothing new to record


# --- cancel and deadline -----------------------------------------------------------------------------
def test_a_user_cancel_mid_run_cancels_at_the_provider_and_raises_canceled(remote: Subject) -> None:
    _skip_if_synchronous(remote, "no cancel in the protocol")
    remote.fake.next_outcomes.append("hang")
    recorder = Recorder(remote, cancel_after_submit=0.2)
    started = time.monotonic()

    with pytest.raises(ProviderCanceledError) as caught:
        remote.provider.generate(_request(remote), recorder.context())

    request_id = recorder.submitted[0]["id"]
    assert caught.value.request_id == request_id
    assert remote.fake.cancellations == [request_id]
    assert remote.fake.submissions == 1
    assert time.monotonic() - started < 10


def test_a_deadline_cancels_at_the_provider_and_raises_transient(remote: Subject) -> None:
    _skip_if_synchronous(remote, "no cancel in the protocol")
    remote.fake.next_outcomes.append("hang")
    recorder = Recorder(remote)
    started = time.monotonic()

    with pytest.raises(TransientProviderError) as caught:
        remote.provider.generate(_request(remote), recorder.context(deadline=started + 0.5))

    assert time.monotonic() - started >= 0.5
    assert time.monotonic() - started < 10
    assert not caught.value.resumable  # canceled there: nothing left to resume
    assert remote.fake.cancellations == [recorder.submitted[0]["id"]]


# --- outcomes ----------------------------------------------------------------------------------------
def test_every_image_flagged_nsfw_is_a_content_refusal(remote: Subject) -> None:
    if not remote.refuses:
        pytest.skip(f"{remote.name} has no refusal signal in its protocol")
    remote.fake.next_outcomes.append("nsfw")

    with pytest.raises(ContentRefusedError) as caught:
        remote.provider.generate(_request(remote), Recorder(remote).context())

    assert caught.value.request_id
    assert caught.value.kind == "refused"


def test_some_images_flagged_nsfw_are_withheld_and_counted_as_refused(remote: Subject) -> None:
    if remote.name in ("openai", "together"):  # Hugging Face, DeepInfra and Stability withhold the flagged images only
        pytest.skip(f"{remote.name} refuses the whole call")
    if not remote.refuses:
        pytest.skip(f"{remote.name} has no refusal signal in its protocol")
    remote.fake.next_outcomes.append("nsfw_partial")

    result = remote.provider.generate(_request(remote, num_images=2), Recorder(remote).context())

    assert len(result.images) == 1
    assert result.refused_count == 1
    Image.open(io.BytesIO(result.images[0].data)).load()


def test_a_model_error_is_permanent(remote: Subject) -> None:
    remote.fake.next_outcomes.append("error_permanent")

    with pytest.raises(PermanentProviderError) as caught:
        remote.provider.generate(_request(remote), Recorder(remote).context())

    assert caught.value.kind == "permanent"
    assert remote.fake.submissions == 1


def test_a_request_the_local_generator_cannot_draw_is_permanent() -> None:
    local = _subject("local")
    with pytest.raises(PermanentProviderError):
        local.provider.generate(_request(local, style="oil-painting"))


def test_a_provider_side_infrastructure_failure_is_transient(remote: Subject) -> None:
    remote.fake.next_outcomes.append("error_transient")

    with pytest.raises(TransientProviderError) as caught:
        remote.provider.generate(_request(remote), Recorder(remote).context())

    assert caught.value.kind == "transient"
    assert _submit_posts(remote.fake) == 1


# --- outputs: only allowlisted public https hosts, no redirects --------------------------------------
def test_an_output_redirecting_to_the_metadata_address_is_refused_and_never_fetched(
    remote: Subject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redirect is never followed: the output URL answers 302 to http://169.254.169.254/...; no connection goes there."""
    _skip_if_synchronous(remote, "images come inline, never from an output URL")
    resolved: list[str] = []
    connected: list[object] = []
    real_resolve, real_connect = outbound.resolve, socket.socket.connect

    def recording_resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return real_resolve(host, port)

    def recording_connect(sock: socket.socket, address: object) -> None:
        connected.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(outbound, "resolve", recording_resolve)
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    remote.fake.next_outcomes.append("redirect_private")

    with pytest.raises(PermanentProviderError, match="redirect"):
        remote.provider.generate(_request(remote), Recorder(remote).context())

    assert remote.outputs_fetched() == 1  # the output was asked for on the allowed host...
    assert METADATA_HOST not in resolved  # ...and its redirect was never followed
    hosts = [address[0] for address in connected if isinstance(address, tuple)]
    assert "127.0.0.1" in hosts  # connections are seen here...
    assert METADATA_HOST not in hosts  # ...and none went to the metadata address


# --- watched calls (OpenAI, Together): one call on a watched thread, the images inline ------------------
# What they share with the rest is above; here is what replaces resume and cancel at the provider
# (neither exists in their protocols), and the errors and billing of their one call.
EXPECTED_COST_AT_SIZE = {
    # dall-e-2 at 512 px: $0.018 per image (billed by size).
    "openai": 0.018,
    # FLUX.1 schnell: $0.0027 per megapixel (1024 x 1024) x 0.25 megapixel.
    "together": 0.000675,
}


def _skip_if_synchronous(subject: Subject, why: str) -> None:
    if subject.synchronous:
        pytest.skip(f"{subject.name} answers in one call: {why}")


@pytest.fixture(params=["openai", "together"])
def watched(request) -> Iterator[Subject]:
    subject = _subject(request.param)
    yield subject
    subject.fake.stop()


def test_a_synchronous_call_reports_no_request_id_before_its_answer_and_returns_the_answers_id(watched: Subject) -> None:
    recorder = Recorder(watched)

    result = watched.provider.generate(_request(watched), recorder.context())

    assert recorder.submitted == []  # nothing to resume after a crash: the pipeline books the call as unknown
    assert result.request_id
    assert watched.provider.can_look_up is False


def test_a_user_cancel_mid_call_stops_waiting_at_once_and_raises_canceled(watched: Subject) -> None:
    watched.fake.next_outcomes.append("hang")
    cancel_at = time.monotonic() + 0.3
    started = time.monotonic()

    with pytest.raises(ProviderCanceledError):
        watched.provider.generate(_request(watched), CallContext(should_cancel=lambda: time.monotonic() >= cancel_at))

    assert 0.3 <= time.monotonic() - started < 2  # within a poll interval of the cancel, not at the deadline
    assert watched.fake.submissions == 1
    assert watched.fake.cancellations == []  # the protocol has no cancel to call


def test_a_hanging_call_ends_at_the_deadline_as_transient_and_not_resumable(watched: Subject) -> None:
    watched.fake.next_outcomes.append("hang")
    started = time.monotonic()

    with pytest.raises(TransientProviderError) as caught:
        watched.provider.generate(_request(watched), CallContext(deadline=started + 0.5))

    assert 0.5 <= time.monotonic() - started < 2
    assert not caught.value.resumable


def test_a_429_is_transient_with_the_servers_retry_after(watched: Subject) -> None:
    watched.fake.retry_after = 7
    watched.fake.next_outcomes.append("rate_limited")

    with pytest.raises(TransientProviderError) as caught:
        watched.provider.generate(_request(watched), Recorder(watched).context())

    assert caught.value.status == 429
    assert caught.value.retry_after == 7
    assert watched.fake.submissions == 1  # never retried by the adapter: the pipeline waits Retry-After


def test_a_5xx_is_transient_and_not_retried_by_the_adapter(watched: Subject) -> None:
    watched.fake.next_outcomes.append("error_transient")

    with pytest.raises(TransientProviderError) as caught:
        watched.provider.generate(_request(watched), Recorder(watched).context())

    assert caught.value.status >= 500
    assert watched.fake.submissions == 1


def test_a_refusal_is_content_refused_and_bills_nothing(watched: Subject) -> None:
    watched.fake.next_outcomes.append("nsfw")

    with pytest.raises(ContentRefusedError) as caught:
        watched.provider.generate(_request(watched), Recorder(watched).context())

    assert caught.value.request_id  # the answer's request id, for the ledger and support
    assert caught.value.cost_usd == 0


def test_a_body_that_is_not_json_is_transient(watched: Subject) -> None:
    watched.fake.next_outcomes.append("malformed")

    with pytest.raises(TransientProviderError):
        watched.provider.generate(_request(watched), Recorder(watched).context())


def test_the_call_is_billed_as_the_provider_prices_it(watched: Subject) -> None:
    one = watched.provider.generate(_request(watched), Recorder(watched).context())
    two = watched.provider.generate(_request(watched, num_images=2), Recorder(watched).context())

    assert one.cost_usd == pytest.approx(EXPECTED_COST_AT_SIZE[watched.name])
    assert len(two.images) == 2
    assert two.cost_usd == pytest.approx(2 * EXPECTED_COST_AT_SIZE[watched.name])


# --- blocking calls (Hugging Face Inference router, DeepInfra): one POST answers the image --------------
# One POST answers the image: no request id before the answer, so nothing to resume, and no cancel in
# either protocol (a user cancel is seen before each call, a deadline bounds the read timeout). The
# answer carries the image, so there are no output URLs either. The cases that need those skip, saying so.
@pytest.fixture(params=["huggingface", "deepinfra"])
def blocking(request) -> Iterator[Subject]:
    subject = _subject(request.param)
    yield subject
    subject.fake.stop()


def test_a_rate_limit_is_transient_and_carries_the_providers_retry_after(blocking: Subject) -> None:
    blocking.fake.next_outcomes.append("rate_limited")

    with pytest.raises(TransientProviderError) as caught:
        blocking.provider.generate(_request(blocking), Recorder(blocking).context())

    assert caught.value.status == 429
    assert caught.value.retry_after == blocking.fake.retry_after
    assert blocking.fake.submissions == 1  # not retried inside the adapter: the pipeline backs off


def test_payment_required_is_permanent(blocking: Subject) -> None:
    blocking.fake.next_outcomes.append("payment_required")

    with pytest.raises(PermanentProviderError) as caught:
        blocking.provider.generate(_request(blocking), Recorder(blocking).context())

    assert caught.value.status == 402
    assert blocking.fake.submissions == 1


def test_a_server_error_is_transient_with_its_status(blocking: Subject) -> None:
    blocking.fake.next_outcomes.append("error_transient")

    with pytest.raises(TransientProviderError) as caught:
        blocking.provider.generate(_request(blocking), Recorder(blocking).context())

    assert caught.value.status == 500


def test_a_hanging_call_times_out_as_transient_at_the_read_timeout(blocking: Subject) -> None:
    blocking.fake.next_outcomes.append("hang")
    provider = type(blocking.provider)(**{**blocking.fake.adapter_options(), "read_timeout": 0.5})
    started = time.monotonic()

    with pytest.raises(TransientProviderError, match="Timeout"):
        provider.generate(_request(blocking), Recorder(blocking).context())

    assert 0.5 <= time.monotonic() - started < 5


def test_a_cancel_before_the_call_sends_nothing_and_raises_canceled(blocking: Subject) -> None:
    context = CallContext(should_cancel=lambda: True)

    with pytest.raises(ProviderCanceledError):
        blocking.provider.generate(_request(blocking), context)

    assert blocking.fake.submissions == 0


def test_a_malformed_answer_is_transient(blocking: Subject) -> None:
    blocking.fake.next_outcomes.append("malformed")

    with pytest.raises(TransientProviderError):
        blocking.provider.generate(_request(blocking), Recorder(blocking).context())


@pytest.mark.parametrize("count", [1, 2])
def test_the_cost_is_what_the_provider_bills_for_the_images_made(blocking: Subject, count: int) -> None:
    result = blocking.provider.generate(_request(blocking, num_images=count), Recorder(blocking).context())

    price = blocking.fake.costs[blocking.fake.default_model]
    if "cost_per_image" in price:  # Hugging Face's FLUX.1-schnell in the fake's catalogue
        expected = price["cost_per_image"] * count
    else:  # DeepInfra: $ per 1024 x 1024, linear in the pixels, as reported in inference_status.cost
        expected = price["cost_per_megapixel"] * SIZE * SIZE / (1024 * 1024) * count
    assert result.cost_usd == pytest.approx(expected)
    assert len(result.images) == count


@pytest.mark.parametrize("options", [{"resume_id": "abc"}, {"lookup_only": True}])
def test_a_resume_or_look_up_is_refused_without_a_new_call(blocking: Subject, options: dict) -> None:
    with pytest.raises(PermanentProviderError, match="cannot be resumed"):
        blocking.provider.generate(_request(blocking), CallContext(**options))

    assert blocking.fake.submissions == 0


# --- queued providers: throttling and server errors at submit --------------------------------------
# Each fake's queue of scripted answers to its submit call (an int status; 429 carries Retry-After).
SUBMIT_FAULTS = {"fal": "submit_faults", "replicate": "create_faults", "runpod": "run_faults", "comfyui": "prompt_faults"}


def _retry_after_of(fake: object) -> float:
    return float(getattr(fake, "retry_after", 1))  # the fal fake always says 1


@pytest.fixture(params=list(SUBMIT_FAULTS))
def queued(request) -> Iterator[Subject]:
    """An adapter that submits a request and polls it, against its fake."""
    subject = _subject(request.param)
    yield subject
    subject.fake.stop()


def _submit_posts(fake: object) -> int:
    """Submit calls received, answered or not (the fal fake's `submissions` counts jobs created)."""
    return int(getattr(fake, "submit_posts", fake.submissions))


def test_a_throttled_submit_is_transient_with_the_providers_retry_after(queued: Subject) -> None:
    getattr(queued.fake, SUBMIT_FAULTS[queued.name]).append(429)

    with pytest.raises(TransientProviderError) as caught:
        queued.provider.generate(_request(queued), Recorder(queued).context())

    assert caught.value.retry_after == _retry_after_of(queued.fake)
    assert _submit_posts(queued.fake) == 1  # a billable create is never resent blindly


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_at_submit_is_transient(queued: Subject, status: int) -> None:
    getattr(queued.fake, SUBMIT_FAULTS[queued.name]).append(status)

    with pytest.raises(TransientProviderError) as caught:
        queued.provider.generate(_request(queued), Recorder(queued).context())

    assert caught.value.kind == "transient"
    assert _submit_posts(queued.fake) == 1


# --- priced adapters: throttling and billing by the fake's catalogue; blocking calls (Stability, A1111) ---
@pytest.fixture(params=["fal", "replicate", "stability", "a1111"])
def priced(request) -> Iterator[Subject]:
    subject = _subject(request.param)
    yield subject
    subject.fake.stop()


def test_a_throttled_call_is_transient_and_carries_the_providers_retry_after(priced: Subject) -> None:
    retry_after = priced.throttle()

    with pytest.raises(TransientProviderError) as caught:
        priced.provider.generate(_request(priced), Recorder(priced).context())

    assert caught.value.status == 429
    assert caught.value.retry_after == retry_after  # handed to the pipeline's backoff, not retried here


def test_a_call_is_billed_as_the_catalogue_prices_it(priced: Subject) -> None:
    request = _request(priced, num_images=2)

    result = priced.provider.generate(request, Recorder(priced).context())

    assert result.cost_usd > 0
    assert result.cost_usd == pytest.approx(priced.expected_cost(request, result))


def test_a_one_call_adapter_records_no_request_and_refuses_to_resume_or_look_up(remote: Subject) -> None:
    """One call answers the images: nothing is recorded before the answer, so a re-run submits anew
    (never "resumes" a request whose images only its lost answer held), and a resume or a look-up is
    refused as permanent: never "not found", which would close a call that may have been billed at $0."""
    if not remote.synchronous:
        pytest.skip(f"{remote.name} names its request early (the resume case above)")
    recorder = Recorder(remote)

    result = remote.provider.generate(_request(remote), recorder.context())

    assert recorder.submitted == []
    assert result.request_id
    assert not remote.provider.can_look_up
    for context in (CallContext(resume_id=result.request_id), CallContext(lookup_only=True, lookup_since=time.time() - 60)):
        with pytest.raises(PermanentProviderError):  # never "not found": the books must not close a call at $0
            remote.provider.generate(_request(remote), context)
    assert remote.fake.submissions == 1
