"""Text as the models see it: normalised, cut into clauses, weighted by contrast, tokenised.

Normalisation folds full-width forms, case, pinyin tone marks and Traditional
Chinese (OpenCC) so that every way of typing a word meets the same features.
A contrast ("价格不是问题，关键是…", "not X, the real issue is Y") moves the
weight to the clause after it: its tokens are counted again with an `f|`
prefix, and a negated clause before it ("不是X", "X isn't the issue") is
counted only with a `~` prefix, so its words stop voting for their usual type.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import opencc

FOCUS = "f|"
NEGATED = "~"

_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_CJK_RUN = re.compile(f"[{_CJK_CLASS}]+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DIGITS = re.compile(r"\d+")
_CONTENT = re.compile(f"[{_CJK_CLASS}a-z]")

# Clause boundaries: punctuation in either script, and line breaks.
_PUNCTUATION = r"[，,。.!?！？；;:：\n…~～、()（）\[\]【】「」『』\"“”]+"

# A contrast marker starts a new clause; the clause it starts carries the weight.
# Traditional spellings are listed too: the split runs before normalisation.
_CONTRAST_ZH = (
    "但是|但|可是|不过|不過|然而|关键是|關鍵是|关键在于|關鍵在於|主要是|问题是|問題是|"
    "重点是|重點是|真正的问题是|真正的問題是|只是|其实|其實|而是|说白了|說白了|说到底|說到底"
)
_CONTRAST_EN = (
    r"\bbut\b|\bhowever\b|\bthough\b|\bthe (?:real |main |actual |bigger )?(?:issue|problem|"
    r"thing|point|question|concern) is\b|\bwhat matters is\b|\bit'?s (?:more |really |just )?"
    r"(?:that|about)\b|\bthe thing is\b|\bactually\b|\brather\b|\binstead\b"
)
_CONTRAST = re.compile(f"({_CONTRAST_ZH}|{_CONTRAST_EN})", re.IGNORECASE)

# Phrases that deny what a clause names ("不是X", "X isn't the issue").
_NEGATOR = re.compile(
    r"不是|並不是|并不是|倒不是|不在于|不在於|并非|並非|没问题|沒問題|不是问题|無所謂|无所谓|"
    r"\bit'?s not\b|\bis not\b|\bisn'?t\b|\bwasn'?t\b|\bnot (?:the|about|really|that|so much|"
    r"a|an|because)\b|\bno problem\b|\bnot an? (?:issue|problem)\b|\bfine with\b|\bokay with\b",
    re.IGNORECASE,
)

_SUFFIXES = ("ing", "ed", "es", "s")


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _strip_marks(text: str) -> str:
    """Drop combining marks (pinyin tones: "tài guì" → "tai gui"), keep everything else."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", kept)


def normalise(text: str) -> str:
    """Width, case, quotes, tone marks, Traditional → Simplified, spacing: all folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    folded = _strip_marks(folded)
    if _CJK.search(folded):
        folded = _converter().convert(folded)
    return " ".join(folded.split())


def has_content(text: str) -> bool:
    """True when the text holds at least one letter or CJK character once normalised."""
    return bool(_CONTENT.search(normalise(text)))


@dataclass(frozen=True)
class Clause:
    """One clause: as typed, as normalised, and its role (plain, focus or negated)."""

    original: str
    normal: str
    role: str


def _pieces(text: str) -> list[str]:
    """Cut at punctuation, then again before every contrast marker."""
    pieces: list[str] = []
    for part in re.split(_PUNCTUATION, text):
        start = 0
        for match in _CONTRAST.finditer(part):
            if match.start() > start:
                pieces.append(part[start : match.start()])
            start = match.start()
        pieces.append(part[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def _starts_with_contrast(normal: str) -> bool:
    match = _CONTRAST.match(normal)
    return match is not None and bool(_CONTENT.search(normal[match.end() :]))


def clauses(text: str) -> list[Clause]:
    """The clauses of `text` with the weight moved past the last contrast."""
    pieces = _pieces(text)
    normals = [normalise(piece) for piece in pieces]
    turn = max((i for i, n in enumerate(normals) if i > 0 and _starts_with_contrast(n)), default=0)
    if turn == 0 and len(pieces) > 1 and _NEGATOR.search(normals[0]):
        turn = 1  # "不是X，是Y" / "not X, it's Y": no marker word, the denial itself turns
    roles = []
    for index, normal in enumerate(normals):
        if turn and index >= turn:
            roles.append("focus")
        elif turn and _NEGATOR.search(normal):
            roles.append("negated")
        else:
            roles.append("plain")
    return [Clause(p, n, r) for p, n, r in zip(pieces, normals, roles, strict=True)]


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(normal: str) -> list[str]:
    """The lightly stemmed Latin-script words of a normalised text (English or pinyin)."""
    return [_stem(word) for word in _WORD.findall(_DIGITS.sub("0", normal))]


def _word_tokens(normal: str) -> list[str]:
    found = words(normal)
    tokens = list(found)
    tokens += [f"{a} {b}" for a, b in pairwise(found)]
    for word in found:
        padded = f" {word} "
        if len(word) >= 4:  # letter trigrams survive typos ("recieve", "bugdet")
            tokens += ["#" + padded[i : i + 3] for i in range(len(padded) - 2)]
    return tokens


def _cjk_tokens(normal: str) -> list[str]:
    tokens: list[str] = []
    for run in _CJK_RUN.findall(_DIGITS.sub("0", normal)):
        tokens += list(run)
        tokens += [run[i : i + 2] for i in range(len(run) - 1)]
        tokens += [run[i : i + 3] for i in range(len(run) - 2)]
    return tokens


def clause_tokens(clause: Clause) -> list[str]:
    """The features one clause contributes, prefixed by its role."""
    base = _word_tokens(clause.normal) + _cjk_tokens(clause.normal)
    if clause.role == "negated":
        return [NEGATED + token for token in base]
    if clause.role == "focus":
        return base + [FOCUS + token for token in base]
    return base


def tokens(text: str) -> list[str]:
    """Every feature of `text`: the analyzer the models are trained and run with."""
    return [token for clause in clauses(text) for token in clause_tokens(clause)]


def language_of(text: str) -> str:
    """'zh' when the text holds any CJK character, else 'en'."""
    return "zh" if _CJK.search(text) else "en"
