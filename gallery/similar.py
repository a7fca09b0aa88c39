"""Avatars like another one (shared attributes, then the nearest picture) and avatars that fit a free
text (a generation prompt)."""

from itertools import pairwise

from django.db import connection
from django.db.models import Q

from . import imaging
from .models import Avatar
from .page_cache import cached_page
from .queries import attach_renditions, first_matching, text_query, visible_avatars

# What "similar" compares besides the model's own fields: everything a source or the generator
# said about the picture, except provenance.
_NOT_TRAITS = frozenset({"drawn_by", "expression"})
_TRAIT_FIELDS = ("gender", "age_group", "hair_color", "emotion")
_ABSENT = frozenset({"", "none", "no", "unknown"})


def avatar_traits(avatar: Avatar) -> set[tuple[str, str]]:
    """The (attribute, value) pairs that describe an avatar: gender, age, hair colour, emotion and
    whatever else its source or the generator recorded (hair style, eyewear, drawing style, ...)."""
    traits = {(name, str(getattr(avatar, name)).lower()) for name in _TRAIT_FIELDS}
    for name, value in (avatar.attributes or {}).items():
        if name not in _NOT_TRAITS and isinstance(value, str | int | float) and not isinstance(value, bool):
            traits.add((name, str(value).lower()))
    return {(name, value) for name, value in traits if value not in _ABSENT}


def _visual_distance(a: Avatar, b: Avatar) -> int:
    """Hash distance (0-64) of the pictures, plus a penalty when their main colours differ."""
    distance = imaging.hamming_distance(int(a.phash, 16), int(b.phash, 16))
    return distance + (0 if a.color_family == b.color_family else 8)


def avatar_similar(*, avatar: Avatar, limit: int = 8, pool: int = 300) -> list[Avatar]:
    """Avatars that look alike: the most shared attributes first (gender, age, hair, expression,
    what the generator drew, tags), then the nearest picture (hash distance and main colour).

    The candidates are the newest `pool` avatars sharing a gender, hair colour or colour family
    with it, plus the newest sharing both its gender and hair colour (so a large library still
    offers the closest matches, not only its newest pictures); each query walks an index."""
    shared_any = Q(color_family=avatar.color_family) if avatar.color_family else Q(pk__in=[])
    for name in ("gender", "hair_color", "age_group"):
        if getattr(avatar, name):
            shared_any |= Q(**{name: getattr(avatar, name)})
    base = visible_avatars().defer("search").exclude(pk=avatar.pk).order_by("-created_at", "-id")
    candidates = {a.pk: a for a in base.filter(shared_any)[:pool]}
    if avatar.gender and avatar.hair_color:
        for other in base.filter(gender=avatar.gender, hair_color=avatar.hair_color)[: pool // 2]:
            candidates.setdefault(other.pk, other)
    traits, tags = avatar_traits(avatar), {tag.lower() for tag in avatar.tags}

    def rank(other: Avatar) -> tuple[float, int, int]:
        shared = len(traits & avatar_traits(other)) + len(tags & {tag.lower() for tag in other.tags}) / 2
        return (-shared, _visual_distance(avatar, other), -other.pk)

    return attach_renditions(sorted(candidates.values(), key=rank)[:limit])


_TEXT_STOP_WORDS = frozenset({"and", "the", "with", "for", "from", "are", "its", "this", "that", "very", "some", "who", "has", "have"})


def text_words(text: str) -> list[str]:
    """The words of a free text (a generation prompt) that say what it is about: lower case,
    without punctuation, short words or common ones such as "with"."""
    return [w for w in (word.strip(".,;:!?\"'()").lower() for word in text.split()) if len(w) > 2 and w not in _TEXT_STOP_WORDS]


# Words that say nothing about which avatar fits (every demo title has "hair"; "portrait" is every photo).
_GENERIC_WORDS = frozenset({"hair", "avatar", "portrait", "person", "picture", "photo", "image", "wearing", "background", "style", "face"})
# Words a prompt uses for what the gallery stores as a gender and age group.
_PERSON_WORDS = {
    "female": ("woman", "female", "lady"),
    "male": ("man", "male", "guy"),
    "infant": ("baby", "infant"),
    "child": ("child", "kid"),
    "young-adult": ("young", "teen", "teenager"),
    "elderly": ("old", "older", "elderly", "senior"),
    ("female", "child"): ("girl",),
    ("male", "child"): ("boy",),
}


def _stem(word: str) -> str:
    """A crude English stem, enough to match "smiling" with "smile" and "glasses" with "glass"."""
    word = word.lower().strip(".,;:!?\"'()")
    changed = True
    while changed:
        changed = False
        for suffix in ("ing", "es", "ed", "s", "e"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word, changed = word[: -len(suffix)], True
                break
    return word


def _words_and_pairs(texts: list[str]) -> tuple[set[str], set[tuple[str, str]]]:
    """The stems of some texts, and each text's neighbouring stems ("red cap", "curly hair")."""
    words: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for text in texts:
        stems = [_stem(word) for word in text_words(text)]
        words.update(stems)
        pairs.update(pairwise(stems))
    return words, pairs


def _avatar_words(avatar: Avatar) -> tuple[set[str], set[tuple[str, str]]]:
    words, pairs = _words_and_pairs([avatar.title, *(str(tag) for tag in avatar.tags)])
    for _name, value in avatar_traits(avatar):
        words.update(_stem(word) for word in value.replace("-", " ").split())
    for key in (avatar.gender, avatar.age_group, (avatar.gender, avatar.age_group)):
        words.update(_stem(word) for word in _PERSON_WORDS.get(key, ()))
    return words, pairs


def avatar_related_to_text(*, text: str, limit: int = 6, per_word: int = 60) -> list[Avatar]:
    """Premade avatars that fit a free text (a generation prompt): those sharing the most of its
    words (its attributes: "woman", "curly", "red", "glasses"...) first, most downloaded first
    among equals; the most downloaded overall fill the rest.

    Candidates: the most downloaded matching all the words, and the `per_word` most downloaded
    matching each word on its own (so a rare word's avatars are not crowded out by a common one's):
    a query or three per word, so the answer is kept per text and gallery version (a failed job's
    page asks again on every poll)."""
    return cached_page("related", (text, limit, per_word), lambda: _related_to_text(text=text, limit=limit, per_word=per_word))


def _related_to_text(*, text: str, limit: int, per_word: int) -> list[Avatar]:
    words = [word for word in dict.fromkeys(text_words(text)) if _stem(word) not in {_stem(g) for g in _GENERIC_WORDS}][:6]
    queryset = visible_avatars().defer("search").order_by("-download_count", "-id")
    candidates: dict[int, Avatar] = {}
    if words:
        if connection.vendor == "postgresql":
            found = first_matching(queryset, text_query(" ".join(words)), "popular", limit)
            for word in words:
                found += first_matching(queryset, text_query(word), "popular", per_word)
        else:
            found = []
            for word in words:
                found += queryset.filter(Q(title__icontains=word) | Q(tags__icontains=word) | Q(attributes__icontains=word))[:per_word]
        candidates = {a.pk: a for a in found}
    wanted_words, wanted_pairs = _words_and_pairs([text])
    wanted_words -= {_stem(word) for word in _GENERIC_WORDS}

    def shared(avatar: Avatar) -> int:
        words, pairs = _avatar_words(avatar)
        return len(wanted_words & words) + len(wanted_pairs & pairs)

    scored = sorted(((shared(a), a) for a in candidates.values()), key=lambda item: (-item[0], -item[1].download_count, -item[1].pk))
    related = [avatar for score, avatar in scored if score][:limit]
    if len(related) < limit:
        related += list(queryset.exclude(pk__in=[a.pk for a in related])[: limit - len(related)])
    return attach_renditions(related)
