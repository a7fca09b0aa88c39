"""The Stability AI adapter: v2beta Stable Image generate (core, ultra, sd3), one multipart call per image.

Protocol notes (providers.md §5.2, providers_additions.md C.2): `POST /v2beta/stable-image/generate/
{core|ultra|sd3}` with `Authorization: Bearer sk-...`; the body must be multipart/form-data even
without a file. `Accept: image/*` answers the bytes with a `finish-reason` header, `Accept:
application/json` answers `{"image": base64, "finish_reason", "seed"}`. `CONTENT_FILTERED` (a 200,
the image blurred) and 403 `content_moderation` (the prompt) are refusals. There is no request to
poll, resume or cancel: the answer is the image, so cancel and the deadline abandon the call.
"""

import base64
import binascii
import io
from typing import Any

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
from .blocking import call_watching
from .http import OUTPUT_CONTENT_TYPES, HttpProvider

GENERATE_PATH = "/v2beta/stable-image/generate/"
# The models served under .../generate/sd3, named in its `model` form field (C.2, secondary source).
SD3_MODELS = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium")
FILTERED = "CONTENT_FILTERED"
REFUSAL_NAMES = ("content_moderation",)
# A 429 without Retry-After: Stability then refuses the key for 60 s (§5.2, its rate-limit help page).
RATE_LIMIT_PAUSE = 60.0
# The seed field's largest value (§5.2).
MAX_SEED = 4294967294


class StabilityProvider(HttpProvider):
    """Stability's Stable Image models. Model ids: "core", "ultra", or an sd3 model ("sd3.5-large").

    Each catalogue entry may give "credits" (what one image costs; Stability bills in credits,
    `usd_per_credit` each), "max_side" (the square it makes at aspect_ratio 1:1) and "output_format".
    UNCONFIRMED: the pixel size of each model's 1:1 image (1024 assumed for all; core is said to make
    ~1.5 megapixels), and whether a CONTENT_FILTERED answer costs its credits (assumed: it does).
    """

    name = "stability"
    default_api_url = "https://api.stability.ai"
    default_model = "core"
    default_sizes = ModelSizes(max_side=1024)

    def __init__(self, *, usd_per_credit: float = 0.01, accept: str = "image", **options: Any) -> None:
        """`usd_per_credit`: the price of one credit. `accept`: "image" (the bytes, the default) or
        "json" (base64 in a JSON body) for the answer."""
        super().__init__(**options)
        if accept not in ("image", "json"):
            raise ValueError(f"stability: accept must be 'image' or 'json', not {accept!r}")
        self.usd_per_credit = float(usd_per_credit)
        self.accept = accept

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def model_sizes(self, model: str) -> ModelSizes:
        """One square per model: aspect_ratio 1:1 has no size parameter, so the model's own side."""
        side = int(self.model_options(model or self.default_model).get("max_side", self.default_sizes.max_side))
        return ModelSizes(max_side=side, sides=(side,))

    def cost(self, model: str, *, width: int, height: int, count: int) -> float:
        """Per image: the model's credits at `usd_per_credit` (or a plain "cost_per_image")."""
        options = self.model_options(model)
        if "credits" in options:
            return round(float(options["credits"]) * self.usd_per_credit * count, 6)
        return super().cost(model, width=width, height=height, count=count)

    @staticmethod
    def error_detail(response: requests.Response) -> str:
        """Stability's error body: `{"id", "name", "errors": [str]}`."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200].strip()
        if isinstance(body, dict) and ("errors" in body or "name" in body):
            errors = body.get("errors")
            words = "; ".join(str(item) for item in errors) if isinstance(errors, list) else str(errors or "")
            return f"{body.get('name', '')}: {words}".strip(": ")[:200]
        return HttpProvider.error_detail(response)

    def error_for(self, response: requests.Response, *, request_id: str = "", resumable: bool = False) -> ProviderError:
        """403 `content_moderation` is a refusal of the prompt; the rest as every HTTP provider."""
        request_id = request_id or response.headers.get("x-request-id", "")
        if response.status_code == 403 and any(name in self.error_detail(response) for name in REFUSAL_NAMES):
            detail = self.error_detail(response)
            error: ProviderError = ContentRefusedError(f"stability refused the prompt: {detail}", request_id=request_id)
            error.status = 403
            return error
        error = super().error_for(response, request_id=request_id, resumable=False)
        if isinstance(error, TransientProviderError) and error.status == 429 and error.retry_after is None:
            error.retry_after = RATE_LIMIT_PAUSE
        return error

    # --- the request ---------------------------------------------------------------------------
    def endpoint_for(self, model: str) -> tuple[str, dict[str, str]]:
        """The generate URL for `model`, and the form fields that name it (sd3's `model`)."""
        endpoint = str(self.model_options(model).get("endpoint", ""))
        if not endpoint:
            if model in ("core", "ultra"):
                endpoint = model
            elif model in SD3_MODELS or model.startswith("sd3"):
                endpoint = "sd3"
            else:
                raise PermanentProviderError(f"stability: unknown model {model!r} (core, ultra or an sd3 model)")
        return f"{self.api_url}{GENERATE_PATH}{endpoint}", ({"model": model} if endpoint == "sd3" else {})

    def form_for(self, model: str, request: GenerationRequest, *, index: int) -> dict[str, str]:
        """The form fields of one image: a 1:1 square, our seed (+index for the n-th image)."""
        options = self.model_options(model)
        _, naming = self.endpoint_for(model)
        seed = (request.seed + index) % (MAX_SEED + 1)  # 0 (ours and theirs): a random seed
        return {
            "prompt": request.prompt,
            "aspect_ratio": "1:1",
            "seed": str(seed),
            "output_format": str(options.get("output_format", "png")),
            **naming,
            **{key: str(value) for key, value in options.get("form", {}).items()},
        }

    # --- generate ------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        """One call per image (the API makes one per call); flagged ones are withheld and counted."""
        context = context or CallContext()
        model = request.model or self.default_model
        if context.resume_id or context.lookup_only:
            # Never reached through the pipeline (no id is recorded, can_look_up is False). Not "not found":
            # a call may have been made and billed, and the books must not close it at $0.
            raise PermanentProviderError("stability: one blocking call, which cannot be resumed or looked up")
        if not 1 <= request.num_images <= 4:
            raise PermanentProviderError("stability: 1 to 4 images per request")
        deadline = self.deadline_for(context)
        side = self.native_size(model, request.size)
        images: list[ProviderImage] = []
        request_ids: list[str] = []
        context.on_progress(20, "Generating the image")
        for index in range(request.num_images):
            made_cost = self.cost(model, width=side, height=side, count=index)
            try:
                image, request_id = self._one(model, request, index=index, context=context, deadline=deadline)
            except ProviderError as exc:
                exc.cost_usd += made_cost  # the images made before it are billed all the same
                raise
            request_ids.append(request_id)
            if image is not None:
                images.append(image)
        billed = self.cost(model, width=side, height=side, count=request.num_images)
        if not images:
            raise ContentRefusedError(
                "stability filtered every image (CONTENT_FILTERED)",
                request_id=request_ids[-1],
                cost_usd=billed,
                megapixels=request.num_images * side**2 / 1_000_000,
            )
        return GenerationResult(
            images=images,
            provider=self.name,
            model=model,
            request_id=request_ids[0],
            cost_usd=billed,
            refused_count=request.num_images - len(images),
            licence_note=self.licence_note(model),
            metadata={"request_ids": request_ids, "credits": self.model_options(model).get("credits")},
        )

    def _one(
        self, model: str, request: GenerationRequest, *, index: int, context: CallContext, deadline: float
    ) -> tuple[ProviderImage | None, str]:
        """One image, or None when it came back CONTENT_FILTERED; with the answer's request id."""
        url, _ = self.endpoint_for(model)
        fields = self.form_for(model, request, index=index)
        accept = "application/json" if self.accept == "json" else "image/*"
        read_timeout = max(1.0, deadline - self.clock()) + 5.0

        def post() -> requests.Response:
            # files={"none": ""}: the vendor's own way to force multipart/form-data without a file.
            return self.session.post(
                url,
                data=fields,
                files={"none": ""},
                headers={**self.auth_headers(), "Accept": accept},
                timeout=(self.timeout[0], read_timeout),
            )

        side = self.native_size(model, request.size)
        price = self.cost(model, width=side, height=side, count=1)
        try:
            response = call_watching(post, watch=lambda: self._stop_if_asked(context, deadline, price=price), interval=self.poll_interval)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientProviderError(f"stability unreachable: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise self.error_for(response)
        return self._image_of(response)

    def _stop_if_asked(self, context: CallContext, deadline: float, *, price: float) -> None:
        """No cancel in the protocol: the call is abandoned. UNCONFIRMED whether Stability bills an
        image whose caller hung up: the ledger assumes it does (`price`), so spend is never understated."""
        if context.should_cancel():
            raise ProviderCanceledError("canceled; stability has no cancel, the call was abandoned", cost_usd=price)
        if self.clock() >= deadline:
            raise TransientProviderError("stability did not answer in time; the call was abandoned", cost_usd=price)

    # --- the answer ----------------------------------------------------------------------------
    def _image_of(self, response: requests.Response) -> tuple[ProviderImage | None, str]:
        request_id = response.headers.get("x-request-id", "")
        content_type = response.headers.get("Content-Type", "").lower()
        if content_type.startswith("application/json"):
            body = self.json_of(response, request_id=request_id)
            finish, payload = str(body.get("finish_reason", "")), body.get("image")
            # "application/json; type=image/png" names the image's type.
            image_type = content_type.partition("type=")[2].split(";")[0].strip() or "image/png"
            try:
                data = base64.b64decode(payload if isinstance(payload, str) else "", validate=True)
            except (binascii.Error, ValueError) as exc:
                raise TransientProviderError("stability sent an unreadable base64 image", request_id=request_id) from exc
        else:
            finish, data, image_type = response.headers.get("finish-reason", ""), response.content, content_type.split(";")[0]
        if finish == FILTERED:
            return None, request_id
        if finish != "SUCCESS":
            raise TransientProviderError(f"stability finished with {finish or 'no finish reason'}", request_id=request_id)
        return self._checked_image(data, image_type, request_id=request_id), request_id

    def _checked_image(self, data: bytes, content_type: str, *, request_id: str) -> ProviderImage:
        if content_type not in OUTPUT_CONTENT_TYPES:
            raise PermanentProviderError(f"stability sent an image of type {content_type or 'none'!r}", request_id=request_id)
        if not data or len(data) > self.output_policy.max_bytes:
            raise PermanentProviderError("stability sent an empty image or one over the byte limit", request_id=request_id)
        try:
            width, height = Image.open(io.BytesIO(data)).size  # header only; the pipeline verifies fully
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise PermanentProviderError("stability sent an image we cannot read", request_id=request_id) from exc
        return ProviderImage(data=data, content_type=content_type, width=width, height=height)

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Stability's generate API has no cancel (nor any request to cancel once it answered)."""
        return None
