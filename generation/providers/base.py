"""The provider contract: a frozen request in, a result out, or a typed error.

Adapters are plain Python (no Django models). Besides the request, a call gets a `CallContext`
from the pipeline: where to report progress, where to record the provider's request id the moment
it exists (so a re-run after a crash resumes that request instead of paying for a second one),
how to learn that the user canceled, and when to give up.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# Progress callback: (percent 0-100, short message for the user).
ProgressCallback = Callable[[int, str], None]


def _ignore(*args: object) -> None:
    return None


def _never() -> bool:
    return False


class ProviderError(Exception):
    """Base of provider errors. `kind` is what the ledger and the job record."""

    kind = "permanent"

    def __init__(
        self, message: str, *, request_id: str = "", resumable: bool = False, cost_usd: float = 0.0, megapixels: float = 0.0
    ) -> None:
        super().__init__(message)
        # The provider's id of the request this error belongs to, when one was created.
        self.request_id = request_id
        # True when that request may still finish: asking again should poll it, not submit anew.
        self.resumable = resumable
        # What the provider bills for that request although it ends in this error (it made images
        # we cannot use: flagged as unsafe, or not fetched), and for how many megapixels.
        self.cost_usd = cost_usd
        self.megapixels = megapixels
        # The HTTP status of the provider's answer, when the error is one.
        self.status: int | None = None


class TransientProviderError(ProviderError):
    """Timeouts, 429 and 5xx: retry with backoff, then fall back to the next provider."""

    kind = "transient"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        request_id: str = "",
        resumable: bool = False,
        cost_usd: float = 0.0,
        megapixels: float = 0.0,
    ) -> None:
        super().__init__(message, request_id=request_id, resumable=resumable, cost_usd=cost_usd, megapixels=megapixels)
        self.retry_after = retry_after


class PermanentProviderError(ProviderError):
    """Bad request, auth or payment: no retry; fall back or fail."""

    kind = "permanent"


class ContentRefusedError(ProviderError):
    """The provider refused the content (NSFW or policy): no retry, the quota is given back."""

    kind = "refused"


class RequestNotFoundError(PermanentProviderError):
    """A look-up (`CallContext.lookup_only`) found no request of ours: it was never created."""


class ProviderCanceledError(ProviderError):
    """The pipeline asked to stop (the user canceled); the provider was told to cancel too."""

    kind = "canceled"


@dataclass(frozen=True)
class ModelSizes:
    """The square sides a model can be asked for: only `sides` when given (a model with a size
    enum, e.g. Replicate's flux at "0.25"/"1" megapixels), else any multiple of `step` up to `max_side`.

    Adapters build one per model from the provider catalogue (settings.GENERATION_PROVIDERS
    "models": {model: {"max_side": ..., ...}}) and answer `max_side` / `native_size` from it."""

    max_side: int
    sides: tuple[int, ...] = ()
    step: int = 1

    def __post_init__(self) -> None:
        # A wrong catalogue entry must stop the adapter being built, not a run halfway.
        if self.max_side < 1 or self.step < 1 or self.max_side % self.step:
            raise ValueError(f"max_side {self.max_side} must be a positive multiple of step {self.step}")
        if self.sides and (min(self.sides) < 1 or max(self.sides) != self.max_side):
            raise ValueError(f"sides {self.sides} must be positive, the largest being max_side {self.max_side}")

    def native(self, size: int) -> int:
        """The side made for a request of `size`: the smallest the model can make that is at least
        `size`, or its largest when `size` is beyond it (the pipeline then upscales, or fails)."""
        if self.sides:
            return min((side for side in self.sides if side >= size), default=self.max_side)
        return min(max(self.step, math.ceil(size / self.step) * self.step), self.max_side)


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    # The provider's model id (e.g. "fal-ai/flux/schnell"); empty = the adapter's default.
    model: str = ""
    style: str = "flat"
    seed: int = 0
    size: int = 1024
    num_images: int = 1


@dataclass(frozen=True)
class CallContext:
    """What the pipeline hands an adapter for one call, besides the request."""

    # (percent, message) for the provider's own stages: queued, generating. Not for fetching the
    # outputs once it is done: that takes milliseconds, and a report (a row write and a message to
    # the page) would lengthen the wait for the result more than it would tell anyone.
    on_progress: ProgressCallback = _ignore
    # Called with the provider's request id as soon as the provider gives one, before any waiting.
    on_submitted: Callable[[str], None] = _ignore
    # Asked between polls; True = cancel at the provider and raise ProviderCanceledError.
    should_cancel: Callable[[], bool] = _never
    # A request id recorded by an earlier run of the same job: poll it, never submit again.
    resume_id: str = ""
    # Unix time when an earlier run may have submitted this request without learning its id (it
    # died waiting for the answer): adapters that can list requests look for it before submitting.
    lookup_since: float | None = None
    # Never send a new request: resume `resume_id`, or look one up (`lookup_since`) and raise
    # RequestNotFoundError when there is none (the reconciler learning what became of a request).
    lookup_only: bool = False
    # time.monotonic() after which the adapter cancels at the provider and raises TransientProviderError.
    deadline: float | None = None


@dataclass(frozen=True)
class ProviderImage:
    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class GenerationResult:
    images: list[ProviderImage]
    provider: str
    model: str
    model_version: str = ""
    request_id: str = ""
    cost_usd: float = 0.0
    # Images the provider withheld as unsafe: not delivered, so not charged to the user's quota.
    refused_count: int = 0
    # What the model's licence says about using the output (stored with each image).
    licence_note: str = ""
    metadata: dict = field(default_factory=dict)


class Provider(Protocol):
    """What the pipeline calls. `configured` is False when the adapter lacks its key;
    `can_look_up` is True when it can find a request it made without knowing its id
    (`CallContext.lookup_since`), so an answer lost on the way is never a blind second charge.

    Sizes: `generate` asks the provider for `native_size(model, request.size)` pixels square and
    returns what it made (its real dimensions on each ProviderImage). That is at least the request
    whenever `request.size <= max_side(model)`; beyond it, the model's largest side, which the
    pipeline upscales (by at most GENERATION_MAX_UPSCALE) or refuses. `model` "" = the adapter's default."""

    name: str
    configured: bool
    can_look_up: bool

    def max_side(self, model: str = "") -> int:
        """The largest square side this model makes."""

    def native_size(self, model: str, size: int) -> int:
        """The square side this model makes for a request of `size` pixels (>= size when it can)."""

    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult: ...

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Best effort: ask the provider to stop a request (used by the reconciler)."""
