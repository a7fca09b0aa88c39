"""The Replicate adapter against a fake Replicate over loopback HTTP: create, wait, poll, adopt, cancel, faults."""

import io
import threading
import time

import pytest
from PIL import Image

from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    PermanentProviderError,
    ProviderCanceledError,
    TransientProviderError,
)
from generation.providers.replicate import ReplicateProvider
from tests.fakes.replicate import INTERRUPTED_ERROR, MODELS, NSFW_ERROR, FakeReplicate
from tests.fakes.server import SCRIPTED_BY, outcome_scripted

SCHNELL = "black-forest-labs/flux-schnell"
DEV = "black-forest-labs/flux-dev"


@pytest.fixture
def fake():
    server = FakeReplicate().start()
    yield server
    server.stop()


def _provider(fake: FakeReplicate, **overrides) -> ReplicateProvider:
    return ReplicateProvider(**{**fake.adapter_options(), **overrides})


def _request(**params) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "portrait of a smiling woman", "seed": 42, "size": 1024, **params})


def _calls(fake: FakeReplicate, method: str, prefix: str) -> list[dict]:
    return [r for r in fake.requests if r["method"] == method and r["path"].startswith(prefix)]


def _polls(fake: FakeReplicate) -> list[dict]:
    return _calls(fake, "GET", "/v1/predictions/")


def _listings(fake: FakeReplicate) -> list[dict]:
    return [r for r in fake.requests if r["method"] == "GET" and r["path"] == "/v1/predictions"]


def _matching_input(provider: ReplicateProvider, request: GenerationRequest, model: str = SCHNELL) -> dict:
    return provider.input_for(model, request)


# --- the happy paths ---------------------------------------------------------------------------


def test_a_prediction_finished_within_prefer_wait_is_used_without_polling(fake):
    fake.latency = 0.1
    provider = _provider(fake)

    result = provider.generate(_request())

    create = _calls(fake, "POST", "/v1/models/")[0]
    assert create["path"] == f"/v1/models/{SCHNELL}/predictions"
    assert create["headers"]["Prefer"] == "wait=1"
    assert create["headers"]["Authorization"] == f"Bearer {fake.api_key}"
    assert _polls(fake) == []
    image = Image.open(io.BytesIO(result.images[0].data))
    assert (image.format, image.size, result.images[0].content_type) == ("WEBP", (1024, 1024), "image/webp")
    assert (result.provider, result.model, result.model_version) == ("replicate", SCHNELL, MODELS[SCHNELL]["version"])
    assert result.request_id in fake.predictions
    assert result.cost_usd == pytest.approx(0.003)
    assert result.licence_note == f"{SCHNELL} licence (fake)"
    assert result.refused_count == 0
    assert result.metadata["predict_time"] == pytest.approx(0.1, abs=0.01)


def test_the_create_body_follows_the_flux_schema():
    provider = ReplicateProvider(api_key="x")

    schnell = provider.input_for(SCHNELL, _request(size=1024, num_images=2))
    dev = provider.input_for(DEV, _request(size=512))

    assert schnell == {
        "prompt": "portrait of a smiling woman",
        "seed": 42,
        "num_outputs": 2,
        "aspect_ratio": "1:1",
        "output_format": "webp",
        "megapixels": "1",
        "disable_safety_checker": False,
        "num_inference_steps": 4,
        "go_fast": True,
    }
    assert (dev["megapixels"], dev["guidance"]) == ("0.25", 3)
    assert "num_inference_steps" not in dev


# --- sizes: flux makes 512 or 1024 px squares ("0.25" / "1" megapixels at 1:1), nothing larger ----------
@pytest.mark.parametrize(
    ("size", "megapixels", "side"),
    [(256, "0.25", 512), (512, "0.25", 512), (768, "1", 1024), (1024, "1", 1024), (2048, "1", 1024)],
)
def test_each_size_is_asked_as_the_megapixels_that_deliver_it_and_comes_back_at_that_side(fake, size, megapixels, side):
    provider = _provider(fake)

    result = provider.generate(_request(model=DEV, size=size))

    sent = fake.predictions[result.request_id].input
    assert (sent["megapixels"], sent["aspect_ratio"]) == (megapixels, "1:1")
    assert provider.native_size(DEV, size) == side  # at least the request, up to the model's largest side
    assert provider.max_side(DEV) == provider.max_side() == 1024
    image = result.images[0]
    assert (image.width, image.height) == (side, side) == Image.open(io.BytesIO(image.data)).size


def test_a_catalogue_max_side_of_512_keeps_every_request_at_a_quarter_megapixel(fake):
    provider = _provider(fake, models={DEV: {"cost_per_image": 0.025, "max_side": 512}})

    result = provider.generate(_request(model=DEV, size=1024))

    assert fake.predictions[result.request_id].input["megapixels"] == "0.25"
    assert (provider.max_side(DEV), provider.native_size(DEV, 1024)) == (512, 512)
    assert (result.images[0].width, result.images[0].height) == (512, 512)


def test_a_catalogue_max_side_below_flux_smallest_square_stops_the_adapter_being_built(fake):
    with pytest.raises(ValueError, match="max_side 256"):
        _provider(fake, models={DEV: {"cost_per_image": 0.025, "max_side": 256}})


def test_outputs_lost_for_a_2048_request_are_billed_at_the_1024_square_flux_made(fake):
    fake.next_outcomes.append("redirect_private")

    with pytest.raises(PermanentProviderError) as caught:
        _provider(fake).generate(_request(size=2048))

    # Asked at megapixels "1": what Replicate made (and bills) is 1024 x 1024, not the request's 2048 x 2048.
    assert caught.value.megapixels == pytest.approx(1.048576)


@pytest.mark.parametrize("scripted_by", SCRIPTED_BY)
def test_the_fake_answers_an_undersized_image_when_scripted_and_the_adapter_reports_its_real_size(fake, scripted_by):
    prompt = outcome_scripted(fake, "undersized", prompt="portrait of a smiling woman", by=scripted_by)

    result = _provider(fake).generate(_request(prompt=prompt, size=1024))

    image = result.images[0]
    assert (image.width, image.height) == (64, 64) == Image.open(io.BytesIO(image.data)).size
    assert fake.predictions[result.request_id].input["megapixels"] == "1"  # it was asked for 1024 px


def test_flux_dev_at_512_with_jpg_output_gives_a_512_jpeg(fake):
    provider = _provider(fake, models={DEV: {"cost_per_image": 0.025, "output_format": "jpg"}})

    result = provider.generate(_request(model=DEV, size=512))

    image = Image.open(io.BytesIO(result.images[0].data))
    assert (image.format, image.size, result.images[0].content_type) == ("JPEG", (512, 512), "image/jpeg")
    assert result.cost_usd == pytest.approx(0.025)
    assert fake.predictions[result.request_id].input["guidance"] == 3


def test_a_run_longer_than_the_wait_comes_back_unfinished_and_is_polled_to_the_end(fake):
    fake.latency = 1.4
    events = []
    context = CallContext(on_submitted=lambda pid: events.append(("submitted", pid, fake.status_of(pid))))

    result = _provider(fake).generate(_request(), context)

    assert fake.submissions == 1
    assert len(_polls(fake)) >= 2
    assert events == [("submitted", result.request_id, "processing")]
    assert len(result.images) == 1


def test_progress_goes_from_starting_through_the_log_percentages_and_on_submitted_comes_first(fake):
    fake.queue_seconds, fake.latency = 0.2, 0.6
    events = []
    context = CallContext(on_progress=lambda p, m: events.append((p, m)), on_submitted=lambda pid: events.append(("submitted", pid)))

    result = _provider(fake, prefer_wait=0).generate(_request(), context)

    assert "Prefer" not in _calls(fake, "POST", "/v1/models/")[0]["headers"]
    assert events[0] == ("submitted", result.request_id)
    progress = events[1:]
    assert progress[0] == (10, "Starting the model")
    percents = [p for p, _ in progress]
    assert percents == sorted(percents)
    assert len(set(percents)) == len(percents)  # reported only on change
    assert any(20 < p < 90 for p in percents)
    assert progress[-1][1] == "Generating the image"  # fetching the outputs is no stage of its own


# --- resume and adoption -----------------------------------------------------------------------


def test_resume_by_id_polls_the_prediction_and_never_creates(fake):
    provider = _provider(fake)
    earlier = fake.add_prediction(SCHNELL, _matching_input(provider, _request()))
    submitted = []

    result = provider.generate(_request(), CallContext(resume_id=earlier.id, on_submitted=submitted.append))

    assert fake.submissions == 0
    assert result.request_id == earlier.id
    assert len(result.images) == 1
    assert _calls(fake, "GET", f"/v1/predictions/{earlier.id}")


def test_resume_of_an_unknown_prediction_is_permanent(fake):
    with pytest.raises(PermanentProviderError, match="404"):
        _provider(fake).generate(_request(), CallContext(resume_id="nosuchprediction"))
    assert fake.submissions == 0


def test_lookup_since_adopts_a_matching_prediction_instead_of_creating(fake):
    provider = _provider(fake)
    since = time.time() - 1
    fake.add_prediction(SCHNELL, {**_matching_input(provider, _request()), "seed": 7})  # another seed
    earlier = fake.add_prediction(SCHNELL, _matching_input(provider, _request()))
    submitted = []

    result = provider.generate(_request(), CallContext(lookup_since=since, on_submitted=submitted.append))

    assert fake.submissions == 0
    assert submitted == [earlier.id]
    assert result.request_id == earlier.id
    assert "created_after" in _listings(fake)[0]["query"]


def test_lookup_since_creates_when_only_other_or_failed_predictions_exist(fake):
    provider = _provider(fake)
    since = time.time() - 1
    matching = _matching_input(provider, _request())
    fake.add_prediction(SCHNELL, {**matching, "prompt": "someone else"})
    fake.add_prediction(DEV, matching)
    fake.latency = 0  # this one has failed already
    fake.add_prediction(SCHNELL, matching, outcome="error_permanent")
    fake.latency = 0.2
    existing = set(fake.predictions)

    result = provider.generate(_request(), CallContext(lookup_since=since))

    assert fake.submissions == 1
    assert result.request_id not in existing
    assert len(_listings(fake)) == 1


def test_lookup_follows_next_pages_on_our_host_only(fake):
    fake.page_size = 2
    provider = _provider(fake)
    matching = _matching_input(provider, _request())
    wanted = fake.add_prediction(SCHNELL, matching)
    for seed in range(5):  # newer, so listed first
        time.sleep(0.002)
        fake.add_prediction(SCHNELL, {**matching, "seed": 100 + seed})

    result = provider.generate(_request(), CallContext(lookup_since=time.time() - 2))

    assert (fake.submissions, result.request_id) == (0, wanted.id)
    assert len(_listings(fake)) == 3


def test_a_create_whose_answer_is_lost_finds_the_prediction_it_made(fake):
    fake.create_faults.append("created_then_500")
    submitted = []

    result = _provider(fake).generate(_request(), CallContext(on_submitted=submitted.append))

    assert (fake.submissions, fake.creations) == (1, 1)
    assert submitted == [result.request_id] == list(fake.predictions)
    assert len(result.images) == 1


def test_a_malformed_create_answer_also_finds_the_prediction_it_made(fake):
    fake.create_faults.append("malformed")

    result = _provider(fake).generate(_request())

    assert (fake.submissions, fake.creations) == (1, 1)
    assert result.request_id in fake.predictions


def test_a_create_answered_503_with_nothing_created_is_transient_and_not_resumable(fake):
    fake.create_faults.append(503)

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake).generate(_request())

    assert (fake.submissions, fake.creations) == (1, 0)
    assert (caught.value.resumable, caught.value.request_id) == (False, "")
    assert _listings(fake)  # it looked before giving up


# --- cancel and deadline -----------------------------------------------------------------------


def test_a_user_cancel_mid_run_cancels_at_replicate(fake):
    fake.next_outcomes.append("hang")
    submitted = []
    context = CallContext(on_submitted=submitted.append, should_cancel=lambda: bool(_polls(fake)))

    with pytest.raises(ProviderCanceledError) as caught:
        _provider(fake, prefer_wait=0).generate(_request(), context)

    assert fake.cancellations == submitted == [caught.value.request_id]
    assert fake.status_of(submitted[0]) == "canceled"


def test_the_deadline_cancels_at_replicate_and_is_transient(fake):
    fake.next_outcomes.append("hang")
    started = time.monotonic()

    with pytest.raises(TransientProviderError, match="did not finish in time") as caught:
        _provider(fake, prefer_wait=0).generate(_request(), CallContext(deadline=time.monotonic() + 0.3))

    assert time.monotonic() - started < 2
    assert fake.cancellations == [caught.value.request_id]


def test_the_prefer_wait_never_outlasts_the_deadline(fake):
    fake.next_outcomes.append("hang")

    with pytest.raises(TransientProviderError):
        _provider(fake, prefer_wait=60).generate(_request(), CallContext(deadline=time.monotonic() + 1.5))

    assert _calls(fake, "POST", "/v1/models/")[0]["headers"]["Prefer"] == "wait=1"


def test_cancel_is_best_effort_and_never_raises(fake):
    provider = _provider(fake)
    provider.cancel("nosuchprediction")
    fake.cancel_faults.append(503)
    provider.cancel("nosuchprediction")
    ReplicateProvider(api_url="http://127.0.0.1:9", api_key="x").cancel("abc")

    assert len(_calls(fake, "POST", "/v1/predictions/nosuchprediction/cancel")) == 2


# --- what the model answers --------------------------------------------------------------------


def test_all_images_flagged_nsfw_is_a_content_refusal(fake):
    fake.next_outcomes.append("nsfw")

    with pytest.raises(ContentRefusedError, match="NSFW") as caught:
        _provider(fake).generate(_request())

    assert caught.value.request_id in fake.predictions
    assert NSFW_ERROR in str(caught.value)


def test_some_images_flagged_are_counted_as_refused(fake):
    fake.next_outcomes.append("nsfw_partial")

    result = _provider(fake).generate(_request(num_images=3))

    assert (len(result.images), result.refused_count) == (2, 1)
    assert result.cost_usd == pytest.approx(0.006)
    assert result.images[0].data != result.images[1].data


def test_a_model_failure_is_permanent_with_replicates_error(fake):
    fake.next_outcomes.append("error_permanent")

    with pytest.raises(PermanentProviderError, match="could not process this input"):
        _provider(fake).generate(_request())


@pytest.mark.parametrize("ending", ["canceled", "failed"])
def test_an_infrastructure_failure_is_transient(fake, ending):
    fake.transient_status = ending
    fake.next_outcomes.append("error_transient")

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake).generate(_request())

    assert not caught.value.resumable
    if ending == "failed":
        assert INTERRUPTED_ERROR in str(caught.value)


# --- HTTP errors -------------------------------------------------------------------------------


def test_429_on_create_is_transient_with_retry_after_and_creates_nothing(fake):
    fake.create_faults.append(429)

    with pytest.raises(TransientProviderError, match="throttled") as caught:
        _provider(fake).generate(_request())

    assert caught.value.retry_after == 30
    assert (fake.submissions, fake.creations) == (1, 0)
    assert not _listings(fake)  # nothing to look for


def test_422_invalid_version_is_permanent_with_replicates_detail(fake):
    fake.create_faults.append(422)

    with pytest.raises(PermanentProviderError, match="does not exist"):
        _provider(fake).generate(_request())

    assert fake.creations == 0


def test_an_unknown_model_is_permanent(fake):
    with pytest.raises(PermanentProviderError, match="404"):
        _provider(fake).generate(_request(model="someone/no-such-model"))


def test_a_wrong_token_is_permanent(fake):
    with pytest.raises(PermanentProviderError, match=r"401.*authentication token"):
        _provider(fake, api_key="r8_wrong").generate(_request())

    assert fake.creations == 0


def test_a_poll_answered_503_is_retried(fake):
    fake.poll_faults.append(503)

    result = _provider(fake, prefer_wait=0).generate(_request())

    assert len(result.images) == 1
    assert len(_polls(fake)) >= 2


def test_malformed_json_while_polling_is_transient_and_resumable(fake):
    fake.latency = 1.0
    fake.poll_faults.append("malformed")

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake, prefer_wait=0).generate(_request())

    assert caught.value.resumable
    assert caught.value.request_id in fake.predictions


def test_a_poll_url_on_another_host_is_refused_and_gets_no_token(fake):
    fake.urls_base = fake.url.replace("127.0.0.1", "localhost")

    with pytest.raises(PermanentProviderError, match="another host") as caught:
        _provider(fake, prefer_wait=0).generate(_request())

    assert _polls(fake) == []  # the fake answers localhost too: nothing reached it
    assert caught.value.request_id in fake.predictions


def test_an_output_redirect_to_a_private_address_is_refused(fake):
    fake.next_outcomes.append("redirect_private")

    with pytest.raises(PermanentProviderError, match="redirect") as caught:
        _provider(fake).generate(_request())
    assert (caught.value.cost_usd, caught.value.megapixels) == (pytest.approx(0.003), pytest.approx(1.048576))  # made, so billed

    assert _calls(fake, "GET", "/output/")


def test_an_oversized_output_is_refused(fake):
    fake.next_outcomes.append("huge_output")

    with pytest.raises(PermanentProviderError, match="byte limit"):
        _provider(fake).generate(_request())


# --- the fake itself ---------------------------------------------------------------------------


def test_the_fake_holds_many_concurrent_creates_and_keeps_a_fixed_latency(fake):
    fake.latency = 0.5
    results, errors = [], []

    def run(seed: int) -> None:
        try:
            results.append(_provider(fake).generate(_request(seed=seed, size=512)))
        except Exception as exc:
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 40
    assert time.monotonic() - started < 5
    assert _polls(fake) == []  # every create was held until done


def test_the_fake_lists_newest_first_with_rate_limit_headers(fake):
    import requests

    first = fake.add_prediction(SCHNELL, {"prompt": "a"})
    time.sleep(0.002)
    second = fake.add_prediction(SCHNELL, {"prompt": "b"})
    response = requests.get(f"{fake.url}/v1/predictions", headers={"Authorization": f"Bearer {fake.api_key}"}, timeout=5)

    assert [p["id"] for p in response.json()["results"]] == [second.id, first.id]
    assert response.headers["ratelimit-remaining"].isdigit()
    assert response.headers["ratelimit-reset"].isdigit()
