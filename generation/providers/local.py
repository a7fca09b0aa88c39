"""A procedural avatar generator: Pillow only, no network, no model weights, deterministic.

The same (prompt, style, seed) always draws the same avatar. Words in the prompt steer it
(hair colour and length, beard, glasses, smile, hat), the style picks the palette, and the seed
varies everything else. It powers the embedded default, the demo library and the free instant style.
"""

import colorsys
import hashlib
import io
import random
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw, ImageFilter

from .base import CallContext, GeneratedImage, GenerationRequest, GenerationResult, ModelSizes, PermanentProviderError, ProgressCallback

SUPERSAMPLE = 2
MIN_SIDE, MAX_SIDE = 64, 2048
STYLES = ("flat", "pastel", "neon", "mono")
SKIN_TONES = ["#f9d7c3", "#f1c27d", "#e0ac69", "#c68642", "#a56b46", "#8d5524", "#5c3a21", "#ffdbac"]
HAIR_COLORS = {
    "black": "#1f1b24",
    "brown": "#5a3825",
    "blond": "#e5c07b",
    "red": "#b5432a",
    "gray": "#9a9aa5",
    "white": "#ecebf2",
    "pink": "#f28db2",
    "blue": "#4a78d6",
    "green": "#3fa37a",
    "purple": "#8a5cd6",
}
NATURAL_HAIR = ("black", "brown", "blond", "red", "gray")


@dataclass(frozen=True)
class AvatarFeatures:
    background: tuple[str, str]
    skin: str
    hair: str
    shirt: str
    hair_style: str  # short | long | bun | bald | curly
    beard: bool
    glasses: bool
    smile: bool
    hat: bool
    eye_color: str


def _hsl(hue: float, saturation: float, lightness: float) -> str:
    red, green, blue = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return f"#{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x}"


def _palette(style: str, rng: random.Random) -> tuple[tuple[str, str], str]:
    hue = rng.random()
    if style == "pastel":
        return (_hsl(hue, 0.7, 0.86), _hsl(hue + 0.08, 0.6, 0.78)), _hsl(hue + 0.5, 0.45, 0.7)
    if style == "neon":
        return (_hsl(hue, 0.9, 0.22), _hsl(hue + 0.15, 0.85, 0.42)), _hsl(hue + 0.45, 0.95, 0.58)
    if style == "mono":
        return ("#e9e9ee", "#c9c9d3"), "#3a3a46"
    return (_hsl(hue, 0.75, 0.62), _hsl(hue + 0.1, 0.8, 0.5)), _hsl(hue + 0.55, 0.6, 0.45)


def avatar_features(request: GenerationRequest) -> AvatarFeatures:
    """What the prompt asks for, with the seed choosing everything it leaves open."""
    words = set(request.prompt.lower().replace(",", " ").replace("-", " ").split())
    digest = hashlib.sha256(f"{request.prompt}|{request.style}|{request.seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - deterministic drawing, not security
    background, shirt = _palette(request.style, rng)
    named_hair = next((HAIR_COLORS[w] for w in ("blond", "blonde", *HAIR_COLORS) if w in words and w in HAIR_COLORS), None)
    if "blonde" in words:
        named_hair = HAIR_COLORS["blond"]
    hair = named_hair or HAIR_COLORS[rng.choice(NATURAL_HAIR)]
    if "bald" in words:
        hair_style = "bald"
    elif "long" in words:
        hair_style = "long"
    elif "woman" in words or "girl" in words:
        hair_style = rng.choice(("long", "long", "bun", "curly"))
    elif "curly" in words or "afro" in words:
        hair_style = "curly"
    elif "short" in words or "man" in words or "boy" in words:
        hair_style = "short"
    else:
        hair_style = rng.choice(("short", "long", "bun", "curly", "short"))
    skin = SKIN_TONES[rng.randrange(len(SKIN_TONES))]
    if request.style == "mono":
        hair, skin = "#2b2b33", "#d8d8de"
    return AvatarFeatures(
        background=background,
        skin=skin,
        hair=hair,
        shirt=shirt,
        hair_style=hair_style,
        beard="beard" in words or (rng.random() < 0.15 and "woman" not in words and "girl" not in words),
        glasses="glasses" in words or rng.random() < 0.2,
        smile="serious" not in words and ("smile" in words or "smiling" in words or "happy" in words or rng.random() < 0.7),
        hat="hat" in words or "cap" in words,
        eye_color=rng.choice(("#2d1b12", "#3b5b92", "#2e6b4a", "#5a3825")),
    )


def _shade(hex_color: str, factor: float) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"#{min(255, int(red * factor)):02x}{min(255, int(green * factor)):02x}{min(255, int(blue * factor)):02x}"


def draw_avatar(request: GenerationRequest, on_progress: ProgressCallback | None = None) -> Image.Image:
    """Draw the avatar for this request, reporting each step."""
    report = on_progress or (lambda percent, message: None)
    look = avatar_features(request)
    size = request.size * SUPERSAMPLE
    u = size / 100  # drawing unit: the canvas is 100 units wide

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (x0 * u, y0 * u, x1 * u, y1 * u)

    report(5, "Mixing the background")
    top, bottom = Image.new("RGB", (1, 1), look.background[0]), Image.new("RGB", (1, 1), look.background[1])
    gradient = Image.linear_gradient("L").resize((size, size))
    canvas = Image.composite(bottom.resize((size, size)), top.resize((size, size)), gradient)
    draw = ImageDraw.Draw(canvas)
    draw.ellipse(box(12, 10, 88, 86), fill=_shade(look.background[0], 1.08))

    report(20, "Sketching the shoulders")
    if look.hair_style == "long":
        draw.rounded_rectangle(box(26, 30, 74, 82), radius=18 * u, fill=look.hair)
    draw.ellipse(box(14, 72, 86, 124), fill=look.shirt)
    draw.polygon([(42 * u, 73 * u), (50 * u, 82 * u), (58 * u, 73 * u)], fill=_shade(look.shirt, 0.8))
    draw.rounded_rectangle(box(43, 58, 57, 76), radius=5 * u, fill=_shade(look.skin, 0.9))

    report(35, "Shaping the face")
    draw.ellipse(box(27, 42, 33, 54), fill=_shade(look.skin, 0.95))  # ears
    draw.ellipse(box(67, 42, 73, 54), fill=_shade(look.skin, 0.95))
    draw.ellipse(box(30, 24, 70, 68), fill=look.skin)

    report(50, "Styling the hair")
    if look.hair_style == "bun":
        draw.ellipse(box(41, 10, 59, 27), fill=look.hair)
    if look.hair_style == "curly":
        for cx, cy in ((34, 30), (42, 24), (50, 22), (58, 24), (66, 30), (30, 38), (70, 38)):
            draw.ellipse(box(cx - 7, cy - 7, cx + 7, cy + 7), fill=look.hair)
    elif look.hair_style != "bald":
        draw.chord(box(29, 21, 71, 56), start=180, end=360, fill=look.hair)
        draw.pieslice(box(30, 22, 62, 50), start=200, end=300, fill=look.hair)
    if look.hat:
        draw.chord(box(28, 16, 72, 50), start=180, end=360, fill=look.shirt)
        draw.rounded_rectangle(box(24, 32, 76, 37), radius=2 * u, fill=_shade(look.shirt, 0.8))

    report(65, "Drawing the eyes")
    for cx in (41, 59):
        draw.ellipse(box(cx - 3.2, 43, cx + 3.2, 49.5), fill="#ffffff")
        draw.ellipse(box(cx - 1.9, 44.2, cx + 1.9, 48.6), fill=look.eye_color)
        draw.ellipse(box(cx - 0.6, 44.8, cx + 0.6, 46), fill="#ffffff")
        brow = _shade(look.hair, 0.85) if look.hair_style != "bald" else _shade(look.skin, 0.6)
        draw.line([((cx - 4) * u, 40 * u), ((cx + 4) * u, 39.2 * u)], fill=brow, width=max(1, int(1.4 * u)))

    report(80, "Adding a smile")
    draw.arc(box(47, 48, 53, 56), start=20, end=160, fill=_shade(look.skin, 0.75), width=max(1, int(0.9 * u)))
    if look.beard:
        draw.chord(box(32, 44, 68, 69), start=10, end=170, fill=_shade(look.hair, 1.05))
    if look.smile:
        draw.chord(box(43, 54, 57, 63), start=0, end=180, fill="#8c2f39")
        draw.chord(box(44.5, 54, 55.5, 58.2), start=0, end=180, fill="#ffffff")
    else:
        draw.line([(45 * u, 59 * u), (55 * u, 59 * u)], fill="#8c2f39", width=max(1, int(1.2 * u)))
    blush = Image.new("RGBA", (size, size))
    ImageDraw.Draw(blush).ellipse(box(33, 52, 40, 57), fill=(255, 120, 140, 70))
    ImageDraw.Draw(blush).ellipse(box(60, 52, 67, 57), fill=(255, 120, 140, 70))
    canvas.paste(blush.filter(ImageFilter.GaussianBlur(1.2 * u)), (0, 0), blush.filter(ImageFilter.GaussianBlur(1.2 * u)))

    report(90, "Final touches")
    draw = ImageDraw.Draw(canvas)
    if look.glasses:
        frame = "#26232e"
        for cx in (41, 59):
            draw.ellipse(box(cx - 6, 41, cx + 6, 52), outline=frame, width=max(1, int(1.1 * u)))
        draw.line([(47 * u, 45.5 * u), (53 * u, 45.5 * u)], fill=frame, width=max(1, int(1.1 * u)))
    return canvas.resize((request.size, request.size), Image.Resampling.LANCZOS)


PHOTO_STAND_IN_STYLE = "flat"
LICENCE_NOTE = "Drawn by avatarsite's own generator: yours to use for any purpose, commercial included."


class LocalProvider:
    """The zero-cost provider: draws instantly, on any machine."""

    name = "local"
    model = "avatarsite/procedural-v1"
    # It draws any side from 64 to 2048 px exactly (a vector drawing, so no size is "native").
    sizes = ModelSizes(max_side=MAX_SIDE)

    def __init__(self, **options: object) -> None:
        self.options = options

    def max_side(self, model: str = "") -> int:
        return self.sizes.max_side

    def native_size(self, model: str, size: int) -> int:
        return self.sizes.native(max(MIN_SIDE, size))

    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        on_progress = (context or CallContext()).on_progress
        if request.style == "photo":  # standing in for an AI provider (embedded default, no keys)
            request = replace(request, style=PHOTO_STAND_IN_STYLE)
        if request.style not in STYLES:
            raise PermanentProviderError(f"unknown style '{request.style}'; choose one of {', '.join(STYLES)}")
        # Beyond its range it draws its nearest side, as a remote model makes its largest: the
        # pipeline resizes or upscales that, or refuses it (the contract, base.Provider).
        request = replace(request, size=self.native_size(request.model, request.size))
        images = []
        for index in range(request.num_images):
            image = draw_avatar(replace(request, seed=request.seed + index, num_images=1), on_progress)
            buffer = io.BytesIO()
            image.save(buffer, "PNG", optimize=True)
            images.append(GeneratedImage(data=buffer.getvalue(), content_type="image/png", width=request.size, height=request.size))
        on_progress(100, "Done")
        return GenerationResult(
            images=images, provider=self.name, model=self.model, cost_usd=0.0, licence_note=LICENCE_NOTE, model_version="1"
        )

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Nothing runs elsewhere: a local drawing stops with its worker."""
