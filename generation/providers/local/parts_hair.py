"""Hair: behind the head (long hair, buns, tails, an afro), locks in front of the shoulders, the cap and fringe."""

import itertools
import math

from .colors import RGB, shade
from .shapes import HAIR_A, HAIR_B, HEAD_CX, HEAD_CY, Group, Look, Point, Shape, bezier, ellipse_points, mirror, oval, poly, stroke

# --- hair ----------------------------------------------------------------------------------------------


def _hair_colours(look: Look) -> tuple[RGB, RGB, RGB]:
    """The hair's own colour, a shade for depth and a highlight."""
    return look.hair, shade(look.hair, 0.82), shade(look.hair, 1.22)


def _wave(y: float, amplitude: float, period: float = 13.0) -> float:
    return amplitude * math.sin(2 * math.pi * (y - 41) / period)


def _curl(look: Look, radius: float) -> float:
    return radius * look.detail


def _side_edge(look: Look, bottom: float, outer: bool) -> list[Point]:
    """The left side of hair falling from the ears' line to `bottom`: outer edge (away from the face) or inner."""
    points = []
    steps = max(2, int((bottom - 41) / 2))
    for i in range(steps + 1):
        y = 41 + (bottom - 41) * i / steps
        x = 28.4 - 1.6 * min(1.0, (y - 41) / 30) if outer else 34.6 + 1.2 * math.sin(min(math.pi, (y - 41) / 36 * math.pi))
        if look.hair_texture == "wavy":
            x += _wave(y, 1.9 * look.detail, 13.0 * look.detail)
        points.append((x, y))
    return points


def _curls_along(points: list[Point], radius: float, colour: RGB) -> list[Shape]:
    """Curls: circles along a path, far enough apart that each is a bump of the silhouette (the checks count them)."""
    every = radius * 1.9
    shapes: list[Shape] = []
    travelled = every
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        while travelled <= length and length:
            t = travelled / length
            shapes.append(oval(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, radius, radius, colour))
            travelled += every
        travelled -= length
    return shapes


def hair_back(look: Look) -> list[Group]:
    """Hair behind the head and body: long and medium lengths, buns, tails, an afro's volume."""
    if look.hair_style in ("bald", "mohawk"):
        return []
    base, dark, light = _hair_colours(look)
    shapes: list[Shape] = []
    style = look.hair_style
    if style == "afro":
        outline = ellipse_points(50, 37, 25.5, 25, 0, 360, 64)
        shapes.append(poly(outline, base))
        shapes += _curls_along(outline, _curl(look, 4.6), base)
        shapes.append(oval(50, 44, 18, 17, dark, role="shade"))
        return [Group(tuple(shapes), name="hair_back")]
    if style == "bun" and not look.hat_covers_top:
        shapes.append(oval(50, 12.5, 7.6, 7.2, base))
        if look.hair_texture == "curly":
            shapes += _curls_along(ellipse_points(50, 12.5, 7.6, 7.2, 0, 360, 24), _curl(look, 2.2), base)
        shapes.append(stroke(ellipse_points(50, 12.5, 4.6, 3.2, 200, 340, 10), light, 0.8))
    if style == "bun" and look.hat_covers_top:
        shapes.append(oval(70.5, 56.5, 6.4, 6.4, base))
    if style == "ponytail":
        # Tied on the right, or on the left (the seed's choice; the checks accept either side).
        tail = [(62, 25), (71, 29), (77.6, 40), (78.6, 52), (76, 63), (73, 69), (72.6, 60), (71.4, 48), (68.8, 38), (64, 31)]
        flip = look.extras.get("parting") == "right"
        tail = mirror(tail) if flip else tail
        shapes.append(poly(tail, base))
        if look.hair_texture == "curly":
            shapes += _curls_along(tail[1:7], _curl(look, 2.6), base)
        shapes.append(oval(31.4 if flip else 68.6, 30.2, 2.4, 2.4, look.accent))
    if style == "pigtails":
        tail = [(34, 32), (27, 38), (22.4, 48), (22.6, 60), (25.6, 68), (27.4, 60), (28.2, 50), (30.6, 42), (36, 37)]
        for side in (tail, mirror(tail)):
            shapes.append(poly(side, base))
            if look.hair_texture == "curly":
                shapes += _curls_along(side[1:6], _curl(look, 2.6), base)
        shapes.append(oval(31.6, 36.4, 2.3, 2.3, look.accent))
        shapes.append(oval(68.4, 36.4, 2.3, 2.3, look.accent))
    length = look.hair_length if style == "loose" else "short"
    if length in ("medium", "long"):
        bottom = 61.0 if length == "medium" else 86.5  # the locks in front end there too (their curls line up)
        left_outer = _side_edge(look, bottom, outer=True)
        # Inside the front cap, so that the cap's own curls or waves make the silhouette over the head.
        cap = [(HEAD_CX + (x - HEAD_CX) * 0.96, HEAD_CY + (y - HEAD_CY) * 0.96) for x, y in _cap(look)]
        right_outer = mirror(left_outer)
        outline = [*reversed(left_outer), *cap, *right_outer]
        shapes.append(poly(outline, dark))
        if look.hair_texture == "curly":
            # The same curls as the locks in front (same path and size), so their bumps line up.
            shapes += _curls_along(left_outer, _curl(look, 3.0), dark) + _curls_along(right_outer, _curl(look, 3.0), dark)
    return [Group(tuple(shapes), name="hair_back")] if shapes else []


def long_hair_front(look: Look) -> list[Group]:
    """Locks of medium and long hair in front of the shoulders, beside the face."""
    if look.hair_style != "loose" or look.hair_length == "short":
        return []
    base = look.hair
    bottom = 61.0 if look.hair_length == "medium" else 86.5
    shapes: list[Shape] = []
    for flip in (False, True):
        outer = _side_edge(look, bottom, outer=True)
        inner = _side_edge(look, bottom, outer=False)
        tip = [(outer[-1][0] + 0.8, bottom + 0.4), (inner[-1][0] - 0.6, bottom - 0.6)]
        lock = [(34.4, 36.0), (29.6, 38.0), *outer, *tip, *reversed(inner)]
        if flip:
            lock = mirror(lock)
        shapes.append(poly(lock, base))
        if look.hair_texture == "curly":
            shapes += _curls_along(mirror(outer) if flip else outer, _curl(look, 3.0), base)
    return [Group(tuple(shapes), name="hair_locks")]


# Hairlines (the fringe's lower edge), from the right temple to the left one.
FRINGES = {
    "side": [(66.6, 41), (66.8, 35), (63.6, 29.6), (56, 27.6), (48, 29.6), (40.6, 34.4), (35.6, 38.6), (33.4, 41)],
    "middle": [(66.6, 41), (65.8, 33.6), (60.4, 28.4), (53, 26.6), (50, 28), (47, 26.6), (39.6, 28.4), (34.2, 33.6), (33.4, 41)],
    "bangs": [(66.6, 41), (66.2, 35.6), (60, 34.6), (50, 35.0), (40, 34.6), (33.8, 35.6), (33.4, 41)],
    "high": [(66.6, 41), (65.6, 32), (59, 27.4), (50, 26.4), (41, 27.4), (34.4, 32), (33.4, 41)],
}


def _cap(look: Look) -> list[Point]:
    """The hair's outer edge over the head, from the left ear to the right; waves swell it seven times round."""
    points = []
    waves = 7 / look.detail
    for i in range(61):
        angle = math.radians(189.2 + (350.8 - 189.2) * i / 60)
        swell = 1 + (0.06 * look.detail * math.sin(waves * angle) if look.hair_texture == "wavy" else 0)
        points.append((HEAD_CX + HAIR_A * swell * math.cos(angle), HEAD_CY + HAIR_B * swell * math.sin(angle)))
    return points


def hair_front(look: Look) -> list[Group]:
    """The hair over the head: the cap with its fringe (curly, wavy or straight edges), or a mohawk."""
    base, dark, light = _hair_colours(look)
    if look.hair_style == "bald":
        return []
    if look.hair_style == "mohawk":
        spikes = [(44.6, 32)]
        for i in range(7):
            y_top = 6.5 + 2.2 * abs(i - 3)
            spikes += [(45.4 + i * 1.6, y_top + 5), (46.2 + i * 1.6, y_top)]
        spikes += [(55.6, 20), (55.4, 32), (50, 30)]
        if look.hat_covers_top:
            return []
        return [Group((poly(spikes, base), stroke([(50, 12), (50, 28)], dark, 0.6)), name="hair_front")]
    fringe = "high" if look.hair_style in ("bun", "ponytail", "pigtails") else look.fringe
    hairline = FRINGES[fringe]
    if fringe == "side" and look.extras.get("parting") == "right":
        hairline = list(reversed(mirror(hairline)))
    wavy = look.hair_texture == "wavy"
    cap = _cap(look)
    outline = [*cap, *hairline]
    shapes = [poly(outline, base)]
    if look.hair_texture == "curly":
        shapes += _curls_along(cap, _curl(look, 3.8), base)
        shapes += _curls_along(hairline[1:-1], _curl(look, 2.0), base)
        # The sides down to the ears: curls there show under any hat.
        for x, y in ((30.8, 35.6), (30.0, 40.0), (30.6, 44.4)):
            r = _curl(look, 2.6)
            shapes += [oval(x, y, r, r, base), oval(2 * HEAD_CX - x, y, r, r, base)]
    else:
        # A parting or strand lines give the straight and wavy cuts their direction.
        if fringe == "side":
            shapes.append(stroke(bezier((58, 21.4), (50, 24), (42, 32), 8), dark, 0.7))
        elif fringe == "middle":
            shapes.append(stroke([(50, 20.4), (50, 27.2)], dark, 0.6))
        if wavy:
            shapes.append(stroke(bezier((36, 30), (42, 24), (50, 24.6), 8), light, 0.6))
            shapes.append(stroke(bezier((52, 23.6), (58, 22.4), (64, 28), 8), light, 0.6))
        else:
            shapes.append(stroke(bezier((38, 27.6), (44, 22.6), (52, 22.2), 8), light, 0.7))
    return [Group(tuple(shapes), name="hair_front")]
