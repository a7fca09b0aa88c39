"""Pixel checks of everything but the hair: facial hair, eyewear, headwear, clothing, eyes, age, expression, background, face shape."""

from collections import Counter

from .colors import RGB, color_rgb, delta_e, lightness, shade
from .pixels import COVERING_HATS, Check, Pixels, named_rgb, near
from .shapes import EYE_X, FACE_SHAPES, LIPS, MOUTH_INSIDE, MOUTH_LINE, REGIONS, SCENE_COLOURS, TONGUE, Look, face_half_width


def facial_hair_check(px: Pixels, e: dict[str, str], skin: RGB, hair: RGB | None) -> Check:
    kind = e["facial_hair"]
    jaw, chin, moustache, goatee = (px.dominant(r) for r in ("jaw_left", "under_chin", "moustache", "goatee"))
    colour = named_rgb(e["facial_hair_color"], hair=True) if e.get("facial_hair_color") else hair

    def hairy(c: RGB) -> bool:
        return not near(c, skin, 14) and (colour is None or near(c, colour, 20))

    if kind == "beard":
        ok = hairy(jaw) and hairy(chin)
    elif kind == "moustache":
        ok = hairy(moustache) and near(jaw, skin, 10)
    elif kind == "goatee":
        ok = hairy(goatee) and near(jaw, skin, 10)
    elif kind == "stubble":
        # Skin darkened towards the hair colour, not a full beard.
        ok = delta_e(jaw, skin) >= 4 and (colour is None or not near(jaw, colour, 6))
    else:  # none
        ok = near(jaw, skin, 8) and near(moustache, skin, 14)
    return Check("facial_hair", ok, f"{kind}: jaw {jaw} chin {chin} moustache {moustache} goatee {goatee} skin {skin}")


def eyewear_check(px: Pixels, e: dict[str, str], skin: RGB) -> Check:
    kind = e["eyewear"]
    bridge = px.dominant("bridge")
    corner = px.dominant("lens_corner")
    lens = px.dominant("lens_left")
    has_bridge = not near(bridge, skin, 15)
    frame = color_rgb(e["eyewear_color"]) if e.get("eyewear_color") else None
    coloured = frame is None or near(bridge, frame, 24)
    if kind == "none":
        ok = not has_bridge
    elif kind == "sunglasses":
        ok = has_bridge and lightness(lens) < 30 and coloured
    elif kind == "round glasses":
        ok = has_bridge and near(corner, skin, 14) and coloured
    elif kind == "square glasses":
        ok = has_bridge and not near(corner, skin, 14) and coloured
    else:
        ok = has_bridge and coloured
    return Check("eyewear", ok, f"{kind}: bridge {bridge} corner {corner} lens {lens} skin {skin}")


def headwear_check(px: Pixels, e: dict[str, str], afro: bool) -> Check:
    kind = e["headwear"]
    background = px.dominant("bg_top_left")
    if kind == "none":
        brim = px.dominant("hat_brim_left")
        beside = [background, px.dominant((3, 30.6, 9, 31.8)), px.dominant((17.6, 30.6, 19.6, 31.8))]
        ok = afro or any(near(brim, colour, 14) for colour in beside)
        return Check("headwear", ok, f"none: brim region {brim}, background {background}")
    named = color_rgb(e["headwear_color"]) if e.get("headwear_color") else None
    region = {"top hat": "top_hat_top", "beret": "beret", "headband": "headband", "crown": "crown_band"}.get(kind, "hat_crown")
    seen = px.dominant(region)
    reference = named or seen
    if kind == "crown" and named:
        reference = shade(named, 0.88)
    ok = near(seen, reference) and not near(seen, background, 10)
    brim = px.dominant("hat_brim_left")
    if kind == "hat":
        ok = ok and near(brim, seen, 16)
    elif kind == "cap":
        ok = ok and near(px.dominant("cap_bill"), shade(seen, 0.8), 18) and not near(brim, seen, 16)
    elif kind == "beanie":
        ok = ok and near(px.dominant("beanie_cuff"), shade(seen, 0.8), 22) and not near(brim, seen, 16)
    elif kind == "cowboy hat":
        ok = ok and near(px.dominant("cowboy_brim_left"), seen, 16)
    elif kind == "top hat":
        ok = ok and near(px.dominant("hat_crown"), seen, 16)
    return Check("headwear", ok, f"{kind}: {region} {seen} vs {e.get('headwear_color', '?')} {named}; brim {brim}")


def clothing_check(px: Pixels, e: dict[str, str], skin: RGB) -> Check:
    # One shoulder may be in shadow (the light comes from either side): the lit one shows the colour.
    named = color_rgb(e["clothing_color"]) if e.get("clothing_color") else None
    left, right = px.dominant("cloth_left"), px.dominant("cloth_right")
    seen = right if named is not None and delta_e(right, named) < delta_e(left, named) else left
    ok = named is None or near(seen, named)
    detail = f"cloth {seen} vs {e.get('clothing_color', '?')} {named}"
    kind = e.get("clothing")
    if kind and ok:
        below_neck = px.dominant("neckline")
        if kind == "hoodie":
            ok = near(px.dominant("hood"), shade(seen, 0.72), 16)
        elif kind in ("jacket", "suit"):
            inner = px.dominant("jacket_v" if kind == "jacket" else "shirt_v")
            ok = delta_e(inner, seen) >= 20 and not near(inner, skin, 10)
            if kind == "suit":
                ok = ok and delta_e(px.dominant("tie"), inner) >= 20
        elif kind == "dress":
            ok = near(px.dominant((47.5, 78.2, 52.5, 79.4)), skin, 12)
        elif kind == "turtleneck":
            ok = near(px.dominant("turtleneck"), shade(seen, 0.8), 16)
        else:  # t-shirt, shirt, sweater: a neckline that covers the chest
            ok = not near(px.dominant((47.5, 78.2, 52.5, 79.4)), skin, 12)
        detail += f"; {kind} neckline {below_neck}"
    return Check("clothing", ok, detail)


def iris_colour(px: Pixels, skin: RGB) -> RGB | None:
    """The eye's coloured part: the commonest colour of the left eye that is neither white, pupil, lid nor skin."""
    lid = shade(skin, 0.55)
    kept = [p for p in px.pixels("eye_left") if 12 < lightness(p) < 90 and delta_e(p, skin) > 10 and delta_e(p, lid) > 8]
    if len(kept) < 4:
        return None
    bins = Counter((r >> 4, g >> 4, b >> 4) for r, g, b in kept)
    top = bins.most_common(1)[0][0]
    chosen = [p for p in kept if (p[0] >> 4, p[1] >> 4, p[2] >> 4) == top]
    return tuple(round(sum(p[i] for p in chosen) / len(chosen)) for i in range(3))  # type: ignore[return-value]


def _eye_height(px: Pixels, skin: RGB, index: int = 0) -> float:
    """How tall an eye is at its centre column, in units (a closed eye is a thin arc)."""
    rows = [y / 10 for y in range(424, 504, 2) if delta_e(px.at(EYE_X[index], y / 10), skin) > 10]
    return (rows[-1] - rows[0] + 0.2) if rows else 0.0


def age_check(px: Pixels, e: dict[str, str], skin: RGB) -> Check:
    age = e["age_group"]
    ground = px.dominant((10, 93, 12, 96))
    shoulder = px.dominant("shoulder_outer_left")
    narrow = near(shoulder, ground, 14)
    # Glasses cross the eye's column, and closed eyes have no height: then the shoulders alone tell.
    glasses = not near(px.dominant("bridge"), skin, 15)
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


def _lined(px: Pixels, region: str, skin: RGB) -> bool:
    """Thin darker lines on skin (wrinkles): a few percent of the region, the rest skin."""
    pixels = px.pixels(region)
    skin_like = sum(1 for p in pixels if delta_e(p, skin) < 6)
    lines = sum(1 for p in pixels if delta_e(p, skin) >= 8)
    return skin_like > 0.35 * len(pixels) and lines >= 0.03 * len(pixels)


_MOUTH_COLOURS = (MOUTH_LINE, LIPS, MOUTH_INSIDE, TONGUE)


def _is_mouth(colour: RGB) -> bool:
    return any(delta_e(colour, part) <= 20 for part in _MOUTH_COLOURS) or min(colour) >= 246


def _mouth_shape(px: Pixels) -> dict[str, float]:
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


def _brow_tilt(px: Pixels, skin: RGB) -> float:
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


def expression_check(px: Pixels, e: dict[str, str], skin: RGB) -> Check:
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


def _eye_open(px: Pixels, region: str) -> bool:
    """An open eye shows white."""
    return sum(1 for p in px.pixels(region) if min(p) > 235) > 0.04 * len(px.pixels(region))


def background_check(px: Pixels, name: str) -> Check:
    corners = [px.dominant(r) for r in ("bg_top_left", "bg_top_right")]
    if name in SCENE_COLOURS:
        top, bottom = SCENE_COLOURS[name]
        lows = [px.dominant(r) for r in ("bg_bottom_left", "bg_bottom_right")]
        ok = all(near(c, top, 24) for c in corners) and all(near(c, bottom, 24) for c in lows)
        return Check("background", ok, f"{name}: top {corners} bottom {lows}")
    named = color_rgb(name)
    ok = all(near(c, named) for c in corners)
    return Check("background", ok, f"{name} {named}: corners {corners}")


def face_shape_check(px: Pixels, e: dict[str, str], skin: RGB) -> Check:
    """The jaw's width low on the face, against each shape's (the nearest must be the one asked for)."""
    y = 61.0
    x = 50.0
    while x > 25 and near(px.at(x, y), skin, 16):
        x -= 0.25
    measured = 50.0 - x
    child = e.get("age_group") in ("child", "infant")
    widths = {shape: face_half_width(Look(face_shape=shape, age_group="child" if child else "adult"), y) for shape in FACE_SHAPES}
    nearest = min(widths, key=lambda s: abs(widths[s] - measured))
    return Check("face_shape", nearest == e["face_shape"], f"jaw half-width {measured:.1f} ({nearest}); shapes {widths}")
