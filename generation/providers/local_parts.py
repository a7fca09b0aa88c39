"""The local generator's vector parts: a resolved `Look` becomes a scene of shapes in a 100-unit square.

Every part is our own drawing (polygons, ellipses and strokes computed here), so the output is
avatarsite's to license: no third-party art. The head, eyes, mouth and body sit at fixed places
whatever the face shape or style, and `REGIONS` names where each part is: the pixel checks
(`local_checks.py`) measure those regions of a rendered image, so a part moved here must keep them true.
"""

import itertools
import math
from dataclasses import dataclass, field

from .local_colors import RGB, mix, shade

Point = tuple[float, float]

# The head: a fixed cranium (top at y=24, eyes at y=46); face shapes change only the jaw and chin.
HEAD_CX, HEAD_CY = 50.0, 45.0
CRANIUM_A, CRANIUM_B = 17.0, 21.0
EYE_Y = 46.0
EYE_X = (42.0, 58.0)
MOUTH_Y = 59.3
# The hair's outer cap around the cranium (top at y=19).
HAIR_A, HAIR_B = 21.5, 26.0

# Outlines: a deep blue-black, told apart from black hair and clothes.
INK = (26, 30, 70)
# The mouth's colours, far from every hair and skin tone (the checks find the mouth by them).
MOUTH_LINE = (140, 34, 66)
LIPS = (170, 50, 84)
MOUTH_INSIDE = (104, 18, 44)
TEETH = (255, 255, 255)
TONGUE = (229, 107, 120)
EYE_WHITE = (255, 255, 255)
PUPIL = (24, 20, 28)
LENS = (32, 34, 48)

# Where each part is, in units (x0, y0, x1, y1) of the 100-unit square: the pixel checks read these.
REGIONS: dict[str, tuple[float, float, float, float]] = {
    "bg_top_left": (2, 2, 9, 9),
    "bg_top_right": (91, 2, 98, 9),
    "bg_bottom_left": (2, 91, 9, 98),
    "bg_bottom_right": (91, 91, 98, 98),
    "bg_mid_left": (3, 62, 9, 68),
    "hair_crown": (46, 20.5, 54, 23),
    "hair_temple_left": (30.2, 36, 32.4, 39),
    "hair_temple_right": (67.6, 36, 69.8, 39),
    "hair_medium_left": (30.6, 55, 32.8, 59),
    "hair_medium_right": (67.2, 55, 69.4, 59),
    "hair_long_left": (27.6, 66, 30.8, 72),
    "hair_long_right": (69.2, 66, 72.4, 72),
    "bun": (47, 9.5, 53, 14),
    "low_bun": (69, 54.5, 72.5, 58),
    "ponytail": (73.2, 49, 76.6, 55),
    "pigtail_left": (23.4, 49, 26.8, 55),
    "mohawk": (48.2, 11, 51.8, 16),
    "scalp": (45.5, 25.5, 54.5, 28.5),
    "neck": (47, 71.6, 53, 73.8),
    "jaw_left": (40.4, 57.2, 42.6, 60.2),
    "under_chin": (48, 66.6, 52, 68.6),
    "moustache": (46.6, 55.2, 53.4, 56.2),
    "goatee": (48, 62.2, 52, 63.6),
    "bridge": (49, 44.2, 51, 45.4),
    "lens_corner": (47.9, 50.0, 48.9, 51.0),
    "lens_left": (39.6, 46.6, 44.4, 48.6),
    "eye_left": (38.0, 42.4, 46.0, 50.2),
    "eye_right": (54.0, 42.4, 62.0, 50.2),
    "mouth": (42.6, 56.4, 57.4, 63.4),
    "brow_left": (36.5, 35.2, 47.5, 40.4),
    "forehead": (44.5, 32.4, 55.5, 37.2),
    "eye_bag_left": (39.0, 49.2, 45.0, 51.2),
    "cloth_left": (24.5, 91.5, 29, 97),
    "cloth_right": (71, 91.5, 75.5, 97),
    "shoulder_outer_left": (18.8, 93, 20.8, 96),
    "hat_crown": (46, 17, 54, 22),
    "top_hat_top": (46, 7, 54, 11),
    "beret": (40, 21, 48, 25),
    "headband": (46, 27.4, 54, 29.2),
    "crown_band": (46, 22.6, 54, 25.6),
    "hat_brim_left": (21.8, 30.6, 23.8, 31.8),
    "cowboy_brim_left": (15.6, 25.4, 18.0, 27.2),
    "cap_bill": (46, 34.6, 54, 36.4),
    "beanie_cuff": (46, 30.4, 54, 33.6),
    "hood": (37.6, 75.2, 39.8, 77.4),
    "tie": (49.3, 85, 50.7, 89),
    "jacket_v": (48.8, 81, 51.2, 84),
    "shirt_v": (46.5, 81.8, 47.7, 84.2),
    "turtleneck": (46, 75.5, 54, 78),
    "neckline": (47.5, 76.4, 52.5, 77.8),
}
# The colour at the top and bottom of each scene (the checks compare the corners with them).
SCENE_COLOURS: dict[str, tuple[RGB, RGB]] = {
    "beach": ((139, 208, 242), (238, 216, 166)),
    "forest": ((214, 236, 214), (46, 104, 62)),
    "city": ((168, 198, 238), (92, 100, 122)),
    "space": ((18, 24, 60), (40, 30, 88)),
    "sunset": ((150, 92, 180), (255, 170, 92)),
    "snow": ((206, 226, 244), (246, 250, 255)),
    "mountains": ((186, 222, 246), (120, 170, 100)),
    "park": ((186, 228, 252), (118, 186, 88)),
    "studio": ((196, 196, 204), (166, 166, 176)),
}


@dataclass(frozen=True)
class Shape:
    """One filled polygon, filled ellipse (pts = the box's two corners) or stroke (a polyline `width` units wide)."""

    kind: str
    pts: tuple[Point, ...]
    fill: RGB
    width: float = 0.0
    # "shade": a shadow the soft style blends; "light": a highlight; "" a plain surface.
    role: str = ""


@dataclass(frozen=True)
class Group:
    """Shapes drawn together: outlined styles draw one outline around the group's silhouette."""

    shapes: tuple[Shape, ...]
    outline: bool = True
    name: str = ""


@dataclass(frozen=True)
class Look:
    """Everything the drawing needs, every value resolved (stated by the prompt or chosen from the seed)."""

    gender: str = ""
    age_group: str = "adult"
    face_shape: str = "oval"
    skin: RGB = (236, 193, 156)
    hair_style: str = "loose"
    hair_length: str = "short"
    hair_texture: str = "straight"
    hair: RGB = (94, 58, 34)
    fringe: str = "side"
    facial_hair: str = "none"
    facial_hair_rgb: RGB = (94, 58, 34)
    eye_kind: str = "round"
    eye: RGB = (107, 64, 36)
    brow_kind: str = "thick"
    nose_kind: str = "button"
    eyewear: str = "none"
    eyewear_rgb: RGB = (36, 35, 42)
    headwear: str = "none"
    headwear_rgb: RGB = (58, 108, 216)
    clothing: str = "t-shirt"
    clothing_rgb: RGB = (58, 108, 216)
    inner_rgb: RGB = (246, 246, 248)
    tie_rgb: RGB = (184, 25, 63)
    expression: str = "smile"
    background: str = "light blue"
    background_rgb: RGB | None = (150, 180, 240)
    backdrop: str = "circle"
    accent: RGB = (242, 114, 95)
    blush: bool = False
    lashes: bool = False
    pompom: bool = False
    # How big texture features are drawn (curls, waves): pixel art needs them chunkier to read.
    detail: float = 1.0
    extras: dict = field(default_factory=dict)

    @property
    def child(self) -> bool:
        return self.age_group in ("child", "infant")

    @property
    def hat_covers_top(self) -> bool:
        return self.headwear in ("hat", "cap", "beanie", "cowboy hat", "top hat", "beret")


# --- geometry helpers -------------------------------------------------------------------------------


def ellipse_points(cx: float, cy: float, rx: float, ry: float, start: float = 0, end: float = 360, n: int = 48) -> list[Point]:
    """Points along an ellipse from `start` to `end` degrees (0 = right, 90 = down: screen coordinates)."""
    steps = max(2, n)
    return [
        (
            cx + rx * math.cos(math.radians(start + (end - start) * i / steps)),
            cy + ry * math.sin(math.radians(start + (end - start) * i / steps)),
        )
        for i in range(steps + 1)
    ]


def box(cx: float, cy: float, rx: float, ry: float) -> tuple[Point, Point]:
    return ((cx - rx, cy - ry), (cx + rx, cy + ry))


def mirror(points: list[Point]) -> list[Point]:
    return [(2 * HEAD_CX - x, y) for x, y in points]


def bezier(p0: Point, p1: Point, p2: Point, n: int = 12) -> list[Point]:
    """A quadratic Bézier curve as points (paths in the parts are drawn through these)."""
    return [
        ((1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * p1[0] + t * t * p2[0], (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * p1[1] + t * t * p2[1])
        for t in (i / n for i in range(n + 1))
    ]


def poly(points: list[Point], fill: RGB, role: str = "") -> Shape:
    return Shape("poly", tuple(points), fill, role=role)


def oval(cx: float, cy: float, rx: float, ry: float, fill: RGB, role: str = "") -> Shape:
    return Shape("ellipse", box(cx, cy, rx, ry), fill, role=role)


def stroke(points: list[Point], fill: RGB, width: float) -> Shape:
    return Shape("line", tuple(points), fill, width=width)


# Jaw and chin per face shape: (chin length below the eyes' line, squareness exponent, taper to the chin).
# Every jaw is at least 20 units wide at the mouth's lowest point (y=61), so any mouth fits.
FACE_SHAPES = {
    "oval": (20.6, 2.4, 0.3),
    "round": (19.6, 2.7, 0.12),
    "square": (20.2, 3.6, 0.14),
    "heart": (21.0, 2.3, 0.5),
    "long": (22.6, 2.6, 0.28),
}


def chin_y(look: Look) -> float:
    length = FACE_SHAPES[look.face_shape][0]
    return HEAD_CY + (length - 1.2 if look.child else length)


def face_outline(look: Look) -> list[Point]:
    """The face: the fixed cranium above the ears' line, the face shape's jaw below it."""
    length, exponent, taper = FACE_SHAPES[look.face_shape]
    if look.child:
        length, taper = length - 1.2, taper * 0.6
    points = ellipse_points(HEAD_CX, HEAD_CY, CRANIUM_A, CRANIUM_B, 180, 360, 40)
    for i in range(1, 40):
        t = math.pi * i / 40
        c, s = math.cos(t), math.sin(t)
        x = HEAD_CX + CRANIUM_A * math.copysign(abs(c) ** (2 / exponent), c) * (1 - taper * s**4)
        y = HEAD_CY + length * abs(s) ** (2 / exponent)
        points.append((x, y))
    return points


def face_half_width(look: Look, y: float) -> float:
    """Half the face's width at height `y` (from its outline)."""
    outline = face_outline(look)
    best = 0.0
    for (x0, y0), (x1, y1) in zip(outline, outline[1:] + outline[:1], strict=True):
        if (y0 - y) * (y1 - y) <= 0 and y0 != y1:
            x = x0 + (x1 - x0) * (y - y0) / (y1 - y0)
            best = max(best, abs(x - HEAD_CX))
    return best


# --- the scene ---------------------------------------------------------------------------------------


def scene_groups(look: Look) -> list[Group]:
    """The avatar, back to front: background, hair behind, body, head, face, hair in front, eyewear, headwear."""
    groups: list[Group] = [*background_groups(look)]
    groups += hair_back(look)
    groups += body(look)
    groups += long_hair_front(look)
    groups += head(look)
    groups += face_features(look)
    groups += hair_front(look)
    groups += eyewear(look)
    groups += headwear(look)
    return [group for group in groups if group.shapes]


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
    shapes = [poly([(0, 0), (100, 0), (100, 100), (0, 100)], top)]
    if name == "beach":
        shapes.append(oval(80, 20, 6.5, 6.5, (255, 221, 110)))
        shapes.append(poly([(0, 56), (100, 56), (100, 73), (0, 73)], (54, 150, 206)))
        for x in (12, 38, 64, 88):
            shapes.append(stroke([(x - 5, 63), (x, 61.6), (x + 5, 63)], (180, 226, 246), 0.9))
        shapes.append(poly([(0, 71), *bezier((0, 71), (50, 66), (100, 72), 16), (100, 100), (0, 100)], bottom))
    elif name == "forest":
        far, near = (112, 168, 118), (64, 132, 80)
        for i, x in enumerate((-4, 14, 30, 70, 86, 104)):
            h = 34 + 8 * (i % 3)
            shapes.append(poly([(x - 11, 82), (x, 82 - h - 30), (x + 11, 82)], far))
        for x in (6, 24, 76, 94):
            shapes.append(poly([(x - 12, 96), (x, 40), (x + 12, 96)], near))
        shapes.append(poly([(0, 82), (100, 82), (100, 100), (0, 100)], bottom))
    elif name == "city":
        tones = ((112, 122, 146), (96, 106, 130), (126, 136, 160))
        for i, (x0, x1, top_y) in enumerate(((-2, 16, 38), (14, 30, 52), (28, 44, 30), (56, 72, 36), (70, 86, 50), (84, 102, 28))):
            shapes.append(poly([(x0, top_y), (x1, top_y), (x1, 100), (x0, 100)], tones[i % 3]))
            for wy in range(int(top_y) + 4, 80, 7):
                for wx in (x0 + 3.5, x0 + 9.5):
                    if wx + 2.4 < x1:
                        shapes.append(poly([(wx, wy), (wx + 2.4, wy), (wx + 2.4, wy + 3), (wx, wy + 3)], (255, 222, 140)))
        shapes.append(poly([(0, 84), (100, 84), (100, 100), (0, 100)], bottom))
    elif name == "space":
        shapes.append(poly([(0, 50), (100, 50), (100, 100), (0, 100)], mix(top, bottom, 0.5)))
        shapes.append(poly([(0, 75), (100, 75), (100, 100), (0, 100)], bottom))
        for x, y, r in ((14, 16, 0.8), (30, 8, 0.6), (70, 12, 0.7), (86, 24, 0.9), (22, 40, 0.6), (80, 44, 0.6), (10, 70, 0.7),
                        (90, 64, 0.8), (18, 86, 0.6), (60, 6, 0.5), (40, 14, 0.5), (94, 84, 0.6)):  # fmt: skip
            shapes.append(oval(x, y, r, r, (255, 255, 240)))
        shapes.append(oval(84, 78, 6.5, 6.5, (240, 160, 96)))
        shapes.append(stroke(ellipse_points(84, 78, 11, 2.6, 160, 380, 24), (250, 214, 150), 1.0))
    elif name == "sunset":
        bands = ((150, 92, 180), (204, 102, 160), (244, 120, 128), (255, 150, 100), bottom)
        for i, colour in enumerate(bands[1:], start=1):
            shapes.append(poly([(0, i * 18), (100, i * 18), (100, 100), (0, 100)], colour))
        shapes.append(oval(80, 62, 8.5, 8.5, (255, 214, 110)))
        shapes.append(poly([(0, 86), *bezier((0, 86), (40, 80), (100, 88), 16), (100, 100), (0, 100)], (255, 170, 92)))
    elif name == "snow":
        shapes.append(poly([(0, 70), *bezier((0, 70), (30, 62), (62, 72), 12), *bezier((62, 72), (84, 64), (100, 68), 10),
                            (100, 100), (0, 100)], bottom))  # fmt: skip
        for x, y in ((12, 14), (26, 30), (84, 12), (72, 30), (18, 52), (90, 48), (8, 34), (94, 28), (40, 8), (62, 8)):
            shapes.append(oval(x, y, 0.9, 0.9, (255, 255, 255)))
    elif name == "mountains":
        shapes.append(poly([(-10, 80), (18, 34), (40, 66), (62, 30), (96, 70), (110, 80)], (136, 150, 196)))
        shapes.append(poly([(12.5, 43), (18, 34), (23.6, 43), (18, 41)], (246, 248, 255)))
        shapes.append(poly([(56, 40), (62, 30), (68.4, 40), (62, 38)], (246, 248, 255)))
        shapes.append(poly([(-10, 86), (8, 56), (30, 86)], (94, 111, 153)))
        shapes.append(poly([(0, 82), *bezier((0, 82), (50, 74), (100, 82), 16), (100, 100), (0, 100)], bottom))
    elif name == "park":
        shapes.append(oval(18, 18, 7, 3.6, (255, 255, 255)))
        shapes.append(oval(24, 16, 5, 4, (255, 255, 255)))
        shapes.append(oval(80, 26, 7, 3.4, (255, 255, 255)))
        for x, r in ((8, 12), (26, 9), (74, 10), (94, 12)):
            shapes.append(oval(x, 72 - r * 0.3, r, r, (86, 158, 72)))
        shapes.append(poly([(0, 76), *bezier((0, 76), (50, 70), (100, 76), 16), (100, 100), (0, 100)], bottom))
    elif name == "studio":
        shapes.append(oval(50, 52, 46, 46, (214, 214, 220)))
        shapes.append(poly([(0, 86), (100, 86), (100, 100), (0, 100)], bottom))
    return shapes


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


# --- body ----------------------------------------------------------------------------------------------


def _torso(look: Look, neckline: list[Point]) -> list[Point]:
    half = 27.0 if look.child else {"male": 35.0, "female": 32.0}.get(look.gender, 33.5)
    left_shoulder = bezier((43, 74), (50 - half + 4, 75.6), (50 - half, 88), 10)
    return [*left_shoulder, (50 - half - 0.6, 101), (50 + half + 0.6, 101), *reversed(mirror(left_shoulder)), *neckline]


def body(look: Look) -> list[Group]:
    """Neck and clothing: t-shirt, shirt, hoodie, sweater, jacket, suit, dress or turtleneck."""
    cloth = look.clothing_rgb
    cloth_dark, cloth_light = shade(cloth, 0.8), shade(cloth, 1.18)
    skin_dark = shade(look.skin, 0.82)
    groups: list[Group] = []
    kind = look.clothing
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
    groups.append(Group((poly(neck, look.skin), poly(neck_shadow, skin_dark, role="shade")), name="neck"))
    crew = bezier((57, 74), (50, 81.2), (43, 74), 10)
    shapes: list[Shape] = []
    if kind in ("t-shirt", "sweater", "hoodie"):
        shapes.append(poly(_torso(look, crew), cloth))
        rib = 1.5 if kind == "sweater" else 1.0
        shapes.append(stroke(bezier((57.4, 74.2), (50, 81.8), (42.6, 74.2), 10), cloth_dark, rib))
        if kind == "sweater":
            # A knitted band of chevrons across the chest.
            zigzag = [(32 + i * 3.0, 90.4 if i % 2 else 88.2) for i in range(13)]
            shapes.append(stroke(zigzag, cloth_light, 0.8))
            shapes.append(stroke([(x, y + 3.2) for x, y in zigzag], cloth_light, 0.8))
    elif kind == "shirt":
        neckline = bezier((57, 74), (50, 79.6), (43, 74), 8)
        shapes.append(poly(_torso(look, neckline), cloth))
        shapes.append(stroke([(50, 79.4), (50, 101)], cloth_dark, 0.6))
        for y in (84, 90, 96):
            shapes.append(oval(50, y, 0.7, 0.7, cloth_light))
        left_collar = [(42.6, 73.2), (50.2, 79.6), (45.6, 83.4), (40.8, 76.6)]
        shapes.append(poly(left_collar, cloth_light))
        shapes.append(poly(mirror(left_collar), cloth_light))
    elif kind in ("jacket", "suit"):
        inner = look.inner_rgb
        shapes.append(poly(_torso(look, crew), cloth))
        v = [(42.6, 74), (57.4, 74), (55, 80), (50, 94), (45, 80)]
        shapes.append(poly(v, inner))
        if kind == "suit":
            shapes.append(poly([(48.3, 77.4), (51.7, 77.4), (51.3, 80.6), (48.7, 80.6)], look.tie_rgb))
            shapes.append(poly([(48.7, 80.4), (51.3, 80.4), (52.1, 90), (50, 93), (47.9, 90)], look.tie_rgb))
        # The shirt shows between the lapel and the tie (REGIONS["shirt_v"]).
        lapel = [(43.2, 73.8), (45.2, 80), (49.6, 94), (43.6, 86), (40.8, 80.4), (44.0, 79.4), (40.8, 76.2)]
        shapes.append(poly(lapel, cloth_dark))
        shapes.append(poly(mirror(lapel), cloth_dark))
        shapes.append(oval(50.2, 96.4, 0.8, 0.8, cloth_light))
    elif kind == "dress":
        scoop = bezier((56.2, 74.6), (50, 86), (43.8, 74.6), 12)
        shapes.append(poly(_torso(look, scoop), cloth))
        shapes.append(stroke(bezier((56.6, 74.8), (50, 86.8), (43.4, 74.8), 12), cloth_dark, 0.9))
        shapes.append(stroke([(38, 79), (36, 98)], cloth_light, 0.5))
        shapes.append(stroke([(62, 79), (64, 98)], cloth_light, 0.5))
    elif kind == "turtleneck":
        shapes.append(poly(_torso(look, crew), cloth))
        collar = [(43.2, 74.2), (56.8, 74.2), (57.4, 80), *bezier((57.4, 80), (50, 82.6), (42.6, 80), 8)]
        shapes.append(poly(collar, cloth_dark))
        for x in (45.5, 48.5, 51.5, 54.5):
            shapes.append(stroke([(x, 74.8), (x, 80.4)], shade(cloth, 0.7), 0.5))
    # A shadow down the far side of the body, along the arm.
    half = 27.0 if look.child else {"male": 35.0, "female": 32.0}.get(look.gender, 33.5)
    arm = bezier((50 + half - 8, 78.4), (50 + half - 1.6, 82), (50 + half - 0.4, 101), 8)
    fold = [*arm, *[(x - 4.6 * (1 - abs(y - 90) / 14), y) for x, y in reversed(arm)]]
    shapes.append(poly(_away_from_light(look, fold), cloth_dark, role="shade"))
    groups.append(Group(tuple(shapes), name="clothes"))
    if kind == "hoodie":
        # The hood lies on the shoulders around the neck, over the body.
        hood = [(36.2, 71.6), *bezier((36.2, 71.6), (38, 88), (50, 88.4), 8), *bezier((50, 88.4), (62, 88), (63.8, 71.6), 8),
                (60.2, 72), *bezier((60.2, 72), (58, 82), (50, 82.4), 6), *bezier((50, 82.4), (42, 82), (39.8, 72), 6)]  # fmt: skip
        strings = []
        for x in (46.6, 53.4):
            strings += [stroke([(x, 80.4), (x - 0.2, 91)], (245, 245, 245), 0.8), oval(x - 0.2, 91.6, 0.7, 1.1, (220, 220, 225))]
        groups.append(Group((poly(hood, shade(cloth, 0.72)),), name="hood"))
        groups.append(Group(tuple(strings), outline=False, name="strings"))
    return groups


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
    face.append(poly(_away_from_light(look, _cheek_shade(look)), shade(skin, 0.9), role="shade"))
    return [Group(tuple(ears), name="ears"), Group(tuple(face), name="face")]


def _away_from_light(look: Look, points: list[Point]) -> list[Point]:
    """Shadows are drawn on the right; with the light from the right they fall on the left."""
    return mirror(points) if look.extras.get("light") == "right" else points


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
    shapes: list[Shape] = []
    if kind == "hat":
        brim = ellipse_points(50, 31.2, 29.5, 3.9, 0, 360, 48)
        crown = [(36.4, 31), (37.2, 19.6), *bezier((37.2, 19.6), (40, 12.4), (47, 13.4), 6), (50, 15.2),
                 *bezier((53, 13.4), (60, 12.4), (62.8, 19.6), 6), (63.6, 31)]  # fmt: skip
        shapes += [poly(brim, colour), poly(crown, colour), poly([(36.7, 25.6), (63.3, 25.6), (63.5, 29.8), (36.5, 29.8)], dark)]
        shapes.append(stroke(bezier((26, 32.6), (50, 36.2), (74, 32.6), 12), dark, 0.7))
    elif kind == "cap":
        dome = [*ellipse_points(50, 33.4, 18.8, 16.4, 180, 360, 30)]
        bill = [(31.2, 32.2), (68.8, 32.2), (71.2, 34.6), *bezier((71.2, 34.6), (50, 40.4), (28.8, 34.6), 14)]
        shapes += [poly(dome, colour), poly(bill, dark)]
        shapes += [
            stroke(bezier((50, 17.2), (44, 22), (42.6, 32.6), 8), dark, 0.6),
            stroke(bezier((50, 17.2), (56, 22), (57.4, 32.6), 8), dark, 0.6),
        ]
        shapes.append(oval(50, 17.6, 1.6, 1.1, dark))
        shapes.append(stroke(bezier((40, 27), (44, 22), (48, 21), 6), light, 0.8))
    elif kind == "beanie":
        dome = ellipse_points(50, 34.4, 19.4, 18.2, 180, 360, 30)
        cuff = [(30.4, 28.8), (69.6, 28.8), (70.0, 35.6), (30.0, 35.6)]
        shapes += [poly(dome, colour), poly(cuff, dark)]
        for x in range(33, 68, 3):
            shapes.append(stroke([(x, 29.6), (x, 34.8)], shade(colour, 0.68), 0.45))
        if look.pompom:
            shapes.append(oval(50, 14.6, 4.6, 4.4, light))
    elif kind == "cowboy hat":
        brim = [(12.4, 22), *bezier((12.4, 22), (20, 30.6), (50, 30.2), 12), *bezier((50, 30.2), (80, 30.6), (87.6, 22), 12),
                (86.8, 26.8), *bezier((86.8, 26.8), (74, 36.2), (50, 35.6), 12),
                *bezier((50, 35.6), (26, 36.2), (13.2, 26.8), 12)]  # fmt: skip
        crown = [(36.8, 30.6), (37.6, 18.4), *bezier((37.6, 18.4), (41, 11.6), (46, 14.0), 6), (50, 12.6),
                 *bezier((54, 14.0), (59, 11.6), (62.4, 18.4), 6), (63.2, 30.6)]  # fmt: skip
        shapes += [poly(crown, colour), poly([(37.1, 26), (62.9, 26), (63.1, 29.6), (36.9, 29.6)], dark), poly(brim, colour)]
        shapes.append(stroke(bezier((20, 30.2), (50, 33.6), (80, 30.2), 12), dark, 0.6))
    elif kind == "top hat":
        shapes += [
            poly([(37.6, 30.0), (38.6, 3.6), (61.4, 3.6), (62.4, 30.0)], colour),
            oval(50, 3.8, 11.4, 1.8, light),
            poly([(37.9, 23.6), (62.1, 23.6), (62.3, 28.0), (37.7, 28.0)], band),
            poly(ellipse_points(50, 30.2, 19.6, 3.2, 0, 360, 40), colour),
        ]
    elif kind == "beret":
        outline = [(50 + 21 * math.cos(a) * math.cos(-0.14) - 7.6 * math.sin(a) * math.sin(-0.14) - 4,
                    25 + 21 * math.cos(a) * math.sin(-0.14) + 7.6 * math.sin(a) * math.cos(-0.14)) for a in
                   (math.radians(i * 7.5) for i in range(48))]  # fmt: skip
        shapes += [poly(outline, colour), oval(47, 17.2, 1.4, 1.8, dark), stroke(bezier((30, 31), (46, 33.6), (64, 27), 10), dark, 0.6)]
    elif kind == "headband":
        upper = ellipse_points(HEAD_CX, HEAD_CY, 19.6, 18.8, 214, 326, 24)
        lower = ellipse_points(HEAD_CX, HEAD_CY, 19.0, 15.0, 214, 326, 24)
        shapes += [poly([*upper, *reversed(lower)], colour)]
    elif kind == "crown":
        body = [(37.6, 27), (37.6, 11.6), (43.6, 18.6), (50, 9.4), (56.4, 18.6), (62.4, 11.6), (62.4, 27)]
        shapes += [poly(body, colour), poly([(37.6, 22.4), (62.4, 22.4), (62.4, 27), (37.6, 27)], shade(colour, 0.88))]
        shapes += [oval(42.6, 24.7, 1.2, 1.2, band), oval(57.4, 24.7, 1.2, 1.2, (60, 110, 220)), oval(50, 11.2, 1.3, 1.3, band)]
        shapes += [oval(37.6, 12.0, 1.0, 1.0, light), oval(62.4, 12.0, 1.0, 1.0, light)]
    return [Group(tuple(shapes), name="headwear")]
