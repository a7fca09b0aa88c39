"""The local generator's named colours (general, hair, skin, eyes) and the colour maths its drawing and pixel checks share.

A name always means one colour: "blue hat" draws `NAMED["blue"]` in every style, and the pixel
checks measure a region against that same value (CIE L*a*b*, ΔE 1976). "light"/"dark" variants are
mixed from the base; hair and skin have their own natural tones under the names people use for them.
"""

from functools import cache

RGB = tuple[int, int, int]


def hex_rgb(value: str) -> RGB:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def rgb_hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def mix(a: RGB, b: RGB, share_of_b: float) -> RGB:
    """`a` moved `share_of_b` of the way to `b`."""
    return tuple(round(x + (y - x) * share_of_b) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def shade(rgb: RGB, factor: float) -> RGB:
    """Darker below 1 (towards black), lighter above 1 (towards white)."""
    if factor < 1:
        return mix(rgb, (0, 0, 0), 1 - factor)
    return mix(rgb, (255, 255, 255), factor - 1)


WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)

# General colours: clothing, headwear, eyewear frames, backgrounds, and dyed hair.
BASE = {
    "red": "#d83a3a",
    "crimson": "#b8193f",
    "maroon": "#7b1e2e",
    "burgundy": "#7c1f3a",
    "orange": "#f2861e",
    "coral": "#f2725f",
    "peach": "#f7b08a",
    "yellow": "#f5cd30",
    "gold": "#d6a62a",
    "mustard": "#c99e20",
    "beige": "#dcc8a4",
    "cream": "#f3e9cf",
    "tan": "#c9a173",
    "brown": "#7a4a2a",
    "green": "#3b9e4e",
    "lime": "#98cf34",
    "olive": "#7a8a2c",
    "mint": "#9de0bf",
    "emerald": "#17905e",
    "teal": "#15918e",
    "turquoise": "#33c1bc",
    "cyan": "#2fb6e0",
    "blue": "#3a6cd8",
    "navy": "#1f2d68",
    "indigo": "#3f3a9e",
    "purple": "#8547c8",
    "violet": "#7a55e6",
    "lavender": "#b5a2e8",
    "lilac": "#c7a0cf",
    "magenta": "#d1339a",
    "pink": "#f28ab4",
    "black": "#24232a",
    "charcoal": "#3c3f46",
    "gray": "#8b8b94",
    "silver": "#c1c3c9",
    "white": "#f6f6f8",
}
SYNONYMS = {
    "grey": "gray",
    "blonde": "blond",
    "golden": "gold",
    "purple-ish": "purple",
    "scarlet": "red",
    "ruby": "crimson",
    "wine": "burgundy",
    "aqua": "turquoise",
    "sky": "light blue",
    "royal": "blue",
    "forest": "dark green",
    "rose": "pink",
    "fuchsia": "magenta",
    "amber": "orange",
    "ivory": "cream",
    "khaki": "beige",
    "jade": "emerald",
}
MODIFIERS = {"light": 0.42, "pale": 0.42, "pastel": 0.55, "dark": -0.38, "deep": -0.38}

# Natural hair tones under the names people use for hair; any other colour name draws `BASE`.
HAIR = {
    "black": "#1f1c22",
    "dark brown": "#3a2417",
    "brown": "#5e3a22",
    "light brown": "#8d5d38",
    "chestnut": "#6e3620",
    "blond": "#e2bf6b",
    "dark blond": "#b88e4a",
    "light blond": "#efdca6",
    "platinum": "#efe6c9",
    "strawberry blond": "#dd9868",
    "red": "#b8432a",
    "ginger": "#c85a24",
    "auburn": "#8b3322",
    "copper": "#b7572a",
    "gray": "#9c9ca4",
    "silver": "#c6c8ce",
    "white": "#ececef",
}
NATURAL_HAIR = ("black", "dark brown", "brown", "light brown", "blond", "dark blond", "red", "auburn", "ginger")
ELDERLY_HAIR = ("gray", "silver", "white")
DYED_HAIR = ("pink", "blue", "purple", "teal", "green", "lavender", "mint")

SKIN = {
    "pale": "#fbe2d4",
    "fair": "#f5d2b8",
    "light": "#ecc19c",
    "medium": "#d8a474",
    "olive": "#c59b68",
    "tan": "#c08655",
    "brown": "#9a6240",
    "dark": "#6f4229",
    "deep": "#4d2d1c",
}
SKIN_ORDER = tuple(SKIN)

EYES = {
    "brown": "#6b4024",
    "dark brown": "#3e2616",
    "blue": "#3d7fd4",
    "light blue": "#78aee6",
    "green": "#3d9a56",
    "hazel": "#8d6d2e",
    "gray": "#7f90a3",
    "amber": "#c7862a",
}

# Unstated backgrounds are picked from these (each a name a user could also ask for).
BACKGROUNDS = (
    "light blue", "yellow", "coral", "mint", "lavender", "teal", "peach", "pink", "navy", "orange",
    "light green", "turquoise", "purple", "gold", "cream", "blue", "light pink", "dark green", "magenta", "cyan",
    "indigo", "burgundy", "charcoal", "dark blue", "maroon", "dark teal", "emerald", "dark purple",
)  # fmt: skip
# Unstated clothing colours.
CLOTHING = (
    "red", "blue", "green", "navy", "teal", "mustard", "purple", "orange", "pink", "gray", "black", "white",
    "burgundy", "olive", "coral", "light blue", "lavender", "charcoal", "yellow", "emerald",
)  # fmt: skip


def canonical(name: str) -> str:
    """'Grey' -> 'gray', 'sky' -> 'light blue': the key a colour name is stored and drawn under."""
    name = " ".join(name.lower().replace("-", " ").split())
    parts = name.split(" ")
    parts = [SYNONYMS.get(part, part) for part in parts]
    return SYNONYMS.get(" ".join(parts), " ".join(parts))


def is_colour(name: str) -> bool:
    return color_rgb(name) is not None


@cache
def color_rgb(name: str, *, hair: bool = False) -> RGB | None:
    """The RGB of a colour name ("blue", "light blue", "dark red"), hair tones when `hair`; None if unknown."""
    name = canonical(name)
    if hair and name in HAIR:
        return hex_rgb(HAIR[name])
    if name in BASE:
        return hex_rgb(BASE[name])
    if name in HAIR:  # "blond jacket", "auburn scarf": the hair tone is the best reading
        return hex_rgb(HAIR[name])
    modifier, _, base = name.partition(" ")
    if modifier in MODIFIERS and base:
        rgb = color_rgb(base, hair=hair)
        if rgb is None:
            return None
        amount = MODIFIERS[modifier]
        return mix(rgb, WHITE, amount) if amount > 0 else mix(rgb, BLACK, -amount)
    return None


def hair_rgb(name: str) -> RGB | None:
    return color_rgb(name, hair=True)


def skin_rgb(name: str) -> RGB:
    return hex_rgb(SKIN[name])


def eye_rgb(name: str) -> RGB | None:
    name = canonical(name)
    if name in EYES:
        return hex_rgb(EYES[name])
    return color_rgb(name)


# --- colour maths -------------------------------------------------------------------------------


def _linear(channel: float) -> float:
    channel /= 255
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def _f(t: float) -> float:
    return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116


@cache
def lab(rgb: RGB) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""
    r, g, b = (_linear(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    fx, fy, fz = _f(x), _f(y), _f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a: RGB, b: RGB) -> float:
    """Perceived distance of two colours (ΔE 1976): about 2 is just visible, 20 clearly another colour."""
    la, lb = lab(a), lab(b)
    return ((la[0] - lb[0]) ** 2 + (la[1] - lb[1]) ** 2 + (la[2] - lb[2]) ** 2) ** 0.5


def lightness(rgb: RGB) -> float:
    return lab(rgb)[0]
