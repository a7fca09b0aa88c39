"""The RunPod adapter against a fake RunPod serverless API over loopback HTTP: run, status, cancel, billing, faults."""

import base64
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import override_settings
from PIL import Image

from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    PermanentProviderError,
    ProviderCanceledError,
    RequestNotFoundError,
    TransientProviderError,
)
from generation.providers.registry import provider_build, provider_get
from generation.providers.runpod import RunPodProvider
from tests.fakes.runpod import COST_PER_GPU_SECOND, ENDPOINTS, NSFW_ERROR, FakeRunPod, png_image

pytestmark = pytest.mark.fast

ENDPOINT = ENDPOINTS["flux-schnell"]


@pytest.fixture
def fake():
    server = FakeRunPod().start()
    yield server
    server.stop()


def _provider(fake: FakeRunPod, **overrides) -> RunPodProvider:
    return RunPodProvider(**{**fake.adapter_options(), **overrides})


def _request(**params) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "portrait of a smiling woman", "model": "flux-schnell", "seed": 42, "size": 512, **params})


def _calls(fake: FakeRunPod, method: str, action: str) -> list[dict]:
    return [seen for seen in fake.requests if seen["method"] == method and f"/{action}" in seen["path"]]


# --- the wire ------------------------------------------------------------------------------------
def test_run_is_posted_to_the_models_endpoint_with_a_bearer_key_the_input_and_an_execution_timeout(fake):
    result = _provider(fake, max_wait=120).generate(_request(size=500, num_images=2))

    (run,) = _calls(fake, "POST", "run")
    assert run["path"] == f"/v2/{ENDPOINT}/run"
    assert run["headers"]["Authorization"] == f"Bearer {fake.api_key}"
    (body,) = fake.bodies
    # 500 px asks the worker for its next multiple of 64.
    assert body["input"] == {"prompt": "portrait of a smiling woman", "width": 512, "height": 512, "seed": 42, "num_images": 2}
    assert body["policy"] == {"executionTimeout": 120_000}
    assert len(result.images) == 2
    assert result.model_version == ENDPOINT
    assert all(seen["path"] == f"/v2/{ENDPOINT}/status/{result.request_id}" for seen in _calls(fake, "GET", "status"))


def test_a_models_own_input_is_added_to_what_the_worker_gets(fake):
    options = fake.adapter_options()
    options["models"]["flux-schnell"]["input"] = {"steps": 4, "sampler": "euler"}

    RunPodProvider(**options).generate(_request())

    assert fake.bodies[0]["input"]["steps"] == 4
    assert fake.bodies[0]["input"]["sampler"] == "euler"


@pytest.mark.parametrize("running_status", ["IN_PROGRESS", "RUNNING"])
def test_both_names_of_the_running_state_are_waited_on_and_reported(fake, running_status):
    fake.running_status, fake.latency = running_status, 0.4
    progress: list[tuple[int, str]] = []

    result = _provider(fake).generate(_request(), CallContext(on_progress=lambda *report: progress.append(report)))

    assert (result.images[0].width, result.images[0].height) == (512, 512)
    assert (10, "Waiting for a GPU worker") in progress
    assert (40, "Generating the image") in progress
    assert len(_calls(fake, "GET", "status")) >= 3  # it polled through the running state


def test_outputs_uploaded_to_a_bucket_are_downloaded_from_an_allowed_host(fake):
    fake.output_mode = "s3_url"

    result = _provider(fake).generate(_request())

    assert len(_calls(fake, "GET", "output")) == 1
    assert Image.open(io.BytesIO(result.images[0].data)).size == (512, 512)


def test_an_output_on_a_host_not_allowed_is_refused_without_fetching_it(fake):
    fake.output_mode = "s3_url"

    with pytest.raises(PermanentProviderError, match="output refused"):
        _provider(fake, output_hosts=["bucket.example.com"]).generate(_request())

    assert _calls(fake, "GET", "output") == []


@pytest.mark.parametrize(
    "output",
    [
        {"images": [{"type": "base64", "data": "PNG"}]},
        {"image": "PNG"},
        ["PNG"],
        "data:image/png;base64,PNG",
        [{"url": "data:image/png;base64,PNG"}],
    ],
    ids=["worker-comfyui", "single", "bare-list", "data-uri", "url-item"],
)
def test_the_common_worker_output_shapes_are_read(fake, output):
    encoded = base64.b64encode(png_image(1, 0, 64)).decode()
    output = json.loads(json.dumps(output).replace("PNG", encoded))
    provider = _provider(fake)

    items = provider._output_items(output, job_id="job")

    assert len(items) == 1
    assert items[0][0] == f"data:image/png;base64,{encoded}"
    assert items[0][1] is False


def test_an_output_that_is_no_image_is_permanent(fake):
    with pytest.raises(PermanentProviderError, match="not a PNG"):
        _provider(fake)._output_items({"images": [{"data": base64.b64encode(b"hello, world, not a picture").decode()}]}, job_id="j")


# --- billing -------------------------------------------------------------------------------------
def test_a_job_is_billed_per_gpu_second_of_its_execution_time(fake):
    fake.latency = 0.3

    result = _provider(fake).generate(_request())

    execution_ms = result.metadata["executionTime"]
    assert execution_ms >= 300
    assert result.cost_usd == round(COST_PER_GPU_SECOND * execution_ms / 1000, 6)
    assert result.cost_usd > 0


def test_without_an_execution_time_the_bill_is_our_own_wait_an_upper_bound(fake):
    provider = _provider(fake)
    job = {"status": "COMPLETED"}

    assert provider.gpu_seconds(job, elapsed=2.5) == 2.5
    assert provider.job_cost("flux-schnell", job, elapsed=2.5, side=512, count=1) == round(COST_PER_GPU_SECOND * 2.5, 6)


def test_a_model_priced_per_image_is_billed_per_image(fake):
    options = fake.adapter_options()
    options["models"]["flux-schnell"] = {"endpoint_id": ENDPOINT, "cost_per_image": 0.002, "licence": "x"}

    result = RunPodProvider(**options).generate(_request(num_images=2))

    assert result.cost_usd == 0.004


def test_a_refused_job_still_carries_what_it_cost(fake):
    fake.next_outcomes.append("nsfw")

    with pytest.raises(ContentRefusedError, match="NSFW") as caught:
        _provider(fake).generate(_request())

    assert NSFW_ERROR in str(caught.value)
    assert caught.value.cost_usd > 0


# --- errors --------------------------------------------------------------------------------------
def test_a_throttled_run_is_transient_with_retry_after_and_is_not_resent(fake):
    fake.run_faults.append(429)

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake).generate(_request())

    assert caught.value.retry_after == fake.retry_after
    assert caught.value.status == 429
    assert fake.submissions == 1  # a create is never retried blindly
    assert fake.jobs == {}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_on_run_is_transient_and_not_resent(fake, status):
    fake.run_faults.append(status)

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake).generate(_request())

    assert caught.value.status == status
    assert fake.submissions == 1


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_client_error_on_run_is_permanent(fake, status):
    fake.run_faults.append(status)

    with pytest.raises(PermanentProviderError) as caught:
        _provider(fake).generate(_request())

    assert caught.value.status == status


def test_a_wrong_key_is_permanent(fake):
    with pytest.raises(PermanentProviderError) as caught:
        _provider(fake, api_key="rpa_wrong").generate(_request())

    assert caught.value.status == 401


def test_status_faults_are_retried_and_the_job_still_finishes(fake):
    fake.status_faults.extend([503, 429])

    result = _provider(fake).generate(_request())

    assert len(result.images) == 1
    assert fake.submissions == 1


def test_a_status_call_that_hangs_past_the_read_timeout_is_transient_and_resumable(fake):
    fake.status_faults.extend([("slow", 1.0)] * 4)

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake, read_timeout=0.3, attempts=1).generate(_request())

    assert caught.value.resumable
    assert caught.value.request_id in fake.jobs


def test_a_job_timed_out_at_runpod_is_transient(fake):
    fake.next_outcomes.append("error_transient")

    with pytest.raises(TransientProviderError, match="TIMED_OUT") as caught:
        _provider(fake).generate(_request())

    assert not caught.value.resumable


def test_a_job_canceled_at_runpod_without_our_asking_is_transient(fake):
    fake.next_outcomes.append("hang")
    recorded: list[str] = []
    provider = _provider(fake, max_wait=5)

    def cancel_elsewhere(job_id: str) -> None:
        recorded.append(job_id)
        fake.cancel(fake.jobs[job_id])

    with pytest.raises(TransientProviderError, match="CANCELLED"):
        provider.generate(_request(), CallContext(on_submitted=cancel_elsewhere))


def test_cancel_posts_to_the_endpoint_and_never_raises(fake):
    fake.next_outcomes.append("hang")
    provider = _provider(fake)
    job = fake.create(ENDPOINT, {"prompt": "x"})

    provider.cancel(job.id, model="flux-schnell")
    fake.cancel_faults.append(500)
    provider.cancel(job.id, model="flux-schnell")
    provider.cancel("", model="flux-schnell")

    assert [seen["path"] for seen in _calls(fake, "POST", "cancel")] == [f"/v2/{ENDPOINT}/cancel/{job.id}"] * 2
    assert fake.status_of(job.id) == "CANCELLED"


# --- resume and look-up --------------------------------------------------------------------------
def test_a_look_up_without_an_id_finds_nothing_and_sends_nothing(fake):
    with pytest.raises(RequestNotFoundError):
        _provider(fake).generate(_request(), CallContext(lookup_only=True, lookup_since=0.0))

    assert fake.requests == []
    assert RunPodProvider.can_look_up is False


def test_a_look_up_of_a_job_runpod_no_longer_knows_is_not_found(fake):
    with pytest.raises(RequestNotFoundError):
        _provider(fake).generate(_request(), CallContext(lookup_only=True, resume_id="expired-job"))

    assert fake.submissions == 0


def test_a_look_up_of_a_known_job_finishes_it_without_a_new_run(fake):
    job = fake.create(ENDPOINT, {"prompt": "x", "width": 512, "height": 512, "seed": 1, "num_images": 1})

    result = _provider(fake).generate(_request(), CallContext(lookup_only=True, resume_id=job.id))

    assert result.request_id == job.id
    assert fake.submissions == 0


def test_a_model_without_an_endpoint_is_permanent_before_anything_is_sent(fake):
    with pytest.raises(PermanentProviderError, match="endpoint_id"):
        _provider(fake).generate(_request(model="sdxl"))

    assert fake.requests == []


# --- settings ------------------------------------------------------------------------------------
def test_it_is_set_up_only_with_a_key_and_an_endpoint(fake):
    assert _provider(fake).configured
    assert not _provider(fake, api_key="").configured
    assert not _provider(fake, models={"flux-schnell": {"endpoint_id": ""}}).configured


def test_the_settings_entry_is_not_set_up_without_its_key(settings):
    options = settings.GENERATION_PROVIDERS["runpod"]["OPTIONS"]
    assert options["api_url"] == "https://api.runpod.ai/v2"
    providers = {**settings.GENERATION_PROVIDERS, "runpod": {**settings.GENERATION_PROVIDERS["runpod"]}}
    providers["runpod"]["OPTIONS"] = {**options, "api_key": ""}
    with override_settings(GENERATION_PROVIDERS=providers):
        assert provider_get("runpod") is None
        adapter = provider_build("runpod")
        assert adapter.max_side("flux-schnell") == 1024
        assert adapter.native_size("flux-schnell", 700) == 704


# --- worker-comfyui workflows --------------------------------------------------------------------
FLUX_WORKFLOW = {
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{prompt}, studio light", "clip": ["30", 1]}},
    "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": "{width}", "height": "{height}", "batch_size": "{num_images}"}},
    "31": {"class_type": "KSampler", "inputs": {"seed": "{seed}", "steps": 4, "cfg": 1, "sampler_name": "euler"}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}


def test_a_models_workflow_is_sent_with_its_placeholders_filled_in_typed(fake):
    options = fake.adapter_options()
    options["models"]["flux-schnell"]["workflow"] = FLUX_WORKFLOW

    result = RunPodProvider(**options).generate(_request(size=1000, num_images=2, seed=7))

    graph = fake.bodies[0]["input"]["workflow"]
    assert set(fake.bodies[0]["input"]) == {"workflow"}
    assert graph["6"]["inputs"]["text"] == "portrait of a smiling woman, studio light"
    assert graph["27"]["inputs"] == {"width": 1024, "height": 1024, "batch_size": 2}
    assert graph["31"]["inputs"]["seed"] == 7
    assert graph["31"]["inputs"]["steps"] == 4
    assert FLUX_WORKFLOW["31"]["inputs"]["seed"] == "{seed}"  # the stored graph is left as it was
    assert [(image.width, image.height) for image in result.images] == [(1024, 1024)] * 2


def test_the_settings_read_a_models_workflow_from_its_file_and_set_it_up_with_key_and_endpoint(tmp_path: Path):
    """Settings are read once at start-up: a fresh interpreter with the variables set."""
    workflow = tmp_path / "flux.json"
    workflow.write_text(json.dumps(FLUX_WORKFLOW))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "avatarsite.settings.test",
        "RUNPOD_API_KEY": "rpa_key",
        "RUNPOD_FLUX_SCHNELL_ENDPOINT_ID": "abc123",
        "RUNPOD_FLUX_SCHNELL_WORKFLOW_FILE": str(workflow),
    }
    script = (
        "import django, json; django.setup()\n"
        "from generation.providers.registry import provider_get\n"
        "p = provider_get('runpod')\n"
        "print(json.dumps([p.configured, p.endpoint_id('flux-schnell'), p.model_options('flux-schnell')['workflow']]))"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True)

    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, "abc123", FLUX_WORKFLOW]


def test_a_job_canceled_while_running_carries_the_gpu_seconds_it_ran_for_the_ledger(fake):
    fake.next_outcomes.append("hang")
    submitted: list[float] = []
    provider = _provider(fake)

    with pytest.raises(ProviderCanceledError) as caught:
        provider.generate(
            _request(),
            CallContext(
                on_submitted=lambda job_id: submitted.append(time.monotonic()),
                should_cancel=lambda: bool(submitted) and time.monotonic() - submitted[0] > 0.5,
            ),
        )

    # It queued 0.05 s, then ran about 0.45 s before the cancel: billed for that, at the model's price.
    assert COST_PER_GPU_SECOND * 0.3 <= caught.value.cost_usd <= COST_PER_GPU_SECOND * 1.0
    assert fake.cancellations == [caught.value.request_id]


def test_a_job_canceled_while_still_queued_costs_nothing(fake):
    fake.next_outcomes.append("hang")
    fake.queue_seconds = 30.0

    with pytest.raises(TransientProviderError) as caught:
        _provider(fake).generate(_request(), CallContext(deadline=time.monotonic() + 0.3))

    assert caught.value.cost_usd == 0
    assert fake.cancellations == [caught.value.request_id]
