"""Pixel checks of the hair: its colour where the parts put hair, how far it falls, its texture (the silhouette's turns), its style."""

import itertools
import math
from collections.abc import Callable

from .colors import RGB, shade
from .pixels import COVERING_HATS, Check, Pixels, named_rgb, near
from .shapes import HEAD_CX, HEAD_CY


def hair_checks(px: Pixels, e: dict[str, str], skin: RGB) -> list[Check]:
    """The checks of the hair attributes in `e` (colour, length, texture, style), in that order."""
    checks: list[Check] = []
    covered = e.get("headwear") in (*COVERING_HATS, "crown")
    bald = e.get("hair_style") == "bald"

    # Where to read the hair: the crown, or the temples under a hat.
    hair_region = "hair_temple_left" if covered else ("mohawk" if e.get("hair_style") == "mohawk" else "hair_crown")
    hair_seen = px.dominant(hair_region)
    hair_ref = named_rgb(e["hair_color"], hair=True) if e.get("hair_color") else hair_seen

    def is_hair(region: str | tuple[float, float, float, float], tolerance: float = 18.0) -> bool:
        colour = px.dominant(region)
        return near(colour, hair_ref, tolerance) and not near(colour, skin, 8)

    if "hair_color" in e and not bald:
        ok = near(hair_seen, hair_ref)
        checks.append(Check("hair_color", ok, f"{hair_region} {hair_seen} vs {e['hair_color']} {hair_ref}"))

    if "hair_length" in e and not bald:
        length = e["hair_length"]
        medium, long_ = is_hair("hair_medium_left"), is_hair("hair_long_left")
        ok = {"short": not medium and not long_, "medium": medium and not long_, "long": long_}[length]
        checks.append(Check("hair_length", ok, f"medium region hair={medium}, long region hair={long_}"))

    if "hair_texture" in e and not bald:
        # How far down the hair falls, as asked or as seen (unasked, the seed chose it).
        long_ = e.get("hair_length") in ("medium", "long") or ("hair_length" not in e and is_hair("hair_medium_left"))
        bumps, spacing = _outline_turns(px, hair_ref, covered=covered, long_=long_)
        texture = e["hair_texture"]
        # Under a hat short hair shows a hand's breadth of edge: a few curls are all there is room for.
        least = 3 if covered and not long_ else 6
        ok = {"curly": bumps >= least and spacing <= 13.0, "wavy": bumps >= 3 and spacing >= 14.0, "straight": bumps <= 2}[texture]
        checks.append(Check("hair_texture", ok, f"{bumps} bumps, {spacing:.1f} units apart"))

    if "hair_style" in e:
        checks.append(Check("hair_style", _hair_style_seen(px, e["hair_style"], skin, hair_ref, is_hair, covered=covered), e["hair_style"]))
    return checks


def _hair_style_seen(px: Pixels, style: str, skin: RGB, hair_ref: RGB, is_hair: Callable[..., bool], *, covered: bool) -> bool:
    """Is the hair drawn in `style`? (`is_hair`: does a region show the hair's colour, not the skin's.)"""
    if style == "bald":
        return near(px.dominant("scalp"), skin, 12)
    if style == "bun":
        return is_hair("low_bun" if covered else "bun")
    if style == "ponytail":
        return is_hair("ponytail") != is_hair("pigtail_left")  # one tail, on either side
    if style == "pigtails":
        return is_hair("ponytail") and is_hair("pigtail_left")
    if style == "afro":
        return is_hair((26.2, 30, 28.4, 34)) and _outline_turns(px, hair_ref, covered=False, long_=False)[0] >= 8
    if style == "mohawk":
        return is_hair("mohawk") and not is_hair("hair_temple_left")
    return True


def _is_hair_colour(colour: RGB, hair: RGB) -> bool:
    """Hair in front, or the darker hair behind the head."""
    return near(colour, hair, 18) or near(colour, shade(hair, 0.82), 14)


def _turns(profile: list[tuple[float, float]], hysteresis: float) -> list[float]:
    """Where a profile (position, value) turns back, ignoring wiggles smaller than `hysteresis`."""
    turns: list[float] = []
    direction = 0
    anchor = profile[0][1] if profile else 0.0
    for position, value in profile:
        if direction >= 0 and value < anchor - hysteresis:
            if direction > 0:
                turns.append(position)
            direction, anchor = -1, value
        elif direction <= 0 and value > anchor + hysteresis:
            if direction < 0:
                turns.append(position)
            direction, anchor = 1, value
        elif (direction > 0 and value > anchor) or (direction < 0 and value < anchor):
            anchor = value
    return turns


def _outline_turns(px: Pixels, hair: RGB, *, covered: bool, long_: bool) -> tuple[int, float]:
    """Turns of the hair's silhouette and their mean spacing: over the head (radius by angle, degrees)
    or, under a hat, down the side of long hair (left edge by height, units). Curls make many, close
    together; waves a few, far apart; straight hair none."""
    profile: list[tuple[float, float]] = []
    if not covered:
        angle = 196.0
        while angle <= 344.0:
            c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            last = None
            r = 15.0
            while r <= 44.0:
                if _is_hair_colour(px.at(HEAD_CX + r * c, HEAD_CY + r * s), hair):
                    last = r
                elif last is not None and r - last > 2.5:
                    break
                r += 0.25
            if last is not None:
                profile.append((angle, last))
            angle += 0.5  # fine enough that the notch between two curls spans several samples
        scale = 1.0
    else:
        # Under a hat: down the side of the hair, below the brim (long hair: to the shoulders).
        y = 34.0
        while y <= (80.0 if long_ else 48.0):
            x = 12.0
            while x < 40 and not _is_hair_colour(px.at(x, y), hair):
                x += 0.25
            if x < 40:
                profile.append((y, -x))
            y += 0.25
        scale = 2.5  # a unit down the side is about 2.5 degrees round the head
    # The median of three samples, and turns bigger than most of a pixel-art cell: a staircase is not a curl.
    smooth = [
        (profile[i][0], sorted(v for _, v in profile[max(0, i - 1) : i + 2])[len(profile[max(0, i - 1) : i + 2]) // 2])
        for i in range(len(profile))
    ]
    turns = _turns(smooth, max(1.0, 0.8 * px.cell))
    gaps = sorted(b - a for a, b in itertools.pairwise(turns))
    spacing = scale * gaps[len(gaps) // 2] if gaps else 99.0  # the median gap: one missed turn does not double it
    return len(turns), spacing
