"""The local avatar generator: vector parts of our own, rasterised with Pillow in four styles; no network, no weights.

The prompt is read into attributes (local_prompt.prompt_attributes: hair colour, length and
texture, facial hair, eyewear, headwear, clothing and their colours, skin tone, age, expression,
background); what it leaves open is chosen from the seed, one attribute at a time, so the same
(prompt, style, seed) always draws the same avatar and a changed word changes only its part. Every
style draws every attribute in its named colour. The parts (local_parts) are avatarsite's own
drawings, so the output is ours to license: commercial use included, no attribution needed.
It powers the free instant styles and the demo library. A "photo" request (an operator who puts the
local generator in a plan's chain, or a test stack) is drawn flat; the site itself never offers it one.
"""

import hashlib
import io
import random
from dataclasses import dataclass, replace

from PIL import Image

from .base import CallContext, GeneratedImage, GenerationRequest, GenerationResult, ModelSizes, PermanentProviderError, ProgressCallback
from .local_colors import (
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
from .local_parts import BOLD_BACKDROPS, FACE_SHAPES, FRINGES, Look, scene_groups
from .local_prompt import SCENES, PromptReading, prompt_attributes
from .local_render import render

MIN_SIDE, MAX_SIDE = 64, 2048
STYLES = ("flat", "pastel", "comic", "pixel")
STYLE_LABELS = {"flat": "Flat illustration", "pastel": "Soft pastel", "comic": "Bold comic", "pixel": "Pixel art"}
STYLE_DESCRIPTIONS = {
    "flat": "Clean flat shapes and crisp colours, like a modern app illustration.",
    "pastel": "Soft shading, gentle gradients and a lighter palette.",
    "comic": "Thick ink outlines, cel shadows and a sunburst behind.",
    "pixel": "Chunky retro pixels with a sprite outline.",
}
PHOTO_STAND_IN_STYLE = "flat"
LICENCE_NOTE = "Drawn by avatarsite's own generator: yours to use for any purpose, commercial included."
MODEL = "avatarsite/parts-v2"


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


def avatar_look(reading: PromptReading, *, seed: int, style: str) -> Drawing:
    """Resolve every attribute: the prompt's where it says one, the seed's choice elsewhere."""
    a = reading.attributes
    dice = _Dice(seed)
    gender = a.get("gender", "")
    age = a.get("age_group") or dice.weighted("age", {"adult": 60, "young-adult": 27, "elderly": 13})
    child = age in ("child", "infant")
    face_shape = a.get("face_shape") or dice.choice("face", ("oval", "round", "heart") if child else tuple(FACE_SHAPES))
    # An unstated skin tone keeps clear of a stated hair or beard colour (brown hair on brown skin would vanish).
    said = [rgb for rgb in (hair_rgb(a.get("hair_color", "")), hair_rgb(a.get("facial_hair_color", ""))) if rgb]
    skin_tone = a.get("skin_tone") or dice.distinct("skin", SKIN_ORDER, skin_rgb, said, 18)
    skin = skin_rgb(skin_tone)

    hair_said = any(k in a for k in ("hair_length", "hair_texture", "hair_color"))
    if "hair_style" in a:
        hair_style = a["hair_style"]
    elif hair_said:
        hair_style = "loose" if dice.chance("hair_up", 0.8) or "hair_length" in a else dice.choice("hair_up_kind", ("bun", "ponytail"))
    elif gender == "female":
        hair_style = dice.weighted("hair_style", {"loose": 62, "bun": 11, "ponytail": 12, "pigtails": 14 if child else 3, "afro": 9})
    elif gender == "male":
        hair_style = dice.weighted("hair_style", {"loose": 78, "bald": 0 if child else 9, "afro": 7, "mohawk": 3, "bun": 3})
    else:
        hair_style = dice.weighted("hair_style", {"loose": 70, "bun": 8, "ponytail": 7, "afro": 8, "bald": 0 if child else 4, "mohawk": 3})
    if a.get("hair_length") and hair_style in ("afro", "mohawk", "bald") and "hair_style" not in a:
        hair_style = "loose"
    length_weights = {"female": {"long": 50, "medium": 32, "short": 18}, "male": {"short": 72, "medium": 18, "long": 10}}
    hair_length = a.get("hair_length") or dice.weighted("hair_length", length_weights.get(gender, {"short": 40, "medium": 30, "long": 30}))
    hair_texture = a.get("hair_texture") or (
        "curly" if hair_style == "afro" else dice.weighted("hair_texture", {"straight": 45, "wavy": 30, "curly": 25})
    )
    if a.get("hair_color"):
        hair_color = a["hair_color"]
    else:
        palette = ELDERLY_HAIR if age == "elderly" else (DYED_HAIR if dice.chance("dyed", 0.1) else NATURAL_HAIR)
        said_colours = [rgb for rgb in (color_rgb(a.get("background", "")), color_rgb(a.get("headwear_color", ""))) if rgb]
        hair_color = dice.distinct("hair_color", palette, hair_rgb, [skin, *said_colours], 20)
    hair = hair_rgb(hair_color) or hair_rgb("brown")
    fringe = dice.choice("fringe", tuple(f for f in FRINGES if not (age == "elderly" and f == "bangs")))

    male_like = gender == "male" or (gender == "" and not child)
    if a.get("facial_hair"):
        facial_hair = a["facial_hair"]
    elif gender == "male" and not child and age != "infant":
        facial_hair = dice.weighted("facial_hair", {"none": 58, "beard": 17, "stubble": 10, "moustache": 7, "goatee": 8})
    elif male_like and gender == "":
        facial_hair = dice.weighted("facial_hair", {"none": 90, "beard": 5, "stubble": 5})
    else:
        facial_hair = "none"
    facial_hair_color = a.get("facial_hair_color") or (
        hair_color if hair_style != "bald" else ("gray" if age == "elderly" else dice.choice("beard_color", NATURAL_HAIR))
    )
    facial_hair_rgb = hair_rgb(facial_hair_color) or hair

    eye_color = a.get("eye_color") or dice.distinct(
        "eye_color", ("brown", "brown", "brown", "dark brown", "blue", "blue", "green", "hazel", "gray"), eye_rgb, [skin], 16
    )
    eye_kind = dice.choice("eye_kind", ("round", "almond", "sleepy") if "eye_color" in a else ("round", "almond", "sleepy", "dot"))

    stated_eyewear = a.get("eyewear")
    if stated_eyewear == "glasses":
        eyewear = dice.choice("glasses", ("round glasses", "square glasses"))
    elif stated_eyewear:
        eyewear = stated_eyewear
    else:
        odds = 0.4 if age == "elderly" else (0.08 if child else 0.16)
        eyewear = (
            dice.weighted("eyewear_kind", {"round glasses": 45, "square glasses": 45, "sunglasses": 10})
            if dice.chance("eyewear", odds)
            else "none"
        )
    frames = ("black", "black", "black", "brown", "navy", "gold", "red", "silver")
    eyewear_color = a.get("eyewear_color") or (
        "black" if eyewear == "sunglasses" else dice.distinct("frame", frames, color_rgb, [skin], 25)
    )

    if a.get("headwear"):
        headwear = a["headwear"]
    elif age != "elderly" and not hair_said and "hair_style" not in a and dice.chance("headwear", 0.1):
        headwear = dice.choice("headwear_kind", ("hat", "cap", "beanie", "beret", "headband"))
    else:
        headwear = "none"
    if a.get("headwear_color"):
        headwear_color = a["headwear_color"]
    elif headwear == "crown":
        headwear_color = "gold"
    else:
        headwear_color = dice.distinct("headwear_color", CLOTHING, color_rgb, [hair, skin], 26)
    headwear_color = _soft(headwear_color, style) if not a.get("headwear_color") and headwear != "crown" else headwear_color

    clothing_weights = (
        {"t-shirt": 35, "hoodie": 25, "sweater": 20, "shirt": 10, "dress": 10 if gender == "female" else 0}
        if child
        else {
            "t-shirt": 20,
            "shirt": 16,
            "sweater": 14,
            "hoodie": 13,
            "jacket": 13,
            "suit": 8 if gender != "female" else 4,
            "dress": 16 if gender == "female" else 0,
            "turtleneck": 7,
        }
    )
    clothing = a.get("clothing") or dice.weighted("clothing", clothing_weights)
    background_stated = a.get("background", "")
    background_rgb_stated = color_rgb(background_stated) if background_stated and background_stated not in SCENES else None
    if a.get("clothing_color"):
        clothing_color = a["clothing_color"]
    else:
        away = [skin] + ([background_rgb_stated] if background_rgb_stated else [])
        clothing_color = _soft(dice.distinct("clothing_color", CLOTHING, lambda n: color_rgb(_soft(n, style)), away, 22), style)
    clothing_rgb = color_rgb(clothing_color) or color_rgb("blue")
    inner = "black" if delta_e(clothing_rgb, color_rgb("white")) < 20 else "white"
    tie = dice.distinct("tie", ("red", "navy", "burgundy", "teal", "gold", "purple"), color_rgb, [clothing_rgb], 25)

    expression = a.get("expression") or dice.weighted(
        "expression", {"smile": 45, "grin": 15, "neutral": 14, "serious": 7, "laugh": 5, "wink": 5, "smirk": 6, "surprised": 3}
    )

    headwear_rgb = color_rgb(headwear_color) or color_rgb("blue")
    if background_stated:
        background = background_stated
    elif dice.chance("scene", 0.12):
        background = dice.choice("scene_kind", SCENES[:-1])
    else:
        away = [hair, skin, clothing_rgb] + ([headwear_rgb] if headwear != "none" else [])
        background = _soft(dice.distinct("background", BACKGROUNDS, lambda n: color_rgb(_soft(n, style)), away, 26), style)
    background_rgb = None if background in SCENES else color_rgb(background)
    plain_backdrops = ("circle", "rings", "dots", "stripes", "arch", "split", "blob", "plain")
    # A background the prompt leaves open gets a bolder layout: more variety across a library.
    backdrop = dice.choice("backdrop", plain_backdrops if background_stated else BOLD_BACKDROPS)
    accent = color_rgb(dice.distinct("accent", ("coral", "yellow", "teal", "pink", "purple", "red"), color_rgb, [hair], 30))

    look = Look(
        gender=gender, age_group=age, face_shape=face_shape, skin=skin, hair_style=hair_style, hair_length=hair_length,
        hair_texture=hair_texture, hair=hair, fringe=fringe, facial_hair=facial_hair, facial_hair_rgb=facial_hair_rgb,
        eye_kind=eye_kind, eye=eye_rgb(eye_color) or eye_rgb("brown"), brow_kind=dice.choice("brows", ("thin", "thick", "arched")),
        nose_kind=dice.choice("nose", ("button", "line", "nostrils", "triangle")), eyewear=eyewear,
        eyewear_rgb=color_rgb(eyewear_color) or color_rgb("black"), headwear=headwear, headwear_rgb=headwear_rgb, clothing=clothing,
        clothing_rgb=clothing_rgb, inner_rgb=color_rgb(inner), tie_rgb=color_rgb(tie), expression=expression, background=background,
        background_rgb=background_rgb, backdrop=backdrop, accent=accent,
        blush=style == "pastel" or dice.chance("blush", 0.7 if (gender == "female" or child) else 0.15),
        lashes=gender == "female", pompom=dice.chance("pompom", 0.5), detail=1.5 if style == "pixel" else 1.0,
        extras={
            "eye_color_stated": "eye_color" in a,
            "wash": dice.choice("wash", (-0.12, -0.07, 0.07, 0.12)),
            "light": dice.choice("light", ("left", "right")),
            "parting": dice.choice("parting", ("left", "right")),
        },
    )  # fmt: skip

    attributes = {
        **({"gender": gender} if gender else {}),
        "age_group": age,
        "face_shape": face_shape,
        "skin_tone": skin_tone,
        "hair_style": hair_style,
    }
    if hair_style == "loose":
        attributes["hair_length"] = hair_length
    if hair_style != "bald":
        attributes["hair_texture"] = hair_texture
        attributes["hair_color"] = hair_color
    attributes["facial_hair"] = facial_hair
    if facial_hair != "none":
        attributes["facial_hair_color"] = facial_hair_color
    attributes["eye_color"] = eye_color
    attributes["eyewear"] = eyewear
    if eyewear != "none":
        attributes["eyewear_color"] = eyewear_color
    attributes["headwear"] = headwear
    if headwear != "none":
        attributes["headwear_color"] = headwear_color
    attributes.update(clothing=clothing, clothing_color=clothing_color, expression=expression, background=background)

    # What the prompt asked that this drawing cannot show is said, not claimed as drawn.
    drawn, hidden = list(reading.drawn), []
    if hair_style == "mohawk" and look.hat_covers_top:
        hidden.append("mohawk (under the hat)")
        drawn = [p for p in drawn if "mohawk" not in p]
    if "eye_color" in a and eyewear == "sunglasses":
        hidden.append(f"{a['eye_color']} eyes (behind sunglasses)")
        drawn = [p for p in drawn if not p.endswith(" eyes")]
        attributes.pop("eye_color")
    return Drawing(look=look, attributes=attributes, drawn=drawn, not_understood=[*reading.not_understood, *hidden])


def _noop(percent: int, message: str) -> None:
    return None


def draw_avatar(request: GenerationRequest, on_progress: ProgressCallback | None = None) -> tuple[Image.Image, Drawing]:
    """Draw the avatar for this request (style one of STYLES, size in px), reporting each step."""
    report = on_progress or _noop
    report(10, "Reading your description")
    reading = prompt_attributes(request.prompt)
    report(25, "Choosing the look")
    drawing = avatar_look(reading, seed=request.seed, style=request.style)
    report(40, "Composing the parts")
    groups = scene_groups(drawing.look)
    report(60, f"Drawing in {STYLE_LABELS[request.style].lower()}")
    return render(groups, style=request.style, size=request.size), drawing


class LocalProvider:
    """The zero-cost provider: draws instantly, on any machine."""

    name = "local"
    model = MODEL
    # It draws any side from 64 to 2048 px exactly (a vector drawing, so no size is "native").
    sizes = ModelSizes(max_side=MAX_SIDE)

    def __init__(self, **options: object) -> None:
        self.options = options

    def max_side(self, model: str = "") -> int:
        return self.sizes.max_side

    def native_size(self, model: str, size: int) -> int:
        return self.sizes.native(max(MIN_SIDE, size))

    def generate(self, request: GenerationRequest, context: CallContext | None = None) -> GenerationResult:
        """Draw `num_images` avatars (seed, seed+1, ...). metadata: {"attributes": the first image's
        resolved attributes, "drawn": phrases of the prompt that are drawn, "not_understood": words it
        could not use, "style": the style drawn, "per_image": each image's attributes}."""
        on_progress = (context or CallContext()).on_progress
        if request.style == "photo":  # standing in for an AI provider (embedded default, no keys)
            request = replace(request, style=PHOTO_STAND_IN_STYLE)
        if request.style not in STYLES:
            raise PermanentProviderError(f"unknown style '{request.style}'; choose one of {', '.join(STYLES)}")
        # Beyond its range it draws its nearest side, as a remote model makes its largest: the
        # pipeline resizes or upscales that, or refuses it (the contract, base.Provider).
        request = replace(request, size=self.native_size(request.model, request.size))
        images, drawings = [], []
        for index in range(request.num_images):
            image, drawing = draw_avatar(replace(request, seed=request.seed + index, num_images=1), on_progress if index == 0 else None)
            on_progress(80, "Finishing")
            buffer = io.BytesIO()
            # The pipeline re-encodes every result; a light compression keeps this step short.
            image.save(buffer, "PNG", compress_level=1)
            images.append(GeneratedImage(data=buffer.getvalue(), content_type="image/png", width=request.size, height=request.size))
            drawings.append(drawing)
        on_progress(100, "Done")
        first = drawings[0]
        metadata = {
            "attributes": first.attributes,
            "drawn": first.drawn,
            "not_understood": first.not_understood,
            "style": request.style,
            "per_image": [drawing.attributes for drawing in drawings],
        }
        return GenerationResult(
            images=images,
            provider=self.name,
            model=self.model,
            cost_usd=0.0,
            licence_note=LICENCE_NOTE,
            model_version="2",
            metadata=metadata,
        )

    def cancel(self, request_id: str, *, model: str = "") -> None:
        """Nothing runs elsewhere: a local drawing stops with its worker."""
