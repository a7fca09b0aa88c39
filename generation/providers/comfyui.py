"""The ComfyUI adapter (self-hosted): `POST /prompt` with our own prompt id, poll `/history/{id}` and `/queue`, `/view`.

Protocol: providers.md §5.7 and providers_additions.md C.7. Each model is an API-format workflow
stored in the catalogue ("workflow"), its "{prompt}", "{seed}", "{width}", "{height}",
"{num_images}" placeholders filled per request. Whether it waits or runs comes from polling `/queue`;
the sampler's steps and the moment it ends from ComfyUI's websocket (comfyui_events.py), opened
before the prompt is sent; the history stays the truth about the end. ComfyUI has no safety checker of its own:
UNCONFIRMED convention, a workflow's checker node either drops flagged images (counted as refused)
or raises an error that mentions NSFW (a content refusal). Cost: what the operator's GPU costs per
second of execution, from the history's execution_start / execution_success timestamps.
"""

import contextlib
import io
import uuid
from typing import Any
from urllib.parse import urlencode

import requests
from PIL import Image, UnidentifiedImageError

from .base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    GenerationResult,
    ModelSizes,
    PermanentProviderError,
    ProviderError,
    ProviderImage,
    RequestNotFoundError,
    TransientProviderError,
)
from .comfyui_events import PromptEvents, prompt_events
from .http import OUTPUT_CONTENT_TYPES, HttpProvider
from .runpod import REFUSAL_MARKERS, fill_placeholders, sniff_content_type

# Exceptions that say the machine, not the workflow, failed: worth another try (UNCONFIRMED list).
TRANSIENT_EXCEPTIONS = ("OutOfMemoryError", "CUDA out of memory", "ConnectionError")


class ComfyUIProvider(HttpProvider):
    """A ComfyUI server of the operator's. We choose the prompt id (C.7), so it is recorded and
    resumable by id; ComfyUI cannot be asked for a request we made without it (can_look_up False)."""

    name = "comfyui"
    default_api_url = "http://127.0.0.1:8188"
    default_model = "flux-schnell"
    can_look_up = False
    default_sizes = ModelSizes(max_side=1024, step=64)

    def __init__(self, *, api_url: str = "", **options: Any) -> None:
        super().__init__(api_url=api_url, **options)
        # No key to say "set up": an address given by the operator does.
        self.url_given = bool(api_url)
        self.client_id = uuid.uuid4().hex

    @property
    def configured(self) -> bool:
        return self.url_given and any(self.model_options(model).get("workflow") for model in self.models)

    def auth_headers(self) -> dict[str, str]:
        # ComfyUI has no auth (origin check only); a key is for a proxy in front of it.
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def error_detail(self, response: requests.Response) -> str:
        """ComfyUI's `{"error": {"type", "message"}, "node_errors": {...}}`."""
        with contextlib.suppress(ValueError):
            body = response.json()
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                return str(error.get("message") or error.get("type") or "")[:200]
        return super().error_detail(response)

    def graph_for(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        workflow = self.model_options(model).get("workflow")
        if not isinstance(workflow, dict) or not workflow:
            raise PermanentProviderError(f"comfyui: model '{model}' has no workflow in the catalogue")
        side = self.native_size(model, request.size)
        values = {"prompt": request.prompt, "width": side, "height": side, "seed": request.seed, "num_images": request.num_images}
        return fill_placeholders(workflow, values)

    # --- generate ------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        model = request.model or self.default_model
        graph = self.graph_for(model, request)  # checks the model before anything is sent
        deadline = self.deadline_for(context)
        started = self.clock()
        if context.lookup_only and not context.resume_id:
            raise RequestNotFoundError("comfyui: a prompt cannot be looked up without its id")
        # Before the prompt is sent: its events go only to the socket of the client that sent it.
        with prompt_events(self.api_url, self.client_id, headers=self.auth_headers(), timeout=self.timeout[0]) as events:
            prompt_id = context.resume_id or self._submit(graph, context)
            entry = self._until_done(prompt_id, model, context, deadline, events)
        return self._result(entry, prompt_id, model, request, elapsed=self.clock() - started)

    def _submit(self, graph: dict, context: CallContext) -> str:
        prompt_id = str(uuid.uuid4())  # the form ComfyUI makes itself
        # Never retried: it would run (and cost GPU time) twice.
        body = {"prompt": graph, "client_id": self.client_id, "prompt_id": prompt_id}
        answer = self.json_of(self.send("POST", f"{self.api_url}/prompt", json=body, retry=False))
        if answer.get("prompt_id") not in (None, prompt_id):
            self.cancel(str(answer["prompt_id"]))  # nobody would collect it
            raise PermanentProviderError("comfyui ignored our prompt id (a version before prompt_id support?)")
        context.on_submitted(prompt_id)
        return prompt_id

    def _history(self, prompt_id: str) -> dict | None:
        history = self.json_of(self.send("GET", f"{self.api_url}/history/{prompt_id}", request_id=prompt_id), request_id=prompt_id)
        entry = history.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    def _queue_state(self, prompt_id: str) -> str:
        """ "running", "pending" or "unknown" (history entries are written only at the end, C.7)."""
        queue = self.json_of(self.send("GET", f"{self.api_url}/queue", request_id=prompt_id), request_id=prompt_id)
        for state in ("running", "pending"):
            items = queue.get(f"queue_{state}")
            if isinstance(items, list) and any(isinstance(item, list) and prompt_id in item[:2] for item in items):
                return state
        return "unknown"

    def _until_done(self, prompt_id: str, model: str, context: CallContext, deadline: float, events: PromptEvents | None) -> dict:
        reported = ""
        while (entry := self._history(prompt_id)) is None:
            state = self._queue_state(prompt_id)
            if state == "unknown" and self._history(prompt_id) is None:  # not finished in between
                raise RequestNotFoundError(f"comfyui knows no prompt {prompt_id} (lost in a restart?)", request_id=prompt_id)
            if state != reported:
                reported = state
                context.on_progress(*((10, "Waiting in the queue") if state == "pending" else (40, "Generating the image")))
            if events is None:
                self.wait_for_next_poll(context, request_id=prompt_id, model=model, deadline=deadline)
                continue
            self.stop_if_asked(context, request_id=prompt_id, model=model, deadline=deadline)
            try:
                events.wait(prompt_id, seconds=min(self.poll_interval, max(0.0, deadline - self.clock())), on_progress=context.on_progress)
            except ConnectionError:
                events = None
        return entry

    # --- the outcome ---------------------------------------------------------------------------
    @staticmethod
    def _messages(entry: dict) -> dict[str, dict]:
        status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
        messages = status.get("messages") if isinstance(status.get("messages"), list) else []
        return {str(item[0]): item[1] for item in messages if isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict)}

    def execution_cost(self, model: str, entry: dict, *, elapsed: float) -> float:
        """Per GPU-second ("cost_per_gpu_second") of execution_start..end (ms timestamps, UNCONFIRMED), else our wait."""
        price = float(self.model_options(model).get("cost_per_gpu_second", 0))
        messages = self._messages(entry)
        start = messages.get("execution_start", {}).get("timestamp")
        end = next((messages[key].get("timestamp") for key in ("execution_success", "execution_error") if key in messages), None)
        seconds = (end - start) / 1000 if isinstance(start, int | float) and isinstance(end, int | float) else elapsed
        return round(price * max(0.0, seconds), 6)

    def _result(self, entry: dict, prompt_id: str, model: str, request: GenerationRequest, *, elapsed: float) -> GenerationResult:
        cost = self.execution_cost(model, entry, elapsed=elapsed)
        status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
        if status.get("status_str") != "success":
            raise self._failure(self._messages(entry), prompt_id, cost=cost)
        files = [
            image
            for output in (entry.get("outputs") or {}).values()
            if isinstance(output, dict)
            for image in output.get("images") or []
            if isinstance(image, dict) and image.get("type") == "output" and isinstance(image.get("filename"), str)
        ]
        if not files:
            raise ContentRefusedError("comfyui's workflow withheld every image", request_id=prompt_id, cost_usd=cost)
        images = [self._view(image, prompt_id, cost) for image in files]
        return GenerationResult(
            images=images,
            provider=self.name,
            model=model,
            request_id=prompt_id,
            cost_usd=cost,
            refused_count=max(0, request.num_images - len(images)),
            licence_note=self.licence_note(model),
        )

    @staticmethod
    def _failure(messages: dict[str, dict], prompt_id: str, *, cost: float) -> ProviderError:
        if "execution_interrupted" in messages:  # interrupted without our asking
            return TransientProviderError("comfyui's run was interrupted", request_id=prompt_id, cost_usd=cost)
        error = messages.get("execution_error", {})
        text = f"{error.get('exception_type', '')}: {error.get('exception_message', '')}"[:300]
        if any(marker in text.lower() for marker in REFUSAL_MARKERS):
            return ContentRefusedError(f"comfyui's workflow refused the content: {text}", request_id=prompt_id, cost_usd=cost)
        kind = TransientProviderError if any(marker in text for marker in TRANSIENT_EXCEPTIONS) else PermanentProviderError
        return kind(f"comfyui's workflow failed: {text}", request_id=prompt_id, cost_usd=cost)

    def _view(self, image: dict, prompt_id: str, cost: float) -> ProviderImage:
        """One output through `/view` on ComfyUI itself (the operator's host: no output allow-list),
        never following a redirect, bounded in bytes."""
        query = urlencode({"filename": image["filename"], "subfolder": image.get("subfolder", ""), "type": "output"})
        url = f"{self.api_url}/view?{query}"
        try:
            with self.session.get(url, headers=self.auth_headers(), timeout=self.timeout, allow_redirects=False, stream=True) as response:
                if response.is_redirect:
                    raise PermanentProviderError("comfyui's /view answered a redirect; not followed", request_id=prompt_id)
                if not 200 <= response.status_code < 300:
                    raise self.error_for(response, request_id=prompt_id, resumable=True)
                data = response.raw.read(self.output_policy.max_bytes + 1, decode_content=True)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientProviderError(f"comfyui unreachable: {type(exc).__name__}", request_id=prompt_id, resumable=True) from exc
        except ProviderError as exc:
            exc.cost_usd = cost
            raise
        content_type = sniff_content_type(data[:16])
        if len(data) > self.output_policy.max_bytes or content_type not in OUTPUT_CONTENT_TYPES:
            raise PermanentProviderError("comfyui's output is not an image we store", request_id=prompt_id, cost_usd=cost)
        try:
            width, height = Image.open(io.BytesIO(data)).size
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise PermanentProviderError("comfyui's output is not an image we can read", request_id=prompt_id, cost_usd=cost) from exc
        return ProviderImage(data=data, content_type=content_type, width=width, height=height)

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Best effort: drop it from the queue if pending, interrupt it if running (C.7); never raises."""
        if not request_id:
            return
        for path, body in (("queue", {"delete": [request_id]}), ("interrupt", {"prompt_id": request_id})):
            with contextlib.suppress(ProviderError, requests.RequestException):
                self.send("POST", f"{self.api_url}/{path}", json=body, retry=False, timeout=(self.timeout[0], 10.0))
