"""A provider adapter whose answers a test scripts: stands in for fal/Replicate in pipeline tests
(the protocol fakes test the real adapters themselves)."""

import io
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from botocore.exceptions import EndpointConnectionError
from PIL import Image

from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    ModelSizes,
    PermanentProviderError,
    TransientProviderError,
)
from generation.providers.local import LocalProvider


def _bomb() -> bytes:
    """A PNG of a few KB that declares 20,000 x 20,000 pixels: a decompression bomb, refused before decoding."""
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, "PNG")
    return buffer.getvalue()


UNUSABLE = {"not-an-image": lambda: b"<html>an error page</html>", "bomb": _bomb}
# The side of an "undersized" answer's images, whatever was asked.
UNDERSIZED_SIDE = 64
SCRIPTS: dict[str, deque] = {}
CALLS: list[str] = []
# What a "progress" answer calls at each of its pauses, with the pause's name (a test replaces it).
on_pause: Callable[[str], None] = lambda name: None  # noqa: E731


class ScriptedProvider:
    """Each call pops the next answer for its name: "ok", "unreachable" (transient, before any
    request is made), "transient", "lost" (transient, but the request lives on at the provider:
    resumable), "permanent", "refused", "partial" (one of two images withheld), "not-an-image" or
    "bomb" (a small PNG declaring 20,000 x 20,000 pixels), "progress" (before drawing: a burst of
    reports, a quiet spell ended by a cancel check, another burst; `on_pause` after each),
    "undersized" (succeeds with UNDERSIZED_SIDE px images, whatever was asked), "storage-down" (the
    object store refuses connections while the result is handled: botocore's EndpointConnectionError).
    CALLS records each call, and "<name>:resume:<id>" when a call resumes a recorded request
    instead of submitting.

    Sizes: OPTIONS "max_side" (default 2048) is the model's largest side; it draws `native_size`
    (the request's size up to that), as the real adapters do (base.Provider)."""

    configured = True

    def __init__(self, *, name: str, max_side: int = 2048) -> None:
        self.name = name
        self.sizes = ModelSizes(max_side=max_side)

    def max_side(self, model: str = "") -> int:
        return self.sizes.max_side

    def native_size(self, model: str, size: int) -> int:
        return self.sizes.native(size)

    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        answer = SCRIPTS.get(self.name, deque()).popleft() if SCRIPTS.get(self.name) else "ok"
        if answer == "unreachable":
            CALLS.append(self.name)
            raise TransientProviderError(f"{self.name} could not be reached")
        if answer == "storage-down":
            CALLS.append(self.name)
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/avatarsite-private")
        request_id = context.resume_id
        if request_id:
            CALLS.append(f"{self.name}:resume:{request_id}")
        else:
            CALLS.append(self.name)
            request_id = f"{self.name}-{uuid.uuid4().hex[:8]}"
            context.on_submitted(request_id)
        if answer == "transient":
            raise TransientProviderError(f"{self.name} answered 503")
        if answer == "lost":
            raise TransientProviderError(f"{self.name} stopped answering", request_id=request_id, resumable=True)
        if answer == "permanent":
            raise PermanentProviderError(f"{self.name} answered 422")
        if answer == "refused":
            raise ContentRefusedError(f"{self.name} flagged NSFW content")
        if answer == "progress":
            for step in (1, 2, 3):
                context.on_progress(20 + 10 * step, f"Generating (step {step}/6)")
            on_pause("first burst")
            time.sleep(0.3)
            context.should_cancel()
            on_pause("cancel check")
            for step in (4, 5):
                context.on_progress(20 + 10 * step, f"Generating (step {step}/6)")
            on_pause("second burst")
        if answer in UNUSABLE:
            images = [GeneratedImage(UNUSABLE[answer](), "image/png", 1024, 1024)]
            return GenerationResult(images=images, provider=self.name, model=request.model, cost_usd=0.003)
        side = UNDERSIZED_SIDE if answer == "undersized" else self.native_size(request.model, request.size)
        drawn = LocalProvider().generate(replace(request, size=side), context)
        images = [GeneratedImage(i.data, i.content_type, i.width, i.height) for i in drawn.images]
        refused = 1 if answer == "partial" else 0
        return GenerationResult(
            images=images[: len(images) - refused] if refused else images,
            provider=self.name,
            model=request.model,
            cost_usd=0.003 * (len(images) - refused),
            refused_count=refused,
        )

    def cancel(self, request_id: str, *, model: str = "") -> None:
        CALLS.append(f"{self.name}:cancel:{request_id}")
