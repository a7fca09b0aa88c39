"""The Hugging Face Inference adapter: text-to-image through the router's hf-inference route (raw image bytes).

Protocol (huggingface_hub, see the protocol notes §5.1/C.1): `POST {router}/{provider}/models/{model_id}`
with `Authorization: Bearer hf_…`, JSON `{"inputs": prompt, "parameters": {...}}` and `Accept: image/png`;
the answer is the image itself. The call is synchronous: there is no request id before the answer and no
cancel endpoint, so a user cancel is seen between images and a deadline bounds the read timeout.
Only the `hf-inference` route is spoken here: the router's other providers (fal-ai, replicate, together…)
answer in their own shapes, and have their own adapters when they are used directly.
"""

import io
from typing import Any
from urllib.parse import quote

import requests
from PIL import Image, UnidentifiedImageError

from .base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    GenerationResult,
    ModelSizes,
    PermanentProviderError,
    ProviderCanceledError,
    ProviderError,
    ProviderImage,
    TransientProviderError,
)
from .http import OUTPUT_CONTENT_TYPES, HttpProvider

# The routes this adapter speaks (the answer is raw image bytes).
SUPPORTED_ROUTES = ("hf-inference",)
# UNCONFIRMED: the router's words for a refused prompt or image. The notes give no refusal signal for
# hf-inference (models with a safety checker return a black image); an error naming one of these is
# taken as a refusal, not as a bad request.
REFUSAL_WORDS = ("nsfw", "unsafe", "safety", "content policy", "inappropriate")
# UNCONFIRMED for the router: the id of the answer, in this response header.
REQUEST_ID_HEADER = "x-request-id"
# Images per request: one call makes one image, so a request of n is n calls.
MAX_IMAGES = 4


class HuggingFaceProvider(HttpProvider):
    """Text-to-image on Hugging Face Inference Providers (router). `api_url` is the router's base URL."""

    name = "huggingface"
    default_api_url = "https://router.huggingface.co"
    default_model = "black-forest-labs/FLUX.1-schnell"
    # Images come back in the answer: no output host is ever fetched from.
    default_output_hosts = ()
    default_sizes = ModelSizes(max_side=1024, step=16)

    def __init__(self, *, loading_retries: int = 2, loading_wait_cap: float = 20.0, **options: Any) -> None:
        """`loading_retries`: how often a 503 "model is loading" is waited out (sleeping its
        `estimated_time`, at most `loading_wait_cap` seconds) before it counts as a transient failure."""
        super().__init__(**options)
        self.loading_retries = max(0, loading_retries)
        self.loading_wait_cap = loading_wait_cap
        for model in self.models:
            self.route(model)  # an unsupported route fails when the adapter is built

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def route(self, model: str) -> str:
        """The router's provider for `model` (catalogue "provider", default hf-inference)."""
        route = str(self.model_options(model).get("provider", "hf-inference"))
        if route not in SUPPORTED_ROUTES:
            raise ValueError(f"huggingface: route {route!r} is not spoken by this adapter (only {', '.join(SUPPORTED_ROUTES)})")
        return route

    def model_url(self, model: str) -> str:
        return f"{self.api_url}/{self.route(model)}/models/{quote(model, safe='/')}"

    def body_for(self, model: str, request: GenerationRequest, *, index: int) -> dict[str, Any]:
        """The text_to_image body (huggingface_hub drops nulls); image `index` gets seed + index."""
        side = self.native_size(model, request.size)
        parameters = {"width": side, "height": side, "seed": request.seed + index, **self.model_options(model).get("parameters", {})}
        return {"inputs": request.prompt, "parameters": {key: value for key, value in parameters.items() if value is not None}}

    # --- generate ------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        model = request.model or self.default_model
        if not 1 <= request.num_images <= MAX_IMAGES:
            raise PermanentProviderError(f"huggingface: 1 to {MAX_IMAGES} images per request")
        if context.resume_id or context.lookup_only:  # no id is ever reported: nothing to resume or look up
            raise PermanentProviderError("huggingface: a synchronous call cannot be resumed or looked up")
        deadline = self.deadline_for(context)
        images: list[ProviderImage] = []
        request_ids: list[str] = []
        refused: ContentRefusedError | None = None
        seconds = 0.0
        for index in range(request.num_images):
            if context.should_cancel():  # no cancel in the protocol: stop before the next call
                raise ProviderCanceledError("canceled; huggingface has no cancel, no further image was asked for")
            context.on_progress(10 + 80 * index // request.num_images, "Generating the image")
            started = self.clock()
            try:
                image, request_id = self._one_image(model, self.body_for(model, request, index=index), deadline)
            except ContentRefusedError as exc:
                refused = exc
                continue
            finally:
                seconds += self.clock() - started
            images.append(image)
            request_ids.append(request_id)
        if refused is not None and not images:  # every image refused: still billed for the time
            refused.cost_usd = self.call_cost(model, width=0, height=0, count=0, seconds=seconds)
            raise refused
        return GenerationResult(
            images=images,
            provider=self.name,
            model=model,
            request_id=request_ids[0],
            cost_usd=self.call_cost(model, width=images[0].width, height=images[0].height, count=len(images), seconds=seconds),
            refused_count=request.num_images - len(images),
            licence_note=self.licence_note(model),
            metadata={"route": self.route(model), "request_ids": request_ids, "seconds": round(seconds, 3)},
        )

    def call_cost(self, model: str, *, width: int, height: int, count: int, seconds: float) -> float:
        """hf-inference bills compute time: with "cost_per_gpu_second" the wall time of our calls (an upper
        bound: UNCONFIRMED whether the router reports the billed time), else per image / megapixel."""
        per_second = self.model_options(model).get("cost_per_gpu_second")
        if per_second is not None:
            return round(float(per_second) * seconds, 6)
        return self.cost(model, width=width, height=height, count=count) if count else 0.0

    def _one_image(self, model: str, body: dict[str, Any], deadline: float) -> tuple[ProviderImage, str]:
        """One call; a 503 "loading" answer is waited out `loading_retries` times within the deadline."""
        for attempt in range(self.loading_retries + 1):
            left = deadline - self.clock()
            if left <= 0:
                raise TransientProviderError("huggingface did not answer in time")
            try:
                response = self.send(
                    "POST",
                    self.model_url(model),
                    json=body,
                    headers={"Accept": "image/png"},
                    retry=False,
                    timeout=(self.timeout[0], min(self.timeout[1], left)),
                )
            except TransientProviderError as exc:
                wait = exc.retry_after if exc.status == 503 else None
                if wait is None or attempt == self.loading_retries or self.clock() + min(wait, self.loading_wait_cap) >= deadline:
                    raise
                self.sleep(min(wait, self.loading_wait_cap))
                continue
            return self._image_of(response), response.headers.get(REQUEST_ID_HEADER, "")
        raise AssertionError("unreachable")

    def _image_of(self, response: requests.Response) -> ProviderImage:
        request_id = response.headers.get(REQUEST_ID_HEADER, "")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in OUTPUT_CONTENT_TYPES:
            # A provider's glitch (an HTML error page, a JSON body on a 200): another try may do.
            raise TransientProviderError(f"huggingface answered {content_type or 'no type'!r}, not an image", request_id=request_id)
        if len(response.content) > self.output_policy.max_bytes:
            raise PermanentProviderError("huggingface sent an image over the byte limit", request_id=request_id)
        try:
            width, height = Image.open(io.BytesIO(response.content)).size
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise PermanentProviderError("huggingface sent an image we cannot read", request_id=request_id) from exc
        return ProviderImage(data=response.content, content_type=content_type, width=width, height=height)

    # --- errors --------------------------------------------------------------------------------
    def error_for(self, response: requests.Response, *, request_id: str = "", resumable: bool = False) -> ProviderError:
        """402 (free tier used up) permanent, 429/5xx transient; 503 "loading" carries `estimated_time`
        as its retry_after; a 4xx naming unsafe content is a refusal (UNCONFIRMED wording)."""
        request_id = request_id or response.headers.get(REQUEST_ID_HEADER, "")
        error = super().error_for(response, request_id=request_id, resumable=resumable)
        detail = self.error_detail(response).lower()
        if 400 <= response.status_code < 500 and response.status_code != 429 and any(word in detail for word in REFUSAL_WORDS):
            refused = ContentRefusedError(f"huggingface refused the content: {detail}", request_id=request_id)
            refused.status = response.status_code
            return refused
        if isinstance(error, TransientProviderError) and response.status_code == 503 and error.retry_after is None:
            error.retry_after = self._estimated_time(response)
        return error

    @staticmethod
    def _estimated_time(response: requests.Response) -> float | None:
        try:
            body = response.json()
        except ValueError:
            return None
        value = body.get("estimated_time") if isinstance(body, dict) else None
        return float(value) if isinstance(value, int | float) and value >= 0 else None

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """The protocol has no cancel: a call runs to its end (or our read timeout)."""
        return None
