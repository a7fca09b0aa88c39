"""The local avatar generator (provider.py): `generation.providers.local.LocalProvider` is its registry path.

The modules, in the order a drawing goes through them: prompt_words (the vocabulary, as data),
prompt and prompt_reader (a prompt read into attributes), look (every attribute resolved, the seed
choosing what the prompt leaves open), shapes and parts* (the vector parts of the scene), render (the
four styles), colors (named colours and ΔE). checks* read a rendered image back (the benchmark's and
the tests' pixel checks).
"""

from .look import Drawing, avatar_look
from .provider import (
    LICENCE_NOTE,
    MAX_SIDE,
    MIN_SIDE,
    MODEL,
    PHOTO_STAND_IN_STYLE,
    STYLE_DESCRIPTIONS,
    STYLE_LABELS,
    STYLES,
    LocalProvider,
    draw_avatar,
)

__all__ = [
    "LICENCE_NOTE",
    "MAX_SIDE",
    "MIN_SIDE",
    "MODEL",
    "PHOTO_STAND_IN_STYLE",
    "STYLES",
    "STYLE_DESCRIPTIONS",
    "STYLE_LABELS",
    "Drawing",
    "LocalProvider",
    "avatar_look",
    "draw_avatar",
]
