"""The local avatar generator: vector parts of our own, rasterised with Pillow in four styles; no network, no weights.

The prompt is read into attributes (prompt.prompt_attributes: hair colour, length and
texture, facial hair, eyewear, headwear, clothing and their colours, skin tone, age, expression,
background); what it leaves open is chosen from the seed, one attribute at a time, so the same
(prompt, style, seed) always draws the same avatar and a changed word changes only its part. Every
style draws every attribute in its named colour. The parts (parts*.py) are avatarsite's own
drawings, so the output is ours to license: commercial use included, no attribution needed.
It powers the free instant styles and the demo library. A "photo" request (an operator who puts the
local generator in a plan's chain, or a test stack) is drawn flat; the site itself never offers it one.
"""

import io
from dataclasses import replace

from PIL import Image

from ..base import CallContext, GenerationRequest, GenerationResult, ModelSizes, PermanentProviderError, ProgressCallback, ProviderImage
from .look import Drawing, avatar_look
from .parts import scene_groups
from .prompt import prompt_attributes
from .render import render

MIN_SIDE, MAX_SIDE = 64, 2048
STYLES = ("flat", "pastel", "comic", "pixel")
STYLE_LABELS = {"flat": "Flat illustration", "pastel": "Soft pastel", "comic": "Bold comic", "pixel": "Pixel art"}
STYLE_DESCRIPTIONS = {
    "flat": "Clean flat shapes and crisp colours, like a modern app illustration.",
    "pastel": "Soft shading, gentle gradients and a lighter palette.",
    "comic": "Thick ink outlines, cel shadows and a sunburst behind.",
    "pixel": "Chunky retro pixels with a sprite outline.",
}
PHOTO_STAND_IN_STYLE = "flat"
LICENCE_NOTE = "Drawn by avatarsite's own generator: yours to use for any purpose, commercial included."
MODEL = "avatarsite/parts-v2"


def _noop(percent: int, message: str) -> None:
    return None


def draw_avatar(request: GenerationRequest, on_progress: ProgressCallback | None = None) -> tuple[Image.Image, Drawing]:
    """Draw the avatar for this request (style one of STYLES, size in px), reporting each step."""
    report = on_progress or _noop
    report(10, "Reading your description")
    reading = prompt_attributes(request.prompt)
    report(25, "Choosing the look")
    drawing = avatar_look(reading, seed=request.seed, style=request.style)
    report(40, "Composing the parts")
    groups = scene_groups(drawing.look)
    report(60, f"Drawing in {STYLE_LABELS[request.style].lower()}")
    return render(groups, style=request.style, size=request.size), drawing


class LocalProvider:
    """The zero-cost provider: draws instantly, on any machine."""

    name = "local"
    model = MODEL
    # It draws any side from 64 to 2048 px exactly (a vector drawing, so no size is "native").
    sizes = ModelSizes(max_side=MAX_SIDE)

    def __init__(self, **options: object) -> None:
        self.options = options

    def max_side(self, model: str = "") -> int:
        return self.sizes.max_side

    def native_size(self, model: str, size: int) -> int:
        return self.sizes.native(max(MIN_SIDE, size))

    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        """Draw `num_images` avatars (seed, seed+1, ...). metadata: {"attributes": the first image's
        resolved attributes, "drawn": phrases of the prompt that are drawn, "not_understood": words it
        could not use, "style": the style drawn, "per_image": each image's attributes}."""
        on_progress = (context or CallContext()).on_progress
        if request.style == "photo":  # standing in for an AI provider (embedded default, no keys)
            request = replace(request, style=PHOTO_STAND_IN_STYLE)
        if request.style not in STYLES:
            raise PermanentProviderError(f"unknown style '{request.style}'; choose one of {', '.join(STYLES)}")
        # Beyond its range it draws its nearest side, as a remote model makes its largest: the
        # pipeline resizes or upscales that, or refuses it (the contract, base.Provider).
        request = replace(request, size=self.native_size(request.model, request.size))
        images, drawings = [], []
        for index in range(request.num_images):
            image, drawing = draw_avatar(replace(request, seed=request.seed + index, num_images=1), on_progress if index == 0 else None)
            on_progress(80, "Finishing")
            buffer = io.BytesIO()
            # The pipeline re-encodes every result; a light compression keeps this step short.
            image.save(buffer, "PNG", compress_level=1)
            images.append(ProviderImage(data=buffer.getvalue(), content_type="image/png", width=request.size, height=request.size))
            drawings.append(drawing)
        on_progress(100, "Done")
        first = drawings[0]
        metadata = {
            "attributes": first.attributes,
            "drawn": first.drawn,
            "not_understood": first.not_understood,
            "style": request.style,
            "per_image": [drawing.attributes for drawing in drawings],
        }
        return GenerationResult(
            images=images,
            provider=self.name,
            model=self.model,
            cost_usd=0.0,
            licence_note=LICENCE_NOTE,
            model_version="2",
            metadata=metadata,
        )

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Nothing runs elsewhere: a local drawing stops with its worker."""
