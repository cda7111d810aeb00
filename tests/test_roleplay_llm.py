"""The optional AI customer against a fake OpenAI-compatible server on 127.0.0.1.

A normal answer is used; a slow answer, a 500, malformed JSON or an answer in
the wrong language fall back to the scripted line without the trainee
noticing, and the rubric score is the same either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.steps import Services
from dialogs.practice.roleplay_llm import AiCustomer, Line, ai_customer_from
from playbooks.loader import load_playbooks
from storage.models import Drill
from tests.conftest import FIXED_NOW
from tests.fake_openai import FakeOpenAI
from tests.helpers import Chat
from understanding.llm import endpoint

TIMEOUT = 0.3
AI_LINE = "Well, two people put it together in spreadsheets, and it works for us."
AI_COMMENT = "You listened well and asked good questions; next time, offer two times."
SCRIPTED = "We do it by hand in spreadsheets. Two people pull the data together. It's fine."
REPLY = "I understand. May I ask how your team puts the month-end reports together today?"
NO_NEED = load_playbooks().scenarios["objection-no-need"]


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(AI_LINE) as server:
        server.answer_for = lambda request: (
            AI_COMMENT if "sales coach" in request["messages"][0]["content"] else server.answer
        )
        yield server


@pytest.fixture
def customer(openai: FakeOpenAI) -> AiCustomer:
    return AiCustomer(openai.url, "test-model", timeout=TIMEOUT, api_key="sk-test")


def ask(customer: AiCustomer, language: str = "en") -> str | None:
    history = [Line("customer", NO_NEED.opening.get(language)), Line("trainee", REPLY)]
    drill = load_playbooks().drills["objection-no-need"]
    return customer.customer_line(NO_NEED, drill, history, SCRIPTED, language)


# ----- the client on its own ----------------------------------------------------------------


def test_a_normal_answer_is_used_and_the_request_is_in_character(
    openai: FakeOpenAI, customer: AiCustomer
) -> None:
    assert ask(customer) == AI_LINE
    [request] = openai.requests
    assert request["model"] == "test-model"
    system = request["messages"][0]["content"]
    assert "Manager Wu" in system and "Speak English only" in system
    assert "have not noticed its cost" in system  # the drill's customer brief
    assert [m["role"] for m in request["messages"][1:3]] == ["assistant", "user"]
    assert SCRIPTED in request["messages"][-1]["content"]  # steered by the chosen branch
    assert openai.headers[0]["Authorization"] == "Bearer sk-test"


@pytest.mark.parametrize(
    ("mode", "logged"),
    [("slow", "ReadTimeout"), ("error", "HTTP 500"), ("malformed", "JSONDecodeError")],
)
def test_failures_give_none_and_are_logged_without_text(
    openai: FakeOpenAI,
    customer: AiCustomer,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    logged: str,
) -> None:
    openai.mode = mode
    with caplog.at_level(logging.WARNING, logger="dialogs.practice.roleplay_llm"):
        assert ask(customer) is None
    assert logged in caplog.text and "using the script" in caplog.text
    assert REPLY not in caplog.text and SCRIPTED not in caplog.text


def test_odd_answers_fall_back_too(openai: FakeOpenAI, customer: AiCustomer) -> None:
    openai.answer = "   "
    assert ask(customer) is None
    openai.answer = AI_LINE  # English in a Chinese drill
    assert ask(customer, "zh") is None
    openai.answer = "“我们用表格做，挺好的。”"
    assert ask(customer, "zh") == "我们用表格做，挺好的。"  # quotes trimmed


def test_unreachable_server_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    nobody = AiCustomer("http://127.0.0.1:9/v1", "m", timeout=TIMEOUT)
    with caplog.at_level(logging.WARNING, logger="dialogs.practice.roleplay_llm"):
        assert ask(nobody) is None
    assert "ConnectError" in caplog.text


def test_configuration() -> None:
    assert endpoint("http://x/v1/") == "http://x/v1/chat/completions"
    assert endpoint("http://x/v1/chat/completions") == "http://x/v1/chat/completions"
    assert ai_customer_from(None, "m", 8.0) is None
    assert ai_customer_from("http://x/v1", None, 8.0) is None
    configured = ai_customer_from("http://x/v1", "m", 2.5)
    assert configured is not None and configured.chat.timeout == 2.5


# ----- inside a drill -----------------------------------------------------------------------


@pytest.fixture
def ai_engine(database: Database, customer: AiCustomer) -> Engine:
    return Engine(
        database,
        dialogs=DIALOGS,
        commands=COMMANDS,
        actions=ACTIONS,
        services=Services(extras={"llm": customer}),
        clock=lambda: FIXED_NOW,
    )


def first_reply(engine: Engine, user_id: str) -> Chat:
    chat = Chat(engine, user_id, "Tina")
    chat.onboard(role="Trainee", zone="London")
    chat.say("/practice")
    chat.press("Objection: no need")
    chat.press("Start")
    chat.say(REPLY)
    return chat


def customer_lines(database: Database) -> list[tuple[str, str]]:
    with Session(database) as session:
        drill = session.exec(select(Drill)).one()
    return [(e["text"], e["source"]) for e in drill.transcript if e["speaker"] == "customer"]


def test_the_ai_line_reaches_the_trainee(
    ai_engine: Engine, database: Database, openai: FakeOpenAI
) -> None:
    chat = first_reply(ai_engine, "7001")
    assert "Well, two people put it together in spreadsheets" in chat.text
    assert "Reply 1</b> · 14/14" in chat.text  # the score is the rubric's
    assert customer_lines(database)[-1] == (AI_LINE, "ai")


@pytest.mark.parametrize("mode", ["slow", "error", "malformed"])
def test_a_failing_ai_is_invisible_to_the_trainee(
    ai_engine: Engine, database: Database, openai: FakeOpenAI, mode: str
) -> None:
    openai.mode = mode
    chat = first_reply(ai_engine, f"71{len(mode)}")
    assert "We do it by hand in spreadsheets." in chat.text
    assert "Reply 1</b> · 14/14" in chat.text
    assert "error" not in chat.text.lower() and "AI" not in chat.text
    assert customer_lines(database)[-1] == (SCRIPTED, "script")


def test_the_ai_may_add_a_comment_at_the_end(ai_engine: Engine, openai: FakeOpenAI) -> None:
    chat = first_reply(ai_engine, "7201")
    for turn in NO_NEED.turns[1:]:
        chat.say(turn.model_answer.en)
    _closing, card, _answers, note = chat.replies
    assert "Total: 28 / 28" in card.text
    assert "Coach's note" in note.text
    assert AI_COMMENT.split(";")[0] in note.text
    request = openai.requests[-1]
    assert "Do not give scores" in request["messages"][0]["content"]
    openai.mode = "error"
    again = first_reply(ai_engine, "7202")
    for turn in NO_NEED.turns[1:]:
        again.say(turn.model_answer.en)
    assert len(again.replies) == 3  # no comment, no error message
