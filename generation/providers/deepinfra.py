"""The DeepInfra adapter: text-to-image through the native inference API (base64 images, billed cost in the answer).

Protocol (notes §5.5/C.5): `POST {api}/v1/inference/{model}` with `Authorization: bearer <token>` and JSON
`{"prompt", "num_images", "width", "height", "seed", …}`; the answer carries `request_id`,
`inference_status: {"status", "runtime_ms", "cost"}` and `images: ["data:image/png;base64,…"]`. The
native endpoint is used rather than the OpenAI-compatible one because it reports what the call cost.
The call is synchronous: no request id before the answer and no cancel endpoint.
"""

from typing import Any
from urllib.parse import quote

import requests

from .base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    GenerationResult,
    ModelSizes,
    PermanentProviderError,
    ProviderCanceledError,
    ProviderError,
    TransientProviderError,
)
from .http import BILLED_MEGAPIXEL, HttpProvider

# UNCONFIRMED: the per-image safety flags (per model; diffusers-style name). A flagged image is withheld.
NSFW_FIELD = "nsfw_content_detected"
# UNCONFIRMED: the words of an error that refuses the prompt (none is documented).
REFUSAL_WORDS = ("nsfw", "unsafe", "safety", "content policy", "inappropriate")
MAX_IMAGES = 4


class DeepInfraProvider(HttpProvider):
    """Text-to-image on DeepInfra. `api_url` is the base (https://api.deepinfra.com); paths include /v1."""

    name = "deepinfra"
    default_api_url = "https://api.deepinfra.com"
    default_model = "black-forest-labs/FLUX-1-schnell"
    # Images come back inline (data URIs): no output host is ever fetched from.
    default_output_hosts = ()
    default_sizes = ModelSizes(max_side=1024, step=16)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"bearer {self.api_key}"}  # the scheme as DeepInfra's docs write it

    def model_url(self, model: str) -> str:
        return f"{self.api_url}/v1/inference/{quote(model, safe='/')}"

    def body_for(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        side = self.native_size(model, request.size)
        return {
            "prompt": request.prompt,
            "num_images": request.num_images,
            "width": side,
            "height": side,
            "seed": request.seed,
            **self.model_options(model).get("input", {}),
        }

    # --- generate ------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        model = request.model or self.default_model
        if not 1 <= request.num_images <= MAX_IMAGES:
            raise PermanentProviderError(f"deepinfra: 1 to {MAX_IMAGES} images per request")
        if context.resume_id or context.lookup_only:  # no id is ever reported: nothing to resume or look up
            raise PermanentProviderError("deepinfra: a synchronous call cannot be resumed or looked up")
        if context.should_cancel():  # no cancel in the protocol: only before the call
            raise ProviderCanceledError("canceled before deepinfra was called")
        deadline = self.deadline_for(context)
        left = deadline - self.clock()
        if left <= 0:
            raise TransientProviderError("deepinfra: no time left for the call")
        context.on_progress(10, "Generating the image")
        response = self.send(
            "POST",
            self.model_url(model),
            json=self.body_for(model, request),
            retry=False,  # a create is billable: the pipeline decides about another try
            timeout=(self.timeout[0], min(self.timeout[1], left)),
        )
        return self._result(self.json_of(response), model, request)

    def _result(self, body: dict, model: str, request: GenerationRequest) -> GenerationResult:
        request_id = str(body.get("request_id") or "")
        status = body.get("inference_status") if isinstance(body.get("inference_status"), dict) else {}
        if status.get("status") not in (None, "succeeded"):
            raise TransientProviderError(f"deepinfra: inference {status.get('status')}", request_id=request_id)
        images = body.get("images")
        if not isinstance(images, list) or not all(isinstance(image, str) for image in images):
            raise TransientProviderError("deepinfra sent no list of images", request_id=request_id)
        flags = body.get(NSFW_FIELD) if isinstance(body.get(NSFW_FIELD), list) else []
        kept = [image for index, image in enumerate(images) if not (index < len(flags) and flags[index] is True)]
        side = self.native_size(model, request.size)
        billed = self.billed_cost(model, status, width=side, height=side, count=len(images))
        if not kept:
            raise ContentRefusedError("deepinfra withheld every image as unsafe", request_id=request_id, cost_usd=billed)
        decoded = self.download_outputs([self._data_uri(image) for image in kept], request_id=request_id, cost_usd=billed)
        return GenerationResult(
            images=decoded,
            provider=self.name,
            model=model,
            request_id=request_id,
            cost_usd=billed,
            refused_count=max(0, request.num_images - len(decoded)),
            licence_note=self.licence_note(model),
            metadata={"runtime_ms": status.get("runtime_ms"), "reported_cost": status.get("cost")},
        )

    @staticmethod
    def _data_uri(image: str) -> str:
        """vercel-ai strips a `data:` prefix; a bare base64 payload (UNCONFIRMED, per model) is taken as PNG."""
        return image if image.startswith("data:") else f"data:image/png;base64,{image}"

    def billed_cost(self, model: str, status: dict, *, width: int, height: int, count: int) -> float:
        """What DeepInfra reports it billed (`inference_status.cost`), else the catalogue price: per
        image, or per megapixel scaled linearly ($ x w/1024 x h/1024, as its model pages quote)."""
        reported = status.get("cost")
        if isinstance(reported, int | float) and not isinstance(reported, bool) and reported >= 0:
            return round(float(reported), 6)
        options = self.model_options(model)
        if "cost_per_megapixel" in options:
            megapixels = width * height / BILLED_MEGAPIXEL
            return round(float(options["cost_per_megapixel"]) * megapixels * count, 6)
        return self.cost(model, width=width, height=height, count=count)

    # --- errors --------------------------------------------------------------------------------
    @staticmethod
    def error_detail(response: requests.Response) -> str:
        """The native error body is `{"detail": {"error": "<message>"}}`."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200].strip()
        detail = body.get("detail") if isinstance(body, dict) else body
        if isinstance(detail, dict):
            detail = detail.get("error") or detail
        return str(detail)[:200]

    def error_for(self, response: requests.Response, *, request_id: str = "", resumable: bool = False) -> ProviderError:
        error = super().error_for(response, request_id=request_id, resumable=resumable)
        detail = self.error_detail(response).lower()
        if 400 <= response.status_code < 500 and response.status_code != 429 and any(word in detail for word in REFUSAL_WORDS):
            refused = ContentRefusedError(f"deepinfra refused the content: {detail}", request_id=request_id)
            refused.status = response.status_code
            return refused
        return error

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """The inference API has no cancel: a call runs to its end (or our read timeout)."""
        return None
