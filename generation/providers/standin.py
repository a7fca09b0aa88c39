"""A priced stand-in for a paid provider, for traffic simulations: it answers at once with a plain
image of the side the model makes, and bills what the real adapter would (its catalogue prices)."""

import functools
import io
import itertools
import threading
from typing import Any

from PIL import Image

from .base import CallContext, GenerationRequest, GenerationResult, ProviderImage
from .http import HttpProvider

_counter = itertools.count(1)


class PricedStandIn(HttpProvider):
    """Plays the provider `name` (e.g. "fal") with the models and prices of its catalogue entry:
    the same sizes (ModelSizes from "max_side"/"side_step") and the same cost (HttpProvider.cost,
    per image or per megapixel), so the ledger books what the real call would have cost. No network:
    `generate` returns a one-colour JPEG. `billed` keeps what it billed per model, to check the ledger."""

    def __init__(self, *, name: str, models: dict[str, dict[str, Any]], **options: Any) -> None:
        super().__init__(api_key="simulated", models=models, **options)
        self.name = name
        self.default_model = next(iter(models), "")
        self._lock = threading.Lock()
        self.billed: dict[str, float] = {}

    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        model = request.model or self.default_model
        side = self.native_size(model, request.size)
        request_id = f"sim-{self.name}-{next(_counter)}"
        if context is not None:
            context.on_submitted(request_id)
        images = [_plain_image(side=side, seed=request.seed + index) for index in range(request.num_images)]
        cost = self.cost(model, width=side, height=side, count=request.num_images)
        with self._lock:
            self.billed[model] = self.billed.get(model, 0.0) + cost
        return GenerationResult(
            images=images,
            provider=self.name,
            model=model,
            request_id=request_id,
            cost_usd=cost,
            licence_note=self.licence_note(model),
            metadata={"simulated": True},
        )

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Nothing to stop: every answer is immediate."""


def _plain_image(*, side: int, seed: int) -> ProviderImage:
    data = _plain_jpeg(side, seed % PALETTE)
    return ProviderImage(data=data, content_type="image/jpeg", width=side, height=side)


# One-colour JPEGs from a small palette, each encoded once: a simulation's time goes to our services,
# not to drawing (a JPEG decodes three times faster than a PNG of the same side).
PALETTE = 32


@functools.lru_cache(maxsize=4 * PALETTE)
def _plain_jpeg(side: int, index: int) -> bytes:
    colour = (index * 67 % 256, index * 131 % 256, index * 29 % 256)
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(buffer, format="JPEG", quality=50)
    return buffer.getvalue()
