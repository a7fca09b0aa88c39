"""The background behind the avatar: a plain colour with a backdrop layout, or a drawn scene (beach, city...)."""

import math

from .colors import RGB, mix, shade
from .shapes import SCENE_COLOURS, Group, Look, Shape, bezier, ellipse_points, oval, poly, stroke

# --- background ----------------------------------------------------------------------------------------


def background_groups(look: Look) -> list[Group]:
    if look.background_rgb is None:
        return [Group(tuple(scene_shapes(look.background)), outline=False, name="background")]
    base = look.background_rgb
    light, dark = shade(base, 1.12), shade(base, 0.92)
    shapes = [poly([(0, 0), (100, 0), (100, 100), (0, 100)], base)]
    variant = look.backdrop
    if variant == "circle":
        shapes.append(oval(50, 50, 38, 38, light))
    elif variant == "rings":
        shapes += [oval(50, 48, 42, 42, light), oval(50, 48, 33, 33, base), oval(50, 48, 25, 25, light)]
    elif variant == "dots":
        for row in range(6):
            for col in range(6):
                x, y = 12 + col * 15.2 + (7.6 if row % 2 else 0), 14 + row * 15
                if 4 < x < 96 and 4 < y < 96:
                    shapes.append(oval(x, y, 1.6, 1.6, light))
    elif variant == "stripes":
        for k in range(-4, 8):
            x = k * 16
            shapes.append(poly([(x, 100), (x + 8, 100), (x + 58, 0), (x + 50, 0)], light))
    elif variant == "arch":
        shapes.append(poly([(16, 100), *ellipse_points(50, 44, 34, 34, 180, 360, 40), (84, 100)], light))
    elif variant == "split":
        shapes.append(poly([(0, 100), (100, 38), (100, 100)], dark))
    elif variant == "blob":
        shapes.append(poly([(50 + r * math.cos(a), 50 + r * math.sin(a)) for a, r in _blob(seed_angle=0.7)], light))
    elif variant in BOLD_BACKDROPS:
        # A light falling from one side (the seed's), then the layout's second tone.
        wash = look.extras.get("wash", 0.0)
        for i in range(20):
            factor = 1 + wash * (1 - i / 9.5)
            shapes.append(poly([(i * 5, 0), (i * 5 + 5.2, 0), (i * 5 + 5.2, 100), (i * 5, 100)], shade(base, factor)))
        shapes += _bold_backdrop(variant, base)
    return [Group(tuple(shapes), outline=False, name="background")]


# Backdrops with a strong second tone, for backgrounds the prompt leaves open (a stated colour keeps
# its corners plain). Their edges keep clear of the places the checks compare: the left edge at the
# hat-brim height, and the bottom band beside the shoulders.
BOLD_BACKDROPS = ("half_left", "half_right", "orb_left", "orb_right", "floor", "sunrise", "diagonal_left", "diagonal_right", "bands",
                  "corner_left", "corner_right")  # fmt: skip


def _bold_backdrop(variant: str, base: RGB) -> list[Shape]:
    second = shade(base, 0.74) if sum(base) > 360 else mix(base, (255, 255, 255), 0.32)
    if variant == "half_left":
        return [poly([(0, 0), (50, 0), (50, 100), (0, 100)], second)]
    if variant == "half_right":
        return [poly([(50, 0), (100, 0), (100, 100), (50, 100)], second)]
    if variant == "orb_left":
        return [oval(22, 24, 27, 27, second)]
    if variant == "orb_right":
        return [oval(78, 24, 27, 27, second)]
    if variant == "floor":
        return [poly([(0, 66), (100, 66), (100, 100), (0, 100)], second)]
    if variant == "diagonal_left":
        return [poly([(0, 0), (60, 0), (0, 60)], second)]
    if variant == "diagonal_right":
        return [poly([(40, 0), (100, 0), (100, 60)], second)]
    if variant == "bands":
        return [poly([(0, 20), (100, 20), (100, 45), (0, 45)], second), poly([(0, 70), (100, 70), (100, 100), (0, 100)], second)]
    if variant == "corner_left":
        return [oval(0, 0, 46, 46, second)]
    if variant == "corner_right":
        return [oval(100, 0, 46, 46, second)]
    return [oval(50, 104, 62, 62, second)]  # sunrise


def _blob(seed_angle: float) -> list[tuple[float, float]]:
    return [
        (math.radians(i * 6), 36 + 4 * math.sin(3 * math.radians(i * 6) + seed_angle) + 2.5 * math.cos(5 * math.radians(i * 6)))
        for i in range(60)
    ]


def scene_shapes(name: str) -> list[Shape]:
    """A simple scene behind the person; its top and bottom colours are SCENE_COLOURS[name]."""
    top, bottom = SCENE_COLOURS[name]
    return [poly([(0, 0), (100, 0), (100, 100), (0, 100)], top), *SCENES[name](top, bottom)]


# Each scene's shapes over its sky (the colour at its top), given its top and bottom colours.
def _beach(top: RGB, bottom: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    shapes.append(oval(80, 20, 6.5, 6.5, (255, 221, 110)))
    shapes.append(poly([(0, 56), (100, 56), (100, 73), (0, 73)], (54, 150, 206)))
    for x in (12, 38, 64, 88):
        shapes.append(stroke([(x - 5, 63), (x, 61.6), (x + 5, 63)], (180, 226, 246), 0.9))
    shapes.append(poly([(0, 71), *bezier((0, 71), (50, 66), (100, 72), 16), (100, 100), (0, 100)], bottom))
    return shapes


def _forest(top: RGB, bottom: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    far, near = (112, 168, 118), (64, 132, 80)
    for i, x in enumerate((-4, 14, 30, 70, 86, 104)):
        h = 34 + 8 * (i % 3)
        shapes.append(poly([(x - 11, 82), (x, 82 - h - 30), (x + 11, 82)], far))
    for x in (6, 24, 76, 94):
        shapes.append(poly([(x - 12, 96), (x, 40), (x + 12, 96)], near))
    shapes.append(poly([(0, 82), (100, 82), (100, 100), (0, 100)], bottom))
    return shapes


def _city(top: RGB, bottom: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    tones = ((112, 122, 146), (96, 106, 130), (126, 136, 160))
    for i, (x0, x1, top_y) in enumerate(((-2, 16, 38), (14, 30, 52), (28, 44, 30), (56, 72, 36), (70, 86, 50), (84, 102, 28))):
        shapes.append(poly([(x0, top_y), (x1, top_y), (x1, 100), (x0, 100)], tones[i % 3]))
        for wy in range(int(top_y) + 4, 80, 7):
            for wx in (x0 + 3.5, x0 + 9.5):
                if wx + 2.4 < x1:
                    shapes.append(poly([(wx, wy), (wx + 2.4, wy), (wx + 2.4, wy + 3), (wx, wy + 3)], (255, 222, 140)))
    shapes.append(poly([(0, 84), (100, 84), (100, 100), (0, 100)], bottom))
    return shapes


def _space(top: RGB, bottom: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    shapes.append(poly([(0, 50), (100, 50), (100, 100), (0, 100)], mix(top, bottom, 0.5)))
    shapes.append(poly([(0, 75), (100, 75), (100, 100), (0, 100)], bottom))
    for x, y, r in ((14, 16, 0.8), (30, 8, 0.6), (70, 12, 0.7), (86, 24, 0.9), (22, 40, 0.6), (80, 44, 0.6), (10, 70, 0.7),
                    (90, 64, 0.8), (18, 86, 0.6), (60, 6, 0.5), (40, 14, 0.5), (94, 84, 0.6)):  # fmt: skip
        shapes.append(oval(x, y, r, r, (255, 255, 240)))
    shapes.append(oval(84, 78, 6.5, 6.5, (240, 160, 96)))
    shapes.append(stroke(ellipse_points(84, 78, 11, 2.6, 160, 380, 24), (250, 214, 150), 1.0))
    return shapes


def _sunset(top: RGB, bottom: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    bands = ((150, 92, 180), (204, 102, 160), (244, 120, 128), (255, 150, 100), bottom)
    for i, colour in enumerate(bands[1:], start=1):
        shapes.append(poly([(0, i * 18), (100, i * 18), (100, 100), (0, 100)], colour))
    shapes.append(oval(80, 62, 8.5, 8.5, (255, 214, 110)))
    shapes.append(poly([(0, 86), *bezier((0, 86), (40, 80), (100, 88), 16), (100, 100), (0, 100)], (255, 170, 92)))
    return shapes


def _snow(top: RGB, bottom: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    shapes.append(poly([(0, 70), *bezier((0, 70), (30, 62), (62, 72), 12), *bezier((62, 72), (84, 64), (100, 68), 10),
                        (100, 100), (0, 100)], bottom))  # fmt: skip
    for x, y in ((12, 14), (26, 30), (84, 12), (72, 30), (18, 52), (90, 48), (8, 34), (94, 28), (40, 8), (62, 8)):
        shapes.append(oval(x, y, 0.9, 0.9, (255, 255, 255)))
    return shapes


def _mountains(top: RGB, bottom: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    shapes.append(poly([(-10, 80), (18, 34), (40, 66), (62, 30), (96, 70), (110, 80)], (136, 150, 196)))
    shapes.append(poly([(12.5, 43), (18, 34), (23.6, 43), (18, 41)], (246, 248, 255)))
    shapes.append(poly([(56, 40), (62, 30), (68.4, 40), (62, 38)], (246, 248, 255)))
    shapes.append(poly([(-10, 86), (8, 56), (30, 86)], (94, 111, 153)))
    shapes.append(poly([(0, 82), *bezier((0, 82), (50, 74), (100, 82), 16), (100, 100), (0, 100)], bottom))
    return shapes


def _park(top: RGB, bottom: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    shapes.append(oval(18, 18, 7, 3.6, (255, 255, 255)))
    shapes.append(oval(24, 16, 5, 4, (255, 255, 255)))
    shapes.append(oval(80, 26, 7, 3.4, (255, 255, 255)))
    for x, r in ((8, 12), (26, 9), (74, 10), (94, 12)):
        shapes.append(oval(x, 72 - r * 0.3, r, r, (86, 158, 72)))
    shapes.append(poly([(0, 76), *bezier((0, 76), (50, 70), (100, 76), 16), (100, 100), (0, 100)], bottom))
    return shapes


def _studio(top: RGB, bottom: RGB) -> list[Shape]:
    shapes: list[Shape] = []
    shapes.append(oval(50, 52, 46, 46, (214, 214, 220)))
    shapes.append(poly([(0, 86), (100, 86), (100, 100), (0, 100)], bottom))
    return shapes


SCENES = {
    "beach": _beach,
    "forest": _forest,
    "city": _city,
    "space": _space,
    "sunset": _sunset,
    "snow": _snow,
    "mountains": _mountains,
    "park": _park,
    "studio": _studio,
}
