"""Reading a rendered avatar through the parts' unit regions (shapes.REGIONS): the checks' common ground."""

from collections import Counter
from dataclasses import dataclass

from PIL import Image

from .colors import RGB, color_rgb, delta_e, hair_rgb
from .shapes import REGIONS

# How far (ΔE 1976) a measured colour may be from the named one and still be "that colour".
TOLERANCE = 20.0
COVERING_HATS = ("hat", "cap", "beanie", "cowboy hat", "top hat", "beret")


@dataclass(frozen=True)
class Check:
    attribute: str
    ok: bool
    detail: str


class Pixels:
    """An RGB image read through unit (0-100) regions."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image.convert("RGB")
        self.side = self.image.width
        self.scale = self.side / 100
        self.cell = self._cell()

    def _cell(self) -> float:
        """The side of the image's squares of equal pixels, in units: a pixel, or a pixel-art cell."""
        image = self.image
        for cells in (32, 48, 64):
            block = self.side // cells
            if block < 2 or block * cells != self.side:
                continue
            # Pixel art: every block one colour (its first and last pixels agree); a drawing: not.
            uniform = all(
                image.getpixel((i * block, j * block)) == image.getpixel((i * block + block - 1, j * block + block - 1))
                for i in range(4, cells - 4, 2)
                for j in range(4, cells - 4, 2)
            )
            if uniform:
                return 100 / cells
        return 100 / self.side

    def pixels(self, region: tuple[float, float, float, float] | str) -> list[RGB]:
        x0, y0, x1, y1 = REGIONS[region] if isinstance(region, str) else region
        s = self.scale
        left, top = round(x0 * s), round(y0 * s)
        right, bottom = max(left + 1, round(x1 * s)), max(top + 1, round(y1 * s))
        return list(self.image.crop((left, top, right, bottom)).get_flattened_data())

    def dominant(self, region: tuple[float, float, float, float] | str) -> RGB:
        """The region's most common colour (quantised to 32 levels a channel, then averaged in that bin)."""
        pixels = self.pixels(region)
        bins = Counter((r >> 3, g >> 3, b >> 3) for r, g, b in pixels)
        top = bins.most_common(1)[0][0]
        chosen = [p for p in pixels if (p[0] >> 3, p[1] >> 3, p[2] >> 3) == top]
        return tuple(round(sum(c[i] for c in chosen) / len(chosen)) for i in range(3))  # type: ignore[return-value]

    def at(self, x: float, y: float) -> RGB:
        s = self.scale
        return self.image.getpixel((min(self.side - 1, int(x * s)), min(self.side - 1, int(y * s))))  # type: ignore[return-value]


def near(a: RGB, b: RGB | None, tolerance: float = TOLERANCE) -> bool:
    return b is not None and delta_e(a, b) <= tolerance


def named_rgb(name: str, *, hair: bool = False) -> RGB | None:
    return hair_rgb(name) if hair else color_rgb(name)
