"""The AUTOMATIC1111 WebUI adapter (self-hosted, launched with `--api`): one blocking txt2img call,
progress read beside it, `/sdapi/v1/interrupt` to cancel.

Protocol notes (providers.md §5.6, providers_additions.md C.6): `POST /sdapi/v1/txt2img` answers,
once the images are made, `{"images": [base64], "parameters": {...}, "info": "<JSON string>"}`; the
server runs one job at a time (a queue lock). `GET /sdapi/v1/progress` (another connection) tells
how far the current job is. Auth is optional HTTP Basic (`--api-auth user:pass`). Errors are
`{"error", "detail", "body", "errors"}` with the exception's status (404, 422, 500). There is no
refusal signal: stock A1111 has no safety checker (our own check, issue 19 point 4, covers it).
"""

import base64
import binascii
import io
import json
import uuid
from typing import Any

import requests
from PIL import Image, UnidentifiedImageError

from .base import (
    CallContext,
    GenerationRequest,
    GenerationResult,
    ModelSizes,
    PermanentProviderError,
    ProviderCanceledError,
    ProviderError,
    ProviderImage,
    TransientProviderError,
)
from .blocking import call_watching
from .http import OUTPUT_CONTENT_TYPES, HttpProvider

TXT2IMG = "/sdapi/v1/txt2img"
PROGRESS = "/sdapi/v1/progress?skip_current_image=true"
INTERRUPT = "/sdapi/v1/interrupt"
PIL_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class A1111Provider(HttpProvider):
    """A self-hosted AUTOMATIC1111 server. `api_url` is the server's base (its own default is
    http://127.0.0.1:7860); empty means not set up here. `api_key` is "user:pass" for `--api-auth`,
    or empty. A model id is a checkpoint name (set through `override_settings.sd_model_checkpoint`);
    "" runs the checkpoint the server has loaded.

    Price: the operator's, per GPU-second ("cost_per_gpu_second" per model, else the provider's),
    counted from the server's `X-Process-Time` header (its time on the call, the queue-lock wait
    included), else our own time on the call. A canceled or timed-out call is billed the time used.
    """

    name = "a1111"
    default_api_url = ""
    default_model = ""
    # A1111 takes any width/height; SD works in 8 px latent blocks.
    default_sizes = ModelSizes(max_side=1024, step=8)

    def __init__(
        self,
        *,
        model: str = "",
        cost_per_gpu_second: float = 0.0,
        interrupt_on_cancel: bool = True,
        progress_timeout: float = 2.0,
        **options: Any,
    ) -> None:
        """`model`: the checkpoint a request without one runs ("" = the one loaded).
        `interrupt_on_cancel`: `/sdapi/v1/interrupt` stops whatever job the server is running,
        which is ours only when nobody else shares the server (its queue runs one at a time);
        turn it off for a shared server. `progress_timeout`: read timeout of a progress look."""
        super().__init__(**options)
        self.default_model = model
        # Progress and interrupt go out while txt2img holds `session` on another thread: their own.
        self.side_session = requests.Session()
        self.side_session.trust_env = False
        self.side_session.headers["User-Agent"] = "avatarsite"
        self.cost_per_gpu_second = float(cost_per_gpu_second)
        self.interrupt_on_cancel = interrupt_on_cancel
        self.progress_timeout = progress_timeout

    @property
    def configured(self) -> bool:
        return bool(self.api_url)

    def auth_headers(self) -> dict[str, str]:
        if not self.api_key:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(self.api_key.encode()).decode()}

    def gpu_cost(self, model: str, seconds: float) -> float:
        rate = float(self.model_options(model).get("cost_per_gpu_second", self.cost_per_gpu_second))
        return round(rate * max(0.0, seconds), 6)

    def cost(self, model: str, *, width: int, height: int, count: int) -> float:
        """Not per image or megapixel: see `gpu_cost` (what a call took)."""
        return 0.0

    @staticmethod
    def error_detail(response: requests.Response) -> str:
        """A1111's error body: `{"error": <exception name>, "detail", "errors"}`."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200].strip()
        if isinstance(body, dict) and "error" in body:
            words = body.get("errors") or body.get("detail") or ""
            return f"{body['error']}: {words}"[:200]
        return HttpProvider.error_detail(response)

    # --- the request ---------------------------------------------------------------------------
    def payload_for(self, model: str, request: GenerationRequest, *, task_id: str) -> dict[str, Any]:
        """The txt2img body: a `native_size` square, `batch_size` images, our own task id."""
        options = self.model_options(model)
        side = self.native_size(model, request.size)
        payload: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": str(options.get("negative_prompt", "")),
            "seed": request.seed or -1,  # -1: the server picks
            "steps": int(options.get("steps", 20)),
            "cfg_scale": float(options.get("cfg_scale", 7.0)),
            "sampler_name": str(options.get("sampler_name", "Euler")),
            "width": side,
            "height": side,
            "batch_size": request.num_images,
            "n_iter": 1,
            "send_images": True,
            "save_images": False,
            # UNCONFIRMED on older servers (a recent field of the API model): our id for the job.
            "force_task_id": task_id,
            **options.get("payload", {}),
        }
        if model:
            payload["override_settings"] = {"sd_model_checkpoint": model}
            payload["override_settings_restore_afterwards"] = True
        return payload

    # --- generate ------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        model = request.model or self.default_model
        if context.resume_id or context.lookup_only:
            # Never reached through the pipeline (no id is recorded, can_look_up is False). Not "not found":
            # a call may have been made and billed, and the books must not close it at $0.
            raise PermanentProviderError("a1111: one blocking call, which cannot be resumed or looked up")
        if not 1 <= request.num_images <= 8:
            raise PermanentProviderError("a1111: 1 to 8 images per request")
        deadline = self.deadline_for(context)
        task_id = f"avatarsite-{uuid.uuid4().hex}"
        payload = self.payload_for(model, request, task_id=task_id)
        started = self.clock()
        watcher = _Watcher(self, context, model=model, task_id=task_id, deadline=deadline, started=started)

        def post() -> requests.Response:
            return self.session.post(
                f"{self.api_url}{TXT2IMG}",
                json=payload,
                headers=self.auth_headers(),
                timeout=(self.timeout[0], max(1.0, deadline - self.clock()) + 5.0),
            )

        try:
            response = call_watching(post, watch=watcher.watch, interval=self.poll_interval)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientProviderError(f"a1111 unreachable: {type(exc).__name__}", request_id=task_id) from exc
        seconds = _process_time(response, default=self.clock() - started)
        if not 200 <= response.status_code < 300:
            error = self.error_for(response, request_id=task_id)
            error.cost_usd = self.gpu_cost(model, seconds)
            raise error
        images, info = self._images_of(response, task_id=task_id, cost_usd=self.gpu_cost(model, seconds))
        return GenerationResult(
            images=images,
            provider=self.name,
            model=model or str(info.get("sd_model_name") or ""),
            model_version=str(info.get("sd_model_hash") or ""),
            request_id=task_id,
            cost_usd=self.gpu_cost(model, seconds),
            licence_note=self.licence_note(model),
            metadata={"gpu_seconds": seconds, "seed": info.get("seed")},
        )

    def _images_of(self, response: requests.Response, *, task_id: str, cost_usd: float) -> tuple[list[ProviderImage], dict]:
        body = self.json_of(response, request_id=task_id)
        encoded = body.get("images")
        if not isinstance(encoded, list) or not encoded or not all(isinstance(item, str) for item in encoded):
            raise TransientProviderError("a1111 answered without images", request_id=task_id, cost_usd=cost_usd)
        try:
            info = json.loads(body.get("info") or "{}")
        except (TypeError, ValueError):
            info = {}
        try:
            return [self._image(item, task_id=task_id) for item in encoded], info if isinstance(info, dict) else {}
        except ProviderError as exc:
            exc.cost_usd = cost_usd
            raise

    def _image(self, encoded: str, *, task_id: str) -> ProviderImage:
        payload = encoded.partition(",")[2] if encoded.startswith("data:") else encoded  # some versions prefix it
        if len(payload) * 3 // 4 > self.output_policy.max_bytes:
            raise PermanentProviderError("a1111 sent an image over the byte limit", request_id=task_id)
        try:
            data = base64.b64decode(payload, validate=True)
            with Image.open(io.BytesIO(data)) as image:  # header only; the pipeline verifies fully
                (width, height), content_type = image.size, PIL_TYPES.get(image.format or "", "")
        except (binascii.Error, ValueError, UnidentifiedImageError, OSError) as exc:
            raise PermanentProviderError("a1111 sent an image we cannot read", request_id=task_id) from exc
        if content_type not in OUTPUT_CONTENT_TYPES:
            raise PermanentProviderError("a1111 sent an image of a type we do not store", request_id=task_id)
        return ProviderImage(data=data, content_type=content_type, width=width, height=height)

    # --- progress and cancel -------------------------------------------------------------------
    def progress(self) -> tuple[int, str] | None:
        """The server's current job, as (percent, message); None when it cannot say. Best effort."""
        try:
            response = self.side_session.get(
                f"{self.api_url}{PROGRESS}", headers=self.auth_headers(), timeout=(self.timeout[0], self.progress_timeout)
            )
            body = response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None
        if not isinstance(body, dict) or not isinstance(body.get("progress"), int | float):
            return None
        state = body.get("state") if isinstance(body.get("state"), dict) else {}
        if not state.get("job_count"):
            return 10, "Waiting for the server"  # idle: ours is queued (or not started yet)
        return 20 + int(min(1.0, max(0.0, float(body["progress"]))) * 70), "Generating the image"

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Best effort `POST /sdapi/v1/interrupt` (stops the server's current job); never raises.
        Only for a call of ours under way (an id): the reconciler's cancel of a call that never
        named one must not stop whatever the server runs now."""
        if not request_id or not self.interrupt_on_cancel:
            return
        try:
            self.side_session.post(f"{self.api_url}{INTERRUPT}", headers=self.auth_headers(), timeout=(self.timeout[0], 10.0))
        except requests.RequestException:
            return


class _Watcher:
    """Between two looks at a running txt2img: cancel, deadline, progress."""

    def __init__(self, provider: A1111Provider, context: CallContext, *, model: str, task_id: str, deadline: float, started: float):
        self.provider, self.context, self.model, self.task_id = provider, context, model, task_id
        self.deadline, self.started = deadline, started
        self.reported: tuple[int, str] | None = None

    def watch(self) -> None:
        provider = self.provider
        used = provider.gpu_cost(self.model, provider.clock() - self.started)
        if self.context.should_cancel():
            provider.cancel(self.task_id, model=self.model)
            raise ProviderCanceledError("canceled; a1111 was interrupted", request_id=self.task_id, cost_usd=used)
        if provider.clock() >= self.deadline:
            provider.cancel(self.task_id, model=self.model)
            raise TransientProviderError("a1111 did not finish in time; it was interrupted", request_id=self.task_id, cost_usd=used)
        progress = provider.progress()
        # Only forward: an idle server after our job ended must not read as a step back.
        if progress is not None and (self.reported is None or progress[0] > self.reported[0]):
            self.reported = progress
            self.context.on_progress(*progress)


def _process_time(response: requests.Response, *, default: float) -> float:
    """The server's `X-Process-Time` (seconds), else `default`."""
    try:
        return float(response.headers.get("X-Process-Time", ""))
    except ValueError:
        return default
