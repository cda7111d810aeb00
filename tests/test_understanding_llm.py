"""The optional LLM objection reader against a fake OpenAI-compatible server on 127.0.0.1.

A normal JSON answer is used; a slow answer, an HTTP error, malformed JSON or
an off-list type fall back to the local model's reading, marked as such.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from playbooks.loader import load_playbooks
from tests.fake_openai import FakeOpenAI
from understanding.llm import ChatEndpoint, LlmObjectionReader, endpoint
from understanding.readers import Understanding
from understanding.reading import NotUnderstood, Reading

TIMEOUT = 0.3
SUPPLIER = "我们跟现在的供应商合作七八年了，关系很好，没必要换"
PLAYBOOKS = load_playbooks()
DEFINITIONS = {
    type_id: f"{objection.label.en}. {objection.description.en}"
    for type_id, objection in PLAYBOOKS.objections.items()
}
GOOD = {
    "type": "has_supplier",
    "secondary": "price",
    "confidence": 0.9,
    "evidence": "合作七八年了",
}


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(json.dumps(GOOD, ensure_ascii=False)) as server:
        yield server


@pytest.fixture
def understanding(openai: FakeOpenAI) -> Understanding:
    chat = ChatEndpoint(openai.url, "test-model", timeout=TIMEOUT, api_key="sk-test")
    return Understanding(llm=LlmObjectionReader(chat, DEFINITIONS))


def local(text: str) -> Reading:
    return Understanding().objection(text)


def answer(openai: FakeOpenAI, payload: dict[str, Any]) -> None:
    openai.answer = json.dumps(payload, ensure_ascii=False)


# ----- a good answer ------------------------------------------------------------------------


def test_a_normal_json_answer_is_used(openai: FakeOpenAI, understanding: Understanding) -> None:
    reading = understanding.objection(SUPPLIER)
    assert reading.backend == "llm"
    assert reading.label == "has_supplier"
    assert reading.secondary == "price"
    assert reading.evidence == "合作七八年了"
    assert reading.confidence == 0.9 and reading.confident
    assert reading.extra == {}
    assert reading.candidates[0] == ("has_supplier", 0.9)
    others = [label for label, _p in reading.candidates[1:]]
    assert "has_supplier" not in others
    assert sorted(others) == sorted(set(DEFINITIONS) - {"has_supplier"})
    assert reading.as_json("type")["backend"] == "llm"


def test_the_request_carries_the_ten_types_and_the_words(
    openai: FakeOpenAI, understanding: Understanding
) -> None:
    understanding.objection(SUPPLIER)
    [request] = openai.requests
    assert request["model"] == "test-model"
    assert request["temperature"] == 0.0 and request["max_tokens"] == 200
    system, user = request["messages"]
    assert system["role"] == "system" and user == {"role": "user", "content": SUPPLIER}
    assert len(DEFINITIONS) == 10
    for type_id in DEFINITIONS:
        assert f"- {type_id}: " in system["content"]
    assert "JSON" in system["content"]
    assert openai.headers[0]["Authorization"] == "Bearer sk-test"


def test_json_wrapped_in_prose_is_still_read(
    openai: FakeOpenAI, understanding: Understanding
) -> None:
    openai.answer = "Here you go:\n```json\n" + json.dumps(GOOD) + "\n```"
    reading = understanding.objection(SUPPLIER)
    assert reading.backend == "llm" and reading.label == "has_supplier"


def test_a_low_confidence_answer_is_used_but_not_confident(
    openai: FakeOpenAI, understanding: Understanding
) -> None:
    answer(openai, {**GOOD, "confidence": 0.4})
    reading = understanding.objection(SUPPLIER)
    assert reading.backend == "llm" and reading.confidence == 0.4
    assert not reading.confident


@pytest.mark.parametrize("evidence", ["we have a supplier", "", "   ", 42, None])
def test_evidence_not_in_the_text_becomes_the_whole_text(
    openai: FakeOpenAI, understanding: Understanding, evidence: object
) -> None:
    answer(openai, {**GOOD, "evidence": evidence})
    text = "我们跟现在的供应商   合作七八年了"
    reading = understanding.objection(text)
    assert reading.backend == "llm"
    assert reading.evidence == "我们跟现在的供应商 合作七八年了"  # whitespace collapsed


@pytest.mark.parametrize("secondary", ["has_supplier", "cheapness", None])
def test_an_unusable_secondary_is_dropped(
    openai: FakeOpenAI, understanding: Understanding, secondary: str | None
) -> None:
    answer(openai, {**GOOD, "secondary": secondary})
    reading = understanding.objection(SUPPLIER)
    assert reading.backend == "llm" and reading.label == "has_supplier"
    assert reading.secondary is None


def test_the_local_backend_does_not_call_the_endpoint(
    openai: FakeOpenAI, understanding: Understanding
) -> None:
    reading = understanding.objection(SUPPLIER, backend="local")
    assert reading.backend == "local" and reading.extra == {}
    assert openai.requests == []


def test_meaningless_text_never_reaches_the_endpoint(
    openai: FakeOpenAI, understanding: Understanding
) -> None:
    with pytest.raises(NotUnderstood):
        understanding.objection("hmm")
    assert openai.requests == []


# ----- failures fall back to the local reading ----------------------------------------------


def assert_fell_back(reading: Reading, text: str, reason: str) -> None:
    expected = local(text)
    assert reading.backend == "local"
    assert reading.extra == {"fallback": reason}
    assert (reading.label, reading.confidence, reading.evidence) == (
        expected.label,
        expected.confidence,
        expected.evidence,
    )
    assert reading.candidates == expected.candidates
    assert reading.confident == expected.confident
    assert reading.secondary == expected.secondary


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("slow", "ReadTimeout"), ("error", "HTTP 500"), ("malformed", "JSONDecodeError")],
)
def test_transport_failures_fall_back_and_log_no_text(
    openai: FakeOpenAI,
    understanding: Understanding,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    reason: str,
) -> None:
    openai.mode = mode
    with caplog.at_level(logging.WARNING, logger="understanding.llm"):
        reading = understanding.objection(SUPPLIER)
    assert_fell_back(reading, SUPPLIER, reason)
    assert reason in caplog.text and "using the local model" in caplog.text
    assert SUPPLIER not in caplog.text and "供应商" not in caplog.text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("I think it is has_supplier.", "ValueError"),  # no JSON at all
        ('{"type": "has_supplier", "confidence": 0.9', "ValueError"),  # cut off
        ('{"type": has_supplier}', "JSONDecodeError"),  # not JSON
        ('["has_supplier"]', "ValueError"),  # not an object
    ],
)
def test_malformed_json_content_falls_back(
    openai: FakeOpenAI, understanding: Understanding, content: str, reason: str
) -> None:
    openai.answer = content
    assert_fell_back(understanding.objection(SUPPLIER), SUPPLIER, reason)


@pytest.mark.parametrize(
    "payload",
    [
        {**GOOD, "type": "too_old"},
        {**GOOD, "type": "Has supplier"},
        {key: value for key, value in GOOD.items() if key != "type"},
    ],
)
def test_an_unknown_type_falls_back(
    openai: FakeOpenAI, understanding: Understanding, payload: dict[str, Any]
) -> None:
    answer(openai, payload)
    assert_fell_back(understanding.objection(SUPPLIER), SUPPLIER, "ValueError")


@pytest.mark.parametrize("confidence", [1.5, -0.1, "very"])
def test_a_confidence_out_of_range_falls_back(
    openai: FakeOpenAI, understanding: Understanding, confidence: object
) -> None:
    answer(openai, {**GOOD, "confidence": confidence})
    assert_fell_back(understanding.objection(SUPPLIER), SUPPLIER, "ValueError")


@pytest.mark.parametrize(
    "payload",
    [
        {**GOOD, "confidence": None},
        {**GOOD, "type": ["has_supplier"]},
        {**GOOD, "confidence": True},
    ],
)
def test_json_of_the_wrong_shape_falls_back(
    openai: FakeOpenAI, understanding: Understanding, payload: dict[str, Any]
) -> None:
    answer(openai, payload)
    reading = understanding.objection(SUPPLIER)
    assert reading.backend == "local" and "fallback" in reading.extra


def test_a_secondary_of_the_wrong_shape_is_dropped(
    openai: FakeOpenAI, understanding: Understanding
) -> None:
    answer(openai, {**GOOD, "secondary": {}})
    reading = understanding.objection(SUPPLIER)
    assert reading.backend == "llm" and reading.secondary is None


def test_an_unreachable_endpoint_falls_back() -> None:
    chat = ChatEndpoint("http://127.0.0.1:9/v1", "m", timeout=TIMEOUT)
    nobody = Understanding(llm=LlmObjectionReader(chat, DEFINITIONS))
    assert_fell_back(nobody.objection(SUPPLIER), SUPPLIER, "ConnectError")


def test_the_endpoint_url() -> None:
    assert endpoint("http://x/v1/") == "http://x/v1/chat/completions"
    assert endpoint("http://x/v1/chat/completions") == "http://x/v1/chat/completions"
    assert ChatEndpoint("http://x/v1", "m").headers == {}
    assert ChatEndpoint("http://x/v1", "m", api_key="k").headers == {"Authorization": "Bearer k"}
