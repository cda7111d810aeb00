"""The objection classifier: top-1 accuracy on held-out phrasings in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dialogs.field.objection_classifier import LOW_CONFIDENCE, classify_objection, normalize
from playbooks.loader import load_playbooks
from playbooks.schema import Playbooks

PHRASINGS = Path(__file__).parent / "data" / "objection_phrasings.yaml"
MIN_ACCURACY = 0.90


def load_phrasings() -> list[tuple[str, str, str]]:
    """(expected type, language, phrasing) for every held-out phrasing."""
    data = yaml.safe_load(PHRASINGS.read_text(encoding="utf-8"))
    return [
        (type_id, language, text)
        for type_id, by_language in data.items()
        for language, texts in by_language.items()
        for text in texts
    ]


@pytest.fixture(scope="module")
def library() -> Playbooks:
    return load_playbooks()


def test_phrasings_cover_every_type_in_both_languages(library: Playbooks) -> None:
    phrasings = load_phrasings()
    assert {type_id for type_id, _, _ in phrasings} == set(library.objections)
    for type_id in library.objections:
        zh = [t for k, lang, t in phrasings if k == type_id and lang == "zh"]
        en = [t for k, lang, t in phrasings if k == type_id and lang == "en"]
        assert len(zh) + len(en) >= 12, type_id
        assert len(zh) >= 6 and len(en) >= 6, type_id
    assert len(phrasings) >= 120


def test_no_phrasing_is_a_playbook_example(library: Playbooks) -> None:
    examples = {
        normalize(example)
        for objection in library.objections.values()
        for example in objection.examples.all()
    }
    copied = [text for _, _, text in load_phrasings() if normalize(text) in examples]
    assert copied == []


def test_top1_accuracy(library: Playbooks) -> None:
    phrasings = load_phrasings()
    misses = []
    for expected, _, text in phrasings:
        result = classify_objection(text, library)
        if result.type != expected:
            misses.append(f"  {expected} -> {result.type} ({result.confidence:.2f}): {text}")
    n = len(phrasings)
    acc = (n - len(misses)) / n
    print(f"\nobjection classifier top-1 accuracy: {acc:.1%} ({n} phrasings)")
    print("\n".join(misses))
    assert acc >= MIN_ACCURACY


def test_result_shape(library: Playbooks) -> None:
    result = classify_objection("Way too EXPENSIVE!!!", library)
    assert result.type == "price"
    assert 0.0 <= result.confidence <= 1.0
    assert result.candidates[0][0] == result.type
    assert {t for t, _ in result.candidates} == set(library.objections)
    scores = [score for _, score in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(1.0)
    assert result.confidence == scores[0]


def test_deterministic_and_accepts_the_mapping(library: Playbooks) -> None:
    text = "Please just email me a brochure."
    first = classify_objection(text, library)
    assert classify_objection(text, library) == first
    assert classify_objection(text, library.objections) == first


def test_no_evidence_is_low_confidence(library: Playbooks) -> None:
    result = classify_objection("Hmm.", library)
    assert result.confidence < LOW_CONFIDENCE
    assert not result.is_confident
    assert classify_objection("", library).confidence < LOW_CONFIDENCE


def test_clear_objections_are_confident(library: Playbooks) -> None:
    assert classify_objection("Send me your brochure by email, please.", library).is_confident
    assert classify_objection("We have no budget left this year.", library).is_confident


def test_full_width_and_half_width_punctuation_agree(library: Playbooks) -> None:
    full = "\uff08\u592a\u8d35\u4e86\uff01\uff09"  # full-width brackets and exclamation mark
    half = "(\u592a\u8d35\u4e86!)"
    assert classify_objection(full, library) == classify_objection(half, library)
