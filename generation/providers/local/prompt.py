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

from .colors import BASE, HAIR, MODIFIERS, canonical, color_rgb
from .prompt_reader import Reader, Token
from .prompt_words import AGE_GROUPS, BLONDS, COLOUR_WORDS, MAX_PHRASE, PHRASES, SCENES, STOP_WORDS  # noqa: F401 - AGE_GROUPS: the readers' values


@dataclass(frozen=True)
class PromptReading:
    """What a prompt says: attribute values, the phrases the drawing will honour, the words it cannot use."""

    attributes: dict[str, str] = field(default_factory=dict)
    drawn: list[str] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)


def _tokens(prompt: str) -> list[str]:
    text = prompt.lower().replace("\u2019", "'").replace("'s ", " ").replace("o'clock", "o clock")
    # Punctuation stays: a comma ends a clause ("background purple, a woman").
    return re.findall(r"[a-z0-9]+|[,;.:!?]", text.replace("-", " ").replace("_", " "))


def _phrase_at(words: list[str], i: int) -> tuple[str, str, int] | None:
    """The longest lexicon phrase starting at word `i`, as (kind, value, length), unless a colour reading wins."""
    for length in range(min(MAX_PHRASE, len(words) - i), 0, -1):
        phrase = tuple(words[i : i + length])
        if phrase not in PHRASES:
            continue
        kind, value = PHRASES[phrase]
        if length == 1:
            # "light"/"dark"/"pale"/"deep" before a colour modify it ("light blue"): not a skin word.
            if words[i] in MODIFIERS and i + 1 < len(words) and _is_colour_word(words[i + 1]):
                return None
            # "tan"/"brown"/"olive" are colours unless skin follows ("brown hair" vs "brown skin").
            if kind == "skin_word" and words[i] in COLOUR_WORDS and not _next_is(words, i + 1, ("noun:skin",)):
                return None
        return kind, value, length
    return None


def _lex(words: list[str]) -> list[Token]:
    """Words -> tokens: the longest lexicon phrase first, then colours (with light/dark), then plain words."""
    out: list[Token] = []
    i = 0
    while i < len(words):
        found = _phrase_at(words, i)
        if found is not None:
            kind, value, length = found
            out.append(Token(kind, value, " ".join(words[i : i + length]), i))
            i += length
            continue
        word = words[i]
        if word in MODIFIERS and i + 1 < len(words) and _is_colour_word(words[i + 1]):
            out.append(Token("colour", canonical(f"{word} {words[i + 1]}"), f"{word} {words[i + 1]}", i))
            i += 2
        elif i + 1 < len(words) and words[i + 1] in ("blond", "blonde") and word in BLONDS:
            out.append(Token("colour", BLONDS[word], f"{word} {words[i + 1]}", i))
            i += 2
        elif _is_colour_word(word):
            out.append(Token("colour", canonical(word), word, i))
            i += 1
        elif word.endswith("ish") and _is_colour_word(word[:-3]):
            out.append(Token("colour", canonical(word[:-3]), word, i))
            i += 1
        else:
            out.append(Token("word", word, word, i))
            i += 1
    return out


def _is_colour_word(word: str) -> bool:
    return word in COLOUR_WORDS or canonical(word) in BASE or canonical(word) in HAIR


def _next_is(words: list[str], start: int, wanted: tuple[str, ...]) -> bool:
    """Is the next content word (skipping stop words) one of `wanted` ('noun:skin' style keys)?"""
    for word in words[start : start + 3]:
        if word in STOP_WORDS:
            continue
        kind, value = PHRASES.get((word,), ("word", word))
        return f"{kind}:{value}" in wanted
    return False


_ADJECTIVES = frozenset({"colour", "hair_word", "hair_length", "hair_texture", "shape", "face_shape", "skin_word", "eye_word"})
_CLAUSE_BREAKS = frozenset(
    {"and", "with", "plus", "also", "while", "but", "has", "have", "having", "who", "that", "wearing", ",", ";", ".", ":", "!", "?"}
)


def prompt_attributes(prompt: str) -> PromptReading:
    """Read a prompt: attributes it states, the phrases that will be drawn, the content words it cannot use."""
    words = _tokens(prompt)
    tokens = _lex(words)
    reader = Reader()
    for position, token in enumerate(tokens):
        _read(reader, token, tokens[position + 1] if position + 1 < len(tokens) else None)
    reader.flush(end=True)
    attributes = _normalised(reader.attributes)
    not_understood = _unused_words(tokens, reader.used)
    return PromptReading(attributes=attributes, drawn=drawn_phrases(attributes), not_understood=not_understood)


def _read(reader: Reader, token: Token, nxt: Token | None) -> None:
    """One token into the reader (`nxt`: the token after it, if any)."""
    kind = token.kind
    if (kind == "word" and token.value in _CLAUSE_BREAKS) or kind == "clothing_word":
        _clause_break(reader, token, nxt)
    elif kind == "word" and token.value in ("on", "against"):
        reader.flush()
        reader.background_context, reader.clothing_context = True, False
    elif kind == "neg":
        reader.negate = True
        reader.used.add(token.index)
    elif kind in ("noun", "facial_hair", "eyewear", "headwear", "clothing", "person"):
        reader.noun(token)
    elif kind == "hair_style":
        reader.used.add(token.index)
        reader.hair_style(token)
        reader.last_noun = "hair"
    elif kind == "expression":
        _expression(reader, token)
    elif kind == "scene":
        if nxt is not None and nxt.kind == "noun" and nxt.value == "background":
            reader.pending.append(token)
        else:
            reader.set("background", token.value, token)
    elif kind == "age":
        if nxt is None or nxt.kind != "person":
            reader.set("age_group", token.value, token)
        else:
            reader.pending.append(token)
    elif kind in ("colour", "hair_word", "hair_length", "hair_texture", "shape", "face_shape", "skin_word", "eye_word"):
        reader.pending.append(token)
    elif kind == "word" and token.value in STOP_WORDS:
        reader.used.add(token.index)
    else:
        # A plain word: not understood, and the adjectives just before it were about it ("gold earrings").
        reader.pending = [t for t in reader.pending if t.kind not in ("colour", "shape")]


def _clause_break(reader: Reader, token: Token, nxt: Token | None) -> None:
    # "red and curly hair": a list of adjectives goes on; anything else ends the clause.
    if not (token.value in ("and", ",") and nxt is not None and nxt.kind in _ADJECTIVES and reader.pending):
        reader.flush()
    reader.used.add(token.index)
    if token.kind == "clothing_word":
        reader.clothing_context = True
        reader.background_context = False
    if token.value == "with":
        reader.clothing_context = False


def _expression(reader: Reader, token: Token) -> None:
    # "a smiling face", "big smile": an expression is its own noun; "not smiling" is neutral.
    if reader.negate:
        reader.negate = False
        if token.value in ("smile", "grin", "laugh", "wink", "smirk"):
            reader.set("expression", "neutral", token)
        else:
            reader.used.add(token.index)
        return
    reader.set("expression", token.value, token)


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


def _unused_words(tokens: list[Token], used: set[int]) -> list[str]:
    seen: list[str] = []
    for token in tokens:
        if token.index in used:
            continue
        for word in token.words.split():
            if word in STOP_WORDS or word.isdigit() or len(word) < 2 or not word.isalnum() or word in seen:
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
