"""The RunPod serverless adapter: `POST /{endpoint}/run`, poll `/status/{id}`, `/cancel/{id}`; billed per GPU-second.

Protocol: providers.md §5.8 and providers_additions.md C.8. A RunPod endpoint runs a worker image of
its owner's choosing, so the input it takes and the output it answers are the worker's own, not
RunPod's. This adapter assumes a text-to-image worker in the shape of `runpod-workers/worker-comfyui`
(UNCONFIRMED for any given endpoint: a model's catalogue entry may add to the input with "input"):

* input  `{"prompt", "width", "height", "seed", "num_images", **model "input"}`, or, when the model's
  entry has a "workflow" (an API-format graph), worker-comfyui's `{"workflow": graph}` with the
  graph's "{prompt}", "{seed}", "{width}", "{height}", "{num_images}" placeholders filled in;
* output `{"images": [{"type": "base64" | "s3_url", "data": "...", "filename"?}]}` (worker-comfyui
  5.x); a bare list of URLs / data URIs / base64 strings, or `{"image": ...}`, is accepted too.

Refusals are the worker's own too (RunPod has no safety checker): UNCONFIRMED, an image item marked
`"nsfw": true` is withheld, and a FAILED job whose error mentions NSFW is a content refusal.
"""

import base64
import binascii
import contextlib
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
    ProviderError,
    RequestNotFoundError,
    TransientProviderError,
)
from .http import HttpProvider

# The client and the operations page say IN_PROGRESS; the job-states page says RUNNING (C.8): both run.
RUNNING = ("IN_PROGRESS", "RUNNING")
WAITING = ("IN_QUEUE", *RUNNING)
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")
# UNCONFIRMED (the worker's own words): what a failed job's error says when its checker refused the content.
REFUSAL_MARKERS = ("nsfw", "unsafe content", "content policy", "safety checker")
# Leading bytes of the image types we store, for base64 outputs that do not say their type.
MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
# RunPod refuses an executionTimeout at or under 5 s (§5.8).
MIN_EXECUTION_TIMEOUT_MS = 5001


def sniff_content_type(data: bytes) -> str:
    """The image type of decoded output bytes, from their first bytes ("" when not one we store)."""
    for magic, content_type in MAGIC:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ""


def fill_placeholders(graph: Any, values: dict[str, Any]) -> Any:
    """A copy of `graph` where a string that is exactly "{name}" becomes values[name] (typed: a
    seed stays an int) and "{prompt}" inside a longer string is replaced by the prompt."""
    if isinstance(graph, dict):
        return {key: fill_placeholders(value, values) for key, value in graph.items()}
    if isinstance(graph, list):
        return [fill_placeholders(value, values) for value in graph]
    if isinstance(graph, str):
        name = graph[1:-1] if graph.startswith("{") and graph.endswith("}") else ""
        return values[name] if name in values else graph.replace("{prompt}", str(values["prompt"]))
    return graph


class RunPodProvider(HttpProvider):
    """One RunPod serverless endpoint per model: the catalogue's model entry names it ("endpoint_id").

    Asynchronous like fal: `/run` answers an id at once (recorded before any waiting, so a re-run
    resumes it), then `/status/{id}` is polled until terminal. RunPod cannot be asked which jobs we
    made (`GET /requests` exists, but its answer is undocumented), so `can_look_up` is False.
    """

    name = "runpod"
    default_api_url = "https://api.runpod.ai/v2"
    default_model = "flux-schnell"
    # RunPod answers images inline (base64) unless the worker uploads them to its owner's bucket
    # (worker-comfyui's BUCKET_ENDPOINT_URL): those hosts are the operator's, set in settings.
    default_output_hosts = ()
    can_look_up = False
    # FLUX workers take width and height in multiples of 64 (UNCONFIRMED per worker: "side_step").
    default_sizes = ModelSizes(max_side=1024, step=64)

    @property
    def configured(self) -> bool:
        """A key and at least one model bound to an endpoint: without both nothing can be asked."""
        return bool(self.api_key) and any(self.endpoint_id(model) for model in self.models)

    def auth_headers(self) -> dict[str, str]:
        # runpod-python sends "Bearer <key>"; the docs also show the bare key (§5.8).
        return {"Authorization": f"Bearer {self.api_key}"}

    def error_detail(self, response: requests.Response) -> str:
        """RunPod's error bodies are `{"error": ...}` or `{"message": ...}` (UNCONFIRMED beyond those)."""
        with contextlib.suppress(ValueError):
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("message"), str) and not body.get("error"):
                return body["message"][:200]
        return super().error_detail(response)

    # --- the request ---------------------------------------------------------------------------
    def endpoint_id(self, model: str) -> str:
        return str(self.model_options(model).get("endpoint_id") or "")

    def _endpoint_url(self, model: str) -> str:
        endpoint = self.endpoint_id(model)
        if not endpoint:
            raise PermanentProviderError(f"runpod: model '{model}' has no endpoint_id in the catalogue")
        return f"{self.api_url}/{quote(endpoint, safe='')}"

    def input_for(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        """The worker input for this request: a square of `native_size` (see the module docstring).
        With a "workflow" in the model's entry (an API-format ComfyUI graph, worker-comfyui's
        input), that graph with its placeholders filled in is sent instead of the plain fields."""
        side = self.native_size(model, request.size)
        values = {"prompt": request.prompt, "width": side, "height": side, "seed": request.seed, "num_images": request.num_images}
        options = self.model_options(model)
        if options.get("workflow"):
            return {"workflow": fill_placeholders(options["workflow"], values), **options.get("input", {})}
        return {**values, **options.get("input", {})}

    def body_for(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        """`/run`'s body: the input, and an execution timeout no longer than we would wait, so a
        stuck worker stops billing when we stop waiting (RunPod's default is 10 minutes)."""
        timeout_ms = max(MIN_EXECUTION_TIMEOUT_MS, int(self.max_wait * 1000))
        return {"input": self.input_for(model, request), "policy": {"executionTimeout": timeout_ms}}

    # --- generate ------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        model = request.model or self.default_model
        base = self._endpoint_url(model)  # checks the model before anything is sent
        deadline = self.deadline_for(context)
        started = self.clock()
        if context.resume_id:
            job_id = context.resume_id
            job = self._status(base, job_id, lookup_only=context.lookup_only)
        elif context.lookup_only:  # RunPod cannot list our jobs: without the id there is nothing to ask
            raise RequestNotFoundError("runpod: a job cannot be looked up without its id")
        else:
            job = self._submit(base, model, request)
            job_id = str(job["id"])
            context.on_submitted(job_id)
        job = self._until_terminal(job, base, job_id, model, context, deadline)
        return self._result(job, job_id, model, request, elapsed=self.clock() - started)

    def _submit(self, base: str, model: str, request: GenerationRequest) -> dict:
        # Never retried: a lost answer may still have queued a billable job (the pipeline decides).
        response = self.send("POST", f"{base}/run", json=self.body_for(model, request), retry=False)
        job = self.json_of(response)
        if not isinstance(job.get("id"), str) or not job["id"]:
            raise TransientProviderError("runpod answered /run without a job id")
        return job

    def _status(self, base: str, job_id: str, *, lookup_only: bool = False) -> dict:
        try:
            response = self.send("GET", f"{base}/status/{quote(job_id, safe='')}", request_id=job_id)
        except PermanentProviderError as exc:
            # 404: unknown, or expired (results are kept 30 min after /run).
            if exc.status == 404 and lookup_only:
                raise RequestNotFoundError(f"runpod has no job {job_id}", request_id=job_id) from exc
            raise
        job = self.json_of(response, request_id=job_id)
        if not isinstance(job.get("status"), str):
            raise TransientProviderError("runpod sent a job without a status", request_id=job_id, resumable=True)
        return job

    def _until_terminal(self, job: dict, base: str, job_id: str, model: str, context: CallContext, deadline: float) -> dict:
        reported = ""
        running_since: float | None = None
        while job.get("status") not in TERMINAL:
            status = str(job.get("status"))
            if status not in WAITING:
                # A state the notes do not name: keep polling (a new name for "running" is likelier
                # than a new terminal one), the deadline still bounds the wait.
                status = "IN_PROGRESS"
            if status != "IN_QUEUE" and running_since is None:
                running_since = self.clock()
            if status != reported:
                reported = status
                context.on_progress(*((10, "Waiting for a GPU worker") if status == "IN_QUEUE" else (40, "Generating the image")))
            try:
                self.wait_for_next_poll(context, request_id=job_id, model=model, deadline=deadline)
            except ProviderError as exc:  # canceled there (the user, or the deadline)
                exc.cost_usd = self._billed_until_cancel(model, job, running_since)
                raise
            job = self._status(base, job_id)
        return job

    def _billed_until_cancel(self, model: str, job: dict, running_since: float | None) -> float:
        """What a job canceled while running bills: its GPU-seconds so far, the last executionTime
        seen or our own count since we saw it run, whichever is larger (nothing while it queued)."""
        price = self.model_options(model).get("cost_per_gpu_second")
        if running_since is None or price is None:
            return 0.0
        seconds = max(self.gpu_seconds(job, elapsed=0.0), self.clock() - running_since)
        return round(float(price) * seconds, 6)

    # --- the outcome ---------------------------------------------------------------------------
    def gpu_seconds(self, job: dict, *, elapsed: float) -> float:
        """The worker's execution time, which RunPod bills. `executionTime` (ms) is UNCONFIRMED as a
        name (C.8): without it, our own wait from submit to the end, an upper bound (queue included)."""
        execution_ms = job.get("executionTime")
        if isinstance(execution_ms, int | float) and not isinstance(execution_ms, bool) and execution_ms >= 0:
            return execution_ms / 1000
        return max(0.0, elapsed)

    def job_cost(self, model: str, job: dict, *, elapsed: float, side: int, count: int) -> float:
        """Per GPU-second of execution ("cost_per_gpu_second"), else per image or megapixel (HttpProvider.cost)."""
        options = self.model_options(model)
        if "cost_per_gpu_second" in options:
            return round(float(options["cost_per_gpu_second"]) * self.gpu_seconds(job, elapsed=elapsed), 6)
        return self.cost(model, width=side, height=side, count=count)

    def _result(self, job: dict, job_id: str, model: str, request: GenerationRequest, *, elapsed: float) -> GenerationResult:
        side = self.native_size(model, request.size)
        cost = self.job_cost(model, job, elapsed=elapsed, side=side, count=request.num_images)
        status = job["status"]
        if status != "COMPLETED":
            raise self._failure(job, job_id, cost=cost)
        items = self._output_items(job.get("output"), job_id=job_id)
        kept = [item for item in items if not item[1]]
        refused = len(items) - len(kept)
        megapixels = len(items) * side**2 / 1_000_000
        if not kept:
            if refused:
                raise ContentRefusedError(f"runpod's worker withheld all {refused} image(s) as unsafe", request_id=job_id, cost_usd=cost)
            raise TransientProviderError("runpod's worker answered no images", request_id=job_id, cost_usd=cost)
        images = self.download_outputs([source for source, _ in kept], request_id=job_id, cost_usd=cost, megapixels=megapixels)
        metadata = {key: job[key] for key in ("delayTime", "executionTime", "workerId") if key in job}
        return GenerationResult(
            images=images,
            provider=self.name,
            model=model,
            model_version=self.endpoint_id(model),
            request_id=job_id,
            cost_usd=cost,
            refused_count=refused,
            licence_note=self.licence_note(model),
            metadata=metadata,
        )

    @staticmethod
    def _failure(job: dict, job_id: str, *, cost: float) -> ProviderError:
        """The typed error of a job that ended otherwise than COMPLETED (it is over: not resumable)."""
        status, error = job["status"], str(job.get("error") or "")[:300]
        if status == "FAILED" and any(marker in error.lower() for marker in REFUSAL_MARKERS):
            return ContentRefusedError(f"runpod's worker refused the content: {error}", request_id=job_id, cost_usd=cost)
        if status == "FAILED":
            # The worker's handler raised: the same input would fail again.
            return PermanentProviderError(f"runpod's worker failed: {error or 'no reason given'}", request_id=job_id, cost_usd=cost)
        # TIMED_OUT (also: expired before a worker took it, C.8) or CANCELLED without our asking.
        return TransientProviderError(f"runpod ended the job {status}" + (f": {error}" if error else ""), request_id=job_id, cost_usd=cost)

    def _output_items(self, output: object, *, job_id: str) -> list[tuple[str, bool]]:
        """(URL or data URI, withheld as unsafe) per image of the worker's output (module docstring)."""
        if isinstance(output, dict):
            output = output.get("images", output.get("image"))
        if isinstance(output, str | dict):
            output = [output]
        if not isinstance(output, list):
            raise TransientProviderError("runpod's worker sent an output without images", request_id=job_id)
        items = []
        for item in output:
            flagged = isinstance(item, dict) and item.get("nsfw") is True
            data = item.get("data", item.get("url", item.get("image"))) if isinstance(item, dict) else item
            if not isinstance(data, str) or not data:
                raise TransientProviderError("runpod's worker sent an image item without data", request_id=job_id)
            items.append((self._source(data, job_id=job_id), flagged))
        return items

    def _source(self, data: str, *, job_id: str) -> str:
        """A URL or data URI as it came, a bare base64 image as a data URI of its sniffed type."""
        if data.startswith(("http://", "https://", "data:")):
            return data
        if len(data) * 3 // 4 > self.output_policy.max_bytes:
            raise PermanentProviderError("runpod sent an inline output over the byte limit", request_id=job_id)
        try:
            head = base64.b64decode(data[:64], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PermanentProviderError("runpod sent an output that is neither a URL nor base64", request_id=job_id) from exc
        content_type = sniff_content_type(head)
        if not content_type:
            raise PermanentProviderError("runpod sent an inline output that is not a PNG, JPEG or WebP image", request_id=job_id)
        return f"data:{content_type};base64,{data}"

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Best effort `POST /{endpoint}/cancel/{id}`; never raises."""
        if not request_id:
            return
        with contextlib.suppress(ProviderError, requests.RequestException):
            base = self._endpoint_url(model or self.default_model)
            self.send("POST", f"{base}/cancel/{quote(request_id, safe='')}", retry=False, timeout=(self.timeout[0], 10.0))
