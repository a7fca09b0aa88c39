"""The Stability AI adapter against a fake v2beta Stable Image API over loopback HTTP: the
multipart request, both answer forms, refusals, errors, the abandoned call, credits as cost."""

import base64
import io
import json
import socket
import time

import pytest
import requests
from django.conf import settings
from PIL import Image

from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    PermanentProviderError,
    ProviderCanceledError,
    TransientProviderError,
)
from generation.providers.stability import RATE_LIMIT_PAUSE, StabilityProvider
from tests.fakes.stability import FakeStability, parse_form

pytestmark = pytest.mark.fast


@pytest.fixture
def fake():
    server = FakeStability().start()
    yield server
    server.stop()


def _provider(fake: FakeStability, **overrides) -> StabilityProvider:
    return StabilityProvider(**{**fake.adapter_options(), **overrides})


def _request(**params) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "portrait of a smiling woman", "model": "core", "seed": 42, "size": 1024, **params})


def _posts(fake: FakeStability) -> list[dict]:
    return [seen for seen in fake.requests if seen["method"] == "POST"]


def _form(seen: dict) -> dict[str, str]:
    form = parse_form(seen["headers"]["Content-Type"], seen["body"])
    assert form is not None
    return form


# --- the request -------------------------------------------------------------------------------
def test_core_is_one_multipart_post_with_the_bearer_key_and_accept_image(fake):
    result = _provider(fake).generate(_request())

    [seen] = _posts(fake)
    assert seen["path"] == "/v2beta/stable-image/generate/core"
    assert seen["headers"]["Authorization"] == f"Bearer {fake.api_key}"
    assert seen["headers"]["Accept"] == "image/*"
    assert seen["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    form = _form(seen)
    assert {key: form[key] for key in ("prompt", "aspect_ratio", "seed", "output_format")} == {
        "prompt": "portrait of a smiling woman",
        "aspect_ratio": "1:1",
        "seed": "42",
        "output_format": "png",
    }
    assert "model" not in form  # core and ultra are named by their path
    assert result.request_id == fake.answered[0]["id"]  # x-request-id
    assert (result.images[0].width, result.images[0].content_type) == (1024, "image/png")


def test_an_sd3_model_goes_to_the_sd3_endpoint_named_in_the_model_field(fake):
    _provider(fake).generate(_request(model="sd3.5-large-turbo"))

    [seen] = _posts(fake)
    assert seen["path"] == "/v2beta/stable-image/generate/sd3"
    assert _form(seen)["model"] == "sd3.5-large-turbo"


def test_ultra_goes_to_its_own_endpoint_and_an_unknown_model_is_refused_without_a_call(fake):
    _provider(fake).generate(_request(model="ultra"))
    assert _posts(fake)[0]["path"] == "/v2beta/stable-image/generate/ultra"

    with pytest.raises(PermanentProviderError, match="unknown model"):
        _provider(fake).generate(_request(model="dall-e-3"))
    assert fake.submissions == 1


def test_each_image_is_its_own_call_with_the_next_seed(fake):
    result = _provider(fake).generate(_request(num_images=3))

    assert [_form(seen)["seed"] for seen in _posts(fake)] == ["42", "43", "44"]
    assert len(result.images) == 3
    assert result.metadata["request_ids"] == [answer["id"] for answer in fake.answered]


def test_the_fake_rejects_a_body_that_is_not_multipart_as_the_service_does(fake):
    """Why the adapter forces multipart: the same fields url-encoded are a 400."""
    response = requests.post(
        f"{fake.url}/v2beta/stable-image/generate/core",
        data={"prompt": "x"},
        headers={"Authorization": f"Bearer {fake.api_key}", "Accept": "image/*"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["errors"] == ["content-type: must be multipart/form-data"]


# --- the answer --------------------------------------------------------------------------------
def test_the_json_answer_is_decoded_from_base64_with_its_type(fake):
    result = _provider(fake, accept="json").generate(_request(model="sd3.5-medium"))

    [seen] = _posts(fake)
    assert seen["headers"]["Accept"] == "application/json"
    image = result.images[0]
    assert image.content_type == "image/png"
    Image.open(io.BytesIO(image.data)).load()


def test_a_webp_output_format_comes_back_as_webp(fake):
    provider = _provider(fake)
    provider.models["core"] = {**provider.models["core"], "output_format": "webp"}

    result = provider.generate(_request())

    assert result.images[0].content_type == "image/webp"
    assert Image.open(io.BytesIO(result.images[0].data)).format == "WEBP"


@pytest.mark.parametrize("accept", ["image", "json"])
def test_content_filtered_is_a_refusal_still_billed_with_the_request_id(fake, accept):
    fake.next_outcomes.append("nsfw")

    with pytest.raises(ContentRefusedError) as caught:
        _provider(fake, accept=accept).generate(_request(model="ultra"))

    assert caught.value.request_id == fake.answered[0]["id"]
    assert caught.value.cost_usd == pytest.approx(0.08)  # UNCONFIRMED that a filtered image is billed: assumed


def test_a_prompt_flagged_by_moderation_403_is_a_refusal_without_cost(fake):
    fake.next_outcomes.append("refused_prompt")

    with pytest.raises(ContentRefusedError, match="content_moderation") as caught:
        _provider(fake).generate(_request())

    assert caught.value.status == 403
    assert caught.value.cost_usd == 0


def test_a_later_error_carries_the_cost_of_the_images_made_before_it(fake):
    fake.next_outcomes.extend(["ok", "error_transient"])

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake).generate(_request(num_images=2))

    assert caught.value.cost_usd == pytest.approx(0.03)


# --- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("outcome", "kind", "status", "words"),
    [
        ("no_credits", PermanentProviderError, 402, "payment_required"),
        ("error_permanent", PermanentProviderError, 400, "bad_request: prompt: is required"),
        ("error_transient", TransientProviderError, 500, "internal_error"),
        ("rate_limited", TransientProviderError, 429, "rate_limit_exceeded"),
    ],
)
def test_http_errors_map_to_their_kinds_with_stabilitys_own_words(fake, outcome, kind, status, words):
    fake.next_outcomes.append(outcome)

    with pytest.raises(kind) as caught:
        _provider(fake).generate(_request())

    assert type(caught.value) is kind
    assert caught.value.status == status
    assert words in str(caught.value)
    assert fake.submissions == 1  # never retried here: the pipeline decides


def test_a_429_without_retry_after_waits_out_stabilitys_60_second_lockout(fake):
    fake.retry_after = 0
    fake.next_outcomes.append("rate_limited")

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake).generate(_request())

    assert caught.value.retry_after == RATE_LIMIT_PAUSE == 60.0


def test_a_wrong_key_is_permanent(fake):
    with pytest.raises(PermanentProviderError) as caught:
        _provider(fake, api_key="sk-wrong").generate(_request())
    assert caught.value.status == 401


def test_an_unreachable_service_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = StabilityProvider(api_url=f"http://127.0.0.1:{port}", api_key="sk-x", poll_interval=0.05)

    with pytest.raises(TransientProviderError, match="unreachable"):
        provider.generate(_request())


def test_a_hung_call_is_abandoned_at_the_deadline_and_a_cancel_promptly(fake):
    fake.next_outcomes.extend(["hang", "hang"])
    provider = _provider(fake)
    started = time.monotonic()

    with pytest.raises(TransientProviderError, match="in time") as timed_out:
        provider.generate(_request(), CallContext(deadline=started + 0.3))
    assert 0.3 <= time.monotonic() - started < 2

    started = time.monotonic()
    with pytest.raises(ProviderCanceledError) as canceled:
        provider.generate(_request(), CallContext(should_cancel=lambda: time.monotonic() - started > 0.2))
    assert time.monotonic() - started < 2
    assert fake.cancellations == []  # nothing to tell: the protocol has no cancel
    # The abandoned calls may still be made and billed there (UNCONFIRMED): the ledger assumes so.
    assert timed_out.value.cost_usd == canceled.value.cost_usd == pytest.approx(0.03)


# --- settings ----------------------------------------------------------------------------------
def test_without_a_key_stability_is_not_set_up_and_its_prices_come_from_the_catalogue():
    options = settings.GENERATION_PROVIDERS["stability"]["OPTIONS"]
    provider = StabilityProvider(**{**options, "api_key": ""})

    assert not provider.configured
    assert provider.api_url == "https://api.stability.ai"
    assert provider.cost("core", width=1024, height=1024, count=2) == pytest.approx(0.06)
    assert provider.cost("ultra", width=1024, height=1024, count=1) == pytest.approx(0.08)
    assert all(model["licence"] and "commercial_use" in model for model in options["models"].values())
    assert StabilityProvider(**{**options, "api_key": "sk-live"}).configured


def test_the_fake_answers_base64_json_that_decodes(fake):
    """The fake's JSON form matches the notes: image, finish_reason, seed; type in the content type."""
    response = requests.post(
        f"{fake.url}/v2beta/stable-image/generate/core",
        data={"prompt": "x", "seed": "7"},
        files={"none": ""},
        headers={"Authorization": f"Bearer {fake.api_key}", "Accept": "application/json"},
        timeout=5,
    )
    body = json.loads(response.content)
    assert response.headers["Content-Type"] == "application/json; type=image/png"
    assert (body["finish_reason"], body["seed"]) == ("SUCCESS", 7)
    Image.open(io.BytesIO(base64.b64decode(body["image"]))).load()
