"""The fal.ai adapter: submit to fal's queue, follow the request's status stream (or poll it), fetch the result.

The queue protocol itself (URLs, statuses, the event stream, progress) is in fal_queue.py.
"""

import queue
import re
from typing import Any
from urllib.parse import quote

import requests

from avatarsite.core.retries import retry_after_seconds

from .base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    GenerationResult,
    ModelSizes,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from .fal_queue import (
    CANCELED_STATUSES,
    FAILED_STATUSES,
    TRANSIENT_ERROR_TYPES,
    FalProgress,
    RequestUrls,
    StatusStream,
    checked_status,
    finished,
    positive_int,
    stream_url,
    with_query,
)
from .http import HttpProvider

MODEL_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$")
# Ids under these namespaces carry one more leading segment: workflows/owner/app/... (fal's AppId).
NAMESPACES = ("workflows", "comfy")
MODEL_INPUT_DEFAULTS: dict[str, dict[str, Any]] = {"fal-ai/flux/schnell": {"num_inference_steps": 4}}


class FalProvider(HttpProvider):
    """Runs fal models through the queue API (`api_url` is the queue base, e.g. https://queue.fal.run).

    The wait follows `GET .../status/stream` (server-sent events), so completion is seen the moment
    fal reports it; where the stream is not offered it polls `status_url` every `poll_interval`.
    Either way cancel and the deadline are checked at least every `poll_interval`.
    """

    name = "fal"
    default_api_url = "https://queue.fal.run"
    default_model = "fal-ai/flux/schnell"
    default_output_hosts = (".fal.media",)
    # flux takes `image_size: {width, height}`. FLUX works in 16 px blocks (diffusers' pipeline rounds
    # other sides down, which would come back smaller than asked), so sides are asked in multiples of
    # 16. The largest: 1024 = fal's `square_hd` preset. UNCONFIRMED: fal's own limit for flux (its
    # toolkit's ImageSize allows 14142; the model may constrain further): the catalogue may raise it.
    default_sizes = ModelSizes(max_side=1024, step=16)

    def __init__(self, *, status_stream: bool = True, **options: Any) -> None:
        """`status_stream`: follow the status stream (False = always poll)."""
        super().__init__(**options)
        self.status_stream = status_stream
        # Cancel URLs fal handed back for requests being waited on (cancel() prefers them).
        self._cancel_urls: dict[str, str] = {}

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.api_key}"}

    def error_for(self, response: requests.Response, *, request_id: str = "", resumable: bool = False) -> ProviderError:
        """As HttpProvider's, but fal's `X-Fal-Retryable` header overrides the guess from the code."""
        error = super().error_for(response, request_id=request_id, resumable=resumable)
        retryable = response.headers.get("X-Fal-Retryable", "").strip().lower()
        if retryable == "true" and not isinstance(error, TransientProviderError):
            return TransientProviderError(str(error), retry_after=retry_after_seconds(response), request_id=request_id, resumable=resumable)
        if retryable == "false" and isinstance(error, TransientProviderError) and response.status_code != 429:
            return PermanentProviderError(str(error), request_id=request_id)
        return error

    # --- URLs ----------------------------------------------------------------------------------
    def requests_base(self, model: str) -> str:
        """`{api_url}/{owner}/{app}/requests`: status, result and cancel drop the model's sub-path."""
        if not MODEL_ID.match(model):
            raise PermanentProviderError(f"fal: '{model}' is not an owner/app[/path] model id")
        parts = model.split("/")
        keep = 3 if parts[0] in NAMESPACES else 2
        if len(parts) < keep:
            raise PermanentProviderError(f"fal: '{model}' lacks the app after its namespace")
        return f"{self.api_url}/{'/'.join(parts[:keep])}/requests"

    def _computed_urls(self, model: str, request_id: str) -> RequestUrls:
        base = f"{self.requests_base(model)}/{quote(request_id, safe='')}"
        return RequestUrls(status=f"{base}/status", response=base, cancel=f"{base}/cancel")

    def _own_url(self, value: object, default: str) -> str:
        """A URL from fal's answer (absent: `default`), if it points at fal itself; else PermanentProviderError."""
        if not isinstance(value, str) or not value:
            return default
        return self.ensure_own_host(value)

    # --- generate ------------------------------------------------------------------------------
    def input_for(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        """The model input (flux schema): a square of `native_size` pixels, JPEG, safety checker on."""
        side = self.native_size(model, request.size)
        return {
            "prompt": request.prompt,
            "image_size": {"width": side, "height": side},
            "seed": request.seed,
            "num_images": request.num_images,
            "output_format": "jpeg",
            "enable_safety_checker": True,
            **MODEL_INPUT_DEFAULTS.get(model, {}),
            **self.model_options(model).get("input", {}),
        }

    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        model = request.model or self.default_model
        self.requests_base(model)  # checks the model id before anything is sent
        deadline = self.deadline_for(context)
        progress = FalProgress(context.on_progress)
        stream = answer = None
        if context.resume_id:
            request_id = context.resume_id
            urls = self._computed_urls(model, request_id)
        elif context.lookup_only:  # fal cannot list requests: without the id there is nothing to ask
            raise PermanentProviderError("fal: a request cannot be looked up without its id")
        else:
            request_id, urls, answer = self._submit(request, model, context)
            if self.status_stream:
                # Opened at once: its first event is on the way while the id is recorded and the
                # answer's progress reported (database writes, on the path of a request fal runs at once).
                stream = StatusStream(self, stream_url(urls), request_id=request_id)
        self._cancel_urls[request_id] = urls.cancel
        try:
            if answer is not None:
                context.on_submitted(request_id)
                progress.status(answer)
            status = None
            if self.status_stream:
                status = self._wait_streaming(
                    urls, context, request_id=request_id, model=model, deadline=deadline, progress=progress, first=stream
                )
            if status is None:
                status = self._wait_polling(urls, context, request_id=request_id, model=model, deadline=deadline, progress=progress)
            return self._collect(status, urls.response, request, request_id=request_id, model=model, progress=progress)
        finally:
            if stream is not None:
                stream.close()  # followed and closed already, unless something above raised first
            self._cancel_urls.pop(request_id, None)

    def _submit(self, request: GenerationRequest, model: str, context: CallContext) -> tuple[str, RequestUrls, dict]:
        """Create the request: (its id, its URLs, fal's answer). The caller records the id
        (`on_submitted`) once it has opened the status stream; a request refused here for its URLs
        is recorded before it is canceled and refused."""
        # Never retried here: a lost answer may still have created a billable request (the pipeline decides).
        response = self.send("POST", f"{self.api_url}/{model}", json=self.input_for(model, request), retry=False)
        answer = self.json_of(response)
        request_id = answer.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise TransientProviderError("fal accepted the request without a request_id")
        computed = self._computed_urls(model, request_id)
        try:
            urls = RequestUrls(
                status=self._own_url(answer.get("status_url"), computed.status),
                response=self._own_url(answer.get("response_url"), computed.response),
                cancel=self._own_url(answer.get("cancel_url"), computed.cancel),
            )
        except PermanentProviderError as exc:
            context.on_submitted(request_id)
            self.cancel(request_id, model=model)  # through the computed URL, on fal's own host
            raise PermanentProviderError(str(exc), request_id=request_id) from exc
        return request_id, urls, answer

    # --- waiting -------------------------------------------------------------------------------
    def _wait_streaming(
        self,
        urls: RequestUrls,
        context: CallContext,
        *,
        request_id: str,
        model: str,
        deadline: float,
        progress: FalProgress,
        first: "StatusStream | None" = None,
    ) -> dict | None:
        """The final status from the status stream, or None when fal does not offer it (then poll).

        A helper thread reads the stream; this one waits for its events at most one poll interval
        at a time, so cancel and the deadline are checked that often however quiet fal is, and a
        quiet stream is not dropped and reopened every interval (costly with many requests).
        `first`: a stream opened already (right after the submission)."""
        url = stream_url(urls)
        while True:
            stream, first = first or StatusStream(self, url, request_id=request_id), None
            try:
                outcome = self._follow(stream, context, request_id=request_id, model=model, deadline=deadline, progress=progress)
            finally:
                stream.close()
            if outcome is StatusStream.UNAVAILABLE:
                return None
            if isinstance(outcome, dict):
                return outcome
            # Closed before the final status: wait a little, so a flapping stream cannot spin.
            self.wait_for_next_poll(context, request_id=request_id, model=model, deadline=deadline)

    def _follow(
        self, stream: "StatusStream", context: CallContext, *, request_id: str, model: str, deadline: float, progress: FalProgress
    ) -> object:
        """The final status, or why the stream stopped without one (ENDED, UNAVAILABLE)."""
        checked: float | None = None
        while True:
            try:
                item = stream.items.get(timeout=max(0.001, min(self.poll_interval, deadline - self.clock())))
            except queue.Empty:
                item = None
            if item is None or checked is None or self.clock() - checked >= self.poll_interval:
                self.stop_if_asked(context, request_id=request_id, model=model, deadline=deadline)
                checked = self.clock()
            if item is None:
                continue
            if isinstance(item, BaseException):
                raise item
            if not isinstance(item, dict):
                return item
            progress.status(item)
            if finished(item):
                return item

    def _wait_polling(
        self, urls: RequestUrls, context: CallContext, *, request_id: str, model: str, deadline: float, progress: FalProgress
    ) -> dict:
        url = with_query(urls.status, "logs=1")
        while True:
            # 202 while queued or running, 200 when done; 5xx and network errors retried by send().
            response = self.send("GET", url, request_id=request_id)
            status = checked_status(self.json_of(response, request_id=request_id), request_id=request_id)
            progress.status(status)
            if finished(status):
                return status
            self.wait_for_next_poll(context, request_id=request_id, model=model, deadline=deadline)

    # --- the result ----------------------------------------------------------------------------
    def _collect(
        self, status: dict, response_url: str, request: GenerationRequest, *, request_id: str, model: str, progress: FalProgress
    ) -> GenerationResult:
        if status["status"] in CANCELED_STATUSES:
            raise TransientProviderError("fal canceled the request", request_id=request_id)
        # A failed request still ends COMPLETED, with `error`; the result call then answers the model's error code.
        error = status.get("error") or (status["status"] if status["status"] in FAILED_STATUSES else "")
        output = self._fetch_result(response_url, request_id=request_id, failed=bool(error))
        if error:
            kind = TransientProviderError if status.get("error_type") in TRANSIENT_ERROR_TYPES else PermanentProviderError
            raise kind(f"fal reported an error: {str(error)[:200]}", request_id=request_id)
        images = output.get("images")
        if not isinstance(images, list) or not all(isinstance(item, dict) and isinstance(item.get("url"), str) for item in images):
            raise TransientProviderError("fal sent a result without a list of image URLs", request_id=request_id)
        flags = output.get("has_nsfw_concepts")
        flags = flags if isinstance(flags, list) else []
        kept = [item for index, item in enumerate(images) if not (index < len(flags) and flags[index] is True)]
        refused = len(images) - len(kept)
        # fal bills each image it made (flagged ones too), at the size it reports, whether or not
        # we can use or fetch it.
        side = self.native_size(model, request.size)  # what was asked, when fal does not say what it made
        sizes = [(positive_int(item.get("width"), side), positive_int(item.get("height"), side)) for item in images]
        cost = round(sum(self.cost(model, width=width, height=height, count=1) for width, height in sizes), 6)
        megapixels = sum(width * height for width, height in sizes) / 1_000_000
        if not kept:
            if refused:
                message = f"fal's safety checker flagged all {refused} image(s)"
                raise ContentRefusedError(message, request_id=request_id, cost_usd=cost, megapixels=megapixels)
            raise TransientProviderError("fal sent a result without images", request_id=request_id)
        downloaded = self.download_outputs([item["url"] for item in kept], request_id=request_id, cost_usd=cost, megapixels=megapixels)
        metadata = {"seed": output.get("seed"), "timings": output.get("timings"), "metrics": status.get("metrics")}
        return GenerationResult(
            images=downloaded,
            provider=self.name,
            model=model,
            request_id=request_id,
            cost_usd=cost,
            refused_count=refused,
            licence_note=self.licence_note(model),
            metadata={key: value for key, value in metadata.items() if value is not None},
        )

    def _fetch_result(self, url: str, *, request_id: str, failed: bool) -> dict:
        """The output JSON. An error answer means the request is over (not resumable); a network
        failure is resumable (fal keeps the result for a while)."""
        try:
            # A request reported failed answers its error again: retrying that would only add latency.
            response = self.send("GET", url, retry=not failed, request_id=request_id)
        except TransientProviderError as exc:
            if isinstance(exc.__cause__, requests.RequestException):
                raise
            raise TransientProviderError(str(exc), retry_after=exc.retry_after, request_id=request_id) from exc
        return self.json_of(response, request_id=request_id)

    # --- cancel --------------------------------------------------------------------------------
    def cancel(self, request_id: str, *, model: str = "") -> None:
        """PUT .../requests/{id}/cancel. Best effort: ALREADY_COMPLETED (400), NOT_FOUND (404) and
        network failures are all "nothing more to do"."""
        try:
            url = self._cancel_urls.get(request_id) or self._computed_urls(model or self.default_model, request_id).cancel
            self.send("PUT", url)
        except ProviderError:
            pass
