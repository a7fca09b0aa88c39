"""Choosing the look: every attribute the prompt states, and the seed's choice for each one it leaves open.

`avatar_look` resolves one attribute at a time, each from its own random stream (`_Dice`), so the same
(prompt, style, seed) always gives the same look and a changed word changes only its part. An unstated
colour keeps clear of the colours next to it (brown hair on brown skin would vanish).
"""

import hashlib
import random
from dataclasses import dataclass

from .colors import (
    BACKGROUNDS,
    BASE,
    CLOTHING,
    DYED_HAIR,
    ELDERLY_HAIR,
    NATURAL_HAIR,
    RGB,
    SKIN_ORDER,
    color_rgb,
    delta_e,
    eye_rgb,
    hair_rgb,
    skin_rgb,
)
from .parts_hair import FRINGES
from .parts_scene import BOLD_BACKDROPS
from .prompt import SCENES, PromptReading
from .shapes import FACE_SHAPES, Look

# --- choosing what the prompt leaves open --------------------------------------------------------------


class _Dice:
    """One random stream per attribute, from the seed: stating one attribute never reshuffles the others."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def rng(self, name: str) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}|{name}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - deterministic drawing, not security

    def weighted(self, name: str, options: dict[str, float]) -> str:
        return self.rng(name).choices(list(options), weights=list(options.values()))[0]

    def choice(self, name: str, options: tuple[str, ...] | list[str]) -> str:
        return self.rng(name).choice(list(options))

    def chance(self, name: str, probability: float) -> bool:
        return self.rng(name).random() < probability

    def distinct(self, name: str, options: tuple[str, ...], rgb, away: list[RGB], minimum: float) -> str:
        """The first option (in this seed's order) at least `minimum` ΔE from every colour in `away`."""
        order = list(options)
        self.rng(name).shuffle(order)
        return next((o for o in order if all(delta_e(rgb(o), other) >= minimum for other in away)), order[0])


def _soft(name: str, style: str) -> str:
    """The pastel style's lighter version of a colour it picks (one a user could name: "pastel blue")."""
    if (
        style == "pastel"
        and name in BASE
        and name not in ("white", "cream", "beige", "mint", "lavender", "peach", "black", "charcoal", "gray", "silver")
    ):
        return f"pastel {name}"
    return name


@dataclass(frozen=True)
class Drawing:
    """What will be drawn: the resolved look, its attributes by name, and what of the prompt is shown or not."""

    look: Look
    attributes: dict[str, str]
    drawn: list[str]
    not_understood: list[str]


# The seed's odds for what the prompt leaves open.
AGE_ODDS = {"adult": 60, "young-adult": 27, "elderly": 13}
HAIR_LENGTH_ODDS = {"female": {"long": 50, "medium": 32, "short": 18}, "male": {"short": 72, "medium": 18, "long": 10}}
HAIR_LENGTH_ODDS_UNSAID = {"short": 40, "medium": 30, "long": 30}
HAIR_TEXTURE_ODDS = {"straight": 45, "wavy": 30, "curly": 25}
EYE_COLOURS = ("brown", "brown", "brown", "dark brown", "blue", "blue", "green", "hazel", "gray")
FRAME_COLOURS = ("black", "black", "black", "brown", "navy", "gold", "red", "silver")
TIE_COLOURS = ("red", "navy", "burgundy", "teal", "gold", "purple")
ACCENT_COLOURS = ("coral", "yellow", "teal", "pink", "purple", "red")
EXPRESSION_ODDS = {"smile": 45, "grin": 15, "neutral": 14, "serious": 7, "laugh": 5, "wink": 5, "smirk": 6, "surprised": 3}
PLAIN_BACKDROPS = ("circle", "rings", "dots", "stripes", "arch", "split", "blob", "plain")


def _hair_style_odds(gender: str, child: bool) -> dict[str, float]:
    if gender == "female":
        return {"loose": 62, "bun": 11, "ponytail": 12, "pigtails": 14 if child else 3, "afro": 9}
    if gender == "male":
        return {"loose": 78, "bald": 0 if child else 9, "afro": 7, "mohawk": 3, "bun": 3}
    return {"loose": 70, "bun": 8, "ponytail": 7, "afro": 8, "bald": 0 if child else 4, "mohawk": 3}


def _clothing_odds(gender: str, child: bool) -> dict[str, float]:
    if child:
        return {"t-shirt": 35, "hoodie": 25, "sweater": 20, "shirt": 10, "dress": 10 if gender == "female" else 0}
    return {
        "t-shirt": 20,
        "shirt": 16,
        "sweater": 14,
        "hoodie": 13,
        "jacket": 13,
        "suit": 8 if gender != "female" else 4,
        "dress": 16 if gender == "female" else 0,
        "turtleneck": 7,
    }


class _Choices:
    """The look's attributes, resolved step by step (each step may read those resolved before it)."""

    def __init__(self, reading: PromptReading, *, seed: int, style: str) -> None:
        self.a = reading.attributes
        self.dice = _Dice(seed)
        self.style = style

    def person(self) -> None:
        a, dice = self.a, self.dice
        self.gender = a.get("gender", "")
        self.age = a.get("age_group") or dice.weighted("age", AGE_ODDS)
        self.child = self.age in ("child", "infant")
        self.face_shape = a.get("face_shape") or dice.choice("face", ("oval", "round", "heart") if self.child else tuple(FACE_SHAPES))
        # An unstated skin tone keeps clear of a stated hair or beard colour (brown hair on brown skin would vanish).
        said = [rgb for rgb in (hair_rgb(a.get("hair_color", "")), hair_rgb(a.get("facial_hair_color", ""))) if rgb]
        self.skin_tone = a.get("skin_tone") or dice.distinct("skin", SKIN_ORDER, skin_rgb, said, 18)
        self.skin = skin_rgb(self.skin_tone)

    def hair(self) -> None:
        a, dice = self.a, self.dice
        self.hair_said = any(k in a for k in ("hair_length", "hair_texture", "hair_color"))
        if "hair_style" in a:
            hair_style = a["hair_style"]
        elif self.hair_said:
            hair_style = "loose" if dice.chance("hair_up", 0.8) or "hair_length" in a else dice.choice("hair_up_kind", ("bun", "ponytail"))
        else:
            hair_style = dice.weighted("hair_style", _hair_style_odds(self.gender, self.child))
        if a.get("hair_length") and hair_style in ("afro", "mohawk", "bald") and "hair_style" not in a:
            hair_style = "loose"
        self.hair_style = hair_style
        self.hair_length = a.get("hair_length") or dice.weighted("hair_length", HAIR_LENGTH_ODDS.get(self.gender, HAIR_LENGTH_ODDS_UNSAID))
        self.hair_texture = a.get("hair_texture") or ("curly" if hair_style == "afro" else dice.weighted("hair_texture", HAIR_TEXTURE_ODDS))
        if a.get("hair_color"):
            self.hair_color = a["hair_color"]
        else:
            palette = ELDERLY_HAIR if self.age == "elderly" else (DYED_HAIR if dice.chance("dyed", 0.1) else NATURAL_HAIR)
            said_colours = [rgb for rgb in (color_rgb(a.get("background", "")), color_rgb(a.get("headwear_color", ""))) if rgb]
            self.hair_color = dice.distinct("hair_color", palette, hair_rgb, [self.skin, *said_colours], 20)
        self.hair = hair_rgb(self.hair_color) or hair_rgb("brown")
        self.fringe = dice.choice("fringe", tuple(f for f in FRINGES if not (self.age == "elderly" and f == "bangs")))

    def facial_hair(self) -> None:
        a, dice, gender = self.a, self.dice, self.gender
        male_like = gender == "male" or (gender == "" and not self.child)
        if a.get("facial_hair"):
            facial_hair = a["facial_hair"]
        elif gender == "male" and not self.child and self.age != "infant":
            facial_hair = dice.weighted("facial_hair", {"none": 58, "beard": 17, "stubble": 10, "moustache": 7, "goatee": 8})
        elif male_like and gender == "":
            facial_hair = dice.weighted("facial_hair", {"none": 90, "beard": 5, "stubble": 5})
        else:
            facial_hair = "none"
        self.facial_hair = facial_hair
        self.facial_hair_color = a.get("facial_hair_color") or (
            self.hair_color
            if self.hair_style != "bald"
            else ("gray" if self.age == "elderly" else dice.choice("beard_color", NATURAL_HAIR))
        )
        self.facial_hair_rgb = hair_rgb(self.facial_hair_color) or self.hair

    def eyes(self) -> None:
        a, dice = self.a, self.dice
        self.eye_color = a.get("eye_color") or dice.distinct("eye_color", EYE_COLOURS, eye_rgb, [self.skin], 16)
        self.eye_kind = dice.choice("eye_kind", ("round", "almond", "sleepy") if "eye_color" in a else ("round", "almond", "sleepy", "dot"))

    def eyewear(self) -> None:
        a, dice = self.a, self.dice
        stated_eyewear = a.get("eyewear")
        if stated_eyewear == "glasses":
            eyewear = dice.choice("glasses", ("round glasses", "square glasses"))
        elif stated_eyewear:
            eyewear = stated_eyewear
        else:
            odds = 0.4 if self.age == "elderly" else (0.08 if self.child else 0.16)
            eyewear = (
                dice.weighted("eyewear_kind", {"round glasses": 45, "square glasses": 45, "sunglasses": 10})
                if dice.chance("eyewear", odds)
                else "none"
            )
        self.eyewear = eyewear
        self.eyewear_color = a.get("eyewear_color") or (
            "black" if eyewear == "sunglasses" else dice.distinct("frame", FRAME_COLOURS, color_rgb, [self.skin], 25)
        )

    def headwear(self) -> None:
        a, dice = self.a, self.dice
        if a.get("headwear"):
            headwear = a["headwear"]
        elif self.age != "elderly" and not self.hair_said and "hair_style" not in a and dice.chance("headwear", 0.1):
            headwear = dice.choice("headwear_kind", ("hat", "cap", "beanie", "beret", "headband"))
        else:
            headwear = "none"
        if a.get("headwear_color"):
            headwear_color = a["headwear_color"]
        elif headwear == "crown":
            headwear_color = "gold"
        else:
            headwear_color = dice.distinct("headwear_color", CLOTHING, color_rgb, [self.hair, self.skin], 26)
        self.headwear = headwear
        self.headwear_color = _soft(headwear_color, self.style) if not a.get("headwear_color") and headwear != "crown" else headwear_color
        self.headwear_rgb = color_rgb(self.headwear_color) or color_rgb("blue")

    def clothing(self) -> None:
        a, dice, style = self.a, self.dice, self.style
        self.clothing = a.get("clothing") or dice.weighted("clothing", _clothing_odds(self.gender, self.child))
        self.background_stated = a.get("background", "")
        stated = self.background_stated
        background_rgb_stated = color_rgb(stated) if stated and stated not in SCENES else None
        if a.get("clothing_color"):
            self.clothing_color = a["clothing_color"]
        else:
            away = [self.skin] + ([background_rgb_stated] if background_rgb_stated else [])
            self.clothing_color = _soft(dice.distinct("clothing_color", CLOTHING, lambda n: color_rgb(_soft(n, style)), away, 22), style)
        self.clothing_rgb = color_rgb(self.clothing_color) or color_rgb("blue")
        self.inner = "black" if delta_e(self.clothing_rgb, color_rgb("white")) < 20 else "white"
        self.tie = dice.distinct("tie", TIE_COLOURS, color_rgb, [self.clothing_rgb], 25)

    def scene(self) -> None:
        """The expression, the background and its backdrop layout, the accent colour."""
        a, dice, style = self.a, self.dice, self.style
        self.expression = a.get("expression") or dice.weighted("expression", EXPRESSION_ODDS)
        if self.background_stated:
            background = self.background_stated
        elif dice.chance("scene", 0.12):
            background = dice.choice("scene_kind", SCENES[:-1])
        else:
            away = [self.hair, self.skin, self.clothing_rgb] + ([self.headwear_rgb] if self.headwear != "none" else [])
            background = _soft(dice.distinct("background", BACKGROUNDS, lambda n: color_rgb(_soft(n, style)), away, 26), style)
        self.background = background
        self.background_rgb = None if background in SCENES else color_rgb(background)
        # A background the prompt leaves open gets a bolder layout: more variety across a library.
        self.backdrop = dice.choice("backdrop", PLAIN_BACKDROPS if self.background_stated else BOLD_BACKDROPS)
        self.accent = color_rgb(dice.distinct("accent", ACCENT_COLOURS, color_rgb, [self.hair], 30))

    def look(self) -> Look:
        a, dice, style, gender = self.a, self.dice, self.style, self.gender
        return Look(
            gender=gender, age_group=self.age, face_shape=self.face_shape, skin=self.skin, hair_style=self.hair_style,
            hair_length=self.hair_length, hair_texture=self.hair_texture, hair=self.hair, fringe=self.fringe,
            facial_hair=self.facial_hair, facial_hair_rgb=self.facial_hair_rgb, eye_kind=self.eye_kind,
            eye=eye_rgb(self.eye_color) or eye_rgb("brown"), brow_kind=dice.choice("brows", ("thin", "thick", "arched")),
            nose_kind=dice.choice("nose", ("button", "line", "nostrils", "triangle")), eyewear=self.eyewear,
            eyewear_rgb=color_rgb(self.eyewear_color) or color_rgb("black"), headwear=self.headwear, headwear_rgb=self.headwear_rgb,
            clothing=self.clothing, clothing_rgb=self.clothing_rgb, inner_rgb=color_rgb(self.inner), tie_rgb=color_rgb(self.tie),
            expression=self.expression, background=self.background, background_rgb=self.background_rgb, backdrop=self.backdrop,
            accent=self.accent,
            blush=style == "pastel" or dice.chance("blush", 0.7 if (gender == "female" or self.child) else 0.15),
            lashes=gender == "female", pompom=dice.chance("pompom", 0.5), detail=1.5 if style == "pixel" else 1.0,
            extras={
                "eye_color_stated": "eye_color" in a,
                "wash": dice.choice("wash", (-0.12, -0.07, 0.07, 0.12)),
                "light": dice.choice("light", ("left", "right")),
                "parting": dice.choice("parting", ("left", "right")),
            },
        )  # fmt: skip

    def attributes(self) -> dict[str, str]:
        """The resolved attributes by name (those a drawing does not have left out: no length on a bun)."""
        attributes = {
            **({"gender": self.gender} if self.gender else {}),
            "age_group": self.age,
            "face_shape": self.face_shape,
            "skin_tone": self.skin_tone,
            "hair_style": self.hair_style,
        }
        if self.hair_style == "loose":
            attributes["hair_length"] = self.hair_length
        if self.hair_style != "bald":
            attributes["hair_texture"] = self.hair_texture
            attributes["hair_color"] = self.hair_color
        attributes["facial_hair"] = self.facial_hair
        if self.facial_hair != "none":
            attributes["facial_hair_color"] = self.facial_hair_color
        attributes["eye_color"] = self.eye_color
        attributes["eyewear"] = self.eyewear
        if self.eyewear != "none":
            attributes["eyewear_color"] = self.eyewear_color
        attributes["headwear"] = self.headwear
        if self.headwear != "none":
            attributes["headwear_color"] = self.headwear_color
        attributes.update(
            clothing=self.clothing, clothing_color=self.clothing_color, expression=self.expression, background=self.background
        )
        return attributes


def avatar_look(reading: PromptReading, *, seed: int, style: str) -> Drawing:
    """Resolve every attribute: the prompt's where it says one, the seed's choice elsewhere."""
    choices = _Choices(reading, seed=seed, style=style)
    for step in (choices.person, choices.hair, choices.facial_hair, choices.eyes, choices.eyewear, choices.headwear, choices.clothing,
                 choices.scene):  # fmt: skip
        step()
    look = choices.look()
    attributes = choices.attributes()
    a = reading.attributes
    # What the prompt asked that this drawing cannot show is said, not claimed as drawn.
    drawn, hidden = list(reading.drawn), []
    if choices.hair_style == "mohawk" and look.hat_covers_top:
        hidden.append("mohawk (under the hat)")
        drawn = [p for p in drawn if "mohawk" not in p]
    if "eye_color" in a and choices.eyewear == "sunglasses":
        hidden.append(f"{a['eye_color']} eyes (behind sunglasses)")
        drawn = [p for p in drawn if not p.endswith(" eyes")]
        attributes.pop("eye_color")
    return Drawing(look=look, attributes=attributes, drawn=drawn, not_understood=[*reading.not_understood, *hidden])
