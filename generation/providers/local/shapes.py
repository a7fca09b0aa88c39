"""The local generator's drawing vocabulary: the fixed geometry of the head, the part colours, `REGIONS`, shapes and `Look`.

A resolved `Look` becomes a scene of shapes in a 100-unit square (parts.scene_groups, from the parts_*
modules). Every part is our own drawing (polygons, ellipses and strokes computed here), so the output is
avatarsite's to license: no third-party art. The head, eyes, mouth and body sit at fixed places
whatever the face shape or style, and `REGIONS` names where each part is: the pixel checks
(checks*.py) measure those regions of a rendered image, so a part moved here must keep them true.
"""

import math
from dataclasses import dataclass, field

from .colors import RGB

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


# --- light ------------------------------------------------------------------------------------------


def away_from_light(look: Look, points: list[Point]) -> list[Point]:
    """Shadows are drawn on the right; with the light from the right they fall on the left."""
    return mirror(points) if look.extras.get("light") == "right" else points
