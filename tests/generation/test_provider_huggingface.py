"""The Hugging Face Inference adapter against a fake router over loopback HTTP: route, auth, body, bytes, loading, errors."""

import json

import pytest
from django.conf import settings as django_settings

from generation.providers import registry
from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    PermanentProviderError,
    ProviderCanceledError,
    TransientProviderError,
)
from generation.providers.huggingface import HuggingFaceProvider
from tests.fakes.huggingface import FakeHuggingFace
from tests.fakes.server import SCRIPTED_BY, outcome_scripted

pytestmark = pytest.mark.fast

SCHNELL = "black-forest-labs/FLUX.1-schnell"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"


@pytest.fixture
def fake():
    server = FakeHuggingFace().start()
    yield server
    server.stop()


def _provider(fake: FakeHuggingFace, **overrides) -> HuggingFaceProvider:
    return HuggingFaceProvider(**{**fake.adapter_options(), **overrides})


def _request(**params) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "portrait of a smiling woman", "model": SCHNELL, "seed": 42, "size": 512, **params})


def _posts(fake: FakeHuggingFace) -> list[dict]:
    return [seen for seen in fake.requests if seen["method"] == "POST"]


def test_the_call_goes_to_the_hf_inference_route_with_the_token_and_the_text_to_image_body(fake) -> None:
    provider = _provider(fake, models={SCHNELL: {"parameters": {"num_inference_steps": 4}}})

    provider.generate(_request(size=500))

    (post,) = _posts(fake)
    assert post["path"] == f"/hf-inference/models/{SCHNELL}"
    assert post["headers"]["Authorization"] == f"Bearer {fake.api_key}"
    assert post["headers"]["Accept"] == "image/png"
    # 500 px is asked as the next multiple of 16 (never smaller than the request).
    assert json.loads(post["body"]) == {
        "inputs": "portrait of a smiling woman",
        "parameters": {"width": 512, "height": 512, "seed": 42, "num_inference_steps": 4},
    }


def test_the_answer_is_the_image_bytes_with_the_routers_request_id(fake) -> None:
    result = _provider(fake).generate(_request())

    (image,) = result.images
    assert image.content_type == "image/png"
    assert (image.width, image.height) == (512, 512)
    assert result.request_id == fake.calls[0]["id"]
    assert result.metadata["route"] == "hf-inference"


def test_several_images_are_one_call_each_with_consecutive_seeds(fake) -> None:
    result = _provider(fake).generate(_request(num_images=3))

    assert len(result.images) == 3
    assert [json.loads(post["body"])["parameters"]["seed"] for post in _posts(fake)] == [42, 43, 44]
    assert result.metadata["request_ids"] == [call["id"] for call in fake.calls]


@pytest.mark.parametrize("scripted_by", SCRIPTED_BY)
def test_a_refusal_is_content_refused_with_the_request_id(fake, scripted_by) -> None:
    prompt = outcome_scripted(fake, "nsfw", prompt="a portrait", by=scripted_by)

    with pytest.raises(ContentRefusedError) as caught:
        _provider(fake).generate(_request(prompt=prompt))

    assert caught.value.status == 400
    assert caught.value.request_id == fake.calls[0]["id"]


def test_a_model_that_is_loading_is_waited_out_for_its_estimated_time_then_answers(fake) -> None:
    slept: list[float] = []
    fake.next_outcomes.extend(["loading", "ok"])

    result = _provider(fake, sleep=slept.append).generate(_request())

    assert len(result.images) == 1
    assert slept == [fake.loading_seconds]
    assert fake.submissions == 2


def test_a_model_still_loading_after_the_retries_is_transient_with_its_estimated_time(fake) -> None:
    fake.next_outcomes.extend(["loading", "loading"])

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake, loading_retries=1, sleep=lambda seconds: None).generate(_request())

    assert caught.value.status == 503
    assert caught.value.retry_after == fake.loading_seconds
    assert fake.submissions == 2


def test_a_loading_wait_past_the_deadline_is_not_slept(fake) -> None:
    fake.loading_seconds = 30.0
    fake.next_outcomes.append("loading")
    slept: list[float] = []
    provider = _provider(fake, loading_wait_cap=30.0, sleep=slept.append, max_wait=5.0)

    with pytest.raises(TransientProviderError):
        provider.generate(_request())

    assert slept == []


def test_the_free_tiers_402_is_permanent_and_its_429_transient(fake) -> None:
    fake.next_outcomes.extend(["payment_required", "rate_limited"])
    provider = _provider(fake)

    with pytest.raises(PermanentProviderError, match="included credits"):
        provider.generate(_request())
    with pytest.raises(TransientProviderError) as caught:
        provider.generate(_request())
    assert caught.value.retry_after == fake.retry_after


def test_a_wrong_token_is_permanent(fake) -> None:
    with pytest.raises(PermanentProviderError) as caught:
        _provider(fake, api_key="hf_wrong").generate(_request())

    assert caught.value.status == 401


def test_gpu_second_billing_charges_the_calls_time(fake) -> None:
    ticks = iter([0.0, 0.0, 10.0, 12.5, 12.5])  # deadline, call start, left check, call end, spare
    provider = _provider(fake, clock=lambda: next(ticks))

    result = provider.generate(_request(model=SDXL))

    assert result.cost_usd == pytest.approx(0.001 * 12.5)


def test_a_refused_request_billed_by_time_carries_its_cost_to_the_ledger(fake) -> None:
    fake.next_outcomes.append("nsfw")
    ticks = iter([0.0, 0.0, 1.0, 4.0, 4.0])
    provider = _provider(fake, clock=lambda: next(ticks))

    with pytest.raises(ContentRefusedError) as caught:
        provider.generate(_request(model=SDXL))

    assert caught.value.cost_usd == pytest.approx(0.001 * 4.0)


def test_a_route_the_adapter_does_not_speak_stops_it_being_built(fake) -> None:
    with pytest.raises(ValueError, match="fal-ai"):
        _provider(fake, models={SCHNELL: {"provider": "fal-ai"}})


def test_a_user_cancel_stops_before_the_next_image(fake) -> None:
    asked: list[bool] = []

    def cancel_after_first() -> bool:
        asked.append(True)
        return len(asked) > 1

    with pytest.raises(ProviderCanceledError):
        _provider(fake).generate(_request(num_images=3), CallContext(should_cancel=cancel_after_first))

    assert fake.submissions == 1


def test_without_a_token_the_provider_is_not_set_up_and_with_one_it_is(settings) -> None:
    assert django_settings.GENERATION_PROVIDERS["huggingface"]["OPTIONS"]["api_url"] == "https://router.huggingface.co"
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "huggingface": {**settings.GENERATION_PROVIDERS["huggingface"], "OPTIONS": {"api_key": ""}},
    }
    assert registry.provider_get("huggingface") is None
    assert registry.provider_build("huggingface") is not None
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "huggingface": {**settings.GENERATION_PROVIDERS["huggingface"], "OPTIONS": {"api_key": "hf_x"}},
    }
    assert isinstance(registry.provider_get("huggingface"), HuggingFaceProvider)
