"""What is worn on the head: eyewear (round, square, sunglasses) and headwear (hats, caps, beanie, crown...)."""

import math

from .colors import RGB, shade
from .shapes import EYE_X, EYE_Y, HEAD_CX, HEAD_CY, LENS, Group, Look, Shape, bezier, ellipse_points, oval, poly, stroke

# --- eyewear and headwear ------------------------------------------------------------------------------


def eyewear(look: Look) -> list[Group]:
    kind = look.eyewear
    if kind == "none":
        return []
    frame = look.eyewear_rgb
    shapes: list[Shape] = []
    width = 1.2
    for cx in EYE_X:
        outer = -1 if cx < HEAD_CX else 1
        # Round lenses stay well inside the square ones' corners (REGIONS["lens_corner"]), even on the pixel grid.
        if kind == "round glasses":
            shapes.append(stroke(ellipse_points(cx, EYE_Y, 5.3, 5.3, 0, 360, 40), frame, width))
            arm_from = cx + outer * 5.3
        elif kind == "square glasses":
            x0, x1 = cx - 6.6, cx + 6.6
            y0, y1 = EYE_Y - 4.6, EYE_Y + 4.7
            r = 0.3
            corners = [
                *ellipse_points(x1 - r, y0 + r, r, r, 270, 360, 4), *ellipse_points(x1 - r, y1 - r, r, r, 0, 90, 4),
                *ellipse_points(x0 + r, y1 - r, r, r, 90, 180, 4), *ellipse_points(x0 + r, y0 + r, r, r, 180, 270, 4),
            ]  # fmt: skip
            shapes.append(stroke([*corners, corners[0]], frame, width))
            arm_from = cx + outer * 6.6
        else:  # sunglasses
            lens = [(cx - 6.6, EYE_Y - 4.0), (cx + 6.6, EYE_Y - 4.0), (cx + 6.0, EYE_Y + 2.2), (cx + 3.0, EYE_Y + 4.4),
                    (cx - 3.0, EYE_Y + 4.4), (cx - 6.0, EYE_Y + 2.2)]  # fmt: skip
            shapes.append(poly(lens, LENS))
            shapes.append(stroke([(cx - 4.0, EYE_Y - 2.2), (cx - 1.6, EYE_Y - 2.2)], (120, 128, 150), 0.7))
            shapes.append(stroke([*lens, lens[0]], frame, width))
            arm_from = cx + outer * 6.6
        shapes.append(stroke([(arm_from, EYE_Y - 0.8), (HEAD_CX + outer * 17.0, EYE_Y - 1.4)], frame, 1.0))
    bridge_y = EYE_Y - 0.7
    gap = 6.6 if kind in ("sunglasses", "square glasses") else 5.3
    shapes.append(stroke(bezier((EYE_X[0] + gap - 0.3, bridge_y), (50, bridge_y - 1.0), (EYE_X[1] - gap + 0.3, bridge_y), 6), frame, 1.4))
    return [Group(tuple(shapes), outline=False, name="eyewear")]


def headwear(look: Look) -> list[Group]:
    kind = look.headwear
    if kind == "none":
        return []
    colour = look.headwear_rgb
    dark, light = shade(colour, 0.8), shade(colour, 1.2)
    band = look.accent if kind != "crown" else (200, 40, 60)
    draw = HEADWEAR.get(kind)
    shapes = draw(look, colour, dark, light, band) if draw else []
    return [Group(tuple(shapes), name="headwear")]


# Each kind's shapes, given its colour, that colour's shade and highlight, and the band's colour.
def _hat(look: Look, colour: RGB, dark: RGB, light: RGB, band: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    brim = ellipse_points(50, 31.2, 29.5, 3.9, 0, 360, 48)
    crown = [(36.4, 31), (37.2, 19.6), *bezier((37.2, 19.6), (40, 12.4), (47, 13.4), 6), (50, 15.2),
             *bezier((53, 13.4), (60, 12.4), (62.8, 19.6), 6), (63.6, 31)]  # fmt: skip
    shapes += [poly(brim, colour), poly(crown, colour), poly([(36.7, 25.6), (63.3, 25.6), (63.5, 29.8), (36.5, 29.8)], dark)]
    shapes.append(stroke(bezier((26, 32.6), (50, 36.2), (74, 32.6), 12), dark, 0.7))
    return shapes


def _cap(look: Look, colour: RGB, dark: RGB, light: RGB, band: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    dome = [*ellipse_points(50, 33.4, 18.8, 16.4, 180, 360, 30)]
    bill = [(31.2, 32.2), (68.8, 32.2), (71.2, 34.6), *bezier((71.2, 34.6), (50, 40.4), (28.8, 34.6), 14)]
    shapes += [poly(dome, colour), poly(bill, dark)]
    shapes += [
        stroke(bezier((50, 17.2), (44, 22), (42.6, 32.6), 8), dark, 0.6),
        stroke(bezier((50, 17.2), (56, 22), (57.4, 32.6), 8), dark, 0.6),
    ]
    shapes.append(oval(50, 17.6, 1.6, 1.1, dark))
    shapes.append(stroke(bezier((40, 27), (44, 22), (48, 21), 6), light, 0.8))
    return shapes


def _beanie(look: Look, colour: RGB, dark: RGB, light: RGB, band: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    dome = ellipse_points(50, 34.4, 19.4, 18.2, 180, 360, 30)
    cuff = [(30.4, 28.8), (69.6, 28.8), (70.0, 35.6), (30.0, 35.6)]
    shapes += [poly(dome, colour), poly(cuff, dark)]
    for x in range(33, 68, 3):
        shapes.append(stroke([(x, 29.6), (x, 34.8)], shade(colour, 0.68), 0.45))
    if look.pompom:
        shapes.append(oval(50, 14.6, 4.6, 4.4, light))
    return shapes


def _cowboy_hat(look: Look, colour: RGB, dark: RGB, light: RGB, band: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    brim = [(12.4, 22), *bezier((12.4, 22), (20, 30.6), (50, 30.2), 12), *bezier((50, 30.2), (80, 30.6), (87.6, 22), 12),
            (86.8, 26.8), *bezier((86.8, 26.8), (74, 36.2), (50, 35.6), 12),
            *bezier((50, 35.6), (26, 36.2), (13.2, 26.8), 12)]  # fmt: skip
    crown = [(36.8, 30.6), (37.6, 18.4), *bezier((37.6, 18.4), (41, 11.6), (46, 14.0), 6), (50, 12.6),
             *bezier((54, 14.0), (59, 11.6), (62.4, 18.4), 6), (63.2, 30.6)]  # fmt: skip
    shapes += [poly(crown, colour), poly([(37.1, 26), (62.9, 26), (63.1, 29.6), (36.9, 29.6)], dark), poly(brim, colour)]
    shapes.append(stroke(bezier((20, 30.2), (50, 33.6), (80, 30.2), 12), dark, 0.6))
    return shapes


def _top_hat(look: Look, colour: RGB, dark: RGB, light: RGB, band: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    shapes += [
        poly([(37.6, 30.0), (38.6, 3.6), (61.4, 3.6), (62.4, 30.0)], colour),
        oval(50, 3.8, 11.4, 1.8, light),
        poly([(37.9, 23.6), (62.1, 23.6), (62.3, 28.0), (37.7, 28.0)], band),
        poly(ellipse_points(50, 30.2, 19.6, 3.2, 0, 360, 40), colour),
    ]
    return shapes


def _beret(look: Look, colour: RGB, dark: RGB, light: RGB, band: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    outline = [(50 + 21 * math.cos(a) * math.cos(-0.14) - 7.6 * math.sin(a) * math.sin(-0.14) - 4,
                25 + 21 * math.cos(a) * math.sin(-0.14) + 7.6 * math.sin(a) * math.cos(-0.14)) for a in
               (math.radians(i * 7.5) for i in range(48))]  # fmt: skip
    shapes += [poly(outline, colour), oval(47, 17.2, 1.4, 1.8, dark), stroke(bezier((30, 31), (46, 33.6), (64, 27), 10), dark, 0.6)]
    return shapes


def _headband(look: Look, colour: RGB, dark: RGB, light: RGB, band: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    upper = ellipse_points(HEAD_CX, HEAD_CY, 19.6, 18.8, 214, 326, 24)
    lower = ellipse_points(HEAD_CX, HEAD_CY, 19.0, 15.0, 214, 326, 24)
    shapes += [poly([*upper, *reversed(lower)], colour)]
    return shapes


def _crown(look: Look, colour: RGB, dark: RGB, light: RGB, band: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    body = [(37.6, 27), (37.6, 11.6), (43.6, 18.6), (50, 9.4), (56.4, 18.6), (62.4, 11.6), (62.4, 27)]
    shapes += [poly(body, colour), poly([(37.6, 22.4), (62.4, 22.4), (62.4, 27), (37.6, 27)], shade(colour, 0.88))]
    shapes += [oval(42.6, 24.7, 1.2, 1.2, band), oval(57.4, 24.7, 1.2, 1.2, (60, 110, 220)), oval(50, 11.2, 1.3, 1.3, band)]
    shapes += [oval(37.6, 12.0, 1.0, 1.0, light), oval(62.4, 12.0, 1.0, 1.0, light)]
    return shapes


HEADWEAR = {
    "hat": _hat,
    "cap": _cap,
    "beanie": _beanie,
    "cowboy hat": _cowboy_hat,
    "top hat": _top_hat,
    "beret": _beret,
    "headband": _headband,
    "crown": _crown,
}
