"""The provider contract (generation/providers/base.py), one suite for every adapter.

The fal and Replicate adapters run against their fakes over loopback HTTP through the fakes'
common interface (`adapter_options()`, `next_outcomes`, `submissions`, `cancellations`,
`default_model`); the local generator joins the cases that apply to a provider without a remote
request. Sizes: every adapter delivers `native_size(model, size)` px (at least the request up to
its `max_side`) and reports the dimensions it really got ("undersized" answers included).
Protocol details of each adapter are tested in test_provider_fal.py / test_provider_replicate.py.

Stability and AUTOMATIC1111 answer with the image in one blocking call: they name no request
before the answer (nothing to record or resume), Stability has no cancel (the call is abandoned),
A1111 no refusal signal, neither an output URL; the Subject says so and those cases are skipped for
them with the reason, the blocking-call case checking what they do instead (test_provider_stability.py,
test_provider_a1111.py for their protocols).
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
    RequestNotFoundError,
    TransientProviderError,
)
from generation.providers.fal import FalProvider
from generation.providers.local import LocalProvider
from generation.providers.replicate import ReplicateProvider
from generation.providers.stability import StabilityProvider
from tests.fakes.a1111 import FakeA1111
from tests.fakes.fal import FakeFal
from tests.fakes.replicate import FakeReplicate
from tests.fakes.stability import FakeStability

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
    fake: FakeFal | FakeReplicate | FakeStability | FakeA1111 | None = None
    # Is the provider's request still unfinished there (fake-specific, behind one question)?
    unfinished: Callable[[str], bool] = lambda request_id: False
    # Where the fake serves output files.
    output_prefix: str = ""
    # --- i19-stab: what a provider whose answer is one blocking call (Stability, A1111) lacks ---
    # It names its request before the answer (on_submitted, resume): False when the id comes with it.
    names_request_early: bool = True
    # It has a cancel (False: the call is abandoned, and nothing reaches the fake's `cancellations`).
    cancels: bool = True
    # It has a refusal signal of its own (A1111 has none: our own check, issue 19 point 4, does it).
    refuses: bool = True
    # It hands back output URLs (the guarded download): False when the answer is the image.
    output_urls: bool = True
    # Scripts the next submission to answer 429; returns the Retry-After the fake sends.
    throttle: Callable[[], float] = lambda: 0.0
    # What the call should cost by the fake's catalogue (for the billing case).
    expected_cost: Callable[[GenerationRequest, object], float] = lambda request, result: 0.0
    # --- end i19-stab ---

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
    # --- i19-stab ---
    if name == "stability":
        stability = FakeStability(latency=0.1).start()
        return Subject(
            name,
            StabilityProvider(**stability.adapter_options()),
            stability,
            names_request_early=False,
            cancels=False,
            output_urls=False,
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
            names_request_early=False,
            refuses=False,
            output_urls=False,
            throttle=lambda: a1111.next_outcomes.append("rate_limited") or float(a1111.retry_after),
            expected_cost=lambda request, result: round(0.0005 * result.metadata["gpu_seconds"], 6),
        )
    # --- end i19-stab ---
    return Subject(name, LocalProvider())


@pytest.fixture(params=["fal", "replicate", "stability", "a1111"])
def remote(request) -> Iterator[Subject]:
    """An adapter that calls a provider over HTTP, against its fake."""
    subject = _subject(request.param)
    yield subject
    subject.fake.stop()


@pytest.fixture(params=["fal", "replicate", "local", "stability", "a1111"])
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
        if self.submitted_at is None and not self.subject.names_request_early:
            self.submitted_at = time.monotonic()  # i19-stab: a blocking call is under way from its first look
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
    if not remote.names_request_early:
        pytest.skip(f"{remote.name}: one blocking call, the id comes with the answer (tested below: never recorded)")
    # Well past Replicate's Prefer: wait (1 s in the fake's options): the create answers while it still runs.
    remote.fake.latency = 3.0
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
    if not remote.names_request_early:
        pytest.skip(f"{remote.name}: nothing is recorded, so nothing is resumed (tested below)")
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
    remote.fake.next_outcomes.append("hang")
    recorder = Recorder(remote, cancel_after_submit=0.2)
    started = time.monotonic()

    with pytest.raises(ProviderCanceledError) as caught:
        remote.provider.generate(_request(remote), recorder.context())

    request_id = recorder.submitted[0]["id"] if remote.names_request_early else caught.value.request_id
    assert caught.value.request_id == request_id
    assert remote.fake.cancellations == ([request_id] if remote.cancels else [])
    assert remote.fake.submissions == 1
    assert time.monotonic() - started < 10


def test_a_deadline_cancels_at_the_provider_and_raises_transient(remote: Subject) -> None:
    remote.fake.next_outcomes.append("hang")
    recorder = Recorder(remote)
    started = time.monotonic()

    with pytest.raises(TransientProviderError) as caught:
        remote.provider.generate(_request(remote), recorder.context(deadline=started + 0.5))

    assert time.monotonic() - started >= 0.5
    assert time.monotonic() - started < 10
    assert not caught.value.resumable  # canceled there: nothing left to resume
    request_id = recorder.submitted[0]["id"] if remote.names_request_early else caught.value.request_id
    assert remote.fake.cancellations == ([request_id] if remote.cancels else [])


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
    assert remote.fake.submissions == 1


# --- outputs: only allowlisted public https hosts, no redirects --------------------------------------
def test_an_output_redirecting_to_the_metadata_address_is_refused_and_never_fetched(
    remote: Subject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redirect is never followed: the output URL answers 302 to http://169.254.169.254/...; no connection goes there."""
    if not remote.output_urls:
        pytest.skip(f"{remote.name} answers with the image itself: no output URL to follow")
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


# --- i19-stab: cases every remote adapter passes (throttling, billing) and the blocking-call ones ---
def test_a_429_is_transient_and_carries_the_providers_retry_after(remote: Subject) -> None:
    retry_after = remote.throttle()

    with pytest.raises(TransientProviderError) as caught:
        remote.provider.generate(_request(remote), Recorder(remote).context())

    assert caught.value.status == 429
    assert caught.value.retry_after == retry_after  # handed to the pipeline's backoff, not retried here


def test_a_call_is_billed_as_the_catalogue_prices_it(remote: Subject) -> None:
    request = _request(remote, num_images=2)

    result = remote.provider.generate(request, Recorder(remote).context())

    assert result.cost_usd > 0
    assert result.cost_usd == pytest.approx(remote.expected_cost(request, result))


def test_a_blocking_call_records_no_request_and_refuses_to_resume_or_look_up(remote: Subject) -> None:
    """One blocking call: nothing is recorded before the answer, so a re-run submits anew (never
    "resumes" a request whose images only its lost answer held), and a look-up finds nothing."""
    if remote.names_request_early:
        pytest.skip(f"{remote.name} names its request early (the resume case above)")
    recorder = Recorder(remote)

    result = remote.provider.generate(_request(remote), recorder.context())

    assert recorder.submitted == []
    assert result.request_id
    assert not remote.provider.can_look_up
    for context in (CallContext(resume_id=result.request_id), CallContext(lookup_only=True, lookup_since=time.time() - 60)):
        with pytest.raises(RequestNotFoundError):
            remote.provider.generate(_request(remote), context)
    assert remote.fake.submissions == 1


# --- end i19-stab ---
