"""The trained models: the shipped ones read the issue's examples right; files, store and parity."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from understanding.linear import LinearTextModel
from understanding.models import (
    DEFAULT_MODEL_DIR,
    OBJECTION_MODEL,
    OBJECTIVE_MODEL,
    ModelStore,
)
from understanding.readers import Understanding
from understanding.reading import NotUnderstood, read
from understanding.training import Example, Recipe, _fit, _pipeline, train

CONTRAST_ZH = "价格不是问题，关键是你们能不能保证48小时上门维修"
CONTRAST_EN = "Price isn't the issue, the issue is your uptime SLA."
SUPPLIER = "我们跟现在的供应商合作七八年了，关系一直不错，没必要换"

LINES = {
    "price": [
        "太贵了",
        "价格太高",
        "你们的报价比别家贵",
        "too expensive",
        "your price is too high",
        "别家便宜三成",
        "报价高了15%",
        "the quote is way over what we expected",
        "we can get it cheaper elsewhere",
        "价钱太离谱了",
        "the price is steep",
        "能不能再便宜点",
        "折扣太少",
    ],
    "too_busy": [
        "我现在很忙",
        "没时间",
        "下次再说吧我在开会",
        "I am busy right now",
        "no time this week",
        "call me later",
        "在开会，回头聊",
        "最近太忙了",
        "swamped this month",
        "改天再聊",
        "I'm in a meeting",
        "没空",
        "忙不过来",
    ],
    "has_supplier": [
        "我们有供应商了",
        "已经在用别家的",
        "合作多年没必要换",
        "we already have a vendor",
        "happy with our supplier",
        "已经签了别家",
        "we use another company",
        "现在的供应商挺好",
        "不想换供应商",
        "locked in with a supplier",
        "老供应商用得挺好",
        "已经有合作方了",
        "our current vendor is fine",
    ],
}
UNSEEN = ["价格有点贵", "we are very busy", "已经有别的供应商了", "下周再说", "SLA 太差"]


def examples(labels: Sequence[str]) -> list[Example]:
    return [Example(text, label) for label in labels for text in LINES[label]]


# The order lines are trained in: saga visits them in a seeded order, so a refit must match it.
ORDER = {"three": ["price", "too_busy", "has_supplier"], "two": ["price", "too_busy"]}


@pytest.fixture(scope="module")
def three() -> LinearTextModel:
    """A small three-label model trained with the default recipe."""
    return train(examples(ORDER["three"]), Recipe("tiny"))


@pytest.fixture(scope="module")
def two() -> LinearTextModel:
    """A small two-label model (the binary case of the export)."""
    return train(examples(ORDER["two"]), Recipe("tiny"))


@pytest.fixture(scope="module")
def shipped() -> Understanding:
    return Understanding(ModelStore())


# ----- the shipped objection model on the examples ----------------------------------


def test_a_denied_price_with_a_chinese_contrast_is_not_price(shipped: Understanding) -> None:
    reading = shipped.objection(CONTRAST_ZH)
    assert reading.label != "price"
    assert reading.evidence != "价格不是问题"


def test_a_denied_price_with_an_english_contrast_is_not_price(shipped: Understanding) -> None:
    reading = shipped.objection(CONTRAST_EN)
    assert reading.label != "price"
    assert reading.evidence != "Price isn't the issue"


def test_a_long_standing_supplier_is_has_supplier(shipped: Understanding) -> None:
    assert shipped.objection(SUPPLIER).label == "has_supplier"
    assert shipped.objection("我们跟现在的供应商合作七八年了…没必要换").label == "has_supplier"


@pytest.mark.parametrize(
    "text",
    [CONTRAST_ZH, CONTRAST_EN, SUPPLIER, "太贵了", "We're too busy this quarter", "預算不夠"],
)
def test_a_reading_is_consistent(shipped: Understanding, text: str) -> None:
    model = shipped.store.get(OBJECTION_MODEL)
    reading = shipped.objection(text)
    assert reading.backend == "local" and reading.extra == {}
    probabilities = [p for _label, p in reading.candidates]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
    assert {label for label, _p in reading.candidates} == set(model.labels)
    assert reading.candidates[0] == (reading.label, reading.confidence)
    assert reading.evidence and reading.evidence in text
    assert reading.confident == (reading.confidence >= model.threshold)
    assert reading.secondary is None or reading.secondary != reading.label
    payload = reading.as_json("type")
    assert payload["type"] == reading.label and payload["backend"] == "local"


def test_the_shipped_objection_model_knows_the_ten_types(shipped: Understanding) -> None:
    model = shipped.store.get(OBJECTION_MODEL)
    assert set(model.labels) == {
        "no_need",
        "no_urgency",
        "no_budget",
        "no_trust",
        "price",
        "has_supplier",
        "bad_experience",
        "not_decision_maker",
        "send_info",
        "too_busy",
    }
    assert 0.0 < model.threshold < 1.0 and model.temperature > 0


@pytest.mark.parametrize("text", ["", "   ", "hmm", "…", "😀", "嗯嗯", "ok"])
def test_nothing_to_read(shipped: Understanding, text: str) -> None:
    with pytest.raises(NotUnderstood):
        shipped.objection(text)


def test_words_the_model_never_saw_are_not_understood(two: LinearTextModel) -> None:
    with pytest.raises(NotUnderstood):
        read(two, "zyxwv qqqq")


# ----- the shipped objective model ----------------------------------------------------------


@pytest.mark.parametrize(
    "objective",
    ["拿到设备清单", "Director Li agrees to arrange a technical session next week"],
)
def test_objectives_naming_a_customer_action(shipped: Understanding, objective: str) -> None:
    assert shipped.names_customer_action(objective)


@pytest.mark.parametrize(
    "objective",
    ["provide a quote", "确认他们有没有预算", "agree to think about it", "建立关系"],
)
def test_objectives_naming_no_customer_action(shipped: Understanding, objective: str) -> None:
    assert not shipped.names_customer_action(objective)


def test_an_empty_objective_names_no_action(shipped: Understanding) -> None:
    assert not shipped.names_customer_action("")
    with pytest.raises(NotUnderstood):
        shipped.objective("hmm")


# ----- files --------------------------------------------------------------------------------


def test_save_and_load_give_identical_probabilities(three: LinearTextModel, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "tiny.npz"
    three.save(path)
    loaded = LinearTextModel.load(path)
    assert loaded.labels == three.labels == ("has_supplier", "price", "too_busy")
    assert loaded.vocabulary == three.vocabulary
    assert (loaded.temperature, loaded.threshold) == (three.temperature, three.threshold)
    assert loaded.meta == three.meta and loaded.meta["lines"] == 39
    for text in [*LINES["price"], *UNSEEN]:
        before = three.probabilities(three.vector(text))
        after = loaded.probabilities(loaded.vector(text))
        assert np.array_equal(before, after)
        assert read(loaded, text) == read(three, text)


def test_a_model_file_holds_no_pickled_objects(three: LinearTextModel, tmp_path: Path) -> None:
    path = tmp_path / "tiny.npz"
    three.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["coef", "header", "idf", "intercept", "vocabulary"]
        assert all(data[name].dtype != object for name in data.files)


@pytest.mark.parametrize("fixture", ["three", "two"])
def test_numpy_probabilities_equal_scikit_learns(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    model: LinearTextModel = request.getfixturevalue(fixture)
    training = examples(ORDER[fixture])
    pipeline = _fit(_pipeline(Recipe("tiny").c), training)
    assert list(pipeline.named_steps["model"].classes_) == list(model.labels)
    texts = [example.text for example in training] + UNSEEN
    expected = pipeline.predict_proba(texts)
    uncalibrated = dataclasses.replace(model, temperature=1.0)
    ours = np.array([uncalibrated.probabilities(uncalibrated.vector(text)) for text in texts])
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_training_is_calibrated_and_described(three: LinearTextModel) -> None:
    assert three.meta["model"] == "tiny" and three.meta["c"] == Recipe("tiny").c
    assert three.meta["per_label"] == {"has_supplier": 13, "price": 13, "too_busy": 13}
    assert 0.0 <= three.meta["oof_accuracy"] <= 1.0
    assert 0.2 <= three.temperature <= 4.0
    assert 0.0 < three.threshold <= 0.99
    assert read(three, "太贵了").label == "price"


# ----- the model store ----------------------------------------------------------------------


def test_without_a_company_model_the_default_is_used(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    assert store.path(OBJECTION_MODEL) == DEFAULT_MODEL_DIR / "objections.npz"
    assert ModelStore().path(OBJECTIVE_MODEL) == DEFAULT_MODEL_DIR / "objectives.npz"
    assert store.get(OBJECTIVE_MODEL).labels == ("customer_action", "no_customer_action")


def test_the_store_prefers_the_model_dir_and_rereads_a_changed_file(
    three: LinearTextModel, two: LinearTextModel, tmp_path: Path
) -> None:
    store = ModelStore(tmp_path)
    path = tmp_path / "objections.npz"
    three.save(path)
    assert store.path(OBJECTION_MODEL) == path
    first = store.get(OBJECTION_MODEL)
    assert first.labels == three.labels
    assert store.get(OBJECTION_MODEL) is first  # unchanged file: no second read

    written = path.stat().st_mtime_ns
    two.save(path)  # a retrain replaces the file…
    later = written + 1_000_000_000
    os.utime(path, ns=(later, later))  # …and is stamped later (coarse clocks may tie)
    second = store.get(OBJECTION_MODEL)
    assert second is not first
    assert second.labels == ("price", "too_busy")
    assert read(second, "我们有供应商了").label in {"price", "too_busy"}

    path.unlink()  # the company's model removed: back to the default
    assert store.path(OBJECTION_MODEL) == DEFAULT_MODEL_DIR / "objections.npz"
