"""The DeepInfra adapter against a fake inference API over loopback HTTP: auth, body, base64 answer, cost, flags, errors."""

import json

import pytest

from generation.providers import registry
from generation.providers.base import (
    ContentRefusedError,
    GenerationRequest,
    PermanentProviderError,
    TransientProviderError,
)
from generation.providers.deepinfra import DeepInfraProvider
from tests.fakes.deepinfra import FakeDeepInfra
from tests.fakes.server import SCRIPTED_BY, outcome_scripted

pytestmark = pytest.mark.fast

SCHNELL = "black-forest-labs/FLUX-1-schnell"
FLUX2 = "black-forest-labs/FLUX-2-dev"


@pytest.fixture
def fake():
    server = FakeDeepInfra().start()
    yield server
    server.stop()


def _provider(fake: FakeDeepInfra, **overrides) -> DeepInfraProvider:
    return DeepInfraProvider(**{**fake.adapter_options(), **overrides})


def _request(**params) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "portrait of a smiling woman", "model": SCHNELL, "seed": 7, "size": 1024, **params})


def _posts(fake: FakeDeepInfra) -> list[dict]:
    return [seen for seen in fake.requests if seen["method"] == "POST"]


def test_the_call_goes_to_the_native_inference_route_with_the_token_and_the_body(fake) -> None:
    provider = _provider(fake, models={FLUX2: {"input": {"num_inference_steps": 28}}})

    provider.generate(_request(model=FLUX2, size=700, num_images=2))

    (post,) = _posts(fake)
    assert post["path"] == f"/v1/inference/{FLUX2}"
    assert post["headers"]["Authorization"] == f"bearer {fake.api_key}"
    assert json.loads(post["body"]) == {
        "prompt": "portrait of a smiling woman",
        "num_images": 2,
        "width": 704,
        "height": 704,
        "seed": 7,
        "num_inference_steps": 28,
    }


def test_the_base64_images_are_decoded_with_the_request_id_and_runtime(fake) -> None:
    result = _provider(fake).generate(_request(num_images=2))

    assert [(image.width, image.height, image.content_type) for image in result.images] == [(1024, 1024, "image/png")] * 2
    assert result.images[0].data != result.images[1].data
    assert result.request_id == fake.calls[0]["id"]
    assert result.metadata["runtime_ms"] == int(fake.latency * 1000)


def test_images_without_the_data_prefix_are_taken_as_png(fake) -> None:
    fake.next_outcomes.append("bare_base64")

    result = _provider(fake).generate(_request())

    assert result.images[0].content_type == "image/png"
    assert (result.images[0].width, result.images[0].height) == (1024, 1024)


def test_the_reported_cost_is_what_the_ledger_gets(fake) -> None:
    # The catalogue says nothing of this model's price: the answer's inference_status.cost is used.
    result = _provider(fake, models={}).generate(_request(model=FLUX2, size=512))

    assert result.cost_usd == pytest.approx(0.01 * 0.25)
    assert result.metadata["reported_cost"] == pytest.approx(0.0025)


def test_without_a_reported_cost_the_catalogue_prices_linearly_in_pixels(fake) -> None:
    fake.report_cost = False

    result = _provider(fake).generate(_request(model=FLUX2, size=512, num_images=2))

    assert result.cost_usd == pytest.approx(0.01 * 0.25 * 2)


@pytest.mark.parametrize("scripted_by", SCRIPTED_BY)
def test_every_image_flagged_is_a_refusal_that_still_carries_the_billed_cost(fake, scripted_by) -> None:
    prompt = outcome_scripted(fake, "nsfw", prompt="a portrait", by=scripted_by)

    with pytest.raises(ContentRefusedError) as caught:
        _provider(fake).generate(_request(prompt=prompt, size=1024))

    assert caught.value.request_id == fake.calls[0]["id"]
    assert caught.value.cost_usd == pytest.approx(0.0005)


def test_the_flagged_image_is_withheld_and_the_rest_delivered_and_billed(fake) -> None:
    fake.next_outcomes.append("nsfw_partial")

    result = _provider(fake).generate(_request(num_images=3))

    assert len(result.images) == 2
    assert result.refused_count == 1
    assert result.cost_usd == pytest.approx(0.0005 * 3)  # DeepInfra billed all three


def test_the_native_error_body_gives_the_message(fake) -> None:
    fake.next_outcomes.append("error_permanent")

    with pytest.raises(PermanentProviderError, match="less than or equal to 50") as caught:
        _provider(fake).generate(_request())

    assert caught.value.status == 422


def test_429_is_transient_with_retry_after_and_not_retried_inside(fake) -> None:
    fake.next_outcomes.append("rate_limited")

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake).generate(_request())

    assert caught.value.retry_after == fake.retry_after
    assert fake.submissions == 1


def test_a_wrong_token_is_permanent(fake) -> None:
    with pytest.raises(PermanentProviderError) as caught:
        _provider(fake, api_key="wrong").generate(_request())

    assert caught.value.status == 401


def test_a_down_service_is_transient(fake) -> None:
    fake.down = True

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake).generate(_request())

    assert caught.value.status == 503


def test_more_than_four_images_is_refused_before_anything_is_sent(fake) -> None:
    with pytest.raises(PermanentProviderError):
        _provider(fake).generate(_request(num_images=5))

    assert fake.requests == []


def test_without_a_key_the_provider_is_not_set_up_and_with_one_it_is(settings) -> None:
    entry = settings.GENERATION_PROVIDERS["deepinfra"]
    assert entry["OPTIONS"]["api_url"] == "https://api.deepinfra.com"
    settings.GENERATION_PROVIDERS = {**settings.GENERATION_PROVIDERS, "deepinfra": {**entry, "OPTIONS": {"api_key": ""}}}
    assert registry.provider_get("deepinfra") is None
    settings.GENERATION_PROVIDERS = {**settings.GENERATION_PROVIDERS, "deepinfra": {**entry, "OPTIONS": {"api_key": "k"}}}
    assert isinstance(registry.provider_get("deepinfra"), DeepInfraProvider)
