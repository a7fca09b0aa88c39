"""What the HTTP provider adapters share: settings, calls with typed errors and retries, polling
between status checks (cancel and deadline), costs, and the guarded download of output files."""

import base64
import binascii
import io
import math
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from PIL import Image, UnidentifiedImageError

from avatarsite.core.outbound import (
    FetchConnectionError,
    FetchPolicy,
    FetchTimeoutError,
    HTTPStatusError,
    UnsafeFetchError,
    fetch,
    guarded_session,
)
from avatarsite.core.retries import RetryableResponse, retry_after_seconds, retrying

from .base import (
    CallContext,
    ModelSizes,
    PermanentProviderError,
    ProviderCanceledError,
    ProviderError,
    ProviderImage,
    TransientProviderError,
)

OUTPUT_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")
# The megapixel of per-megapixel prices: 1024 x 1024 pixels, the size the prices are quoted for
# (fal's FLUX schnell at $0.003 per megapixel makes a 1024 px square for $0.003, not twice that).
BILLED_MEGAPIXEL = 1024 * 1024


class HttpProvider:
    """Base of the fal and Replicate adapters. Options come from settings.GENERATION_PROVIDERS."""

    name = ""
    default_api_url = ""
    default_model = ""
    # Where the provider serves output files (the API host is not among them unless listed).
    default_output_hosts: tuple[str, ...] = ()
    # Whether it can find a request it made without knowing its id (see CallContext.lookup_since).
    can_look_up = False
    # The sides a model makes when its catalogue entry says nothing ("max_side", "side_step").
    default_sizes = ModelSizes(max_side=1024)

    def __init__(
        self,
        *,
        api_url: str = "",
        api_key: str = "",
        models: dict[str, dict[str, Any]] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        poll_interval: float = 0.5,
        max_wait: float = 300.0,
        attempts: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        output_hosts: tuple[str, ...] | list[str] | None = None,
        allow_loopback: bool = False,
        max_output_bytes: int = 30 * 1024 * 1024,
        download_deadline: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        self.api_url = (api_url or self.default_api_url).rstrip("/")
        self.api_key = api_key
        self.models = models or {}
        self.timeout = (connect_timeout, read_timeout)
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self._retry_options = {"attempts": attempts, "backoff": backoff, "max_backoff": max_backoff, "sleep": sleep}
        self.sleep, self.clock = sleep, clock
        self.session = session or requests.Session()
        self.session.trust_env = False
        self.session.headers["User-Agent"] = "avatarsite"
        hosts = tuple(output_hosts) if output_hosts else self.default_output_hosts
        self.output_policy = FetchPolicy(
            allowed_hosts=frozenset(hosts),
            max_bytes=max_output_bytes,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            total_timeout=download_deadline,
            content_types=OUTPUT_CONTENT_TYPES,
            allow_loopback=allow_loopback,
        )
        self._output_session: requests.Session | None = None
        for model in self.models:
            self.model_sizes(model)  # a wrong size entry fails here, when the adapter is built

    # --- settings ------------------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    def model_options(self, model: str) -> dict[str, Any]:
        return self.models.get(model, {})

    def model_sizes(self, model: str) -> ModelSizes:
        """The sides `model` can be asked for: catalogue "max_side" and "side_step", else `default_sizes`."""
        options = self.model_options(model or self.default_model)
        return ModelSizes(
            max_side=int(options.get("max_side", self.default_sizes.max_side)), step=int(options.get("side_step", self.default_sizes.step))
        )

    def max_side(self, model: str = "") -> int:
        """The largest square side `model` makes (the contract's, base.Provider)."""
        return self.model_sizes(model).max_side

    def native_size(self, model: str, size: int) -> int:
        """The square side `model` makes for a request of `size` (>= size up to max_side)."""
        return self.model_sizes(model).native(size)

    def licence_note(self, model: str) -> str:
        return str(self.model_options(model).get("licence", ""))

    def cost(self, model: str, *, width: int, height: int, count: int) -> float:
        """Per image, or per megapixel (each image rounded up to a whole megapixel, as billed)."""
        options = self.model_options(model)
        if "cost_per_image" in options:
            return round(float(options["cost_per_image"]) * count, 6)
        per_megapixel = float(options.get("cost_per_megapixel", 0))
        return round(per_megapixel * math.ceil(width * height / BILLED_MEGAPIXEL) * count, 6)

    # --- calls ---------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def ensure_own_host(self, url: str) -> str:
        """URLs the provider hands back (status, result, cancel) carry our key: only to its own host."""
        if urlsplit(url).netloc != urlsplit(self.api_url).netloc:
            raise PermanentProviderError(f"{self.name} pointed to another host ({urlsplit(url).netloc}); not sending the key there")
        return url

    def error_for(self, response: requests.Response, *, request_id: str = "", resumable: bool = False) -> ProviderError:
        """A typed error for a non-2xx answer: 408/409/429/5xx transient, the rest permanent."""
        detail = self.error_detail(response)
        message = f"{self.name} answered HTTP {response.status_code}" + (f": {detail}" if detail else "")
        if response.status_code in (408, 409, 429) or response.status_code >= 500:
            error: ProviderError = TransientProviderError(
                message, retry_after=retry_after_seconds(response), request_id=request_id, resumable=resumable
            )
        else:
            error = PermanentProviderError(message, request_id=request_id)
        error.status = response.status_code
        return error

    @staticmethod
    def error_detail(response: requests.Response) -> str:
        """The provider's own words, short: `detail` (fal, Replicate), `title`, or the text."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200].strip()
        if isinstance(body, dict):
            detail = body.get("detail") or body.get("title") or body.get("error") or ""
            if isinstance(detail, list):  # fal validation errors: [{"loc": [...], "msg": ...}]
                detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
            return str(detail)[:200]
        return str(body)[:200]

    def send(
        self,
        method: str,
        url: str,
        *,
        json: dict | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
        timeout: tuple[float, float] | None = None,
        request_id: str = "",
    ) -> requests.Response:
        """One call with our key. With `retry`, 429/5xx and connection errors are retried with
        backoff (Retry-After honoured); never set it for a call that creates a billable request.
        A non-2xx answer raises a typed error; network failures raise TransientProviderError."""
        all_headers = {**self.auth_headers(), **(headers or {})}
        resumable = bool(request_id)

        def attempt() -> requests.Response:
            response = self.session.request(method, url, json=json, headers=all_headers, timeout=timeout or self.timeout)
            if retry and (response.status_code in (408, 429) or response.status_code >= 500):
                raise RetryableResponse(response)
            return response

        try:
            response = retrying(**self._retry_options)(attempt) if retry else attempt()
        except RetryableResponse as exc:
            raise self.error_for(exc.response, request_id=request_id, resumable=resumable) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientProviderError(
                f"{self.name} unreachable: {type(exc).__name__}", request_id=request_id, resumable=resumable
            ) from exc
        if not 200 <= response.status_code < 300:
            raise self.error_for(response, request_id=request_id, resumable=resumable)
        return response

    def json_of(self, response: requests.Response, *, request_id: str = "") -> dict:
        """The body as a JSON object; anything else is a transient fault of the provider."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TransientProviderError(
                f"{self.name} sent a body that is not a JSON object", request_id=request_id, resumable=bool(request_id)
            )
        return body

    # --- waiting -------------------------------------------------------------------------------
    def deadline_for(self, context: CallContext) -> float:
        own = self.clock() + self.max_wait
        return min(own, context.deadline) if context.deadline is not None else own

    def stop_if_asked(self, context: CallContext, *, request_id: str, model: str, deadline: float) -> None:
        """Stop (canceling at the provider) when the user canceled or the deadline passed."""
        if context.should_cancel():
            self.cancel(request_id, model=model)
            raise ProviderCanceledError(f"canceled; {self.name} was asked to stop", request_id=request_id)
        if self.clock() >= deadline:
            self.cancel(request_id, model=model)
            raise TransientProviderError(f"{self.name} did not finish in time; the request was canceled there", request_id=request_id)

    def wait_for_next_poll(
        self, context: CallContext, *, request_id: str, model: str, deadline: float, interval: float | None = None
    ) -> None:
        """Between two status checks: `stop_if_asked`, then sleep one interval."""
        self.stop_if_asked(context, request_id=request_id, model=model, deadline=deadline)
        self.sleep(min(interval or self.poll_interval, max(0.0, deadline - self.clock())))

    def cancel(self, request_id: str, *, model: str = "") -> None:
        raise NotImplementedError

    # --- outputs -------------------------------------------------------------------------------
    def download_outputs(
        self, urls: list[str], *, request_id: str = "", cost_usd: float = 0.0, megapixels: float = 0.0
    ) -> list[ProviderImage]:
        """Fetch each output now (provider URLs expire within the hour) through the guarded fetch:
        allowlisted https hosts on public addresses only, no redirects, an image type, bounded.
        `cost_usd` and `megapixels`: what the provider bills for these outputs, made whether or not
        we fetch them; an error raised here carries them to the ledger."""
        try:
            return [self._download_output(url, request_id=request_id) for url in urls]
        except ProviderError as exc:
            exc.cost_usd, exc.megapixels = cost_usd, megapixels
            raise

    def _download_output(self, url: str, *, request_id: str) -> ProviderImage:
        if url.startswith("data:"):  # fal with sync_mode answers inline
            data, content_type = self._decode_data_uri(url)
        else:
            if self._output_session is None:
                self._output_session = guarded_session(self.output_policy, user_agent="avatarsite")
            try:
                body = fetch(url, self.output_policy, session=self._output_session)
            except UnsafeFetchError as exc:
                raise PermanentProviderError(f"{self.name} output refused: {exc}", request_id=request_id) from exc
            except HTTPStatusError as exc:
                error = TransientProviderError if exc.retryable else PermanentProviderError
                raise error(f"{self.name} output answered HTTP {exc.status}", request_id=request_id) from exc
            except (FetchTimeoutError, FetchConnectionError) as exc:
                raise TransientProviderError(f"{self.name} output download failed: {exc}", request_id=request_id, resumable=True) from exc
            data, content_type = body.content, body.content_type
        try:
            width, height = Image.open(io.BytesIO(data)).size  # header only; the pipeline verifies fully
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise PermanentProviderError(f"{self.name} output is not an image we can read", request_id=request_id) from exc
        return ProviderImage(data=data, content_type=content_type, width=width, height=height)

    def _decode_data_uri(self, uri: str) -> tuple[bytes, str]:
        header, _, payload = uri.partition(",")
        content_type = header[5:].split(";")[0].lower()
        if content_type not in OUTPUT_CONTENT_TYPES or ";base64" not in header:
            raise PermanentProviderError(f"{self.name} sent an inline output of type {content_type or 'none'!r}")
        if len(payload) * 3 // 4 > self.output_policy.max_bytes:
            raise PermanentProviderError(f"{self.name} sent an inline output over the byte limit")
        try:
            return base64.b64decode(payload, validate=True), content_type
        except (binascii.Error, ValueError) as exc:
            raise PermanentProviderError(f"{self.name} sent an unreadable inline output") from exc
