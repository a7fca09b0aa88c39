"""The OpenAI images adapter: one synchronous `POST /v1/images/generations` whose answer carries the images (`b64_json`).

The protocol has no request to poll, resume, list or cancel: the answer to the create is the result.
So the adapter never reports a request id before it is done (`on_submitted` is not called), cannot
look a request up, and on a user cancel or the deadline it stops waiting on the answer (OpenAI has no
cancel endpoint: the provider may finish, and bill, the images anyway). Together speaks the same
shape of API and its adapter (together.py) builds on this one.
"""

import base64
import binascii
import io
from typing import Any

import requests
from PIL import Image, UnidentifiedImageError

from avatarsite.core.retries import retry_after_seconds

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
from .http import HttpProvider

# The error codes of a request the safety system refused (HTTP 400). gpt-image answers
# `moderation_blocked` (type `image_generation_user_error`: seen through an Azure proxy, a secondary
# source); dall-e `content_policy_violation` (commonly reported). Neither is in OpenAI's own client:
# UNCONFIRMED, so both count, and so does the message's wording when no code comes.
REFUSAL_CODES = ("moderation_blocked", "content_policy_violation")
REFUSAL_WORDS = ("safety system", "content policy", "moderation")
# Square sizes each model family accepts ("1024x1024" ...); the gpt-image and dall-e-3 families make
# only 1024 px squares (their other sizes are oblong).
SQUARE_SIDES = {"dall-e-2": (256, 512, 1024)}
DEFAULT_SIDES = (1024,)
# Longest prompt per family (characters).
PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000}
GPT_IMAGE_PROMPT_LIMIT = 32000
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class OpenAIImagesProvider(HttpProvider):
    """`api_url` includes the version (https://api.openai.com/v1, as the official client's base).

    Costs: per image (`cost_per_image`, or `cost_per_image_by_side` for dall-e-2, which bills by
    size), or for gpt-image by the tokens its answer reports (`usage`) at `cost_per_million_input_tokens`
    and `cost_per_million_output_tokens`, as OpenAI bills them."""

    name = "openai"
    default_api_url = "https://api.openai.com/v1"
    default_model = "gpt-image-1-mini"
    generations_path = "/images/generations"

    def __init__(self, *, organization: str = "", project: str = "", **options: Any) -> None:
        """`organization`, `project`: sent as OpenAI-Organization / OpenAI-Project when set."""
        super().__init__(**options)
        self.organization, self.project = organization, project

    def auth_headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers

    def model_sizes(self, model: str) -> ModelSizes:
        """The square sizes of the model's family (or the catalogue's "sides") up to its "max_side"."""
        model = model or self.default_model
        options = self.model_options(model)
        sides = sorted(int(side) for side in options.get("sides") or SQUARE_SIDES.get(model, DEFAULT_SIDES))
        limit = int(options.get("max_side", sides[-1]))
        allowed = tuple(side for side in sides if side <= limit)
        if not allowed:
            raise ValueError(f"{self.name}: max_side {limit} is below {model}'s smallest square ({sides[0]})")
        return ModelSizes(max_side=allowed[-1], sides=allowed)

    # --- errors --------------------------------------------------------------------------------
    @staticmethod
    def error_fields(response: requests.Response) -> dict[str, Any]:
        """The answer's error object ({"error": {"message", "type", "param", "code"}}), or {}."""
        try:
            body = response.json()
        except ValueError:
            return {}
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            return error
        return body if isinstance(body, dict) and "message" in body else {}

    def error_detail(self, response: requests.Response) -> str:
        fields = self.error_fields(response)
        if not fields:
            return super().error_detail(response)
        code = fields.get("code") or fields.get("type") or ""
        return (f"{code}: " if code else "") + str(fields.get("message") or "")[:200]

    def is_refusal(self, response: requests.Response) -> bool:
        """Whether a 4xx answer is the provider refusing the content."""
        fields = self.error_fields(response)
        if str(fields.get("code") or "") in REFUSAL_CODES:
            return True
        message = str(fields.get("message") or "").lower()
        return response.status_code == 400 and any(words in message for words in REFUSAL_WORDS)

    def error_for(self, response: requests.Response, *, request_id: str = "", resumable: bool = False) -> ProviderError:
        """As HttpProvider's, plus: the refusal codes, `retry-after-ms` (OpenAI's, finer than
        Retry-After), `x-should-retry` (the server's own word on retrying), the request id header."""
        request_id = request_id or self.request_id_of(response, {})
        if 400 <= response.status_code < 500 and self.is_refusal(response):
            error: ProviderError = ContentRefusedError(
                f"{self.name} refused the prompt: {self.error_detail(response)}", request_id=request_id
            )
            error.status = response.status_code
            return error
        error = super().error_for(response, request_id=request_id, resumable=resumable)
        should_retry = response.headers.get("x-should-retry", "").strip().lower()
        if should_retry == "false" and isinstance(error, TransientProviderError) and response.status_code != 429:
            error = PermanentProviderError(str(error), request_id=request_id)
        elif should_retry == "true" and not isinstance(error, TransientProviderError):
            error = TransientProviderError(str(error), retry_after=retry_after_seconds(response), request_id=request_id)
        if isinstance(error, TransientProviderError):
            error.retry_after = self.retry_after(response)
        error.status = response.status_code
        return error

    @staticmethod
    def retry_after(response: requests.Response) -> float | None:
        milliseconds = response.headers.get("retry-after-ms", "").strip()
        try:
            return max(0.0, float(milliseconds) / 1000) if milliseconds else retry_after_seconds(response)
        except ValueError:
            return retry_after_seconds(response)

    # --- the request ---------------------------------------------------------------------------
    def body_for(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        """The request body: a square of `native_size`, base64 in the answer. No seed: OpenAI takes none."""
        side = self.native_size(model, request.size)
        dall_e = model.startswith("dall-e")
        limit = PROMPT_LIMITS.get(model, 4000 if dall_e else GPT_IMAGE_PROMPT_LIMIT)
        if len(request.prompt) > limit:
            raise PermanentProviderError(f"openai: {model} takes prompts of at most {limit} characters")
        if not 1 <= request.num_images <= (1 if model == "dall-e-3" else 10):
            raise PermanentProviderError(f"openai: {model} cannot make {request.num_images} images in one call")
        body: dict[str, Any] = {"model": model, "prompt": request.prompt, "n": request.num_images, "size": f"{side}x{side}"}
        if dall_e:
            body["response_format"] = "b64_json"  # dall-e answers URLs by default; gpt-image only base64
        return {**body, **self.model_options(model).get("input", {})}

    def request_id_of(self, response: requests.Response, body: dict[str, Any]) -> str:
        return response.headers.get("x-request-id", "")

    # --- generate ------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        model = request.model or self.default_model
        if context.resume_id or context.lookup_only:
            # Never happens through the pipeline (no id is reported, can_look_up is False); a
            # synchronous request cannot be asked about afterwards.
            raise PermanentProviderError(f"{self.name}: a request cannot be resumed or looked up (the protocol is synchronous)")
        body = self.body_for(model, request)
        deadline = self.deadline_for(context)
        context.on_progress(20, f"Generating at {self.name}")
        response = self.call_until_answered(body, context, model=model, deadline=deadline)
        try:
            answer = self.json_of(response)
        except TransientProviderError as exc:
            exc.request_id = self.request_id_of(response, {})
            raise
        request_id = self.request_id_of(response, answer)
        images = self.images_of(answer, request_id=request_id)
        side = self.native_size(model, request.size)
        return GenerationResult(
            images=images,
            provider=self.name,
            model=model,  # the catalogue's id (the ledger and the licence are keyed by it), whatever alias comes back
            request_id=request_id,
            cost_usd=self.call_cost(model, side=side, count=len(images), answer=answer),
            licence_note=self.licence_note(model),
            metadata=self.metadata_of(answer),
        )

    def call_until_answered(self, body: dict[str, Any], context: CallContext, *, model: str, deadline: float) -> requests.Response:
        """The create, sent once (never retried here: it is billable), answered on a helper thread
        while this one watches for a cancel and the deadline every `poll_interval`. On either it
        stops waiting; the helper's read times out by the deadline, so it does not linger."""
        read_timeout = max(0.5, min(self.timeout[1], deadline - self.clock()) + 1.0)

        def call() -> requests.Response:
            return self.send("POST", self.api_url + self.generations_path, json=body, retry=False, timeout=(self.timeout[0], read_timeout))

        def stop_if_asked() -> None:
            if context.should_cancel():
                raise ProviderCanceledError(f"canceled; {self.name} has no cancel, the answer is no longer awaited")
            if self.clock() >= deadline:
                raise TransientProviderError(f"{self.name} did not answer in time; the answer is no longer awaited")

        return call_watching(call, watch=stop_if_asked, interval=lambda: max(0.001, min(self.poll_interval, deadline - self.clock())))

    # --- the answer ----------------------------------------------------------------------------
    def images_of(self, answer: dict[str, Any], *, request_id: str) -> list[ProviderImage]:
        data = answer.get("data")
        if (
            not isinstance(data, list)
            or not data
            or not all(isinstance(item, dict) and isinstance(item.get("b64_json"), str) for item in data)
        ):
            raise TransientProviderError(f"{self.name} sent an answer without base64 images", request_id=request_id)
        return [self.decoded(item["b64_json"], request_id=request_id) for item in data]

    def decoded(self, payload: str, *, request_id: str) -> ProviderImage:
        """One base64 image, bounded in bytes, of a type we store, with its real dimensions."""
        if len(payload) * 3 // 4 > self.output_policy.max_bytes:
            raise PermanentProviderError(f"{self.name} sent an image over the byte limit", request_id=request_id)
        try:
            data = base64.b64decode(payload, validate=True)
            image = Image.open(io.BytesIO(data))  # header only; the pipeline verifies fully
        except (binascii.Error, ValueError, UnidentifiedImageError, OSError) as exc:
            raise PermanentProviderError(f"{self.name} sent an image we cannot read", request_id=request_id) from exc
        content_type = FORMATS.get(str(image.format))
        if content_type is None:
            raise PermanentProviderError(f"{self.name} sent an image of type {image.format}", request_id=request_id)
        return ProviderImage(data=data, content_type=content_type, width=image.width, height=image.height)

    def call_cost(self, model: str, *, side: int, count: int, answer: dict[str, Any]) -> float:
        """What the call bills: by tokens when the model is priced so and the answer reports them,
        else per image (by size where the catalogue says), else the base per-image/megapixel price."""
        options = self.model_options(model)
        usage = answer.get("usage")
        if "cost_per_million_output_tokens" in options and isinstance(usage, dict) and isinstance(usage.get("output_tokens"), int):
            input_tokens = usage.get("input_tokens") if isinstance(usage.get("input_tokens"), int) else 0
            per_input = float(options.get("cost_per_million_input_tokens", 0))
            return round((input_tokens * per_input + usage["output_tokens"] * float(options["cost_per_million_output_tokens"])) / 1e6, 6)
        by_side = options.get("cost_per_image_by_side") or {}
        if str(side) in by_side:
            return round(float(by_side[str(side)]) * count, 6)
        return self.cost(model, width=side, height=side, count=count)

    @staticmethod
    def metadata_of(answer: dict[str, Any]) -> dict[str, Any]:
        revised = [item.get("revised_prompt") for item in answer.get("data", []) if isinstance(item, dict) and item.get("revised_prompt")]
        metadata = {"usage": answer.get("usage"), "revised_prompt": revised[0] if revised else None, "quality": answer.get("quality")}
        return {key: value for key, value in metadata.items() if value is not None}

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """OpenAI's images API has no cancel: nothing to ask (the reconciler's call is a no-op)."""
        return None
