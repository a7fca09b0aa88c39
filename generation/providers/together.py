"""The Together adapter: FLUX models through `POST /v1/images/generations` with `response_format: "base64"`.

Same shape as OpenAI's images API (one synchronous call, the images in `data[i].b64_json`), so it
builds on openai.py: no request to poll, resume or cancel (Together's API has no cancel either).
"""

from typing import Any

import requests

from .base import GenerationRequest, ModelSizes, PermanentProviderError
from .http import BILLED_MEGAPIXEL
from .openai import OpenAIImagesProvider

# Steps per model when the catalogue's "input" says nothing (FLUX schnell is distilled for 1-4).
MODEL_INPUT_DEFAULTS: dict[str, dict[str, Any]] = {
    "black-forest-labs/FLUX.1-schnell": {"steps": 4},
    "black-forest-labs/FLUX.1-schnell-Free": {"steps": 4},
    "black-forest-labs/FLUX.1-dev": {"steps": 28},
}
# How Together says it refused the content is not documented anywhere we could read (UNCONFIRMED):
# an error (any 4xx) whose code or message names NSFW or the safety filter counts as a refusal.
REFUSAL_MARKERS = ("nsfw", "safety", "content policy", "moderation")


class TogetherProvider(OpenAIImagesProvider):
    """`api_url` includes the version (https://api.together.xyz/v1, as the official client's base).

    Costs per megapixel (`cost_per_megapixel`) of what was made, as Together prices FLUX; whether
    it rounds up to whole megapixels like fal is UNCONFIRMED: charged on the exact area here."""

    name = "together"
    default_api_url = "https://api.together.xyz/v1"
    default_model = "black-forest-labs/FLUX.1-schnell"
    # width/height in 16 px blocks (FLUX's). UNCONFIRMED: Together's largest side (its client's
    # default is 1024): the catalogue's "max_side" may raise it.
    default_sizes = ModelSizes(max_side=1024, step=16)

    def model_sizes(self, model: str) -> ModelSizes:
        """Any multiple of "side_step" up to "max_side" (HttpProvider's reading of the catalogue)."""
        options = self.model_options(model or self.default_model)
        return ModelSizes(
            max_side=int(options.get("max_side", self.default_sizes.max_side)), step=int(options.get("side_step", self.default_sizes.step))
        )

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def is_refusal(self, response: requests.Response) -> bool:
        fields = self.error_fields(response)
        words = f"{fields.get('code') or ''} {fields.get('type') or ''} {fields.get('message') or ''}".lower()
        return any(marker in words for marker in REFUSAL_MARKERS)

    def body_for(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        """width and height of `native_size`, the seed, base64 in the answer (the literal is "base64",
        providers_additions C.4: huggingface_hub's Together helper sends it and reads b64_json)."""
        if not 1 <= request.num_images <= 4:  # UNCONFIRMED: Together's limit; FLUX endpoints elsewhere take 1-4
            raise PermanentProviderError(f"together: {request.num_images} images in one call is more than it makes")
        side = self.native_size(model, request.size)
        body = {
            "model": model,
            "prompt": request.prompt,
            "width": side,
            "height": side,
            "n": request.num_images,
            "seed": request.seed,
            "response_format": "base64",
            **MODEL_INPUT_DEFAULTS.get(model, {}),
        }
        return {**body, **self.model_options(model).get("input", {})}

    def request_id_of(self, response: requests.Response, body: dict[str, Any]) -> str:
        """The answer's `id`; an error answer has none, so the request id header when one comes
        (UNCONFIRMED: its name; `x-request-id` is the common one)."""
        return str(body.get("id") or response.headers.get("x-request-id", ""))

    def call_cost(self, model: str, *, side: int, count: int, answer: dict[str, Any]) -> float:
        options = self.model_options(model)
        if "cost_per_megapixel" in options:
            return round(float(options["cost_per_megapixel"]) * side * side / BILLED_MEGAPIXEL * count, 6)
        return self.cost(model, width=side, height=side, count=count)

    @staticmethod
    def metadata_of(answer: dict[str, Any]) -> dict[str, Any]:
        return {"served_model": answer["model"]} if isinstance(answer.get("model"), str) else {}
