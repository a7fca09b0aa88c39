"""The ComfyUI adapter against a fake ComfyUI over loopback HTTP: our own prompt id, history, queue, view, interrupt."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    PermanentProviderError,
    RequestNotFoundError,
    TransientProviderError,
)
from generation.providers.comfyui import ComfyUIProvider
from generation.providers.registry import provider_build, provider_get
from tests.fakes.comfyui import FLUX_WORKFLOW, FakeComfyUI
from tests.fakes.runpod import COST_PER_GPU_SECOND

pytestmark = pytest.mark.fast


@pytest.fixture
def fake():
    server = FakeComfyUI().start()
    yield server
    server.stop()


def _provider(fake: FakeComfyUI, **overrides) -> ComfyUIProvider:
    return ComfyUIProvider(**{**fake.adapter_options(), **overrides})


def _request(**params) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "portrait of a smiling woman", "model": "flux-schnell", "seed": 42, "size": 512, **params})


def test_the_workflow_is_queued_under_our_own_prompt_id_with_the_request_filled_in(fake):
    recorded: list[str] = []

    result = _provider(fake).generate(_request(size=700, num_images=2, seed=9), CallContext(on_submitted=recorded.append))

    (prompt,) = fake.prompts.values()
    assert recorded == [result.request_id] == [prompt.id]
    assert str(uuid.UUID(prompt.id)) == prompt.id  # ours, in the form ComfyUI makes
    assert prompt.graph["6"]["inputs"]["text"] == "portrait of a smiling woman"
    assert prompt.graph["27"]["inputs"] == {"width": 704, "height": 704, "batch_size": 2}
    assert prompt.graph["31"]["inputs"]["seed"] == 9
    assert [(image.width, image.height) for image in result.images] == [(704, 704)] * 2
    assert FLUX_WORKFLOW["31"]["inputs"]["seed"] == "{seed}"


def test_pending_then_running_is_reported_from_the_queue(fake):
    fake.queue_seconds, fake.latency = 0.3, 0.3
    fake.websocket = False  # a proxy in front that drops websockets: polling alone
    progress: list = []

    _provider(fake).generate(_request(), CallContext(on_progress=lambda *report: progress.append(report)))

    assert progress == [(10, "Waiting in the queue"), (40, "Generating the image")]


def test_the_sampler_steps_come_over_the_websocket_opened_before_the_prompt(fake):
    fake.queue_seconds, fake.latency = 0.2, 0.8
    progress: list = []
    provider = _provider(fake)

    provider.generate(_request(), CallContext(on_progress=lambda *report: progress.append(report)))

    (prompt,) = fake.prompts.values()
    assert fake.ws_clients == [provider.client_id] == [prompt.client_id]  # events go only to the submitter's socket
    steps = [report for report in progress if "step" in report[1]]
    # Each step as it happens (the last may be overtaken by the history saying it ended).
    assert steps[:3] == [(40 + 50 * k // 4, f"Generating the image (step {k} of 4)") for k in range(1, 4)]
    assert [percent for percent, _ in progress] == sorted(percent for percent, _ in progress)


def test_the_end_event_wakes_the_wait_instead_of_the_next_poll(fake):
    """Polls 30 s apart: the result comes when the websocket says the prompt ended, not at the next poll."""
    started = time.monotonic()

    result = _provider(fake, poll_interval=30.0).generate(_request())

    assert result.images
    assert time.monotonic() - started < 10


def test_a_resumed_prompt_whose_socket_is_not_the_submitters_is_finished_by_polling(fake):
    first = _provider(fake)
    fake.latency = 0.5
    prompt = fake.create(first.graph_for("flux-schnell", _request()), client_id="a run that died")

    result = first.generate(_request(), CallContext(resume_id=prompt.id))

    assert result.request_id == prompt.id
    assert fake.submissions == 0


def test_a_prompt_comfyui_does_not_know_is_not_found(fake):
    with pytest.raises(RequestNotFoundError):
        _provider(fake).generate(_request(), CallContext(resume_id=str(uuid.uuid4())))
    with pytest.raises(RequestNotFoundError):
        _provider(fake).generate(_request(), CallContext(lookup_only=True))

    assert fake.submissions == 0


def test_an_invalid_workflow_is_permanent_with_comfyuis_words(fake):
    with pytest.raises(PermanentProviderError, match="No prompt provided"):
        _provider(fake).send("POST", f"{fake.url}/prompt", json={}, retry=False)


def test_a_model_without_a_workflow_is_permanent_before_anything_is_sent(fake):
    with pytest.raises(PermanentProviderError, match="no workflow"):
        _provider(fake).generate(_request(model="sdxl"))

    assert fake.requests == []


def test_out_of_gpu_memory_is_transient_and_a_checker_node_error_is_a_refusal(fake):
    fake.next_outcomes.extend(["error_transient", "nsfw"])

    with pytest.raises(TransientProviderError, match="CUDA out of memory"):
        _provider(fake).generate(_request())
    with pytest.raises(ContentRefusedError) as caught:
        _provider(fake).generate(_request())

    assert caught.value.cost_usd > 0  # the GPU ran


def test_a_run_interrupted_without_our_asking_is_transient(fake):
    fake.next_outcomes.append("hang")

    def interrupt_elsewhere(prompt_id: str) -> None:
        fake.prompts[prompt_id].interrupted_at = time.monotonic()

    with pytest.raises(TransientProviderError, match="interrupted"):
        _provider(fake).generate(_request(), CallContext(on_submitted=interrupt_elsewhere))


def test_the_cost_is_the_gpu_seconds_between_execution_start_and_success(fake):
    fake.latency = 0.4

    result = _provider(fake).generate(_request())

    assert COST_PER_GPU_SECOND * 0.35 <= result.cost_usd <= COST_PER_GPU_SECOND * 0.45


def test_cancel_drops_it_from_the_queue_and_interrupts_it(fake):
    prompt = fake.create(FLUX_WORKFLOW)

    _provider(fake).cancel(prompt.id)

    posts = [(seen["path"]) for seen in fake.requests if seen["method"] == "POST"]
    assert posts == ["/queue", "/interrupt"]
    assert fake.cancellations == [prompt.id]


def test_it_is_set_up_only_with_an_address_and_a_workflow(fake):
    assert _provider(fake).configured
    assert not ComfyUIProvider(models=fake.adapter_options()["models"]).configured  # no address given
    assert not _provider(fake, models={"flux-schnell": {}}).configured


def test_a_server_that_ignores_our_prompt_id_is_refused(fake, monkeypatch):
    provider = _provider(fake)
    real_create = fake.create
    monkeypatch.setattr(fake, "create", lambda graph, prompt_id="", client_id="": real_create(graph, client_id=client_id))

    with pytest.raises(PermanentProviderError, match="prompt id"):
        provider.generate(_request())

    assert fake.cancellations == list(fake.prompts)  # the prompt it made under its own id is stopped


def test_the_settings_entry_is_not_set_up_without_an_address(settings):
    assert provider_get("comfyui") is None
    assert provider_build("comfyui").max_side("flux-schnell") == 1024


def test_the_settings_set_it_up_with_an_address_and_a_workflow_file(tmp_path: Path):
    """Settings are read once at start-up: a fresh interpreter with the variables set."""
    workflow = tmp_path / "flux.json"
    workflow.write_text(json.dumps(FLUX_WORKFLOW))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "avatarsite.settings.test",
        "COMFYUI_API_URL": "http://10.0.0.5:8188",
        "COMFYUI_FLUX_SCHNELL_WORKFLOW_FILE": str(workflow),
    }
    script = (
        "import django, json; django.setup()\n"
        "from generation.providers.registry import provider_get\n"
        "p = provider_get('comfyui')\n"
        "print(json.dumps([p.api_url, p.model_options('flux-schnell')['workflow']]))"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True)

    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["http://10.0.0.5:8188", FLUX_WORKFLOW]
