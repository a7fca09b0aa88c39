"""The offline demo library: varied avatars drawn by the local generator, stored as gallery avatars.

Titles, tags, alt text and the attributes the filters and "similar avatars" use come from what the
generator reports it DREW (`GenerationResult.metadata`: "attributes", "drawn", "style"), never from
the words it was asked for, so a picture and its description cannot disagree. A generator that does
not report what it drew yet falls back to the attributes the prompt was built from.

`gallery` does not know `generation`: the generator comes by the dotted path in
settings.GALLERY_DEMO_DRAWER (the local generator, through generation/demo_drawer.py), as a
`DemoDrawer`.
"""

import hashlib
import random
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from . import imaging
from .importers.base import RemoteAvatar
from .models import Avatar
from .services import avatar_import_remote, source_assert_importable, source_get_or_create

DEMO_SOURCE = "demo"
# Bump when the prompts below change: every demo avatar is then drawn again (as when the generator changes).
DEMO_RECIPE = "3"
# The attribute under which each demo avatar records which generator and recipe drew it.
DRAWN_BY = "drawn_by"

# (words, gender, age group): the prompt-side facts, used only when the generator reports nothing.
PEOPLE = (
    ("woman", "female", "adult"),
    ("man", "male", "adult"),
    ("woman", "female", "adult"),
    ("man", "male", "adult"),
    ("young woman", "female", "young-adult"),
    ("young man", "male", "young-adult"),
    ("girl", "female", "child"),
    ("boy", "male", "child"),
    ("old woman", "female", "elderly"),
    ("old man", "male", "elderly"),
)
HAIR_COLORS = ("black", "brown", "blond", "red", "gray", "white", "pink", "blue", "purple", "green")
NATURAL_HAIR = ("black", "brown", "blond", "red", "black", "brown")
HAIR_STYLES = ("curly", "wavy", "straight", "short", "long", "bun", "ponytail", "bald")
EYEWEAR = ("glasses", "round glasses", "sunglasses")
FACIAL_HAIR = ("beard", "moustache")
HEADWEAR = ("hat", "beanie", "cap")
CLOTHING = ("hoodie", "shirt", "jacket", "sweater")
CLOTHING_COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "black", "white", "gray")
EXPRESSIONS = ("smiling", "serious", "laughing", "surprised", "calm")
BACKGROUNDS = ("red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "gray")

GENDERS = {"female": "female", "woman": "female", "girl": "female", "male": "male", "man": "male", "boy": "male"}
AGE_GROUPS = {
    "infant": "infant",
    "baby": "infant",
    "child": "child",
    "kid": "child",
    "teen": "young-adult",
    "teenager": "young-adult",
    "young": "young-adult",
    "young adult": "young-adult",
    "young-adult": "young-adult",
    "adult": "adult",
    "middle-aged": "adult",
    "elderly": "elderly",
    "old": "elderly",
    "older": "elderly",
    "senior": "elderly",
}
EMOTION_WORDS = {"smile": "smiling", "laugh": "laughing", "surprise": "surprised", "neutral": "calm", "sad": "sad", "angry": "angry"}
NOUNS = {
    ("female", "child"): "Girl",
    ("male", "child"): "Boy",
    ("female", "infant"): "Baby girl",
    ("male", "infant"): "Baby boy",
    ("female", "elderly"): "Older woman",
    ("male", "elderly"): "Older man",
    ("female", "young-adult"): "Young woman",
    ("male", "young-adult"): "Young man",
    ("female", ""): "Woman",
    ("male", ""): "Man",
    ("", "child"): "Child",
    ("", "infant"): "Baby",
    ("", "elderly"): "Older person",
}
NOT_DRAWN = frozenset({"", "none", "no", "false", "unknown"})
STAFF_USERNAME = "admin"
STAFF_EMAIL = "admin@example.com"


class DemoPicture(Protocol):
    """One drawing: the image file's bytes and what the generator reports it drew ("attributes",
    "drawn", "style"; empty when it reports nothing)."""

    data: bytes
    metadata: Mapping


class DemoDrawer(Protocol):
    """What the demo library needs of a generator: its styles (drawn in turn), their labels, a
    model name (part of the fingerprint), and a drawing from words, the same for the same seed."""

    styles: Sequence[str]
    style_labels: Mapping[str, str]
    model: str

    def draw(self, *, prompt: str, style: str, seed: int, size: int) -> DemoPicture: ...


def demo_drawer() -> DemoDrawer:
    """The generator of settings.GALLERY_DEMO_DRAWER."""
    return import_string(settings.GALLERY_DEMO_DRAWER)()


@dataclass(frozen=True)
class DemoPrompt:
    """A prompt and the attributes it was built from (what a generator that reports nothing is assumed to draw)."""

    text: str
    attributes: dict[str, str]
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Drawn:
    """What the generator says it drew: attributes, human phrases ("curly red hair") and the style."""

    attributes: dict[str, str]
    phrases: tuple[str, ...]
    style: str


def demo_prompt(rng: random.Random) -> DemoPrompt:
    """E.g. 'smiling woman with curly red hair and round glasses, wearing a green hoodie, on a teal background'."""
    person, gender, age = rng.choice(PEOPLE)
    attributes = {"gender": gender, "age_group": age}
    phrases: list[str] = []
    hair_style = rng.choice(HAIR_STYLES if gender == "male" else HAIR_STYLES[:-1])
    hair_color = rng.choice(NATURAL_HAIR if rng.random() < 0.6 else HAIR_COLORS)
    if age == "elderly" and rng.random() < 0.7:
        hair_color = rng.choice(("gray", "white"))
    expression = rng.choice(EXPRESSIONS)
    attributes["expression"] = expression
    if hair_style == "bald":
        hair, attributes["hair_style"] = "a bald head", "bald"
        phrases.append("bald head")
    else:
        attributes.update(hair_style=hair_style, hair_color=hair_color)
        hair = {"bun": f"{hair_color} hair in a bun", "ponytail": f"{hair_color} hair in a ponytail"}.get(
            hair_style, f"{hair_style} {hair_color} hair"
        )
        phrases.append(hair)
    withs = [hair]
    if rng.random() < 0.4:
        attributes["eyewear"] = eyewear = rng.choice(EYEWEAR)
        withs.append(eyewear)
        phrases.append(eyewear)
    if gender == "male" and age in ("adult", "elderly") and rng.random() < 0.45:
        attributes["facial_hair"] = facial_hair = rng.choice(FACIAL_HAIR)
        withs.append(f"a {facial_hair}")
        phrases.append(facial_hair)
    wearing = []
    if rng.random() < 0.35:
        color, headwear = rng.choice(CLOTHING_COLORS), rng.choice(HEADWEAR)
        attributes.update(headwear=headwear, headwear_color=color)
        wearing.append(f"a {color} {headwear}")
        phrases.append(f"{color} {headwear}")
    color, clothing = rng.choice(CLOTHING_COLORS), rng.choice(CLOTHING)
    attributes.update(clothing=clothing, clothing_color=color)
    wearing.append(f"a {color} {clothing}")
    phrases.append(f"{color} {clothing}")
    phrases.append(expression)
    background = rng.choice(BACKGROUNDS)
    attributes["background"] = background
    phrases.append(f"{background} background")
    text = f"{expression} {person} with {_join(withs)}, wearing {_join(wearing)}, on a {background} background"
    return DemoPrompt(text=text, attributes=attributes, phrases=tuple(phrases))


def _join(parts: Sequence[str]) -> str:
    parts = list(parts)
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def what_was_drawn(*, metadata: Mapping, prompt: DemoPrompt, style: str) -> Drawn:
    """The generator's own account of its drawing; the prompt's attributes when it gives none."""
    reported = metadata.get("attributes")
    if not isinstance(reported, Mapping):
        return Drawn(attributes=dict(prompt.attributes), phrases=prompt.phrases, style=metadata.get("style") or style)
    attributes = {str(key): _plain(value) for key, value in reported.items() if value is not None and not isinstance(value, bool)}
    attributes = {key: value for key, value in attributes.items() if value not in NOT_DRAWN}
    phrases = tuple(str(phrase).strip() for phrase in metadata.get("drawn") or () if str(phrase).strip())
    return Drawn(attributes=attributes, phrases=phrases, style=str(metadata.get("style") or style))


def _plain(value: object) -> str:
    """An attribute's value as lower-case text ("round glasses"); a list of them joined by spaces."""
    if isinstance(value, list | tuple):
        return " ".join(_plain(item) for item in value)
    return str(value).strip().lower()


def _expression_word(expression: str) -> str:
    return EMOTION_WORDS.get(expression, expression)


def describe(drawn: Drawn, *, style_labels: Mapping[str, str]) -> RemoteAvatar:
    """Title, alt text, tags and filterable attributes of one demo avatar, from what was drawn."""
    attributes = drawn.attributes
    gender = GENDERS.get(attributes.get("gender", ""), "")
    age_group = AGE_GROUPS.get(attributes.get("age_group", ""), "")
    emotion = _expression_word(attributes.get("expression", ""))[:16]
    noun = NOUNS.get((gender, age_group)) or NOUNS.get((gender, "")) or NOUNS.get(("", age_group)) or "Person"
    people_words = {"woman", "man", "girl", "boy", "person", "child", "baby", "old", "older", "young"}
    phrases = list(drawn.phrases)
    # What the generator chose by itself (the words left it open) is drawn as well: say a pair of
    # glasses, a beard or a hat even when the prompt did not ask for it.
    said = {word for phrase in phrases for word in phrase.lower().split()}
    notable = {
        "eyewear": attributes.get("eyewear", ""),
        "facial_hair": attributes.get("facial_hair", ""),
        "headwear": f"{attributes.get('headwear_color', '')} {attributes.get('headwear', '')}".strip(),
    }
    phrases += [phrase for key, phrase in notable.items() if attributes.get(key) and attributes[key].split()[-1] not in said]
    # The expression and baldness become adjectives of the title; a background is said in the alt text only.
    adjectives = [emotion] if emotion and emotion != "calm" else []
    features, background = [], ""
    for phrase in phrases:
        words = set(phrase.lower().split())
        if words <= people_words or (emotion and phrase.lower() in {emotion, attributes.get("expression", "")}):
            continue
        if "background" in words:
            background = phrase
        elif "bald" in words:
            adjectives.append("bald")
        else:
            features.append(phrase)
    # Hair first, then what is worn on the face and head, then clothes.
    worn = {value.split()[-1] for value in notable.values() if value}
    features.sort(key=lambda phrase: 0 if "hair" in phrase else 1 if worn & set(phrase.split()) else 2)
    person = " ".join([*adjectives, noun.lower()])
    person = person[0].upper() + person[1:]
    title = f"{person} with {_join(features[:3])}" if features else person
    label = style_labels.get(drawn.style, drawn.style)
    described = f"{person[0].lower()}{person[1:]}" + (f" with {_join(features)}" if features else "")
    alt = f"Illustrated avatar ({label.lower()}): {described}" + (f", {background}" if background else "")
    tags = list(dict.fromkeys(tag for tag in (noun.lower(), *(p.lower() for p in phrases), drawn.style) if tag))
    stored = {
        **attributes,
        "style": drawn.style,
        "gender": gender,
        "age_group": age_group,
        "hair_color": attributes.get("hair_color", "")[:16],
        "emotion": emotion,
    }
    return RemoteAvatar(
        external_id="",
        image_url="",
        width=0,
        height=0,
        title=title[:200],
        alt=alt[:300],
        tags=tuple(tags),
        attributes={key: value for key, value in stored.items() if value},
    )


def generator_fingerprint(drawer: DemoDrawer) -> str:
    """Which generator (and demo recipe) drew a demo avatar: a hash of a tiny drawing per style, so
    any change to the drawing code is noticed and the library drawn again, not kept stale."""
    digest = hashlib.sha256(f"{DEMO_RECIPE}|{drawer.model}".encode())
    for style in drawer.styles:
        picture = drawer.draw(prompt="smiling woman with curly red hair and round glasses", style=style, seed=1, size=64)
        digest.update(picture.data)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class DemoDrawing:
    """One avatar of the demo library: its id, what was asked, and the drawing (None when kept)."""

    external_id: str
    prompt: DemoPrompt
    style: str
    picture: DemoPicture | None


# A drawing whose difference hash is this close to one already in the library is drawn again from
# other words, at most this many times: the library should not show the same picture twice.
DEMO_REDRAWS = 8


def demo_drawings(*, count: int, size: int, drawer: DemoDrawer, kept: Mapping[str, int] | None = None) -> Iterator[DemoDrawing]:
    """The demo library, the same on every machine: avatar `index` is drawn from words of its own
    (a random generator seeded by index and attempt, so keeping some avatars changes no other),
    in the styles in turn. `kept` maps ids already stored to their difference hash: those are not
    drawn again (`picture` None) but no new drawing may come within GALLERY_DUPLICATE_MAX_DISTANCE of
    them either, nor of each other."""
    kept = kept or {}
    limit = settings.GALLERY_DUPLICATE_MAX_DISTANCE
    hashes = list(kept.values())
    for index in range(count):
        external_id = f"demo-{index:04d}"
        style = drawer.styles[index % len(drawer.styles)]
        if external_id in kept:
            yield DemoDrawing(external_id=external_id, prompt=demo_prompt(_demo_rng(index, 0)), style=style, picture=None)
            continue
        for attempt in range(DEMO_REDRAWS):
            prompt = demo_prompt(_demo_rng(index, attempt))
            picture = drawer.draw(prompt=prompt.text, style=style, seed=index + 10_000 * attempt, size=size)
            value = imaging.difference_hash(imaging.square_crop(imaging.decode_image(picture.data)))
            if all(imaging.hamming_distance(value, other) > limit for other in hashes):
                break
        hashes.append(value)
        yield DemoDrawing(external_id=external_id, prompt=prompt, style=style, picture=picture)


def _demo_rng(index: int, attempt: int) -> random.Random:
    return random.Random(f"demo-2026-{index}-{attempt}")  # noqa: S311 - the same library on every machine, by design


def demo_library_load(
    *, count: int, size: int = 512, on_progress: Callable[[int, int], None] | None = None, drawer: DemoDrawer | None = None
) -> int:
    """Draw and store `count` demo avatars (the same ones every time); returns how many were drawn
    now. Avatars drawn before by the same generator and recipe are kept; others are drawn again in
    place (same id). Raises SourceNotImportable, before drawing anything, when an operator has
    unticked the demo source. `drawer` is settings.GALLERY_DEMO_DRAWER's (another one in tests)."""
    source = source_get_or_create(slug=DEMO_SOURCE)
    source_assert_importable(source=source)
    drawer = drawer or demo_drawer()
    fingerprint = generator_fingerprint(drawer)
    kept = {
        external_id: int(phash, 16)
        for external_id, attributes, phash in Avatar.objects.filter(source=source).values_list("external_id", "attributes", "phash")
        if (attributes or {}).get(DRAWN_BY) == fingerprint and phash
    }
    drawn_now = 0
    for index, drawing in enumerate(demo_drawings(count=count, size=size, drawer=drawer, kept=kept)):
        if drawing.picture is not None:
            picture = drawing.picture
            drawn = what_was_drawn(metadata=picture.metadata or {}, prompt=drawing.prompt, style=drawing.style)
            described = describe(drawn, style_labels=drawer.style_labels)
            remote = RemoteAvatar(
                external_id=drawing.external_id,
                image_url="",
                width=size,
                height=size,
                title=described.title,
                alt=described.alt,
                tags=described.tags,
                attributes={**described.attributes, DRAWN_BY: fingerprint},
            )
            avatar_import_remote(source=source, remote=remote, image_bytes=picture.data, retrieved_at=timezone.now(), is_demo=True)
            drawn_now += 1
        if on_progress:
            on_progress(index + 1, count)
    return drawn_now


class StaffAccountRefused(Exception):
    """The staff account is not made here; the message says why."""


def embedded_default() -> bool:
    """DEBUG on and the site's own SQLite file: a machine's local look at the site, nobody else's."""
    return settings.DEBUG and connection.vendor == "sqlite"


@transaction.atomic
def demo_staff_account_reset() -> tuple[str, str]:
    """The local admin's username and a new random password (set on every call, so the one printed
    last is the one that works), for /admin/ on the embedded default only: a staff account with a
    password printed to a console must never exist on a site others can reach."""
    if not embedded_default():
        raise StaffAccountRefused("only on the embedded default (DEBUG on, SQLite); elsewhere use manage.py createsuperuser")
    users = get_user_model().objects
    if users.filter(email__iexact=STAFF_EMAIL).exclude(username=STAFF_USERNAME).exists():
        raise StaffAccountRefused(f"another account uses {STAFF_EMAIL}; it is left alone")
    user, created = users.get_or_create(username=STAFF_USERNAME, defaults={"email": STAFF_EMAIL, "display_name": "Admin"})
    if not created and not user.is_superuser:
        raise StaffAccountRefused(f"a user named '{STAFF_USERNAME}' signed up here and is not staff; it is left alone")
    password = secrets.token_urlsafe(12)
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return user.username, password
