"""The AUTOMATIC1111 adapter against a fake WebUI API over loopback HTTP: the txt2img body, Basic
auth, progress read beside the blocking call, interrupt on cancel and deadline, errors, GPU-time cost."""

import base64
import json
import socket
import time

import pytest
from django.conf import settings

from generation.providers.a1111 import A1111Provider
from generation.providers.base import (
    CallContext,
    GenerationRequest,
    PermanentProviderError,
    ProviderCanceledError,
    TransientProviderError,
)
from tests.fakes.a1111 import FakeA1111

pytestmark = pytest.mark.fast


@pytest.fixture
def fake():
    server = FakeA1111().start()
    yield server
    server.stop()


def _provider(fake: FakeA1111, **overrides) -> A1111Provider:
    return A1111Provider(**{**fake.adapter_options(), **overrides})


def _request(fake: FakeA1111, **params) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "portrait of a smiling woman", "model": fake.default_model, "seed": 42, "size": 1024, **params})


def _calls(fake: FakeA1111, method: str, path: str) -> list[dict]:
    return [seen for seen in fake.requests if seen["method"] == method and seen["path"] == path]


def test_txt2img_gets_basic_auth_and_a_body_for_a_native_square_with_our_task_id(fake):
    result = _provider(fake).generate(_request(fake, size=500, num_images=2))

    [seen] = _calls(fake, "POST", "/sdapi/v1/txt2img")
    assert seen["headers"]["Authorization"] == "Basic " + base64.b64encode(fake.auth.encode()).decode()
    body = json.loads(seen["body"])
    assert {key: body[key] for key in ("prompt", "seed", "width", "height", "batch_size", "n_iter", "send_images", "save_images")} == {
        "prompt": "portrait of a smiling woman",
        "seed": 42,
        "width": 504,  # 500 rounded up to SD's 8 px blocks
        "height": 504,
        "batch_size": 2,
        "n_iter": 1,
        "send_images": True,
        "save_images": False,
    }
    assert body["override_settings"] == {"sd_model_checkpoint": fake.default_model}
    assert body["force_task_id"] == result.request_id
    assert [(image.width, image.height) for image in result.images] == [(504, 504)] * 2
    assert result.model_version == "31e35c80fc"  # info.sd_model_hash


def test_no_model_runs_the_loaded_checkpoint_and_seed_zero_lets_the_server_pick(fake):
    _provider(fake).generate(_request(fake, model="", seed=0))

    body = json.loads(_calls(fake, "POST", "/sdapi/v1/txt2img")[0]["body"])
    assert "override_settings" not in body
    assert body["seed"] == -1


def test_without_auth_no_authorization_header_is_sent():
    server = FakeA1111(auth="").start()
    try:
        _provider(server, api_key="").generate(_request(server))
        assert "Authorization" not in _calls(server, "POST", "/sdapi/v1/txt2img")[0]["headers"]
    finally:
        server.stop()


def test_progress_is_read_beside_the_blocking_call_and_only_moves_forward(fake):
    fake.latency = 0.6
    seen: list[tuple[int, str]] = []

    _provider(fake).generate(_request(fake), CallContext(on_progress=lambda percent, message: seen.append((percent, message))))

    assert len(_calls(fake, "GET", "/sdapi/v1/progress")) >= 3
    percents = [percent for percent, _ in seen]
    assert percents == sorted(set(percents))
    assert any(20 < percent < 90 for percent in percents)


def test_the_cost_is_the_servers_process_time_at_the_operators_rate(fake):
    fake.latency = 0.3

    result = _provider(fake, cost_per_gpu_second=0.01).generate(_request(fake))

    assert result.metadata["gpu_seconds"] >= 0.3
    assert result.cost_usd == pytest.approx(0.01 * result.metadata["gpu_seconds"], abs=1e-6)


def test_a_cancel_interrupts_the_running_job_and_bills_the_time_used(fake):
    fake.next_outcomes.append("hang")
    started = time.monotonic()

    with pytest.raises(ProviderCanceledError) as caught:
        _provider(fake, cost_per_gpu_second=0.01).generate(
            _request(fake), CallContext(should_cancel=lambda: time.monotonic() - started > 0.3)
        )

    assert fake.cancellations == [caught.value.request_id]
    assert len(_calls(fake, "POST", "/sdapi/v1/interrupt")) == 1
    assert caught.value.cost_usd >= 0.003
    assert time.monotonic() - started < 3


def test_with_interrupt_off_a_cancel_leaves_a_shared_server_alone(fake):
    fake.next_outcomes.append("hang")
    started = time.monotonic()

    with pytest.raises(ProviderCanceledError):
        _provider(fake, interrupt_on_cancel=False).generate(
            _request(fake), CallContext(should_cancel=lambda: time.monotonic() - started > 0.2)
        )

    assert _calls(fake, "POST", "/sdapi/v1/interrupt") == []


def test_a_cancel_without_a_request_id_interrupts_nothing(fake):
    """The reconciler cancels calls by their recorded id; an A1111 call records none."""
    _provider(fake).cancel("")

    assert _calls(fake, "POST", "/sdapi/v1/interrupt") == []


def test_the_deadline_interrupts_and_is_transient(fake):
    fake.next_outcomes.append("hang")
    started = time.monotonic()

    with pytest.raises(TransientProviderError, match="in time") as caught:
        _provider(fake).generate(_request(fake), CallContext(deadline=started + 0.3))

    assert fake.cancellations == [caught.value.request_id]
    assert not caught.value.resumable


@pytest.mark.parametrize(
    ("outcome", "kind", "status", "words"),
    [
        ("error_permanent", PermanentProviderError, 422, "always on script nonexistent not found"),
        ("error_transient", TransientProviderError, 500, "OutOfMemoryError"),
        ("rate_limited", TransientProviderError, 429, "Too Many Requests"),
    ],
)
def test_errors_map_to_their_kinds_with_a1111s_own_words(fake, outcome, kind, status, words):
    fake.next_outcomes.append(outcome)

    with pytest.raises(kind) as caught:
        _provider(fake).generate(_request(fake))

    assert caught.value.status == status
    assert words in str(caught.value)
    assert fake.submissions == 1  # GPU time is spent per call: never retried here


def test_a_wrong_password_is_permanent(fake):
    with pytest.raises(PermanentProviderError) as caught:
        _provider(fake, api_key="avatarsite:wrong").generate(_request(fake))
    assert caught.value.status == 401


def test_an_unreachable_server_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = A1111Provider(api_url=f"http://127.0.0.1:{port}", poll_interval=0.05)

    with pytest.raises(TransientProviderError, match="unreachable"):
        provider.generate(GenerationRequest(prompt="x"))


def test_an_image_with_a_data_uri_prefix_is_read_too(fake):
    provider = _provider(fake)
    plain = provider.generate(_request(fake)).images[0]

    image = provider._image("data:image/png;base64," + base64.b64encode(plain.data).decode(), task_id="t")

    assert (image.width, image.content_type) == (plain.width, "image/png")


def test_without_a_url_a1111_is_not_set_up_and_the_settings_entry_builds():
    options = settings.GENERATION_PROVIDERS["a1111"]["OPTIONS"]

    assert not A1111Provider(**{**options, "api_url": ""}).configured
    provider = A1111Provider(**{**options, "api_url": "http://gpu-box:7860"})
    assert provider.configured
    assert provider.native_size(provider.default_model, 500) == 504
    assert provider.licence_note(provider.default_model)
