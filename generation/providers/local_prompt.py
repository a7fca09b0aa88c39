"""Reads an avatar prompt into the attributes the local generator draws: a pure function, no I/O.

`prompt_attributes("a smiling woman with curly red hair and round glasses, astronaut")` gives
attributes {gender: female, age_group: adult, hair_color: red, hair_texture: curly, eyewear: round
glasses, expression: smile}, drawn ["woman", "curly red hair", "round glasses", "smile"] and
not_understood ["astronaut"]. Only what the words say is in `attributes`; the generator chooses the
rest from the seed. Adjectives bind to the next noun they fit ("red hair", "blue hat"), or to the
noun just before ("hair that is red"); a colour before a person noun is a skin tone ("a black
woman"), after "in"/"wearing" the clothing ("a man in green").
"""

import re
from dataclasses import dataclass, field

from .local_colors import BASE, HAIR, MODIFIERS, SKIN, SYNONYMS, canonical, color_rgb, eye_rgb

# The values each attribute can take (what the drawing knows how to draw).
HAIR_LENGTHS = ("short", "medium", "long")
HAIR_TEXTURES = ("straight", "wavy", "curly")
HAIR_STYLES = ("loose", "bun", "ponytail", "pigtails", "afro", "mohawk", "bald")
FACIAL_HAIR = ("none", "beard", "moustache", "goatee", "stubble")
EYEWEAR = ("none", "round glasses", "square glasses", "sunglasses")
HEADWEAR = ("none", "hat", "cap", "beanie", "cowboy hat", "top hat", "beret", "headband", "crown")
CLOTHING = ("t-shirt", "shirt", "hoodie", "sweater", "jacket", "suit", "dress", "turtleneck")
EXPRESSIONS = ("smile", "grin", "laugh", "neutral", "serious", "sad", "surprised", "angry", "wink", "smirk")
AGE_GROUPS = ("infant", "child", "young-adult", "adult", "elderly")  # the gallery's values
FACE_SHAPES = ("oval", "round", "square", "heart", "long")
SCENES = ("beach", "forest", "city", "space", "sunset", "snow", "mountains", "park", "studio")

# Each phrase (a tuple of words) -> (kind, value). Longest phrases win.
_P: dict[tuple[str, ...], tuple[str, str]] = {}


def _add(kind: str, value: str, *phrases: str) -> None:
    for phrase in phrases:
        _P[tuple(phrase.split())] = (kind, value)


# People: (gender, age) as "gender|age", either may be empty.
_add("person", "female|", "woman", "women", "lady", "female", "she", "her", "businesswoman", "mother", "mom", "mum", "queen",
     "wife", "actress", "gal", "feminine")  # fmt: skip
_add("person", "male|", "man", "men", "guy", "male", "gentleman", "he", "him", "his", "businessman", "father", "dad", "king",
     "husband", "dude", "fellow", "masculine", "bloke")  # fmt: skip
_add("person", "|", "person", "people", "someone", "somebody", "individual", "human", "character", "nonbinary", "non binary",
     "androgynous", "they", "their", "them")  # fmt: skip
_add("person", "female|child", "girl", "little girl", "young girl", "daughter", "schoolgirl", "princess")
_add("person", "male|child", "boy", "little boy", "young boy", "son", "schoolboy", "prince")
_add("person", "|child", "child", "kid", "kids", "children", "little one", "little kid", "little child", "young child")
_add("person", "|infant", "baby", "infant", "toddler", "newborn")
_add("person", "female|elderly", "grandma", "grandmother", "granny", "old lady", "old woman")
_add("person", "male|elderly", "grandpa", "grandfather", "old man", "grandad", "granddad")
_add("person", "female|young-adult", "teenage girl", "young woman", "young lady")
_add("person", "male|young-adult", "teenage boy", "young man")
_add("age", "elderly", "old", "elderly", "senior", "aged", "older", "retired", "wrinkled", "wrinkly")
_add("age", "young-adult", "teen", "teenager", "teenage", "young", "youth", "student", "adolescent", "twenties", "20s")
_add("age", "adult", "adult", "middle aged", "grown up", "thirties", "forties", "30s", "40s")
_add("age", "child", "small child", "childlike")

# Hair.
_add("noun", "hair", "hair", "haired", "hairstyle", "hairdo", "locks", "mane", "curls")
_add("hair_length", "long", "long", "longer", "waist length", "flowing")
_add("hair_length", "medium", "medium", "shoulder length", "mid length", "chin length", "medium length", "bob", "bobbed")
_add("hair_length", "short", "short", "cropped", "pixie", "pixie cut", "buzz cut", "crew cut", "buzzed", "close cropped")
_add("hair_texture", "curly", "curly", "coily", "kinky", "frizzy", "ringlets", "permed")
_add("hair_texture", "wavy", "wavy", "waves", "beach waves")
_add("hair_texture", "straight", "straight", "sleek")
_add("hair_style", "bun", "bun", "buns", "top knot", "topknot", "hair bun", "updo", "man bun")
_add("hair_style", "ponytail", "ponytail", "pony tail", "pony")
_add("hair_style", "pigtails", "pigtails", "pig tails", "bunches", "twin tails")
_add("hair_style", "afro", "afro", "fro")
_add("hair_style", "mohawk", "mohawk", "mohican", "punk")
_add("hair_style", "bald", "bald", "shaved head", "shaven head", "hairless", "bald head", "no hair")
# Hair-only colour words and words that say a hair colour by themselves.
_add("hair_word", "red", "redhead", "redheaded")
_add("hair_word", "brown", "brunette", "brunet")
_add("hair_word", "blond", "blondie")

# Facial hair.
_add("facial_hair", "beard", "beard", "bearded", "full beard", "long beard", "beardy")
_add("facial_hair", "moustache", "moustache", "mustache", "moustached", "mustached", "handlebar moustache")
_add("facial_hair", "goatee", "goatee", "chin beard")
_add("facial_hair", "stubble", "stubble", "stubbly", "five o clock shadow", "unshaven", "scruff", "scruffy")
_add("facial_hair", "none", "clean shaven", "clean shaved", "shaven", "beardless")

# Eyewear: nouns and the shapes that qualify them.
_add("eyewear", "glasses", "glasses", "spectacles", "eyeglasses", "specs", "bespectacled", "eyewear", "reading glasses")
_add("eyewear", "sunglasses", "sunglasses", "sun glasses", "shades", "aviators", "aviator sunglasses")
_add("shape", "round", "round", "circular")
_add("shape", "oval", "oval")
_add("shape", "square", "square", "rectangular", "squared", "boxy", "angular", "nerdy", "thick rimmed")

# Headwear.
_add("headwear", "hat", "hat", "fedora", "sun hat", "trilby", "panama hat", "bowler hat", "bowler")
_add("headwear", "cap", "cap", "baseball cap", "ball cap", "snapback", "trucker cap", "trucker hat")
_add("headwear", "beanie", "beanie", "knit hat", "knitted hat", "bobble hat", "wool hat", "woolly hat", "toque", "tuque")
_add("headwear", "cowboy hat", "cowboy hat", "stetson", "cowgirl hat")
_add("headwear", "top hat", "top hat", "tophat")
_add("headwear", "beret", "beret")
_add("headwear", "headband", "headband", "hair band", "hairband", "sweatband")
_add("headwear", "crown", "crown", "tiara", "diadem")

# Clothing.
_add("clothing", "t-shirt", "t shirt", "tshirt", "tee", "tee shirt", "top")
_add("clothing", "shirt", "shirt", "blouse", "polo", "polo shirt", "button up", "button down", "collared shirt", "dress shirt")
_add("clothing", "hoodie", "hoodie", "hoody", "hooded sweatshirt", "sweatshirt")
_add("clothing", "sweater", "sweater", "jumper", "pullover", "cardigan", "knit sweater", "knitwear")
_add("clothing", "jacket", "jacket", "blazer", "coat", "leather jacket", "denim jacket", "bomber jacket", "overcoat", "parka")
_add("clothing", "suit", "suit", "tuxedo", "suit and tie", "business suit")
_add("clothing", "dress", "dress", "gown", "sundress")
_add("clothing", "turtleneck", "turtleneck", "turtle neck", "polo neck", "roll neck")
_add("clothing_word", "", "dressed", "clothes", "clothing", "outfit", "wearing", "wears", "wear", "clad", "in")

# Skin, eyes, face, background.
_add("noun", "skin", "skin", "skinned", "complexion", "skin tone", "skintone")
_add("noun", "eyes", "eyes", "eye", "eyed")
_add("noun", "face", "face", "faced", "face shape")
_add("noun", "background", "background", "backdrop", "bg", "back ground")
_add("face_shape", "heart", "heart shaped", "heart")
_add("face_shape", "long", "narrow")
_add("face_shape", "square", "strong jaw", "square jaw", "chiseled", "chiselled")
_add("face_shape", "round", "chubby", "plump")
_add("skin_word", "pale", "pale")
_add("skin_word", "fair", "fair")
_add("skin_word", "light", "light")
_add("skin_word", "medium", "medium")
_add("skin_word", "olive", "olive")
_add("skin_word", "tan", "tan", "tanned", "suntanned", "sun tanned", "bronzed")
_add("skin_word", "brown", "brown")
_add("skin_word", "dark", "dark", "darker")
_add("skin_word", "deep", "deep", "ebony")
_add("eye_word", "hazel", "hazel")
_add("eye_word", "amber", "amber")

# Scenes (a background of their own).
_add("scene", "beach", "beach", "seaside", "ocean", "sea", "seashore", "shore", "tropical")
_add("scene", "forest", "forest", "woods", "woodland", "jungle", "trees")
_add("scene", "city", "city", "cityscape", "skyline", "urban", "downtown", "street", "town")
_add("scene", "space", "space", "outer space", "galaxy", "stars", "starry", "night sky", "cosmos", "starry sky", "night")
_add("scene", "sunset", "sunset", "sunrise", "dusk", "dawn", "golden hour")
_add("scene", "snow", "snow", "snowy", "winter", "snowfall", "wintry")
_add("scene", "mountains", "mountains", "mountain", "mountainside", "hills", "alps")
_add("scene", "park", "park", "garden", "meadow", "field", "grass", "countryside")
_add("scene", "studio", "studio", "studio backdrop", "plain background", "neutral background")

# Expressions.
_add("expression", "smile", "smile", "smiling", "smiles", "smiley", "happy", "cheerful", "friendly", "joyful", "pleasant",
     "kind", "warm smile", "gentle smile", "soft smile", "glad", "content", "sweet smile")  # fmt: skip
_add("expression", "grin", "grin", "grinning", "big smile", "broad smile", "wide smile", "beaming", "toothy grin", "huge smile",
     "toothy smile", "grins")  # fmt: skip
_add("expression", "laugh", "laugh", "laughing", "laughs", "laughter", "giggling", "excited", "ecstatic", "overjoyed")
_add("expression", "neutral", "neutral", "calm", "relaxed", "expressionless", "straight face", "blank", "composed", "deadpan",
     "poker face", "indifferent")  # fmt: skip
_add("expression", "serious", "serious", "stern", "stoic", "focused", "determined", "solemn", "thoughtful", "pensive", "confident")
_add("expression", "sad", "sad", "unhappy", "frowning", "frown", "sorrowful", "upset", "gloomy", "melancholy", "crying", "tearful",
     "depressed", "disappointed", "worried")  # fmt: skip
_add("expression", "surprised", "surprised", "shocked", "astonished", "amazed", "startled", "surprise", "wow", "stunned")
_add("expression", "angry", "angry", "mad", "furious", "grumpy", "annoyed", "irritated", "cross", "scowling", "scowl", "fierce")
_add("expression", "wink", "wink", "winking", "winks")
_add("expression", "smirk", "smirk", "smirking", "sly", "smug", "cheeky", "mischievous", "playful")

_add("neg", "", "without", "no", "not", "never", "minus")
# Words that carry no attribute: they neither help nor go unheard.
_STOP = frozenset(
    """a an the and with of on at is are was be been has have having who that which this these those its it's
    to for from by as or but also plus while into onto over under very really quite slightly bit somewhat some
    pair one two portrait avatar profile picture pic photo image headshot head shot drawing illustration
    illustrated cartoon render rendered style styled icon looking looks look showing shows show wearing
    sporting sports has had got featuring features feature like just kinda colored coloured color colour
    tone toned shade shaded tinted hued i me my your you we our please make create draw give generate want
    need can could would should will shall let lets let's up down front behind against background there here
    standing sitting posing pose upper body bust shoulders shoulder view closeup close cute nice lovely good
    beautiful handsome pretty gorgeous attractive great cool awesome simple detailed high quality hd 4k
    big large huge small tiny little
    """.split()  # noqa: SIM905 - a word list reads best as words
)

_COLOR_WORDS = {*BASE, *SYNONYMS, "blond", "blonde", "ginger", "auburn", "platinum", "chestnut", "copper", "strawberry"}
_MAX_PHRASE = max(len(key) for key in _P)
# "platinum blonde", "dirty blond": one hair colour.
_BLONDS = {"strawberry": "strawberry blond", "platinum": "platinum", "dirty": "dark blond", "ash": "light blond", "honey": "blond",
           "golden": "blond", "sandy": "dark blond", "light": "light blond", "dark": "dark blond", "pale": "light blond"}  # fmt: skip


@dataclass(frozen=True)
class PromptReading:
    """What a prompt says: attribute values, the phrases the drawing will honour, the words it cannot use."""

    attributes: dict[str, str] = field(default_factory=dict)
    drawn: list[str] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)


@dataclass
class _Token:
    kind: str  # a lexicon kind, "colour", "modifier" or "word"
    value: str
    words: str
    index: int


def _tokens(prompt: str) -> list[str]:
    text = prompt.lower().replace("\u2019", "'").replace("'s ", " ").replace("o'clock", "o clock")
    # Punctuation stays: a comma ends a clause ("background purple, a woman").
    return re.findall(r"[a-z0-9]+|[,;.:!?]", text.replace("-", " ").replace("_", " "))


def _phrase_at(words: list[str], i: int) -> tuple[str, str, int] | None:
    """The longest lexicon phrase starting at word `i`, as (kind, value, length), unless a colour reading wins."""
    for length in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
        phrase = tuple(words[i : i + length])
        if phrase not in _P:
            continue
        kind, value = _P[phrase]
        if length == 1:
            # "light"/"dark"/"pale"/"deep" before a colour modify it ("light blue"): not a skin word.
            if words[i] in MODIFIERS and i + 1 < len(words) and _is_colour_word(words[i + 1]):
                return None
            # "tan"/"brown"/"olive" are colours unless skin follows ("brown hair" vs "brown skin").
            if kind == "skin_word" and words[i] in _COLOR_WORDS and not _next_is(words, i + 1, ("noun:skin",)):
                return None
        return kind, value, length
    return None


def _lex(words: list[str]) -> list[_Token]:
    """Words -> tokens: the longest lexicon phrase first, then colours (with light/dark), then plain words."""
    out: list[_Token] = []
    i = 0
    while i < len(words):
        found = _phrase_at(words, i)
        if found is not None:
            kind, value, length = found
            out.append(_Token(kind, value, " ".join(words[i : i + length]), i))
            i += length
            continue
        word = words[i]
        if word in MODIFIERS and i + 1 < len(words) and _is_colour_word(words[i + 1]):
            out.append(_Token("colour", canonical(f"{word} {words[i + 1]}"), f"{word} {words[i + 1]}", i))
            i += 2
        elif i + 1 < len(words) and words[i + 1] in ("blond", "blonde") and word in _BLONDS:
            out.append(_Token("colour", _BLONDS[word], f"{word} {words[i + 1]}", i))
            i += 2
        elif _is_colour_word(word):
            out.append(_Token("colour", canonical(word), word, i))
            i += 1
        elif word.endswith("ish") and _is_colour_word(word[:-3]):
            out.append(_Token("colour", canonical(word[:-3]), word, i))
            i += 1
        else:
            out.append(_Token("word", word, word, i))
            i += 1
    return out


def _is_colour_word(word: str) -> bool:
    return word in _COLOR_WORDS or canonical(word) in BASE or canonical(word) in HAIR


def _next_is(words: list[str], start: int, wanted: tuple[str, ...]) -> bool:
    """Is the next content word (skipping stop words) one of `wanted` ('noun:skin' style keys)?"""
    for word in words[start : start + 3]:
        if word in _STOP:
            continue
        kind, value = _P.get((word,), ("word", word))
        return f"{kind}:{value}" in wanted
    return False


class _Reader:
    """Binds adjectives to nouns, clause by clause."""

    def __init__(self) -> None:
        self.attributes: dict[str, str] = {}
        self.pending: list[_Token] = []  # adjectives waiting for their noun
        self.last_noun: str = ""
        self.negate = False
        self.clothing_context = False  # after "in", "wearing", "dressed"
        self.background_context = False  # after "on", "against"
        self.used: set[int] = set()  # token positions understood
        self.unused_words: list[tuple[int, str]] = []

    def set(self, key: str, value: str, *tokens: _Token) -> None:
        self.attributes[key] = value
        for token in tokens:
            self.used.add(token.index)

    # --- nouns ----------------------------------------------------------------------------------
    def noun(self, token: _Token) -> None:
        kind, value = token.kind, token.value
        self.used.add(token.index)
        pending, self.pending = self.pending, []
        colours = [t for t in pending if t.kind in ("colour", "hair_word")]
        colour = colours[-1].value if colours else ""
        leftovers: list[_Token] = []
        if kind == "noun" and value == "hair":
            for t in pending:
                if not self._hair_adjective(t):
                    leftovers.append(t)
            self.last_noun = "hair"
        elif kind == "facial_hair":
            if self.negate or value == "none":
                self.set("facial_hair", "none", token)
            else:
                self.set("facial_hair", value, token)
                if colour and color_rgb(colour, hair=True):
                    self.set("facial_hair_color", colour, *colours)
            leftovers = [t for t in pending if t not in colours or not color_rgb(colour, hair=True)]
            self.last_noun = "facial_hair"
        elif kind == "eyewear":
            if self.negate:
                self.set("eyewear", "none", token)
            else:
                shapes = [t for t in pending if t.kind == "shape"]
                if value == "sunglasses":
                    self.set("eyewear", "sunglasses", token, *shapes)
                elif shapes:
                    self.set("eyewear", f"{'round' if shapes[-1].value == 'oval' else shapes[-1].value} glasses", token, *shapes)
                else:
                    self.set("eyewear", "glasses", token)
                if colour:
                    self.set("eyewear_color", colour, *colours)
                leftovers = [t for t in pending if t.kind not in ("shape", "colour")]
            self.last_noun = "eyewear"
        elif kind == "headwear":
            if self.negate:
                self.set("headwear", "none", token)
            else:
                self.set("headwear", value, token)
                if colour:
                    self.set("headwear_color", colour, *colours)
                leftovers = [t for t in pending if t not in colours]
            self.last_noun = "headwear"
        elif kind == "clothing":
            self.set("clothing", value, token)
            if colour:
                self.set("clothing_color", colour, *colours)
            leftovers = [t for t in pending if t not in colours]
            self.last_noun = "clothing"
        elif kind == "noun" and value == "skin":
            for t in pending:
                tone = _skin_tone(t)
                if tone:
                    self.set("skin_tone", tone, t)
                else:
                    leftovers.append(t)
            self.last_noun = "skin"
        elif kind == "noun" and value == "eyes":
            for t in pending:
                if t.kind in ("colour", "eye_word", "skin_word") and eye_rgb(t.value):
                    self.set("eye_color", _eye_name(t.value), t)
                else:
                    leftovers.append(t)
            if "eye_color" not in self.attributes:
                self.used.discard(token.index)  # "eye patch", "big eyes": nothing of it is drawn
            self.last_noun = "eyes"
        elif kind == "noun" and value == "face":
            for t in pending:
                if t.kind in ("shape", "face_shape") and t.value in FACE_SHAPES:
                    self.set("face_shape", t.value, t)
                elif t.kind == "hair_length" and t.value == "long":
                    self.set("face_shape", "long", t)
                elif t.kind == "expression":
                    self.set("expression", t.value, t)
                else:
                    leftovers.append(t)
            self.last_noun = "face"
        elif kind == "noun" and value == "background":
            for t in pending:
                if t.kind in ("colour", "scene") or (t.kind == "skin_word" and color_rgb(t.value)):
                    self.set("background", t.value, t)
                else:
                    leftovers.append(t)
            self.last_noun = "background"
        elif kind == "person":
            gender, _, age = value.partition("|")
            if gender:
                self.set("gender", gender, token)
            if age:
                self.set("age_group", age, token)
            elif gender and "age_group" not in self.attributes:
                self.set("age_group", "adult", token)  # "a woman": a grown-up, as drawn
            for t in pending:
                if t.kind == "age":
                    self.set("age_group", t.value, t)
                elif t.kind == "hair_word":
                    self.set("hair_color", t.value, t)
                elif t.kind in ("colour", "skin_word") and _skin_tone(t):
                    self.set("skin_tone", _skin_tone(t), t)
                elif t.kind == "colour" and color_rgb(t.value, hair=True) and t.value in HAIR:
                    self.set("hair_color", t.value, t)  # "a blond man"
                else:
                    leftovers.append(t)
            self.last_noun = "person"
        self.negate = False
        # Adjectives that did not fit this noun wait for the next one ("red hair and a blue hat" is two clauses).
        self.pending = leftovers

    def _hair_adjective(self, t: _Token) -> bool:
        if t.kind in ("colour", "hair_word") and color_rgb(t.value, hair=True):
            self.set("hair_color", t.value, t)
        elif t.kind == "skin_word" and t.value == "medium":
            self.set("hair_length", "medium", t)
        elif t.kind == "skin_word" and t.value in ("light", "dark", "fair"):
            self.set("hair_color", {"light": "light brown", "dark": "dark brown", "fair": "blond"}[t.value], t)
        elif t.kind == "hair_length":
            self.set("hair_length", t.value, t)
            if self.attributes.get("hair_style") == "bald":
                del self.attributes["hair_style"]
        elif t.kind == "hair_texture":
            self.set("hair_texture", t.value, t)
            if self.attributes.get("hair_style") == "bald":
                del self.attributes["hair_style"]
        elif t.kind == "hair_style":
            self.hair_style(t)
        else:
            return False
        return True

    def hair_style(self, t: _Token) -> None:
        if self.negate:
            self.negate = False
            if t.value == "bald":  # "no hair" said as a negation of nothing: read it as bald
                self.set("hair_style", "bald", t)
            return
        self.set("hair_style", t.value, t)
        if t.value == "bald":
            for key in ("hair_length", "hair_texture", "hair_color"):
                self.attributes.pop(key, None)
        if t.value == "afro":
            self.attributes.setdefault("hair_texture", "curly")

    # --- the rest -------------------------------------------------------------------------------
    def flush(self, *, end: bool = False) -> None:
        """At a clause boundary: adjectives left waiting go to the noun before them, or a default."""
        pending, self.pending = self.pending, []
        for t in pending:
            if t.kind in ("hair_length", "hair_texture") and (self.last_noun in ("hair", "person", "") or end):
                self._hair_adjective(t)
            elif t.kind in ("colour", "hair_word", "skin_word") and self.last_noun in ("hair",) and color_rgb(t.value, hair=True):
                self.set("hair_color", t.value, t)
            elif t.kind == "colour" and self.last_noun == "headwear" and "headwear_color" not in self.attributes:
                self.set("headwear_color", t.value, t)
            elif t.kind == "colour" and self.last_noun == "clothing" and "clothing_color" not in self.attributes:
                self.set("clothing_color", t.value, t)
            elif t.kind == "colour" and self.last_noun == "eyewear" and "eyewear_color" not in self.attributes:
                self.set("eyewear_color", t.value, t)
            elif t.kind == "colour" and self.last_noun == "background":
                self.set("background", t.value, t)
            elif t.kind == "colour" and self.last_noun == "eyes" and eye_rgb(t.value):
                self.set("eye_color", _eye_name(t.value), t)
            elif t.kind in ("colour", "skin_word") and self.last_noun == "skin" and _skin_tone(t):
                self.set("skin_tone", _skin_tone(t), t)
            elif t.kind == "colour" and self.clothing_context and "clothing_color" not in self.attributes:
                self.set("clothing_color", t.value, t)  # "a man in green"
            elif t.kind == "colour" and self.background_context:
                self.set("background", t.value, t)  # "on blue"
            elif t.kind == "hair_word":
                self.set("hair_color", t.value, t)
            elif t.kind == "shape" and self.last_noun == "eyewear" and self.attributes.get("eyewear") == "glasses":
                self.set("eyewear", f"{t.value} glasses", t)
            elif t.kind == "face_shape":
                self.set("face_shape", t.value, t)
            elif t.kind == "age":
                self.set("age_group", t.value, t)
            # Anything else stays unused: its words are reported as not understood.


def _skin_tone(t: _Token) -> str:
    value = t.value
    if t.kind == "skin_word" and value in SKIN:
        return value
    modifier, _, base = value.partition(" ")
    if base and modifier in ("dark", "deep"):
        return "dark" if base in ("brown", "tan", "olive") else ""
    if base and modifier in ("light", "pale"):
        return {"brown": "medium", "tan": "light", "olive": "light"}.get(base, "")
    return {"black": "deep", "white": "fair", "brown": "brown", "tan": "tan", "olive": "olive", "beige": "light", "peach": "fair",
            "pink": "fair", "dark brown": "dark", "light brown": "medium", "cream": "pale", "ivory": "pale"}.get(value, "")  # fmt: skip


def _eye_name(value: str) -> str:
    value = canonical(value)
    return "gray" if value in ("silver", "gray") else value


_ADJECTIVES = frozenset({"colour", "hair_word", "hair_length", "hair_texture", "shape", "face_shape", "skin_word", "eye_word"})
_CLAUSE_BREAKS = frozenset(
    {"and", "with", "plus", "also", "while", "but", "has", "have", "having", "who", "that", "wearing", ",", ";", ".", ":", "!", "?"}
)


def prompt_attributes(prompt: str) -> PromptReading:
    """Read a prompt: attributes it states, the phrases that will be drawn, the content words it cannot use."""
    words = _tokens(prompt)
    tokens = _lex(words)
    reader = _Reader()
    for position, token in enumerate(tokens):
        kind = token.kind
        nxt = tokens[position + 1] if position + 1 < len(tokens) else None
        if (kind == "word" and token.value in _CLAUSE_BREAKS) or kind == "clothing_word":
            # "red and curly hair": a list of adjectives goes on; anything else ends the clause.
            if not (token.value in ("and", ",") and nxt is not None and nxt.kind in _ADJECTIVES and reader.pending):
                reader.flush()
            reader.used.add(token.index)
            if kind == "clothing_word":
                reader.clothing_context = True
                reader.background_context = False
            if token.value == "with":
                reader.clothing_context = False
            continue
        if kind == "word" and token.value in ("on", "against"):
            reader.flush()
            reader.background_context, reader.clothing_context = True, False
            continue
        if kind == "neg":
            reader.negate = True
            reader.used.add(token.index)
            continue
        if kind in ("noun", "facial_hair", "eyewear", "headwear", "clothing", "person"):
            reader.noun(token)
            continue
        if kind == "hair_style":
            reader.used.add(token.index)
            reader.hair_style(token)
            reader.last_noun = "hair"
            continue
        if kind == "expression":
            # "a smiling face", "big smile": an expression is its own noun; "not smiling" is neutral.
            if reader.negate:
                reader.negate = False
                if token.value in ("smile", "grin", "laugh", "wink", "smirk"):
                    reader.set("expression", "neutral", token)
                else:
                    reader.used.add(token.index)
                continue
            reader.set("expression", token.value, token)
            continue
        if kind == "scene":
            nxt = tokens[position + 1] if position + 1 < len(tokens) else None
            if nxt is not None and nxt.kind == "noun" and nxt.value == "background":
                reader.pending.append(token)
            else:
                reader.set("background", token.value, token)
            continue
        if kind == "age":
            nxt = tokens[position + 1] if position + 1 < len(tokens) else None
            if nxt is None or nxt.kind != "person":
                reader.set("age_group", token.value, token)
            else:
                reader.pending.append(token)
            continue
        if kind in ("colour", "hair_word", "hair_length", "hair_texture", "shape", "face_shape", "skin_word", "eye_word"):
            reader.pending.append(token)
            continue
        if kind == "word" and token.value in _STOP:
            reader.used.add(token.index)
            continue
        # A plain word: not understood, and the adjectives just before it were about it ("gold earrings").
        reader.pending = [t for t in reader.pending if t.kind not in ("colour", "shape")]
    reader.flush(end=True)
    attributes = _normalised(reader.attributes)
    not_understood = _unused_words(tokens, reader.used)
    return PromptReading(attributes=attributes, drawn=drawn_phrases(attributes), not_understood=not_understood)


def _normalised(attributes: dict[str, str]) -> dict[str, str]:
    """Settle combinations: bald has no length or texture; an afro is curly; a child has no stated adult age."""
    out = dict(attributes)
    if out.get("hair_style") == "bald":
        for key in ("hair_length", "hair_texture"):
            out.pop(key, None)
    if out.get("hair_style") == "afro":
        out["hair_texture"] = "curly"
        out.pop("hair_length", None)
    if out.get("hair_style") == "mohawk":
        out.pop("hair_length", None)
    if out.get("hair_color") and out.get("hair_style") == "bald":
        out.pop("hair_color")
    if out.get("background") and out["background"] not in SCENES and not color_rgb(out["background"]):
        out.pop("background")
    return out


def _unused_words(tokens: list[_Token], used: set[int]) -> list[str]:
    seen: list[str] = []
    for token in tokens:
        if token.index in used:
            continue
        for word in token.words.split():
            if word in _STOP or word.isdigit() or len(word) < 2 or not word.isalnum() or word in seen:
                continue
            seen.append(word)
    return seen


def drawn_phrases(attributes: dict[str, str]) -> list[str]:
    """The human phrases for stated attributes, in reading order: 'woman', 'curly red hair', 'round glasses', 'smile'."""
    a = attributes
    phrases: list[str] = []
    person = {("female", "child"): "girl", ("male", "child"): "boy", ("female", "elderly"): "old woman", ("male", "elderly"): "old man",
              ("female", "young-adult"): "young woman", ("male", "young-adult"): "young man", ("female", "infant"): "baby girl",
              ("male", "infant"): "baby boy"}.get((a.get("gender", ""), a.get("age_group", "")))  # fmt: skip
    if person is None:
        person = {"female": "woman", "male": "man"}.get(a.get("gender", ""), "")
        age = {"child": "child", "infant": "baby", "elderly": "elderly person", "young-adult": "young person"}.get(a.get("age_group", ""))
        if age and not person:
            person = age
        elif age and a.get("age_group") not in ("adult",):
            person = {"child": "child", "infant": "baby", "elderly": "old", "young-adult": "young"}[a["age_group"]] + " " + person
            person = person.replace("child woman", "girl").replace("child man", "boy")
    if person:
        phrases.append(person)
    style = a.get("hair_style", "")
    if style == "bald":
        phrases.append("bald")
    else:
        words = [a.get(k, "") for k in ("hair_length", "hair_texture", "hair_color")]
        if style == "afro":
            words = [w for w in words if w != "curly"]
        if any(words) and style not in ("mohawk",):
            phrases.append(" ".join(w for w in words if w) + " hair")
        elif any(words):
            phrases.append(" ".join(w for w in words if w) + " mohawk")
        if style in ("bun", "ponytail", "pigtails", "afro") or (style == "mohawk" and not any(words)):
            phrases.append(style)
    if a.get("facial_hair"):
        kind = a["facial_hair"]
        phrases.append("clean-shaven" if kind == "none" else " ".join(filter(None, (a.get("facial_hair_color", ""), kind))))
    if a.get("eye_color"):
        phrases.append(f"{a['eye_color']} eyes")
    if a.get("skin_tone"):
        phrases.append(f"{a['skin_tone']} skin")
    if a.get("face_shape"):
        phrases.append(f"{a['face_shape']} face")
    if a.get("eyewear"):
        phrases.append("no glasses" if a["eyewear"] == "none" else " ".join(filter(None, (a.get("eyewear_color", ""), a["eyewear"]))))
    if a.get("headwear"):
        phrases.append("no hat" if a["headwear"] == "none" else " ".join(filter(None, (a.get("headwear_color", ""), a["headwear"]))))
    if a.get("clothing") or a.get("clothing_color"):
        phrases.append(" ".join(filter(None, (a.get("clothing_color", ""), a.get("clothing", "clothes")))))
    if a.get("expression"):
        phrases.append(a["expression"])
    if a.get("background"):
        background = a["background"]
        phrases.append(f"{background} background" if background not in SCENES else f"{background} scene")
    return phrases
