"""The OpenAI images adapter against a fake OpenAI over loopback HTTP: the request it sends, the answer
it reads, its billing by tokens or by size, its refusal codes and error headers, and its settings entry."""

import base64
import io
import json

import pytest
import requests
from django.conf import settings as django_settings
from PIL import Image

from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    PermanentProviderError,
    TransientProviderError,
)
from generation.providers.openai import OpenAIImagesProvider
from generation.providers.registry import provider_build, provider_get
from tests.fakes.openai import OUTPUT_TOKENS, FakeOpenAI

pytestmark = pytest.mark.fast


@pytest.fixture
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


def _provider(fake: FakeOpenAI, **overrides) -> OpenAIImagesProvider:
    return OpenAIImagesProvider(**{**fake.adapter_options(), **overrides})


def _request(**params) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "portrait of a smiling woman", "seed": 42, "size": 512, **params})


def _posts(fake: FakeOpenAI) -> list[dict]:
    return [seen for seen in fake.requests if seen["method"] == "POST"]


def _answer(status: int, body: dict, headers: dict | None = None) -> requests.Response:
    """An HTTP answer as `requests` hands it over, for the error mapping alone."""
    response = requests.Response()
    response.status_code, response._content = status, json.dumps(body).encode()
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    return response


# --- the request -------------------------------------------------------------------------------
def test_dall_e_2_is_asked_for_the_square_of_its_size_in_base64_with_the_bearer_key(fake) -> None:
    result = _provider(fake).generate(_request(model="dall-e-2", size=300))

    (post,) = _posts(fake)
    assert post["path"] == "/v1/images/generations"
    assert post["headers"]["Authorization"] == f"Bearer {fake.api_key}"
    assert "OpenAI-Organization" not in post["headers"]
    assert post["body"] == {
        "model": "dall-e-2",
        "prompt": "portrait of a smiling woman",
        "n": 1,
        "size": "512x512",
        "response_format": "b64_json",
    }
    assert (result.images[0].width, result.images[0].height) == (512, 512)
    assert result.images[0].content_type == "image/png"


def test_gpt_image_gets_no_response_format_the_catalogues_input_and_its_one_square(fake) -> None:
    options = fake.adapter_options()
    options["models"]["gpt-image-1-mini"]["input"] = {"quality": "low", "output_format": "jpeg"}
    provider = OpenAIImagesProvider(**options)

    result = provider.generate(_request(model="gpt-image-1-mini", size=512))

    body = _posts(fake)[0]["body"]
    assert "response_format" not in body  # gpt-image always answers base64
    assert "seed" not in body  # OpenAI takes no seed
    assert body["size"] == "1024x1024"  # its smallest square
    assert (body["quality"], body["output_format"]) == ("low", "jpeg")
    assert result.images[0].content_type == "image/jpeg"
    assert provider.native_size("gpt-image-1-mini", 512) == provider.max_side("gpt-image-1-mini") == 1024


def test_the_catalogues_max_side_bounds_dall_e_2s_sizes(fake) -> None:
    options = fake.adapter_options()
    options["models"]["dall-e-2"]["max_side"] = 512
    provider = OpenAIImagesProvider(**options)

    assert [provider.native_size("dall-e-2", size) for size in (100, 300, 1024)] == [256, 512, 512]
    with pytest.raises(ValueError, match="below"):
        OpenAIImagesProvider(models={"dall-e-3": {"max_side": 512}})


def test_organization_and_project_headers_are_sent_when_set(fake) -> None:
    _provider(fake, organization="org-1", project="proj-2").generate(_request(model="dall-e-2"))

    headers = _posts(fake)[0]["headers"]
    assert (headers["OpenAI-Organization"], headers["OpenAI-Project"]) == ("org-1", "proj-2")


@pytest.mark.parametrize(
    ("params", "why"),
    [({"model": "dall-e-3", "num_images": 2}, "cannot make 2"), ({"model": "dall-e-2", "prompt": "x" * 1001}, "at most 1000")],
)
def test_a_request_the_model_cannot_take_is_permanent_and_never_sent(fake, params, why) -> None:
    with pytest.raises(PermanentProviderError, match=why):
        _provider(fake).generate(_request(**params))

    assert fake.requests == []


def test_a_resume_or_look_up_is_refused_without_a_call(fake) -> None:
    provider = _provider(fake)
    for context in (CallContext(resume_id="req_1"), CallContext(lookup_only=True, lookup_since=0.0)):
        with pytest.raises(PermanentProviderError, match="synchronous"):
            provider.generate(_request(model="dall-e-2"), context)

    assert fake.requests == []


# --- the answer and its cost -------------------------------------------------------------------
def test_gpt_image_is_billed_by_the_tokens_its_answer_reports(fake) -> None:
    result = _provider(fake).generate(_request(model="gpt-image-1", num_images=2))

    assert len(result.images) == 2
    # 12 input tokens at $5 per million, 2 x 1056 output tokens at $40 per million.
    assert result.cost_usd == pytest.approx((12 * 5.0 + 2 * OUTPUT_TOKENS * 40.0) / 1e6)
    assert result.metadata["usage"]["output_tokens"] == 2 * OUTPUT_TOKENS
    assert result.request_id.startswith("req_")  # the x-request-id header


def test_dall_e_2_is_billed_by_size_and_dall_e_3_per_image_with_its_revised_prompt(fake) -> None:
    provider = _provider(fake)

    small = provider.generate(_request(model="dall-e-2", size=256))
    large = provider.generate(_request(model="dall-e-3", size=1024))

    assert small.cost_usd == pytest.approx(0.016)
    assert large.cost_usd == pytest.approx(0.04)
    assert large.metadata["revised_prompt"].startswith("A picture: ")


def test_an_answer_without_base64_images_is_transient_and_an_unreadable_image_permanent(fake) -> None:
    provider = _provider(fake)
    with pytest.raises(TransientProviderError, match="without base64 images"):
        provider.images_of({"data": [{"url": "https://example.com/a.png"}]}, request_id="req_1")
    with pytest.raises(PermanentProviderError, match="cannot read"):
        provider.images_of({"data": [{"b64_json": base64.b64encode(b"not an image").decode()}]}, request_id="req_1")
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    with pytest.raises(PermanentProviderError, match="type GIF"):
        provider.images_of({"data": [{"b64_json": base64.b64encode(gif.getvalue()).decode()}]}, request_id="req_1")


# --- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "code"), [("gpt-image-1", "moderation_blocked"), ("dall-e-3", "content_policy_violation")])
def test_the_safety_systems_refusal_is_a_content_refusal_for_both_families(fake, model, code) -> None:
    fake.next_outcomes.append("nsfw")

    with pytest.raises(ContentRefusedError, match=code) as caught:
        _provider(fake).generate(_request(model=model, size=1024))

    assert caught.value.status == 400
    assert caught.value.request_id.startswith("req_")


def test_a_400_in_the_safety_systems_words_without_a_code_is_a_refusal_and_other_400s_are_permanent() -> None:
    provider = OpenAIImagesProvider(api_key="k")
    worded = _answer(400, {"error": {"message": "Your request was rejected as a result of our safety system.", "code": None}})
    other = _answer(400, {"error": {"message": "Invalid size", "type": "invalid_request_error", "param": "size", "code": None}})

    assert isinstance(provider.error_for(worded), ContentRefusedError)
    error = provider.error_for(other)
    assert type(error) is PermanentProviderError
    assert "Invalid size" in str(error)


def test_retry_after_ms_wins_over_retry_after_and_x_should_retry_overrides_the_status() -> None:
    provider = OpenAIImagesProvider(api_key="k")

    throttled = provider.error_for(_answer(429, {"error": {"message": "slow down"}}, {"retry-after-ms": "1500", "Retry-After": "7"}))
    refused_retry = provider.error_for(_answer(500, {"error": {"message": "no"}}, {"x-should-retry": "false"}))
    asked_retry = provider.error_for(_answer(400, {"error": {"message": "try again"}}, {"x-should-retry": "true"}))

    assert isinstance(throttled, TransientProviderError)
    assert throttled.retry_after == 1.5
    assert type(refused_retry) is PermanentProviderError
    assert isinstance(asked_retry, TransientProviderError)


def test_a_wrong_key_is_permanent(fake) -> None:
    with pytest.raises(PermanentProviderError, match="401"):
        _provider(fake, api_key="sk-wrong").generate(_request(model="dall-e-2"))


# --- settings ----------------------------------------------------------------------------------
def test_without_its_key_openai_is_built_but_not_set_up(settings) -> None:
    options = {**django_settings.GENERATION_PROVIDERS["openai"]["OPTIONS"], "api_key": ""}
    settings.GENERATION_PROVIDERS = {
        **django_settings.GENERATION_PROVIDERS,
        "openai": {**settings.GENERATION_PROVIDERS["openai"], "OPTIONS": options},
    }

    built = provider_build("openai")

    assert isinstance(built, OpenAIImagesProvider)
    assert built.api_url == "https://api.openai.com/v1"
    assert provider_get("openai") is None


def test_the_settings_entry_with_a_key_runs_each_catalogued_model_against_the_fake(settings, fake) -> None:
    entry = django_settings.GENERATION_PROVIDERS["openai"]
    options = {**entry["OPTIONS"], "api_url": f"{fake.url}/v1", "api_key": fake.api_key}
    settings.GENERATION_PROVIDERS = {**django_settings.GENERATION_PROVIDERS, "openai": {**entry, "OPTIONS": options}}
    provider = provider_get("openai")

    for model in ("gpt-image-1-mini", "gpt-image-1", "dall-e-3", "dall-e-2"):
        result = provider.generate(_request(model=model, size=1024))
        assert result.cost_usd > 0
        assert result.licence_note
        assert (result.images[0].width, result.images[0].height) == (1024, 1024)
