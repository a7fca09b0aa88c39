"""The body: the neck and the clothing (t-shirt, shirt, hoodie, sweater, jacket, suit, dress, turtleneck)."""

from .colors import RGB, shade
from .shapes import Group, Look, Point, Shape, away_from_light, bezier, chin_y, mirror, oval, poly, stroke

# --- body ----------------------------------------------------------------------------------------------


def _torso(look: Look, neckline: list[Point]) -> list[Point]:
    half = 27.0 if look.child else {"male": 35.0, "female": 32.0}.get(look.gender, 33.5)
    left_shoulder = bezier((43, 74), (50 - half + 4, 75.6), (50 - half, 88), 10)
    return [*left_shoulder, (50 - half - 0.6, 101), (50 + half + 0.6, 101), *reversed(mirror(left_shoulder)), *neckline]


def body(look: Look) -> list[Group]:
    """Neck and clothing: t-shirt, shirt, hoodie, sweater, jacket, suit, dress or turtleneck."""
    cloth = look.clothing_rgb
    groups = [_neck(look)]
    shapes = _CLOTHES[look.clothing](look) if look.clothing in _CLOTHES else []
    shapes.append(poly(away_from_light(look, _arm_fold(look)), shade(cloth, 0.8), role="shade"))
    groups.append(Group(tuple(shapes), name="clothes"))
    if look.clothing == "hoodie":
        groups += _hood(cloth)
    return groups


def _neck(look: Look) -> Group:
    half_neck = 4.6 if look.child else 5.8
    # Down to the chest: a scoop neckline shows it.
    neck = [(50 - half_neck, 54), (50 + half_neck, 54), (50 + half_neck + 0.4, 78), (50 + half_neck + 4, 88), (50 - half_neck - 4, 88),
            (50 - half_neck - 0.4, 78)]  # fmt: skip
    chin = chin_y(look)
    neck_shadow = [
        (50 - half_neck, chin - 4),
        (50 + half_neck, chin - 4),
        (50 + half_neck, chin + 1.0),
        (50, min(chin + 2.6, 70.0)),
        (50 - half_neck, chin + 1.0),
    ]
    return Group((poly(neck, look.skin), poly(neck_shadow, shade(look.skin, 0.82), role="shade")), name="neck")


# The crew neckline most clothes start from.
_CREW = bezier((57, 74), (50, 81.2), (43, 74), 10)


def _knit(look: Look) -> list[Shape]:
    """t-shirt, sweater and hoodie: a crew neck with its rib; a sweater's a thicker one and a band of chevrons."""
    cloth, kind = look.clothing_rgb, look.clothing
    cloth_dark, cloth_light = shade(cloth, 0.8), shade(cloth, 1.18)
    shapes = [poly(_torso(look, _CREW), cloth)]
    rib = 1.5 if kind == "sweater" else 1.0
    shapes.append(stroke(bezier((57.4, 74.2), (50, 81.8), (42.6, 74.2), 10), cloth_dark, rib))
    if kind == "sweater":
        # A knitted band of chevrons across the chest.
        zigzag = [(32 + i * 3.0, 90.4 if i % 2 else 88.2) for i in range(13)]
        shapes.append(stroke(zigzag, cloth_light, 0.8))
        shapes.append(stroke([(x, y + 3.2) for x, y in zigzag], cloth_light, 0.8))
    return shapes


def _shirt(look: Look) -> list[Shape]:
    cloth = look.clothing_rgb
    cloth_dark, cloth_light = shade(cloth, 0.8), shade(cloth, 1.18)
    neckline = bezier((57, 74), (50, 79.6), (43, 74), 8)
    shapes = [poly(_torso(look, neckline), cloth)]
    shapes.append(stroke([(50, 79.4), (50, 101)], cloth_dark, 0.6))
    for y in (84, 90, 96):
        shapes.append(oval(50, y, 0.7, 0.7, cloth_light))
    left_collar = [(42.6, 73.2), (50.2, 79.6), (45.6, 83.4), (40.8, 76.6)]
    shapes.append(poly(left_collar, cloth_light))
    shapes.append(poly(mirror(left_collar), cloth_light))
    return shapes


def _tailored(look: Look) -> list[Shape]:
    """jacket and suit: lapels over a shirt; a suit's tie."""
    cloth = look.clothing_rgb
    cloth_dark, cloth_light = shade(cloth, 0.8), shade(cloth, 1.18)
    inner = look.inner_rgb
    shapes = [poly(_torso(look, _CREW), cloth)]
    v = [(42.6, 74), (57.4, 74), (55, 80), (50, 94), (45, 80)]
    shapes.append(poly(v, inner))
    if look.clothing == "suit":
        shapes.append(poly([(48.3, 77.4), (51.7, 77.4), (51.3, 80.6), (48.7, 80.6)], look.tie_rgb))
        shapes.append(poly([(48.7, 80.4), (51.3, 80.4), (52.1, 90), (50, 93), (47.9, 90)], look.tie_rgb))
    # The shirt shows between the lapel and the tie (REGIONS["shirt_v"]).
    lapel = [(43.2, 73.8), (45.2, 80), (49.6, 94), (43.6, 86), (40.8, 80.4), (44.0, 79.4), (40.8, 76.2)]
    shapes.append(poly(lapel, cloth_dark))
    shapes.append(poly(mirror(lapel), cloth_dark))
    shapes.append(oval(50.2, 96.4, 0.8, 0.8, cloth_light))
    return shapes


def _dress(look: Look) -> list[Shape]:
    cloth = look.clothing_rgb
    cloth_dark, cloth_light = shade(cloth, 0.8), shade(cloth, 1.18)
    scoop = bezier((56.2, 74.6), (50, 86), (43.8, 74.6), 12)
    shapes = [poly(_torso(look, scoop), cloth)]
    shapes.append(stroke(bezier((56.6, 74.8), (50, 86.8), (43.4, 74.8), 12), cloth_dark, 0.9))
    shapes.append(stroke([(38, 79), (36, 98)], cloth_light, 0.5))
    shapes.append(stroke([(62, 79), (64, 98)], cloth_light, 0.5))
    return shapes


def _turtleneck(look: Look) -> list[Shape]:
    cloth = look.clothing_rgb
    shapes = [poly(_torso(look, _CREW), cloth)]
    collar = [(43.2, 74.2), (56.8, 74.2), (57.4, 80), *bezier((57.4, 80), (50, 82.6), (42.6, 80), 8)]
    shapes.append(poly(collar, shade(cloth, 0.8)))
    for x in (45.5, 48.5, 51.5, 54.5):
        shapes.append(stroke([(x, 74.8), (x, 80.4)], shade(cloth, 0.7), 0.5))
    return shapes


_CLOTHES = {
    "t-shirt": _knit,
    "sweater": _knit,
    "hoodie": _knit,
    "shirt": _shirt,
    "jacket": _tailored,
    "suit": _tailored,
    "dress": _dress,
    "turtleneck": _turtleneck,
}


def _arm_fold(look: Look) -> list[Point]:
    """A shadow down the far side of the body, along the arm (drawn on the right; away_from_light flips it)."""
    half = 27.0 if look.child else {"male": 35.0, "female": 32.0}.get(look.gender, 33.5)
    arm = bezier((50 + half - 8, 78.4), (50 + half - 1.6, 82), (50 + half - 0.4, 101), 8)
    return [*arm, *[(x - 4.6 * (1 - abs(y - 90) / 14), y) for x, y in reversed(arm)]]


def _hood(cloth: RGB) -> list[Group]:
    """The hood lies on the shoulders around the neck, over the body; its strings hang in front."""
    hood = [(36.2, 71.6), *bezier((36.2, 71.6), (38, 88), (50, 88.4), 8), *bezier((50, 88.4), (62, 88), (63.8, 71.6), 8),
            (60.2, 72), *bezier((60.2, 72), (58, 82), (50, 82.4), 6), *bezier((50, 82.4), (42, 82), (39.8, 72), 6)]  # fmt: skip
    strings = []
    for x in (46.6, 53.4):
        strings += [stroke([(x, 80.4), (x - 0.2, 91)], (245, 245, 245), 0.8), oval(x - 0.2, 91.6, 0.7, 1.1, (220, 220, 225))]
    return [Group((poly(hood, shade(cloth, 0.72)),), name="hood"), Group(tuple(strings), outline=False, name="strings")]
