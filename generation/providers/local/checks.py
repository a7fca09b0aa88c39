"""Pixel checks of the local generator: is each asked-for attribute visible in a rendered avatar?

They read the image only (never the generator's attribute list): the colour of the hair where the
parts put hair (shapes.REGIONS), a frame in the eye band, the hat's colour on its crown, beard
below the mouth, the background in the corners, the mouth's curve, and so on; `expected` holds
what a prompt asked, with the prompt reader's keys and values. Used by bench/local_generator.py
and the tests. Works at any size from 128 px; every style.
"""

from PIL import Image

from .checks_face import (
    age_check,
    background_check,
    clothing_check,
    expression_check,
    eyewear_check,
    face_shape_check,
    facial_hair_check,
    headwear_check,
    iris_colour,
)
from .checks_hair import hair_checks
from .colors import eye_rgb, skin_rgb
from .pixels import Check, Pixels, named_rgb, near


def check_attributes(image: Image.Image, expected: dict[str, str]) -> list[Check]:
    """One Check per attribute in `expected` that has a pixel test (gender has none: it is drawn through the others)."""
    px = Pixels(image)
    e = expected
    skin = px.dominant("neck")
    checks = hair_checks(px, e, skin)
    bald = e.get("hair_style") == "bald"
    afro = e.get("hair_style") == "afro"

    if "facial_hair" in e:
        said = named_rgb(e["hair_color"], hair=True) if e.get("hair_color") and not bald else None
        checks.append(facial_hair_check(px, e, skin, said))
    if "eyewear" in e:
        checks.append(eyewear_check(px, e, skin))
    if "headwear" in e:
        checks.append(headwear_check(px, e, afro))
    if "clothing" in e or "clothing_color" in e:
        checks.append(clothing_check(px, e, skin))
    if "skin_tone" in e:
        named = skin_rgb(e["skin_tone"])
        checks.append(Check("skin_tone", near(skin, named, 9), f"neck {skin} vs {e['skin_tone']} {named}"))
    if "eye_color" in e:
        iris = iris_colour(px, skin)
        named = eye_rgb(e["eye_color"])
        checks.append(Check("eye_color", iris is not None and near(iris, named, 22), f"iris {iris} vs {e['eye_color']} {named}"))
    if "age_group" in e:
        checks.append(age_check(px, e, skin))
    if "expression" in e:
        checks.append(expression_check(px, e, skin))
    if "background" in e:
        checks.append(background_check(px, e["background"]))
    if "face_shape" in e and e.get("facial_hair") in (None, "none"):
        checks.append(face_shape_check(px, e, skin))
    return checks


def faithful(image: Image.Image, expected: dict[str, str]) -> tuple[bool, list[Check]]:
    """Every asked-for attribute visible?"""
    checks = check_attributes(image, expected)
    return all(c.ok for c in checks), checks
