"""The provider contract: dataclasses in and out, error kinds, and the progress callback."""

from collections.abc import Callable
from dataclasses import dataclass, field

# Progress callback: (percent 0-100, short message for the user).
ProgressCallback = Callable[[int, str], None]


class ProviderError(Exception):
    """Base of provider errors."""


class TransientProviderError(ProviderError):
    """Timeouts, 429 and 5xx: retry with backoff, then fall back to the next provider."""


class PermanentProviderError(ProviderError):
    """Bad request, auth or payment: no retry; fall back or fail."""


class ContentRefusedError(ProviderError):
    """The provider refused the content (NSFW or policy): no retry, the quota is given back."""


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    style: str = "flat"
    seed: int = 0
    size: int = 1024
    num_images: int = 1


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class GenerationResult:
    images: list[GeneratedImage]
    provider: str
    model: str
    cost_usd: float = 0.0
    metadata: dict = field(default_factory=dict)
