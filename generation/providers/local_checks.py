"""Pixel checks of the local generator: is each asked-for attribute visible in a rendered avatar?

They read the image only (never the generator's attribute list): the colour of the hair where the
parts put hair (local_parts.REGIONS), a frame in the eye band, the hat's colour on its crown, beard
below the mouth, the background in the corners, the mouth's curve, and so on; `expected` holds
what a prompt asked, with the prompt reader's keys and values. Used by bench/local_generator.py
and the tests. Works at any size from 128 px; every style.
"""

import itertools
import math
from collections import Counter
from dataclasses import dataclass

from PIL import Image

from .local_colors import RGB, color_rgb, delta_e, eye_rgb, hair_rgb, lightness, shade, skin_rgb
from .local_parts import (
    EYE_X,
    FACE_SHAPES,
    HEAD_CX,
    HEAD_CY,
    LIPS,
    MOUTH_INSIDE,
    MOUTH_LINE,
    REGIONS,
    SCENE_COLOURS,
    TONGUE,
    Look,
    face_half_width,
)

# How far (ΔE 1976) a measured colour may be from the named one and still be "that colour".
TOLERANCE = 20.0
COVERING_HATS = ("hat", "cap", "beanie", "cowboy hat", "top hat", "beret")


@dataclass(frozen=True)
class Check:
    attribute: str
    ok: bool
    detail: str


class _Pixels:
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
        return list(self.image.crop((left, top, right, bottom)).getdata())

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


def _near(a: RGB, b: RGB | None, tolerance: float = TOLERANCE) -> bool:
    return b is not None and delta_e(a, b) <= tolerance


def _named(name: str, *, hair: bool = False) -> RGB | None:
    return hair_rgb(name) if hair else color_rgb(name)


def check_attributes(image: Image.Image, expected: dict[str, str]) -> list[Check]:
    """One Check per attribute in `expected` that has a pixel test (gender has none: it is drawn through the others)."""
    px = _Pixels(image)
    e = expected
    skin = px.dominant("neck")
    checks: list[Check] = []
    covered = e.get("headwear") in (*COVERING_HATS, "crown")
    bald = e.get("hair_style") == "bald"
    afro = e.get("hair_style") == "afro"

    # Where to read the hair: the crown, or the temples under a hat.
    hair_region = "hair_temple_left" if covered else ("mohawk" if e.get("hair_style") == "mohawk" else "hair_crown")
    hair_seen = px.dominant(hair_region)
    hair_ref = _named(e["hair_color"], hair=True) if e.get("hair_color") else hair_seen

    def is_hair(region: str, tolerance: float = 18.0) -> bool:
        colour = px.dominant(region)
        return _near(colour, hair_ref, tolerance) and not _near(colour, skin, 8)

    if "hair_color" in e and not bald:
        ok = _near(hair_seen, hair_ref)
        checks.append(Check("hair_color", ok, f"{hair_region} {hair_seen} vs {e['hair_color']} {hair_ref}"))

    if "hair_length" in e and not bald:
        length = e["hair_length"]
        medium, long_ = is_hair("hair_medium_left"), is_hair("hair_long_left")
        ok = {"short": not medium and not long_, "medium": medium and not long_, "long": long_}[length]
        checks.append(Check("hair_length", ok, f"medium region hair={medium}, long region hair={long_}"))

    if "hair_texture" in e and not bald:
        # How far down the hair falls, as asked or as seen (unasked, the seed chose it).
        long_ = e.get("hair_length") in ("medium", "long") or ("hair_length" not in e and is_hair("hair_medium_left"))
        bumps, spacing = _outline_turns(px, hair_ref, covered=covered, long_=long_)
        texture = e["hair_texture"]
        # Under a hat short hair shows a hand's breadth of edge: a few curls are all there is room for.
        least = 3 if covered and not long_ else 6
        ok = {"curly": bumps >= least and spacing <= 13.0, "wavy": bumps >= 3 and spacing >= 14.0, "straight": bumps <= 2}[texture]
        checks.append(Check("hair_texture", ok, f"{bumps} bumps, {spacing:.1f} units apart"))

    if "hair_style" in e:
        style = e["hair_style"]
        if style == "bald":
            ok = _near(px.dominant("scalp"), skin, 12)
        elif style == "bun":
            ok = is_hair("low_bun" if covered else "bun")
        elif style == "ponytail":
            ok = is_hair("ponytail") != is_hair("pigtail_left")  # one tail, on either side
        elif style == "pigtails":
            ok = is_hair("ponytail") and is_hair("pigtail_left")
        elif style == "afro":
            ok = is_hair((26.2, 30, 28.4, 34)) and _outline_turns(px, hair_ref, covered=False, long_=False)[0] >= 8  # type: ignore[arg-type]
        elif style == "mohawk":
            ok = is_hair("mohawk") and not is_hair("hair_temple_left")
        else:
            ok = True
        checks.append(Check("hair_style", ok, style))

    if "facial_hair" in e:
        said = _named(e["hair_color"], hair=True) if e.get("hair_color") and not bald else None
        checks.append(_facial_hair(px, e, skin, said))
    if "eyewear" in e:
        checks.append(_eyewear(px, e, skin))
    if "headwear" in e:
        checks.append(_headwear(px, e, afro))
    if "clothing" in e or "clothing_color" in e:
        checks.append(_clothing(px, e, skin))
    if "skin_tone" in e:
        named = skin_rgb(e["skin_tone"])
        checks.append(Check("skin_tone", _near(skin, named, 9), f"neck {skin} vs {e['skin_tone']} {named}"))
    if "eye_color" in e:
        iris = _iris(px, skin)
        named = eye_rgb(e["eye_color"])
        checks.append(Check("eye_color", iris is not None and _near(iris, named, 22), f"iris {iris} vs {e['eye_color']} {named}"))
    if "age_group" in e:
        checks.append(_age(px, e, skin))
    if "expression" in e:
        checks.append(_expression(px, e, skin))
    if "background" in e:
        checks.append(_background(px, e["background"]))
    if "face_shape" in e and e.get("facial_hair") in (None, "none"):
        checks.append(_face_shape(px, e, skin))
    return checks


def _is_hair_colour(colour: RGB, hair: RGB) -> bool:
    """Hair in front, or the darker hair behind the head."""
    return _near(colour, hair, 18) or _near(colour, shade(hair, 0.82), 14)


def _turns(profile: list[tuple[float, float]], hysteresis: float) -> list[float]:
    """Where a profile (position, value) turns back, ignoring wiggles smaller than `hysteresis`."""
    turns: list[float] = []
    direction = 0
    anchor = profile[0][1] if profile else 0.0
    for position, value in profile:
        if direction >= 0 and value < anchor - hysteresis:
            if direction > 0:
                turns.append(position)
            direction, anchor = -1, value
        elif direction <= 0 and value > anchor + hysteresis:
            if direction < 0:
                turns.append(position)
            direction, anchor = 1, value
        elif (direction > 0 and value > anchor) or (direction < 0 and value < anchor):
            anchor = value
    return turns


def _outline_turns(px: _Pixels, hair: RGB, *, covered: bool, long_: bool) -> tuple[int, float]:
    """Turns of the hair's silhouette and their mean spacing: over the head (radius by angle, degrees)
    or, under a hat, down the side of long hair (left edge by height, units). Curls make many, close
    together; waves a few, far apart; straight hair none."""
    profile: list[tuple[float, float]] = []
    if not covered:
        angle = 196.0
        while angle <= 344.0:
            c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            last = None
            r = 15.0
            while r <= 44.0:
                if _is_hair_colour(px.at(HEAD_CX + r * c, HEAD_CY + r * s), hair):
                    last = r
                elif last is not None and r - last > 2.5:
                    break
                r += 0.25
            if last is not None:
                profile.append((angle, last))
            angle += 0.5  # fine enough that the notch between two curls spans several samples
        scale = 1.0
    else:
        # Under a hat: down the side of the hair, below the brim (long hair: to the shoulders).
        y = 34.0
        while y <= (80.0 if long_ else 48.0):
            x = 12.0
            while x < 40 and not _is_hair_colour(px.at(x, y), hair):
                x += 0.25
            if x < 40:
                profile.append((y, -x))
            y += 0.25
        scale = 2.5  # a unit down the side is about 2.5 degrees round the head
    # The median of three samples, and turns bigger than most of a pixel-art cell: a staircase is not a curl.
    smooth = [
        (profile[i][0], sorted(v for _, v in profile[max(0, i - 1) : i + 2])[len(profile[max(0, i - 1) : i + 2]) // 2])
        for i in range(len(profile))
    ]
    turns = _turns(smooth, max(1.0, 0.8 * px.cell))
    gaps = sorted(b - a for a, b in itertools.pairwise(turns))
    spacing = scale * gaps[len(gaps) // 2] if gaps else 99.0  # the median gap: one missed turn does not double it
    return len(turns), spacing


def _facial_hair(px: _Pixels, e: dict[str, str], skin: RGB, hair: RGB | None) -> Check:
    kind = e["facial_hair"]
    jaw, chin, moustache, goatee = (px.dominant(r) for r in ("jaw_left", "under_chin", "moustache", "goatee"))
    colour = _named(e["facial_hair_color"], hair=True) if e.get("facial_hair_color") else hair

    def hairy(c: RGB) -> bool:
        return not _near(c, skin, 14) and (colour is None or _near(c, colour, 20))

    if kind == "beard":
        ok = hairy(jaw) and hairy(chin)
    elif kind == "moustache":
        ok = hairy(moustache) and _near(jaw, skin, 10)
    elif kind == "goatee":
        ok = hairy(goatee) and _near(jaw, skin, 10)
    elif kind == "stubble":
        # Skin darkened towards the hair colour, not a full beard.
        ok = delta_e(jaw, skin) >= 4 and (colour is None or not _near(jaw, colour, 6))
    else:  # none
        ok = _near(jaw, skin, 8) and _near(moustache, skin, 14)
    return Check("facial_hair", ok, f"{kind}: jaw {jaw} chin {chin} moustache {moustache} goatee {goatee} skin {skin}")


def _eyewear(px: _Pixels, e: dict[str, str], skin: RGB) -> Check:
    kind = e["eyewear"]
    bridge = px.dominant("bridge")
    corner = px.dominant("lens_corner")
    lens = px.dominant("lens_left")
    has_bridge = not _near(bridge, skin, 15)
    frame = color_rgb(e["eyewear_color"]) if e.get("eyewear_color") else None
    coloured = frame is None or _near(bridge, frame, 24)
    if kind == "none":
        ok = not has_bridge
    elif kind == "sunglasses":
        ok = has_bridge and lightness(lens) < 30 and coloured
    elif kind == "round glasses":
        ok = has_bridge and _near(corner, skin, 14) and coloured
    elif kind == "square glasses":
        ok = has_bridge and not _near(corner, skin, 14) and coloured
    else:
        ok = has_bridge and coloured
    return Check("eyewear", ok, f"{kind}: bridge {bridge} corner {corner} lens {lens} skin {skin}")


def _headwear(px: _Pixels, e: dict[str, str], afro: bool) -> Check:
    kind = e["headwear"]
    background = px.dominant("bg_top_left")
    if kind == "none":
        brim = px.dominant("hat_brim_left")
        beside = [background, px.dominant((3, 30.6, 9, 31.8)), px.dominant((17.6, 30.6, 19.6, 31.8))]
        ok = afro or any(_near(brim, colour, 14) for colour in beside)
        return Check("headwear", ok, f"none: brim region {brim}, background {background}")
    named = color_rgb(e["headwear_color"]) if e.get("headwear_color") else None
    region = {"top hat": "top_hat_top", "beret": "beret", "headband": "headband", "crown": "crown_band"}.get(kind, "hat_crown")
    seen = px.dominant(region)
    reference = named or seen
    if kind == "crown" and named:
        reference = shade(named, 0.88)
    ok = _near(seen, reference) and not _near(seen, background, 10)
    brim = px.dominant("hat_brim_left")
    if kind == "hat":
        ok = ok and _near(brim, seen, 16)
    elif kind == "cap":
        ok = ok and _near(px.dominant("cap_bill"), shade(seen, 0.8), 18) and not _near(brim, seen, 16)
    elif kind == "beanie":
        ok = ok and _near(px.dominant("beanie_cuff"), shade(seen, 0.8), 22) and not _near(brim, seen, 16)
    elif kind == "cowboy hat":
        ok = ok and _near(px.dominant("cowboy_brim_left"), seen, 16)
    elif kind == "top hat":
        ok = ok and _near(px.dominant("hat_crown"), seen, 16)
    return Check("headwear", ok, f"{kind}: {region} {seen} vs {e.get('headwear_color', '?')} {named}; brim {brim}")


def _clothing(px: _Pixels, e: dict[str, str], skin: RGB) -> Check:
    # One shoulder may be in shadow (the light comes from either side): the lit one shows the colour.
    named = color_rgb(e["clothing_color"]) if e.get("clothing_color") else None
    left, right = px.dominant("cloth_left"), px.dominant("cloth_right")
    seen = right if named is not None and delta_e(right, named) < delta_e(left, named) else left
    ok = named is None or _near(seen, named)
    detail = f"cloth {seen} vs {e.get('clothing_color', '?')} {named}"
    kind = e.get("clothing")
    if kind and ok:
        below_neck = px.dominant("neckline")
        if kind == "hoodie":
            ok = _near(px.dominant("hood"), shade(seen, 0.72), 16)
        elif kind in ("jacket", "suit"):
            inner = px.dominant("jacket_v" if kind == "jacket" else "shirt_v")
            ok = delta_e(inner, seen) >= 20 and not _near(inner, skin, 10)
            if kind == "suit":
                ok = ok and delta_e(px.dominant("tie"), inner) >= 20
        elif kind == "dress":
            ok = _near(px.dominant((47.5, 78.2, 52.5, 79.4)), skin, 12)
        elif kind == "turtleneck":
            ok = _near(px.dominant("turtleneck"), shade(seen, 0.8), 16)
        else:  # t-shirt, shirt, sweater: a neckline that covers the chest
            ok = not _near(px.dominant((47.5, 78.2, 52.5, 79.4)), skin, 12)
        detail += f"; {kind} neckline {below_neck}"
    return Check("clothing", ok, detail)


def _iris(px: _Pixels, skin: RGB) -> RGB | None:
    """The eye's coloured part: the commonest colour of the left eye that is neither white, pupil, lid nor skin."""
    lid = shade(skin, 0.55)
    kept = [p for p in px.pixels("eye_left") if 12 < lightness(p) < 90 and delta_e(p, skin) > 10 and delta_e(p, lid) > 8]
    if len(kept) < 4:
        return None
    bins = Counter((r >> 4, g >> 4, b >> 4) for r, g, b in kept)
    top = bins.most_common(1)[0][0]
    chosen = [p for p in kept if (p[0] >> 4, p[1] >> 4, p[2] >> 4) == top]
    return tuple(round(sum(p[i] for p in chosen) / len(chosen)) for i in range(3))  # type: ignore[return-value]


def _eye_height(px: _Pixels, skin: RGB, index: int = 0) -> float:
    """How tall an eye is at its centre column, in units (a closed eye is a thin arc)."""
    rows = [y / 10 for y in range(424, 504, 2) if delta_e(px.at(EYE_X[index], y / 10), skin) > 10]
    return (rows[-1] - rows[0] + 0.2) if rows else 0.0


def _age(px: _Pixels, e: dict[str, str], skin: RGB) -> Check:
    age = e["age_group"]
    ground = px.dominant((10, 93, 12, 96))
    shoulder = px.dominant("shoulder_outer_left")
    narrow = _near(shoulder, ground, 14)
    # Glasses cross the eye's column, and closed eyes have no height: then the shoulders alone tell.
    glasses = not _near(px.dominant("bridge"), skin, 15)
    hidden = glasses or e.get("expression") in ("laugh",)
    if age in ("child", "infant"):
        height = _eye_height(px, skin)
        # On a pixel-art grid an eye's height is only known to a cell or two: there the shoulders tell.
        hidden = hidden or px.cell > 1
        ok = narrow and (hidden or height >= 7.0)
        return Check("age_group", ok, f"{age}: narrow shoulders={narrow}, eye height {height:.1f}")
    if age == "elderly":
        sites = []
        if e.get("headwear") not in COVERING_HATS:
            sites.append("forehead")
        if e.get("eyewear") in (None, "none"):
            sites.append("eye_bag_left")
        lined = [s for s in sites if _lined(px, s, skin)]
        ok = bool(lined) or not sites
        return Check("age_group", ok, f"elderly: lines in {lined} of {sites}")
    height = _eye_height(px, skin)
    ok = not narrow and (hidden or px.cell > 1 or height < 7.0)
    return Check("age_group", ok, f"{age}: narrow shoulders={narrow}, eye height {height:.1f}")


def _lined(px: _Pixels, region: str, skin: RGB) -> bool:
    """Thin darker lines on skin (wrinkles): a few percent of the region, the rest skin."""
    pixels = px.pixels(region)
    skin_like = sum(1 for p in pixels if delta_e(p, skin) < 6)
    lines = sum(1 for p in pixels if delta_e(p, skin) >= 8)
    return skin_like > 0.35 * len(pixels) and lines >= 0.03 * len(pixels)


_MOUTH_COLOURS = (MOUTH_LINE, LIPS, MOUTH_INSIDE, TONGUE)


def _is_mouth(colour: RGB) -> bool:
    return any(delta_e(colour, part) <= 20 for part in _MOUTH_COLOURS) or min(colour) >= 246


def _mouth_shape(px: _Pixels) -> dict[str, float]:
    """The mouth's extent and curve in units: width, how open, the corners' height against the middle, the tilt."""
    x0, y0, x1, y1 = REGIONS["mouth"]
    columns: list[tuple[float, float, float]] = []  # (x, mean y, height of the mouth's pixels in that column)
    for x in _steps(x0 + 0.2, x1 - 0.2, 0.25):
        ys = [y for y in _steps(y0 + 0.2, y1 - 0.2, 0.2) if _is_mouth(px.at(x, y))]
        if ys:
            columns.append((x, sum(ys) / len(ys), ys[-1] - ys[0] + 0.2))
    if len(columns) < 3:
        return {"width": 0.0, "height": 0.0, "curve": 0.0, "tilt": 0.0}
    width = columns[-1][0] - columns[0][0]
    edge = max(1, len(columns) // 6)
    left = sum(c[1] for c in columns[:edge]) / edge
    right = sum(c[1] for c in columns[-edge:]) / edge
    middle_columns = columns[len(columns) * 2 // 5 : len(columns) * 3 // 5 + 1]
    middle = sum(c[1] for c in middle_columns) / len(middle_columns)
    # How open: the middle columns' height (a closed mouth's curve is a line, at most two pixel-art cells tall).
    height = sum(c[2] for c in middle_columns) / len(middle_columns)
    return {"width": width, "height": height, "curve": middle - (left + right) / 2, "tilt": left - right}


def _steps(start: float, stop: float, step: float = 0.5) -> list[float]:
    count = int((stop - start) / step)
    return [start + i * step for i in range(count + 1)]


def _brow_tilt(px: _Pixels, skin: RGB) -> float:
    """How much lower the left brow's inner end is than its outer end, in units."""
    x0, y0, x1, y1 = REGIONS["brow_left"]
    outer, inner = [], []
    for x in _steps(x0, x1, 0.25):
        ys = [y for y in _steps(y0, y1, 0.2) if delta_e(px.at(x, y), skin) > 20]
        if ys:
            (outer if x < EYE_X[0] else inner).append(sum(ys) / len(ys))
    if not outer or not inner:
        return 0.0
    return sum(inner) / len(inner) - sum(outer) / len(outer)


def _expression(px: _Pixels, e: dict[str, str], skin: RGB) -> Check:
    kind = e["expression"]
    m = _mouth_shape(px)
    width, height, curve, tilt = m["width"], m["height"], m["curve"], m["tilt"]
    closed_mouth = height <= 2.6
    smiling = curve >= 1.0 and closed_mouth
    if kind == "smile":
        ok = smiling
    elif kind in ("grin", "laugh"):
        ok = height >= 3.0 and width >= 9.0
    elif kind == "surprised":
        ok = height >= 3.0 and width <= 6.0
    elif kind in ("neutral", "serious"):
        ok = abs(curve) <= 0.7 and closed_mouth and width >= 5.5
    elif kind == "sad":
        ok = curve <= -1.0 and closed_mouth
    elif kind == "angry":
        ok = curve <= -0.4 and _brow_tilt(px, skin) >= 0.8
    elif kind == "wink":
        left, right = _eye_height(px, skin, 0), _eye_height(px, skin, 1)
        ok = smiling and left >= 3.4 and right <= 2.6
    elif kind == "smirk":
        ok = tilt >= 1.0 and closed_mouth
    else:
        ok = False
    return Check("expression", ok, f"{kind}: width {width:.1f} height {height:.1f} curve {curve:.1f} tilt {tilt:.1f}")


def _eye_open(px: _Pixels, region: str) -> bool:
    """An open eye shows white."""
    return sum(1 for p in px.pixels(region) if min(p) > 235) > 0.04 * len(px.pixels(region))


def _background(px: _Pixels, name: str) -> Check:
    corners = [px.dominant(r) for r in ("bg_top_left", "bg_top_right")]
    if name in SCENE_COLOURS:
        top, bottom = SCENE_COLOURS[name]
        lows = [px.dominant(r) for r in ("bg_bottom_left", "bg_bottom_right")]
        ok = all(_near(c, top, 24) for c in corners) and all(_near(c, bottom, 24) for c in lows)
        return Check("background", ok, f"{name}: top {corners} bottom {lows}")
    named = color_rgb(name)
    ok = all(_near(c, named) for c in corners)
    return Check("background", ok, f"{name} {named}: corners {corners}")


def _face_shape(px: _Pixels, e: dict[str, str], skin: RGB) -> Check:
    """The jaw's width low on the face, against each shape's (the nearest must be the one asked for)."""
    y = 61.0
    x = 50.0
    while x > 25 and _near(px.at(x, y), skin, 16):
        x -= 0.25
    measured = 50.0 - x
    child = e.get("age_group") in ("child", "infant")
    widths = {shape: face_half_width(Look(face_shape=shape, age_group="child" if child else "adult"), y) for shape in FACE_SHAPES}
    nearest = min(widths, key=lambda s: abs(widths[s] - measured))
    return Check("face_shape", nearest == e["face_shape"], f"jaw half-width {measured:.1f} ({nearest}); shapes {widths}")


def faithful(image: Image.Image, expected: dict[str, str]) -> tuple[bool, list[Check]]:
    """Every asked-for attribute visible?"""
    checks = check_attributes(image, expected)
    return all(c.ok for c in checks), checks
