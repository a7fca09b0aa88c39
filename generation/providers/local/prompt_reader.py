"""The prompt reader's grammar: adjectives bound to the noun they fit, clause by clause (prompt.prompt_attributes drives it)."""

from dataclasses import dataclass

from .colors import HAIR, SKIN, canonical, color_rgb, eye_rgb
from .prompt_words import FACE_SHAPES


@dataclass
class Token:
    kind: str  # a lexicon kind, "colour", "modifier" or "word"
    value: str
    words: str
    index: int


class Reader:
    """Binds adjectives to nouns, clause by clause."""

    def __init__(self) -> None:
        self.attributes: dict[str, str] = {}
        self.pending: list[Token] = []  # adjectives waiting for their noun
        self.last_noun: str = ""
        self.negate = False
        self.clothing_context = False  # after "in", "wearing", "dressed"
        self.background_context = False  # after "on", "against"
        self.used: set[int] = set()  # token positions understood
        self.unused_words: list[tuple[int, str]] = []

    def set(self, key: str, value: str, *tokens: Token) -> None:
        self.attributes[key] = value
        for token in tokens:
            self.used.add(token.index)

    # --- nouns ----------------------------------------------------------------------------------
    def noun(self, token: Token) -> None:
        kind, value = token.kind, token.value
        self.used.add(token.index)
        pending, self.pending = self.pending, []
        colours = [t for t in pending if t.kind in ("colour", "hair_word")]
        colour = colours[-1].value if colours else ""
        # A lexicon noun by its value ("hair", "skin"...); the other kinds by their kind.
        bind = _NOUNS.get(value if kind == "noun" else kind)
        leftovers = bind(self, token, pending, colours, colour) if bind is not None else []
        self.negate = False
        # Adjectives that did not fit this noun wait for the next one ("red hair and a blue hat" is two clauses).
        self.pending = leftovers

    # Each noun takes the adjectives before it that fit (its colour among them) and returns the others.
    def _hair(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        leftovers = [t for t in pending if not self._hair_adjective(t)]
        self.last_noun = "hair"
        return leftovers

    def _facial_hair(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        if self.negate or token.value == "none":
            self.set("facial_hair", "none", token)
        else:
            self.set("facial_hair", token.value, token)
            if colour and color_rgb(colour, hair=True):
                self.set("facial_hair_color", colour, *colours)
        leftovers = [t for t in pending if t not in colours or not color_rgb(colour, hair=True)]
        self.last_noun = "facial_hair"
        return leftovers

    def _eyewear(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        leftovers: list[Token] = []
        if self.negate:
            self.set("eyewear", "none", token)
        else:
            shapes = [t for t in pending if t.kind == "shape"]
            if token.value == "sunglasses":
                self.set("eyewear", "sunglasses", token, *shapes)
            elif shapes:
                self.set("eyewear", f"{'round' if shapes[-1].value == 'oval' else shapes[-1].value} glasses", token, *shapes)
            else:
                self.set("eyewear", "glasses", token)
            if colour:
                self.set("eyewear_color", colour, *colours)
            leftovers = [t for t in pending if t.kind not in ("shape", "colour")]
        self.last_noun = "eyewear"
        return leftovers

    def _headwear(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        leftovers: list[Token] = []
        if self.negate:
            self.set("headwear", "none", token)
        else:
            self.set("headwear", token.value, token)
            if colour:
                self.set("headwear_color", colour, *colours)
            leftovers = [t for t in pending if t not in colours]
        self.last_noun = "headwear"
        return leftovers

    def _clothing(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        self.set("clothing", token.value, token)
        if colour:
            self.set("clothing_color", colour, *colours)
        self.last_noun = "clothing"
        return [t for t in pending if t not in colours]

    def _skin(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        leftovers: list[Token] = []
        for t in pending:
            tone = _skin_tone(t)
            if tone:
                self.set("skin_tone", tone, t)
            else:
                leftovers.append(t)
        self.last_noun = "skin"
        return leftovers

    def _eyes(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        leftovers: list[Token] = []
        for t in pending:
            if t.kind in ("colour", "eye_word", "skin_word") and eye_rgb(t.value):
                self.set("eye_color", _eye_name(t.value), t)
            else:
                leftovers.append(t)
        if "eye_color" not in self.attributes:
            self.used.discard(token.index)  # "eye patch", "big eyes": nothing of it is drawn
        self.last_noun = "eyes"
        return leftovers

    def _face(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        leftovers: list[Token] = []
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
        return leftovers

    def _background(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        leftovers: list[Token] = []
        for t in pending:
            if t.kind in ("colour", "scene") or (t.kind == "skin_word" and color_rgb(t.value)):
                self.set("background", t.value, t)
            else:
                leftovers.append(t)
        self.last_noun = "background"
        return leftovers

    def _person(self, token: Token, pending: list[Token], colours: list[Token], colour: str) -> list[Token]:
        gender, _, age = token.value.partition("|")
        if gender:
            self.set("gender", gender, token)
        if age:
            self.set("age_group", age, token)
        elif gender and "age_group" not in self.attributes:
            self.set("age_group", "adult", token)  # "a woman": a grown-up, as drawn
        leftovers: list[Token] = []
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
        return leftovers

    def _hair_adjective(self, t: Token) -> bool:
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

    def hair_style(self, t: Token) -> None:
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


def _skin_tone(t: Token) -> str:
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


# The nouns the reader binds adjectives to: lexicon nouns by value, the others by kind.
_NOUNS = {
    "hair": Reader._hair,
    "facial_hair": Reader._facial_hair,
    "eyewear": Reader._eyewear,
    "headwear": Reader._headwear,
    "clothing": Reader._clothing,
    "skin": Reader._skin,
    "eyes": Reader._eyes,
    "face": Reader._face,
    "background": Reader._background,
    "person": Reader._person,
}
