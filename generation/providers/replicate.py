"""The Replicate adapter: predictions API (create with `Prefer: wait`, poll, cancel, list), flux models."""

import contextlib
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import requests

from .base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    GenerationResult,
    ModelSizes,
    PermanentProviderError,
    ProviderError,
    RequestNotFoundError,
    TransientProviderError,
)
from .http import HttpProvider

TERMINAL = ("succeeded", "failed", "canceled")
# The input fields that identify our request when looking for a prediction an earlier run created.
MATCHED_INPUT = ("prompt", "seed", "num_outputs", "aspect_ratio", "megapixels")
# Replicate's largest `Prefer: wait` (seconds).
MAX_PREFER_WAIT = 60
# cog-flux's message when its safety checker flagged every image.
NSFW_MARKER = "nsfw content"
# Words of an infrastructure failure (not the model failing on this input): worth a new try.
INTERRUPTED_MARKERS = ("interrupted", "please retry")
PROGRESS_LINE = re.compile(r"(\d{1,3})%\s*\|")
# flux's `megapixels` enum by the square side it makes at aspect_ratio 1:1 (cog-flux ASPECT_RATIOS:
# "1" = 1024 x 1024, "0.25" halves both sides): a flux model on Replicate makes no other square.
MEGAPIXELS_BY_SIDE = {512: "0.25", 1024: "1"}
MODEL_INPUT_DEFAULTS: dict[str, dict[str, Any]] = {
    "black-forest-labs/flux-schnell": {"num_inference_steps": 4, "go_fast": True},
    "black-forest-labs/flux-dev": {"guidance": 3},
}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ReplicateProvider(HttpProvider):
    """Runs official models through `POST /v1/models/{owner}/{name}/predictions`.

    `api_url` is the legacy base form (https://api.replicate.com; paths include /v1). A create is
    never retried blindly: when its answer is lost, the adapter lists recent predictions and adopts
    the one it made, so a job never pays twice for the same images.
    """

    name = "replicate"
    default_api_url = "https://api.replicate.com"
    default_model = "black-forest-labs/flux-schnell"
    default_output_hosts = ("replicate.delivery", ".replicate.delivery")
    can_look_up = True  # GET /v1/predictions lists what we created

    def __init__(
        self,
        *,
        prefer_wait: int = MAX_PREFER_WAIT,
        lookup_pages: int = 5,
        lookup_margin: float = 10.0,
        **options: Any,
    ) -> None:
        """`prefer_wait`: seconds the create call asks Replicate to hold the answer (0 = no
        `Prefer` header, poll from the start). `lookup_pages`: how many pages of the prediction
        list a look-up reads. `lookup_margin`: seconds subtracted from `created_after` (clock skew)."""
        super().__init__(**options)
        if self.api_url.endswith("/v1"):  # tolerate the new client's base form
            self.api_url = self.api_url[: -len("/v1")]
        self.prefer_wait = max(0, min(MAX_PREFER_WAIT, int(prefer_wait)))
        self.lookup_pages = max(1, lookup_pages)
        self.lookup_margin = lookup_margin

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def model_sizes(self, model: str) -> ModelSizes:
        """The sides of the megapixels enum up to the catalogue's "max_side" (default 1024): 512 and 1024."""
        limit = int(self.model_options(model or self.default_model).get("max_side", max(MEGAPIXELS_BY_SIDE)))
        sides = tuple(side for side in sorted(MEGAPIXELS_BY_SIDE) if side <= limit)
        if not sides:
            raise ValueError(f"replicate: max_side {limit} is below flux's smallest square ({min(MEGAPIXELS_BY_SIDE)})")
        return ModelSizes(max_side=sides[-1], sides=sides)

    def error_for(self, response: requests.Response, *, request_id: str = "", resumable: bool = False) -> ProviderError:
        error = super().error_for(response, request_id=request_id, resumable=resumable)
        if isinstance(error, TransientProviderError) and error.retry_after is None and response.status_code == 429:
            # "Request was throttled. Your rate limit resets in ~30s." when no Retry-After came.
            match = re.search(r"~\s*(\d+)\s*s", self.error_detail(response))
            error.retry_after = float(match.group(1)) if match else None
        return error

    # --- the request ---------------------------------------------------------------------------
    def input_for(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        """The model input for this request (flux-schnell / flux-dev schema, cog-flux): a square of
        `native_size` (512 for up to 512 px, else 1024: beyond that the pipeline upscales)."""
        options = self.model_options(model)
        return {
            "prompt": request.prompt,
            "seed": request.seed,
            "num_outputs": request.num_images,
            "aspect_ratio": "1:1",
            "output_format": str(options.get("output_format", "webp")),
            "megapixels": MEGAPIXELS_BY_SIDE[self.native_size(model, request.size)],
            "disable_safety_checker": False,
            **MODEL_INPUT_DEFAULTS.get(model, {}),
            **options.get("input", {}),
        }

    def _model_path(self, model: str) -> str:
        owner, _, name = model.partition("/")
        if not owner or not name or "/" in name:
            raise PermanentProviderError(f"replicate: '{model}' is not an owner/name model id")
        return f"{quote(owner, safe='')}/{quote(name, safe='')}"

    def _prediction_url(self, prediction_id: str) -> str:
        return f"{self.api_url}/v1/predictions/{quote(prediction_id, safe='')}"

    # --- generate ------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        model = request.model or self.default_model
        model_path = self._model_path(model)
        if not 1 <= request.num_images <= 4:
            raise PermanentProviderError("replicate: flux makes 1 to 4 images per prediction")
        deadline = self.deadline_for(context)
        model_input = self.input_for(model, request)
        if context.resume_id:
            prediction_id = context.resume_id
            prediction = self._get(self._prediction_url(prediction_id), prediction_id)
        else:
            # An earlier run may have created it and died before learning the id: adopt, not create.
            found = self._find(model, model_input, since=context.lookup_since) if context.lookup_since is not None else None
            if found is None and context.lookup_only:
                raise RequestNotFoundError("replicate: no prediction of ours for this request was found; it was never created")
            prediction, adopted = (found, True) if found is not None else self._create(model, model_path, model_input, deadline)
            prediction_id = str(prediction["id"])
            context.on_submitted(prediction_id)
            if adopted:  # list items may be abridged: fetch the whole prediction
                prediction = self._get(self._prediction_url(prediction_id), prediction_id)
        prediction = self._until_terminal(prediction, prediction_id, model, context, deadline)
        return self._result(prediction, prediction_id, model, request, context)

    def _create(self, model: str, model_path: str, model_input: dict[str, Any], deadline: float) -> tuple[dict, bool]:
        """The created prediction, or (after an ambiguous failure) the listed one it turned out to be."""
        headers: dict[str, str] = {}
        read_timeout = self.timeout[1]
        if self.prefer_wait:
            wait = max(1, min(self.prefer_wait, int(deadline - self.clock())))
            headers["Prefer"] = f"wait={wait}"
            read_timeout = wait + 5.0
        url = f"{self.api_url}/v1/models/{model_path}/predictions"
        before = time.time()
        try:
            response = self.send(
                "POST", url, json={"input": model_input}, headers=headers, retry=False, timeout=(self.timeout[0], read_timeout)
            )
            prediction = self.json_of(response)
            if not isinstance(prediction.get("id"), str) or not prediction["id"]:
                raise TransientProviderError("replicate answered the create without a prediction id")
            return prediction, False
        except TransientProviderError as exc:
            # Throttled, or never connected: certainly nothing was created.
            if exc.status == 429 or isinstance(exc.__cause__, requests.ConnectTimeout):
                raise
            # The create may have gone through with its answer lost (5xx, reset, read timeout,
            # malformed body): find it rather than create a second, billable, prediction.
            for attempt in range(2):
                if attempt:
                    self.sleep(self.poll_interval)  # the list may lag the create a little
                try:
                    found = self._find(model, model_input, since=before)
                except ProviderError as lookup_error:
                    raise TransientProviderError(f"{exc}; looking for the prediction failed too: {lookup_error}") from exc
                if found is not None:
                    return found, True
            raise TransientProviderError(f"{exc}; no prediction was found for it", retry_after=exc.retry_after) from exc

    def _find(self, model: str, model_input: dict[str, Any], *, since: float) -> dict | None:
        """The newest live prediction of this model with our input created after `since`, if any."""
        own_host = urlsplit(self.api_url).netloc
        url = f"{self.api_url}/v1/predictions?{urlencode({'created_after': _iso(since - self.lookup_margin)})}"
        for _ in range(self.lookup_pages):
            page = self.json_of(self.send("GET", url))
            for item in page.get("results") or []:
                if isinstance(item, dict) and self._same_request(item, model, model_input):
                    return item
            next_url = page.get("next")
            if not isinstance(next_url, str) or not next_url:
                return None
            url = urljoin(url, next_url)
            if urlsplit(url).netloc != own_host:  # the cursor carries our token: never to another host
                return None
        return None

    @staticmethod
    def _same_request(item: dict, model: str, model_input: dict[str, Any]) -> bool:
        if item.get("model") != model or item.get("status") in ("failed", "canceled") or not item.get("id"):
            return False
        their_input = item.get("input")
        if not isinstance(their_input, dict):
            return False
        # str(): tolerate a server that echoes "1" as 1 or the seed as a string.
        return all(str(their_input.get(key)) == str(model_input.get(key)) for key in MATCHED_INPUT)

    # --- polling -------------------------------------------------------------------------------
    def _get(self, url: str, prediction_id: str) -> dict:
        prediction = self.json_of(self.send("GET", url, request_id=prediction_id), request_id=prediction_id)
        if not isinstance(prediction.get("status"), str):
            raise TransientProviderError("replicate sent a prediction without a status", request_id=prediction_id, resumable=True)
        return prediction

    def _poll_url(self, prediction: dict, prediction_id: str) -> str:
        urls = prediction.get("urls")
        url = urls.get("get") if isinstance(urls, dict) else None
        if not isinstance(url, str) or not url:
            return self._prediction_url(prediction_id)
        try:
            return self.ensure_own_host(url)
        except PermanentProviderError as exc:
            self.cancel(prediction_id)  # nobody will collect its output
            raise PermanentProviderError(str(exc), request_id=prediction_id) from exc

    def _until_terminal(self, prediction: dict, prediction_id: str, model: str, context: CallContext, deadline: float) -> dict:
        """Poll `urls.get` until succeeded, failed or canceled. Unlike the official client, keep
        polling on `processing` too: `Prefer: wait` may hand back a prediction still running."""
        reported: tuple[int, str] | None = None
        poll_url = ""
        while prediction.get("status") not in TERMINAL:
            progress = self._progress(prediction)
            if progress is not None and progress != reported:
                reported = progress
                context.on_progress(*progress)
            poll_url = poll_url or self._poll_url(prediction, prediction_id)
            self.wait_for_next_poll(context, request_id=prediction_id, model=model, deadline=deadline)
            prediction = self._get(poll_url, prediction_id)
        return prediction

    @staticmethod
    def _progress(prediction: dict) -> tuple[int, str] | None:
        status = prediction.get("status")
        if status == "starting":
            return 10, "Starting the model"
        if status != "processing":
            return None
        logs = prediction.get("logs")
        matches = PROGRESS_LINE.findall(logs) if isinstance(logs, str) else []
        percent = min(100, int(matches[-1])) if matches else 0
        return 20 + percent * 70 // 100, "Generating the image"

    # --- the outcome ---------------------------------------------------------------------------
    def _result(
        self, prediction: dict, prediction_id: str, model: str, request: GenerationRequest, context: CallContext
    ) -> GenerationResult:
        status, error = prediction.get("status"), str(prediction.get("error") or "")
        if status == "failed":
            if NSFW_MARKER in error.lower():
                raise ContentRefusedError(f"replicate refused the images: {error}", request_id=prediction_id)
            if any(marker in error.lower() for marker in INTERRUPTED_MARKERS):
                raise TransientProviderError(f"replicate: the prediction was interrupted: {error}", request_id=prediction_id)
            raise PermanentProviderError(f"replicate: the model failed: {error or 'no reason given'}", request_id=prediction_id)
        if status == "canceled":
            raise TransientProviderError("replicate canceled the prediction", request_id=prediction_id)
        output = prediction.get("output")
        if isinstance(output, str):  # single-file models answer a bare URL
            output = [output]
        if output is None:
            raise TransientProviderError("replicate no longer holds the outputs (data removed)", request_id=prediction_id)
        if not isinstance(output, list) or not all(isinstance(url, str) for url in output):
            raise TransientProviderError("replicate sent an output that is not a list of URLs", request_id=prediction_id)
        if not output:
            raise ContentRefusedError("replicate withheld every image as unsafe", request_id=prediction_id)
        side = self.native_size(model, request.size)  # what it made (and bills) for the parameters sent
        images = self.download_outputs(
            output,
            request_id=prediction_id,
            cost_usd=self.cost(model, width=side, height=side, count=len(output)),
            megapixels=len(output) * side**2 / 1_000_000,
        )
        metrics = prediction.get("metrics") if isinstance(prediction.get("metrics"), dict) else {}
        return GenerationResult(
            images=images,
            provider=self.name,
            model=model,
            model_version=str(prediction.get("version") or ""),
            request_id=prediction_id,
            cost_usd=self.cost(model, width=images[0].width, height=images[0].height, count=len(images)),
            # flux drops flagged images from the list instead of failing the prediction.
            refused_count=max(0, request.num_images - len(images)),
            licence_note=self.licence_note(model),
            metadata={"metrics": metrics, "predict_time": metrics.get("predict_time")},
        )

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Best effort `POST /v1/predictions/{id}/cancel`; never raises."""
        if not request_id:
            return
        with contextlib.suppress(ProviderError, requests.RequestException):
            self.send("POST", f"{self._prediction_url(request_id)}/cancel", retry=False, timeout=(self.timeout[0], 10.0))
