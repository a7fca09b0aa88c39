"""The Together adapter against a fake Together over loopback HTTP: the FLUX request it sends (the
"base64" literal), the answer it reads, its per-megapixel billing, its refusal, and its settings entry."""

import pytest
from django.conf import settings as django_settings

from generation.providers.base import ContentRefusedError, GenerationRequest, PermanentProviderError, TransientProviderError
from generation.providers.registry import provider_build, provider_get
from generation.providers.together import TogetherProvider
from tests.fakes.together import FakeTogether

pytestmark = pytest.mark.fast

SCHNELL = "black-forest-labs/FLUX.1-schnell"
DEV = "black-forest-labs/FLUX.1-dev"


@pytest.fixture
def fake():
    server = FakeTogether().start()
    yield server
    server.stop()


def _provider(fake: FakeTogether, **overrides) -> TogetherProvider:
    return TogetherProvider(**{**fake.adapter_options(), **overrides})


def _request(**params) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "portrait of a smiling woman", "model": SCHNELL, "seed": 42, "size": 512, **params})


def _posts(fake: FakeTogether) -> list[dict]:
    return [seen for seen in fake.requests if seen["method"] == "POST"]


def test_flux_is_asked_for_a_16_px_square_with_the_seed_steps_and_the_base64_literal(fake) -> None:
    result = _provider(fake).generate(_request(size=500))

    (post,) = _posts(fake)
    assert post["path"] == "/v1/images/generations"
    assert post["headers"]["Authorization"] == f"Bearer {fake.api_key}"
    assert post["body"] == {
        "model": SCHNELL,
        "prompt": "portrait of a smiling woman",
        "width": 512,
        "height": 512,
        "n": 1,
        "seed": 42,
        "response_format": "base64",  # not "b64_json": the fake refuses it, as providers_additions C.4 says
        "steps": 4,
    }
    assert (result.images[0].width, result.images[0].height) == (512, 512)
    assert result.images[0].content_type == "image/jpeg"


def test_dev_takes_its_own_steps_and_the_catalogues_input_wins(fake) -> None:
    options = fake.adapter_options()
    options["models"][DEV]["input"] = {"steps": 20, "guidance": 3.5}

    TogetherProvider(**options).generate(_request(model=DEV))

    body = _posts(fake)[0]["body"]
    assert (body["steps"], body["guidance"]) == (20, 3.5)


def test_the_answers_id_is_the_request_id_and_each_image_is_billed_by_its_megapixels(fake) -> None:
    result = _provider(fake).generate(_request(size=1024, num_images=3))

    assert len(result.images) == 3
    assert result.request_id
    assert not result.request_id.startswith("req_")  # the body's id, not the header's
    assert result.cost_usd == pytest.approx(3 * 0.0027)
    assert result.model == SCHNELL


def test_the_free_endpoint_bills_nothing(fake) -> None:
    result = _provider(fake).generate(_request(model="black-forest-labs/FLUX.1-schnell-Free"))

    assert result.cost_usd == 0


def test_sizes_are_16_px_steps_up_to_the_catalogues_max_side(fake) -> None:
    provider = _provider(fake)
    options = fake.adapter_options()
    options["models"][SCHNELL]["max_side"] = 1440
    wider = TogetherProvider(**options)

    assert [provider.native_size(SCHNELL, size) for size in (100, 500, 1024, 2048)] == [112, 512, 1024, 1024]
    assert wider.native_size(SCHNELL, 1300) == 1312
    assert (wider.generate(_request(size=1440)).images[0].width) == 1440


def test_an_nsfw_error_is_a_refusal_and_a_credit_error_permanent(fake) -> None:
    fake.next_outcomes.extend(["nsfw", "error_permanent"])
    provider = _provider(fake)

    with pytest.raises(ContentRefusedError, match="NSFW"):
        provider.generate(_request())
    with pytest.raises(PermanentProviderError, match="402") as caught:
        provider.generate(_request())
    assert caught.value.kind == "permanent"


def test_more_images_than_flux_makes_is_permanent_and_never_sent(fake) -> None:
    with pytest.raises(PermanentProviderError):
        _provider(fake).generate(_request(num_images=5))

    assert fake.requests == []


def test_a_503_is_transient_and_a_wrong_key_permanent(fake) -> None:
    fake.next_outcomes.append("error_transient")
    with pytest.raises(TransientProviderError, match="503"):
        _provider(fake).generate(_request())
    with pytest.raises(PermanentProviderError, match="401"):
        _provider(fake, api_key="wrong").generate(_request())


def test_without_its_key_together_is_built_but_not_set_up(settings) -> None:
    entry = django_settings.GENERATION_PROVIDERS["together"]
    settings.GENERATION_PROVIDERS = {
        **django_settings.GENERATION_PROVIDERS,
        "together": {**entry, "OPTIONS": {**entry["OPTIONS"], "api_key": ""}},
    }

    built = provider_build("together")

    assert isinstance(built, TogetherProvider)
    assert built.api_url == "https://api.together.xyz/v1"
    assert provider_get("together") is None


def test_the_settings_entry_with_a_key_runs_each_catalogued_model_against_the_fake(settings, fake) -> None:
    entry = django_settings.GENERATION_PROVIDERS["together"]
    options = {**entry["OPTIONS"], "api_url": f"{fake.url}/v1", "api_key": fake.api_key}
    settings.GENERATION_PROVIDERS = {**django_settings.GENERATION_PROVIDERS, "together": {**entry, "OPTIONS": options}}
    provider = provider_get("together")

    for model, cost in ((SCHNELL, 0.0027), (DEV, 0.025), ("black-forest-labs/FLUX.1-schnell-Free", 0.0)):
        result = provider.generate(_request(model=model, size=1024))
        assert result.cost_usd == pytest.approx(cost)
        assert result.licence_note
    assert provider.models[DEV]["commercial_use"] is False
