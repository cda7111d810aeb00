"""Classify a customer's objection (zh or en) into one library type, deterministically, offline."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from playbooks.schema import Objection, Playbooks

LOW_CONFIDENCE = 0.5
"""Below this confidence the bot should let the rep pick among the top candidates."""

KEYWORD_WEIGHT = 1.0
EXAMPLE_WEIGHT = 2.5
TEMPERATURE = 0.4

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
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
_STOPWORD_TEXT = """
a an the and or but to of for on in at by with we we're i i'm i've you your our us it it's
is are was be this that these those my me so just do does have has had there there's that's
what will would can could some any all very really than from as if get got go
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SUFFIXES = ("ing", "ed", "es", "s")


@dataclass(frozen=True)
class Classification:
    """The most likely objection type, how sure we are (0–1), and every type ranked."""

    type: str
    confidence: float
    candidates: list[tuple[str, float]]

    @property
    def is_confident(self) -> bool:
        """True when the bot may act on `type` without asking the rep."""
        return self.confidence >= LOW_CONFIDENCE


# --- text normalisation -----------------------------------------------------


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


# --- feature vectors for similarity -----------------------------------------


def _features(text: str) -> Counter[str]:
    normal = normalize(text)
    content = [w for w in words(normal) if w not in _STOPWORDS]
    features: Counter[str] = Counter(content)
    features.update(f"{a} {b}" for a, b in pairwise(content))
    for run in _CJK_RUN.findall(normal):
        features.update(run[i : i + 2] for i in range(len(run) - 1))
        if len(run) == 1:
            features[run] += 1
    return features


def _cosine(first: Counter[str], second: Counter[str]) -> float:
    if not first or not second:
        return 0.0
    dot = sum(count * second[key] for key, count in first.items() if key in second)
    norm = math.sqrt(sum(v * v for v in first.values()) * sum(v * v for v in second.values()))
    return dot / norm


# --- keyword cues -----------------------------------------------------------


@dataclass(frozen=True)
class _Cue:
    type: str
    text: str  # normalised; CJK cues match as substrings, others as word sequences
    tokens: tuple[str, ...]
    weight: float


@dataclass(frozen=True)
class _Match:
    cue: _Cue
    start: int
    end: int
    cjk: bool


def _make_cue(type_id: str, keyword: str) -> _Cue | None:
    text = normalize(keyword)
    if not text:
        return None
    if _CJK.search(text):
        return _Cue(type_id, text, (), min(len(text), 4) * 0.5)
    tokens = tuple(words(text))
    return _Cue(type_id, text, tokens, float(min(len(tokens), 3))) if tokens else None


def _find_cjk(cue: _Cue, text: str) -> list[_Match]:
    matches, start = [], text.find(cue.text)
    while start != -1:
        matches.append(_Match(cue, start, start + len(cue.text), cjk=True))
        start = text.find(cue.text, start + 1)
    return matches


def _find_words(cue: _Cue, tokens: list[str]) -> list[_Match]:
    size = len(cue.tokens)
    return [
        _Match(cue, i, i + size, cjk=False)
        for i in range(len(tokens) - size + 1)
        if tuple(tokens[i : i + size]) == cue.tokens
    ]


def _inside(inner: _Match, outer: _Match) -> bool:
    same_space = inner.cjk == outer.cjk
    wider = (outer.end - outer.start) > (inner.end - inner.start)
    return same_space and wider and outer.start <= inner.start and inner.end <= outer.end


def _keep_longest(matches: list[_Match]) -> list[_Match]:
    """Drop a cue matched inside a longer matched cue: the longer phrase is more specific."""
    return [m for m in matches if not any(_inside(m, other) for other in matches)]


# --- the index --------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    types: tuple[str, ...]
    cues: tuple[_Cue, ...]
    examples: tuple[tuple[str, Counter[str]], ...]


def _build_index(objections: Mapping[str, Objection]) -> _Index:
    cues: list[_Cue] = []
    examples: list[tuple[str, Counter[str]]] = []
    for type_id, objection in objections.items():
        for keyword in objection.keywords.all():
            cue = _make_cue(type_id, keyword)
            if cue is not None:
                cues.append(cue)
        examples.extend((type_id, _features(example)) for example in objection.examples.all())
    return _Index(tuple(objections), tuple(cues), tuple(examples))


_INDEXES: dict[int, tuple[object, _Index]] = {}


def _index_for(library: Playbooks | Mapping[str, Objection]) -> _Index:
    objections = library.objections if isinstance(library, Playbooks) else library
    cached = _INDEXES.get(id(objections))
    if cached is not None and cached[0] is objections:
        return cached[1]
    index = _build_index(objections)
    if len(_INDEXES) > 8:
        _INDEXES.clear()
    _INDEXES[id(objections)] = (objections, index)
    return index


# --- scoring ----------------------------------------------------------------


def _keyword_scores(index: _Index, text: str) -> dict[str, float]:
    tokens = words(text)
    matches: list[_Match] = []
    for cue in index.cues:
        matches += _find_cjk(cue, text) if not cue.tokens else _find_words(cue, tokens)
    scores = dict.fromkeys(index.types, 0.0)
    for match in _keep_longest(matches):
        scores[match.cue.type] += match.cue.weight
    return scores


def _example_scores(index: _Index, text: str) -> dict[str, float]:
    features = _features(text)
    scores = dict.fromkeys(index.types, 0.0)
    for type_id, example in index.examples:
        scores[type_id] = max(scores[type_id], _cosine(features, example))
    return scores


def _softmax(scores: dict[str, float]) -> list[tuple[str, float]]:
    top = max(scores.values())
    weights = {k: math.exp((v - top) / TEMPERATURE) for k, v in scores.items()}
    total = sum(weights.values())
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])
    return [(type_id, weight / total) for type_id, weight in ranked]


def score_objection(text: str, library: Playbooks | Mapping[str, Objection]) -> dict[str, float]:
    """The raw evidence for each type: weighted cue hits plus similarity to the examples."""
    index = _index_for(library)
    normal = normalize(text)
    keywords = _keyword_scores(index, normal)
    examples = _example_scores(index, normal)
    return {t: KEYWORD_WEIGHT * keywords[t] + EXAMPLE_WEIGHT * examples[t] for t in index.types}


def classify_objection(text: str, library: Playbooks | Mapping[str, Objection]) -> Classification:
    """The single most likely objection type of `text`, with every type ranked best first."""
    scores = score_objection(text, library)
    if not scores:
        raise ValueError("the objection library is empty")
    candidates = _softmax(scores)
    best, confidence = candidates[0]
    return Classification(best, confidence, candidates)
