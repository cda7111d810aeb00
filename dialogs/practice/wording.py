"""Folding a typed reply for the role-play rubric: width, case, quotes, light English stems."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CONTRACTIONS = {
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "doesnt": "doesn't",
    "didnt": "didn't",
    "isnt": "isn't",
    "havent": "haven't",
    "im": "i'm",
    "ive": "i've",
}
_SUFFIXES = ("ing", "ed", "es", "s")


def normalize(text: str) -> str:
    """Fold width, case, quotes and spacing so both languages compare cleanly."""
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = folded.replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(folded.split())


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The stemmed English-like words of normalised `text`."""
    return [_stem(_CONTRACTIONS.get(w, w)) for w in _WORD.findall(text)]
