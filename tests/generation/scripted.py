"""A provider adapter whose answers a test scripts: stands in for fal/Replicate in pipeline tests
(the protocol fakes test the real adapters themselves). Its state is one `Script` per test, handed to
the adapters through their OPTIONS: nothing is kept at module level, so no test sees another's."""

import io
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from botocore.exceptions import EndpointConnectionError
from PIL import Image

from generation.providers.base import (
    CallContext,
    ContentRefusedError,
    GenerationRequest,
    GenerationResult,
    ModelSizes,
    PermanentProviderError,
    ProviderImage,
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


def _no_pause(name: str) -> None:
    return None


@dataclass
class Script:
    """One test's script for its scripted adapters: the answers each adapter name pops in turn ("ok"
    once they run out), every call the adapters made, in order, and what a "progress" answer calls at
    each of its pauses, with the pause's name."""

    answers: dict[str, deque[str]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    on_pause: Callable[[str], None] = _no_pause

    def say(self, name: str, *answers: str) -> None:
        """The adapter `name` gives these answers next, in order."""
        self.answers[name] = deque(answers)


class ScriptedProvider:
    """Each call pops the next answer for its name: "ok", "unreachable" (transient, before any
    request is made), "transient", "lost" (transient, but the request lives on at the provider:
    resumable), "permanent", "refused", "partial" (one of two images withheld), "not-an-image" or
    "bomb" (a small PNG declaring 20,000 x 20,000 pixels), "progress" (before drawing: a burst of
    reports, a quiet spell ended by a cancel check, another burst; `on_pause` after each),
    "undersized" (succeeds with UNDERSIZED_SIDE px images, whatever was asked), "storage-down" (the
    object store refuses connections while the result is handled: botocore's EndpointConnectionError).
    The script's `calls` records each call, and "<name>:resume:<id>" when a call resumes a recorded
    request instead of submitting. OPTIONS "script" is the test's Script; without one the adapter
    has a script of its own (every answer "ok").

    Sizes: OPTIONS "max_side" (default 2048) is the model's largest side; it draws `native_size`
    (the request's size up to that), as the real adapters do (base.Provider)."""

    configured = True

    def __init__(self, *, name: str, max_side: int = 2048, script: Script | None = None) -> None:
        self.name = name
        self.sizes = ModelSizes(max_side=max_side)
        self.script = script if script is not None else Script()

    def max_side(self, model: str = "") -> int:
        return self.sizes.max_side

    def native_size(self, model: str, size: int) -> int:
        return self.sizes.native(size)

    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        context = context or CallContext()
        queued = self.script.answers.get(self.name)
        answer = queued.popleft() if queued else "ok"
        if answer == "unreachable":
            self.script.calls.append(self.name)
            raise TransientProviderError(f"{self.name} could not be reached")
        if answer == "storage-down":
            self.script.calls.append(self.name)
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/avatarsite-private")
        request_id = context.resume_id
        if request_id:
            self.script.calls.append(f"{self.name}:resume:{request_id}")
        else:
            self.script.calls.append(self.name)
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
            self.script.on_pause("first burst")
            time.sleep(0.3)
            context.should_cancel()
            self.script.on_pause("cancel check")
            for step in (4, 5):
                context.on_progress(20 + 10 * step, f"Generating (step {step}/6)")
            self.script.on_pause("second burst")
        if answer in UNUSABLE:
            images = [ProviderImage(UNUSABLE[answer](), "image/png", 1024, 1024)]
            return GenerationResult(images=images, provider=self.name, model=request.model, cost_usd=0.003)
        side = UNDERSIZED_SIDE if answer == "undersized" else self.native_size(request.model, request.size)
        drawn = LocalProvider().generate(replace(request, size=side), context)
        images = [ProviderImage(i.data, i.content_type, i.width, i.height) for i in drawn.images]
        refused = 1 if answer == "partial" else 0
        return GenerationResult(
            images=images[: len(images) - refused] if refused else images,
            provider=self.name,
            model=request.model,
            cost_usd=0.003 * (len(images) - refused),
            refused_count=refused,
        )

    def cancel(self, request_id: str, *, model: str = "") -> None:
        self.script.calls.append(f"{self.name}:cancel:{request_id}")
