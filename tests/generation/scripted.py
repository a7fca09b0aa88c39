"""A provider adapter whose answers a test scripts: stands in for fal/Replicate in pipeline tests
(the protocol fakes test the real adapters themselves)."""

from collections import deque

from generation.providers.base import (
    ContentRefusedError,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    PermanentProviderError,
    ProgressCallback,
    TransientProviderError,
)
from generation.providers.local import LocalProvider

SCRIPTS: dict[str, deque] = {}
CALLS: list[str] = []


class ScriptedProvider:
    """Each call pops the next answer for its name: "ok", "transient", "permanent" or "refused"."""

    configured = True

    def __init__(self, *, name: str) -> None:
        self.name = name

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback | None = None) -> GenerationResult:
        CALLS.append(self.name)
        answer = SCRIPTS.get(self.name, deque()).popleft() if SCRIPTS.get(self.name) else "ok"
        if answer == "transient":
            raise TransientProviderError(f"{self.name} answered 503")
        if answer == "permanent":
            raise PermanentProviderError(f"{self.name} answered 422")
        if answer == "refused":
            raise ContentRefusedError(f"{self.name} flagged NSFW content")
        drawn = LocalProvider().generate(request, on_progress)
        images = [GeneratedImage(i.data, i.content_type, i.width, i.height) for i in drawn.images]
        return GenerationResult(images=images, provider=self.name, model=f"{self.name}-model", cost_usd=0.003)
