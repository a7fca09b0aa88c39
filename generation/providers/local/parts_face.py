"""The head and face: ears, the face and its shading, blush, wrinkles, facial hair, nose, mouth, eyes and brows."""

import math

from .colors import mix, shade
from .shapes import (
    EYE_WHITE,
    EYE_X,
    EYE_Y,
    HEAD_CX,
    LIPS,
    MOUTH_INSIDE,
    MOUTH_LINE,
    PUPIL,
    TEETH,
    TONGUE,
    Group,
    Look,
    Point,
    Shape,
    away_from_light,
    bezier,
    chin_y,
    ellipse_points,
    face_outline,
    oval,
    poly,
    stroke,
)

# --- head and face -----------------------------------------------------------------------------------


def head(look: Look) -> list[Group]:
    skin = look.skin
    ear_shade = shade(skin, 0.85)
    ears = []
    for side in (-1, 1):
        cx = HEAD_CX + side * 17.3
        ears.append(oval(cx, 46.8, 2.8, 4.3, skin))
        ears.append(oval(cx + side * 0.4, 47, 1.3, 2.5, ear_shade, role="shade"))
    outline = face_outline(look)
    face = [poly(outline, skin)]
    # A soft shadow down the right cheek and under the cranium's edge, inside the face.
    face.append(poly(away_from_light(look, _cheek_shade(look)), shade(skin, 0.9), role="shade"))
    return [Group(tuple(ears), name="ears"), Group(tuple(face), name="face")]


def _cheek_shade(look: Look) -> list[Point]:
    """A crescent inside the face's right edge, from the temple to the jaw."""
    outline = face_outline(look)
    right = [(x, y) for x, y in outline if x > HEAD_CX + 4 and 30 < y < chin_y(look) - 3]
    right.sort(key=lambda p: p[1])
    inner = [(x - 3.2 * math.sin(math.pi * (i + 1) / (len(right) + 1)), y) for i, (x, y) in enumerate(right)]
    return [*right, *reversed(inner)]


def face_features(look: Look) -> list[Group]:
    """Blush, wrinkles, facial hair, nose, mouth, eyes and brows."""
    skin = look.skin
    shapes: list[Shape] = []
    if look.blush:
        blush = mix(skin, (240, 110, 130), 0.32)
        shapes += [oval(35.6, 54.6, 3.2, 1.8, blush), oval(64.4, 54.6, 3.2, 1.8, blush)]
    if look.age_group == "elderly":
        # Darker lines on light skin, lighter ones on dark skin: wrinkles show on every tone.
        line = shade(skin, 0.7) if sum(skin) > 330 else shade(skin, 1.45)
        # Two forehead lines (two pixel-art cells apart), eye bags, and smile folds where the grid is fine enough.
        shapes += [
            stroke(bezier((45, 33.4), (50, 32.6), (55, 33.4), 6), line, 0.55),
            stroke(bezier((46.4, 36.4), (50, 35.8), (53.6, 36.4), 6), line, 0.55),
            stroke(bezier((39.6, 50.0), (42, 50.9), (44.4, 50.0), 6), line, 0.5),
            stroke(bezier((55.6, 50.0), (58, 50.9), (60.4, 50.0), 6), line, 0.5),
        ]
        if look.detail <= 1:
            shapes += [stroke(bezier((45.2, 53.4), (43.6, 55.6), (44.2, 58.2), 6), line, 0.5),
                       stroke(bezier((54.8, 53.4), (56.4, 55.6), (55.8, 58.2), 6), line, 0.5)]  # fmt: skip
    groups = [Group(tuple(shapes), outline=False, name="cheeks")]
    groups += facial_hair(look)
    groups.append(Group(tuple(nose(look) + mouth(look)), outline=False, name="nose_mouth"))
    groups.append(Group(tuple(eyes(look) + brows(look)), outline=False, name="eyes"))
    return groups


def facial_hair(look: Look) -> list[Group]:
    kind = look.facial_hair
    if kind == "none":
        return []
    colour = look.facial_hair_rgb
    chin = chin_y(look)
    outline = face_outline(look)
    if kind in ("beard", "stubble"):
        # Below the chin, but clear of the neck's skin (REGIONS["neck"]).
        bottom = min(max(chin + 3.0, 69.8), 70.6)
        lower = [(x, y) for x, y in outline if y >= 46.4]
        lower.sort(key=lambda p: (p[0] > HEAD_CX, p[1] if p[0] <= HEAD_CX else -p[1]))
        # Outward from the face by 1.2 units, and down past the chin to `bottom`.
        edge = []
        for x, y in lower:
            dx = x - HEAD_CX
            grow = 1.2 + max(0.0, (y - 56) / (chin - 56)) * (bottom - chin) if y > 56 else 1.2
            edge.append((x + math.copysign(1.2, dx), y + (grow - 1.2 if y > 56 else 0)))
        inner = [(66.0, 47), (63.0, 53.4), (57.4, 55.6), (53.6, 54.2), (50, 54.7), (46.4, 54.2), (42.6, 55.6), (37.0, 53.4), (34.0, 47)]
        fill = colour if kind == "beard" else mix(look.skin, colour, 0.38)
        shapes = [poly([*edge, *inner], fill)]
        if kind == "beard":
            shapes.append(stroke(bezier((44, 64), (50, 66.6), (56, 64), 6), shade(colour, 0.8), 0.6))
        return [Group(tuple(shapes), outline=kind == "beard", name="beard")]
    shapes = []
    moustache = [(43.8, 57.2), (45.2, 55.0), (50, 54.4), (54.8, 55.0), (56.2, 57.2), (53.6, 57.0), (50, 56.6), (46.4, 57.0)]
    shapes.append(poly(moustache, colour))
    if kind == "goatee":
        shapes.append(poly([(45.6, 61.6), (54.4, 61.6), (53.8, chin + 0.8), (50, chin + 2.2), (46.2, chin + 0.8)], colour))
    return [Group(tuple(shapes), name="moustache")]


def nose(look: Look) -> list[Shape]:
    dark = shade(look.skin, 0.8)
    light = shade(look.skin, 1.1)
    kind = look.nose_kind
    if look.child:
        return [oval(50, 52, 1.4, 1.0, dark)]
    if kind == "button":
        return [oval(50, 52.2, 2.0, 1.4, dark), oval(49.4, 51.6, 0.6, 0.4, light)]
    if kind == "line":
        return [stroke([(50.8, 47.8), (52.0, 52.0), (49.6, 53.0)], dark, 0.8)]
    if kind == "nostrils":
        return [
            poly([(50, 47.6), (51.4, 52), (48.6, 52)], shade(look.skin, 0.92)),
            oval(48.4, 52.8, 0.8, 0.6, dark),
            oval(51.6, 52.8, 0.8, 0.6, dark),
        ]
    return [poly([(50, 48.2), (52.6, 53.0), (48.4, 53.0)], shade(look.skin, 0.88))]


def mouth(look: Look) -> list[Shape]:
    kind = look.expression
    lip = LIPS if look.gender == "female" else MOUTH_LINE
    width = 1.35 if look.gender == "female" else 1.15
    if kind in ("smile", "wink"):
        return [stroke(bezier((44.8, 57.6), (50, 63.4), (55.2, 57.6), 12), lip, width)]
    if kind == "smirk":
        return [stroke(bezier((45.2, 59.6), (50, 60.4), (55.2, 57.4), 10), lip, width)]
    if kind in ("grin", "laugh"):
        top, bottom, half = (57.6, 62.4, 5.6) if kind == "grin" else (57.2, 63.0, 6.2)
        d_shape = [(50 - half, top), (50 + half, top), *bezier((50 + half, top), (50, bottom + (bottom - top) * 0.9), (50 - half, top), 14)]
        teeth = [(50 - half + 0.9, top + 0.2), (50 + half - 0.9, top + 0.2), (50 + half - 1.6, top + 1.5), (50 - half + 1.6, top + 1.5)]
        return [
            poly(d_shape, MOUTH_INSIDE),
            poly(teeth, TEETH),
            oval(50, bottom - 1.1, 2.6, 0.9, TONGUE),
            stroke([*d_shape, d_shape[0]], MOUTH_LINE, 0.7),
        ]
    if kind == "surprised":
        return [oval(50, 59.8, 2.0, 2.4, MOUTH_LINE), oval(50, 59.9, 1.3, 1.7, MOUTH_INSIDE)]
    if kind == "sad":
        return [stroke(bezier((45.4, 61.2), (50, 56.2), (54.6, 61.2), 12), lip, width)]
    if kind == "angry":
        return [stroke(bezier((45.6, 60.6), (50, 58.0), (54.4, 60.6), 10), lip, width)]
    if kind == "serious":
        return [stroke([(46.4, 59.6), (53.6, 59.6)], lip, width)]
    return [stroke([(45.8, 59.3), (54.2, 59.3)], lip, width)]  # neutral


def eyes(look: Look) -> list[Shape]:
    shapes: list[Shape] = []
    kind = "big" if look.child else look.eye_kind
    closed = {"laugh": (True, True), "wink": (False, True)}.get(look.expression, (False, False))
    if look.expression == "laugh" and look.extras.get("eye_color_stated"):
        closed = (False, False)  # asked-for eye colour stays visible
    lid = shade(look.skin, 0.55)
    for index, cx in enumerate(EYE_X):
        if closed[index]:
            shapes.append(stroke(bezier((cx - 3.2, 47.2), (cx, 42.6), (cx + 3.2, 47.2), 10), PUPIL, 1.0))
            continue
        if kind == "dot":
            shapes += [oval(cx, EYE_Y, 1.8, 2.2, PUPIL), oval(cx + 0.6, EYE_Y - 0.8, 0.55, 0.55, EYE_WHITE)]
            continue
        rx, ry, iris = {"big": (3.9, 4.0, 2.7), "round": (3.2, 2.9, 2.0), "almond": (3.6, 2.5, 1.9), "sleepy": (3.3, 2.9, 2.0)}[kind]
        if look.detail > 1:
            # Pixel art: a sprite's eye, a block of the eye's colour with a white glint (finer detail is noise at this grid).
            big = kind == "big"
            shapes += [
                oval(cx, EYE_Y + 0.3, 2.2 if big else 1.7, 2.9 if big else 2.3, look.eye),
                oval(cx + 0.9, EYE_Y - 0.7, 0.5, 0.5, EYE_WHITE),
            ]
            continue
        if kind == "almond":
            shapes.append(poly([(cx - rx, EYE_Y + 0.2), *bezier((cx - rx, EYE_Y + 0.2), (cx, EYE_Y - 2 * ry), (cx + rx, EYE_Y - 0.2), 10),
                                *bezier((cx + rx, EYE_Y - 0.2), (cx, EYE_Y + 2 * ry), (cx - rx, EYE_Y + 0.2), 10)], EYE_WHITE))  # fmt: skip
        else:
            shapes.append(oval(cx, EYE_Y, rx, ry, EYE_WHITE))
        shapes.append(oval(cx, EYE_Y + 0.3, iris, iris, look.eye))
        shapes.append(oval(cx, EYE_Y + 0.3, iris * 0.46, iris * 0.46, PUPIL))
        shapes.append(oval(cx + iris * 0.42, EYE_Y - iris * 0.3, iris * 0.26, iris * 0.26, EYE_WHITE))
        if kind == "sleepy":
            shapes.append(poly(ellipse_points(cx, EYE_Y, rx + 0.5, ry + 0.5, 180, 360, 16), look.skin))
            shapes.append(stroke([(cx - rx - 0.2, EYE_Y), (cx + rx + 0.2, EYE_Y)], lid, 0.8))
        else:
            shapes.append(stroke(ellipse_points(cx, EYE_Y, rx, ry, 195, 345, 12), lid, 0.7))
        if look.lashes:
            # Two flicks at the outer corner of the upper lid.
            outer = -1 if index == 0 else 1
            lid_y = EYE_Y if kind == "sleepy" else EYE_Y - ry * 0.45
            x0 = cx + outer * (rx - 0.3)
            shapes.append(stroke([(x0, lid_y), (x0 + outer * 1.6, lid_y - 1.2)], PUPIL, 0.6))
            shapes.append(stroke([(x0 - outer * 1.0, lid_y - 0.8), (x0 - outer * 0.2, lid_y - 2.0)], PUPIL, 0.55))
    return shapes


def brows(look: Look) -> list[Shape]:
    if look.hair_style == "bald" or look.hair_style == "mohawk":
        colour = shade(look.facial_hair_rgb if look.facial_hair != "none" else (90, 62, 44), 0.8)
    else:
        colour = shade(look.hair, 0.72)
    width = {"thin": 0.8, "thick": 1.5, "arched": 1.1}[look.brow_kind]
    lift = {"surprised": -2.0, "sad": 0.0, "angry": 0.6}.get(look.expression, 0.0) - (1.2 if look.child else 0)
    shapes = []
    for index, cx in enumerate(EYE_X):
        inward = 1 if index == 0 else -1  # towards the nose
        inner_y, outer_y = 40.0 + lift, 39.6 + lift
        if look.expression == "angry":
            inner_y, outer_y = 40.8, 37.6
        elif look.expression == "sad":
            inner_y, outer_y = 37.4, 39.8
        mid_y = min(inner_y, outer_y) - (1.1 if look.brow_kind == "arched" else 0.5)
        shapes.append(stroke(bezier((cx - inward * 4.0, outer_y), (cx, mid_y), (cx + inward * 3.6, inner_y), 8), colour, width))
    return shapes
