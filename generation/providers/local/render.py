"""Rasterises the local generator's scenes (parts.scene_groups) in its four styles with Pillow.

flat: clean shapes, no outlines, hard-edged shadows, drawn supersampled and box-downsampled.
pastel: a soft vertical gradient, thin same-hue outlines and shadows blurred into the surfaces.
comic: bold ink outlines around each part's silhouette, cel shadows, a sunburst behind.
pixel: the same scene drawn on a coarse grid without antialiasing, with a one-cell sprite outline,
enlarged with nearest-neighbour so every pixel stays a crisp square.
Every style draws every part in its own colour: the styles change how, never what.
"""

import math

from PIL import Image, ImageDraw, ImageFilter

from .colors import RGB, mix, shade
from .shapes import INK, Group, Shape

STYLE_NAMES = ("flat", "pastel", "comic", "pixel")
# Pixel art: about this many cells across the image.
PIXEL_CELLS = 64


def supersampling(size: int) -> int:
    """Drawing scale before the box downsample: more for small images, whose edges are few pixels."""
    return 4 if size <= 160 else 3 if size <= 400 else 2


class _Canvas:
    """An image and its drawing context, with unit (0-100) coordinates."""

    def __init__(self, side: int, background: RGB = (255, 255, 255)) -> None:
        self.side = side
        self.unit = side / 100
        self.image = Image.new("RGB", (side, side), background)
        self.draw = ImageDraw.Draw(self.image)

    def xy(self, points: tuple[tuple[float, float], ...] | list[tuple[float, float]]) -> list[tuple[float, float]]:
        u = self.unit
        return [(x * u, y * u) for x, y in points]

    def width(self, units: float, minimum: int = 1) -> int:
        return max(minimum, round(units * self.unit))

    def shape(self, shape: Shape, fill: RGB | None = None, grow: float = 0.0) -> None:
        """Draw one shape; `grow` units outward (used for outlines: the shape drawn bigger in ink first)."""
        colour = fill if fill is not None else shape.fill
        if shape.kind == "ellipse":
            (x0, y0), (x1, y1) = shape.pts
            half = grow / 2
            box = self.xy([(x0 - half, y0 - half), (x1 + half, y1 + half)])
            if box[1][0] - box[0][0] < 1 or box[1][1] - box[0][1] < 1:
                self.draw.point(box[0], fill=colour)
                return
            self.draw.ellipse([box[0], box[1]], fill=colour)
        elif shape.kind == "poly":
            points = self.xy(shape.pts)
            self.draw.polygon(points, fill=colour)
            if grow:
                self.draw.line([*points, points[0]], fill=colour, width=self.width(grow), joint="curve")
        else:
            points = self.xy(shape.pts)
            self.draw.line(points, fill=colour, width=self.width(shape.width + grow), joint="curve")
            if shape.width + grow >= 0.8 and len(points) > 1 and self.width(shape.width + grow) > 2:
                # Round caps: Pillow's lines end square.
                radius = self.width(shape.width + grow) / 2
                for x, y in (points[0], points[-1]):
                    self.draw.ellipse([(x - radius, y - radius), (x + radius, y + radius)], fill=colour)


def render(groups: list[Group], *, style: str, size: int) -> Image.Image:
    """The scene as an RGB image of `size` px in `style`."""
    if style == "pixel":
        return _render_pixel(groups, size)
    scale = supersampling(size)
    canvas = _Canvas(size * scale)
    shadows: list[Shape] = []
    if style == "pastel":
        shadows = _render_pastel(canvas, groups)
    elif style == "comic":
        _render_comic(canvas, groups)
    else:
        for group in groups:
            for shape in group.shapes:
                canvas.shape(shape)
    image = canvas.image.reduce(scale) if scale > 1 else canvas.image
    # Soft shadows are blended at the final size: a quarter of the work, the same look.
    return _soft_shadows(image, shadows) if shadows else image


def _main_colour(group: Group) -> RGB:
    return group.shapes[0].fill


# --- pastel --------------------------------------------------------------------------------------------


def _render_pastel(canvas: _Canvas, groups: list[Group]) -> list[Shape]:
    """Gradient background, thin same-hue outlines; returns the shadow shapes, to be blended softly."""
    shadows: list[Shape] = []
    for group in groups:
        if group.name == "background":
            _pastel_background(canvas, group)
            continue
        if group.outline:
            line = shade(_main_colour(group), 0.62)
            for shape in group.shapes:
                if shape.role != "shade" and shape.kind != "line":
                    canvas.shape(shape, fill=line, grow=0.9)
        for shape in group.shapes:
            if shape.role == "shade":
                shadows.append(shape)
            else:
                canvas.shape(shape)
    return shadows


def _pastel_background(canvas: _Canvas, group: Group) -> None:
    """The background under a light from above: its base colour in fine bands, a little lighter at the
    top and darker at the bottom (named colours stay in range); the rest of its shapes on top."""
    base, *rest = group.shapes
    if base.kind == "poly" and base.pts == ((0, 0), (100, 0), (100, 100), (0, 100)):
        bands = 32
        for i in range(bands):
            position = i / (bands - 1)
            colour = (
                mix(base.fill, (255, 255, 255), 0.09 * (1 - 2 * position))
                if position < 0.5
                else shade(base.fill, 1 - 0.07 * (2 * position - 1))
            )
            top, bottom = i * 100 / bands, (i + 1) * 100 / bands + 0.5
            canvas.shape(Shape("poly", ((0, top), (100, top), (100, bottom), (0, bottom)), colour))
    else:
        canvas.shape(base)
    for shape in rest:
        canvas.shape(shape)


def _soft_shadows(image: Image.Image, shadows: list[Shape]) -> Image.Image:
    """Darken where the shadow shapes are (by a tenth), through a blurred mask drawn at a quarter of the size."""
    small = _Canvas(max(16, image.width // 4), background=(0, 0, 0))
    small.image = small.image.convert("L")
    small.draw = ImageDraw.Draw(small.image)
    for shape in shadows:
        small.shape(shape, fill=28)  # type: ignore[arg-type]
    mask = small.image.filter(ImageFilter.GaussianBlur(small.unit * 1.4)).resize(image.size, Image.Resampling.BILINEAR)
    image.paste((0, 0, 0), (0, 0, *image.size), mask)
    return image


# --- comic ---------------------------------------------------------------------------------------------


def _render_comic(canvas: _Canvas, groups: list[Group]) -> None:
    for group in groups:
        if group.name == "background":
            _comic_background(canvas, group)
            continue
        if group.outline:
            for shape in group.shapes:
                if shape.role != "shade":
                    canvas.shape(shape, fill=INK, grow=2.2)
        for shape in group.shapes:
            if shape.role == "shade":
                canvas.shape(shape, fill=shade(shape.fill, 0.92))
            elif shape.role == "light":
                canvas.shape(shape, fill=mix(shape.fill, (255, 255, 255), 0.5))
            else:
                canvas.shape(shape)
        if group.name in ("hair_front", "hair_back", "headwear"):
            _comic_shine(canvas, group)


def _comic_background(canvas: _Canvas, group: Group) -> None:
    """A sunburst behind a plain colour (scenes are drawn as they are)."""
    first = group.shapes[0]
    plain = len(group.shapes) <= 2 or all(s.kind == "ellipse" for s in group.shapes[1:])
    if plain and first.kind == "poly" and len(group.shapes) < 8:
        canvas.shape(first)
        rays = shade(first.fill, 0.9)
        cx, cy = 50 * canvas.unit, 44 * canvas.unit
        reach = 150 * canvas.unit
        for k in range(0, 24, 2):
            a0, a1 = math.radians(k * 15), math.radians((k + 1) * 15)
            canvas.draw.polygon(
                [(cx, cy), (cx + reach * math.cos(a0), cy + reach * math.sin(a0)), (cx + reach * math.cos(a1), cy + reach * math.sin(a1))],
                fill=rays,
            )
        return
    for shape in group.shapes:
        canvas.shape(shape)


def _comic_shine(canvas: _Canvas, group: Group) -> None:
    """A short white gloss stroke on hair and hats, the comic's catch-light."""
    colour = _main_colour(group)
    gloss = mix(colour, (255, 255, 255), 0.55)
    xs = [x for s in group.shapes if s.kind == "poly" for x, _ in s.pts]
    ys = [y for s in group.shapes if s.kind == "poly" for _, y in s.pts]
    if not xs:
        return
    x0, x1, y0 = min(xs), max(xs), min(ys)
    if x1 - x0 < 10:
        return
    start = (x0 + (x1 - x0) * 0.26, y0 + 4.2)
    canvas.shape(
        Shape("line", ((start[0], start[1] + 2.4), (start[0] + 1.6, start[1]), (start[0] + 4.2, start[1] - 1.2)), gloss, width=0.9)
    )


# --- pixel ---------------------------------------------------------------------------------------------


def _render_pixel(groups: list[Group], size: int) -> Image.Image:
    block = max(1, round(size / PIXEL_CELLS))
    cells = math.ceil(size / block)
    canvas = _Canvas(cells)
    figure = Image.new("L", (cells, cells), 0)
    figure_draw = ImageDraw.Draw(figure)
    for group in groups:
        for shape in group.shapes:
            canvas.shape(shape)
        if group.name != "background" and group.outline:
            for shape in group.shapes:
                _mask_shape(figure_draw, canvas, shape)
    # A one-cell dark outline around the figure's silhouette, as sprites have.
    grown = figure.filter(ImageFilter.MaxFilter(3))
    edge = Image.eval(grown, lambda v: v).point(lambda v: 255 if v else 0)
    edge.paste(0, (0, 0), figure)
    canvas.image.paste(INK, (0, 0), edge)
    big = canvas.image.resize((cells * block, cells * block), Image.Resampling.NEAREST)
    if big.width == size:
        return big
    offset = (big.width - size) // 2
    return big.crop((offset, offset, offset + size, offset + size))


def _mask_shape(draw: ImageDraw.ImageDraw, canvas: _Canvas, shape: Shape) -> None:
    if shape.kind == "ellipse":
        (x0, y0), (x1, y1) = canvas.xy(shape.pts)
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            draw.ellipse([(x0, y0), (x1, y1)], fill=255)
    elif shape.kind == "poly":
        draw.polygon(canvas.xy(shape.pts), fill=255)
