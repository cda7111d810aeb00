"""Every answer kind's reading and validation, through a dialog declared for the test."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine as Database

from dialogs.catalog import COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, Outgoing
from dialogs.core.steps import AnswerKind, Command, Context, Dialog, Option, Step
from tests.conftest import FIXED_NOW
from tests.helpers import Chat

RESULTS: list[dict[str, Any]] = []


def _finish(ctx: Context) -> list[Outgoing]:
    RESULTS.append({key: value for key, value in ctx.data.items() if not key.startswith("_")})
    return [Outgoing("finished")]


FRUIT = (Option("apple", "Apple", literal=True), Option("pear", "Pear", literal=True))
KITCHEN_SINK = Dialog(
    id="sink",
    finish=_finish,
    steps=(
        Step(id="choice", prompt="onboarding.ask_timezone", kind=AnswerKind.CHOICE, options=FRUIT),
        Step(
            id="multi",
            prompt="onboarding.ask_timezone",
            kind=AnswerKind.MULTI_CHOICE,
            options=FRUIT,
        ),
        Step(
            id="number",
            prompt="onboarding.ask_timezone",
            kind=AnswerKind.NUMBER,
            minimum=0,
            maximum=100,
        ),
        Step(id="scale", prompt="onboarding.ask_timezone", kind=AnswerKind.SCALE),
        Step(id="when", prompt="onboarding.ask_timezone", kind=AnswerKind.DATETIME),
        Step(id="ok", prompt="onboarding.ask_timezone", kind=AnswerKind.YES_NO),
        Step(id="note", prompt="onboarding.ask_timezone", optional=True, max_length=50),
    ),
)


@pytest.fixture
def chat(database: Database) -> Chat:
    RESULTS.clear()
    engine = Engine(
        database,
        dialogs=(*DIALOGS, KITCHEN_SINK),
        commands=(*COMMANDS, Command("sink", "commands.help", dialog="sink")),
        clock=lambda: FIXED_NOW,
    )
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/sink")
    return chat


def test_all_kinds_by_buttons(chat: Chat) -> None:
    chat.press("Pear")
    chat.press("Apple")
    chat.press("Pear")
    assert chat.replies[0].replace  # a toggle edits the same message
    assert "✅ Apple" in chat.labels() and "✅ Pear" in chat.labels()
    chat.press("Pear")  # toggled off again
    chat.press("Done")
    chat.say("42")
    chat.press("7")
    chat.say("tomorrow 3pm")
    assert "Tue 24 Nov 2026, 15:00" in chat.text
    chat.press("Yes, that's right")
    chat.press("Yes")
    chat.press("Skip")
    assert chat.text == "finished"
    assert RESULTS == [
        {
            "choice": "pear",
            "multi": ["apple"],
            "number": 42,
            "scale": 7,
            "when": "2026-11-24T15:00:00+08:00",
            "ok": True,
            "note": None,
        }
    ]


def test_all_kinds_by_typing(chat: Chat) -> None:
    chat.say("apple")
    chat.say("1, 2")
    chat.say("3.5")
    chat.say("10")
    chat.say("明天下午三点")
    chat.say("是")
    chat.say("no")
    chat.say("a short note")
    assert RESULTS[0]["multi"] == ["apple", "pear"]
    assert RESULTS[0]["number"] == 3.5
    assert RESULTS[0]["when"] == "2026-11-24T15:00:00+08:00"
    assert RESULTS[0]["ok"] is False
    assert RESULTS[0]["note"] == "a short note"


@pytest.mark.parametrize("bad", ["banana", "3", "0", "", "x" * 5000])
def test_choice_rejects_what_is_not_an_option(chat: Chat, bad: str) -> None:
    chat.say(bad)
    assert (
        "pick one of the buttons" in chat.text
        or "too long" in chat.text
        or "didn't get" in chat.text
    )
    assert "Done ✔" not in chat.labels()  # still at the single choice
    chat.say("pear")
    assert "Done ✔" in chat.labels()  # moved on to the multi-choice step


def test_multi_choice_old_done_button_is_stale(chat: Chat) -> None:
    chat.press("Pear")
    chat.press("Apple")
    done = chat.button("Done")
    chat.press("Done")
    assert "0 to 100" not in chat.text and "Done ✔" not in chat.labels()
    chat.send(Incoming.pressed(done))  # pressed again from the old message
    assert "older message" in chat.text


def test_multi_choice_done_with_nothing_selected(chat: Chat) -> None:
    chat.press("Pear")
    chat.press("Done")
    assert "Pick at least one" in chat.text


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("abc", "type a number"),
        ("101", "from 0 to 100"),
        ("-1", "from 0 to 100"),
        ("nan", "type a number"),
    ],
)
def test_number_validation(chat: Chat, bad: str, message: str) -> None:
    chat.say("apple")
    chat.say("1")
    chat.say(bad)
    assert message in chat.text


@pytest.mark.parametrize("bad", ["0", "11", "7.5", "seven"])
def test_scale_validation(chat: Chat, bad: str) -> None:
    chat.say("apple")
    chat.say("1")
    chat.say("5")
    chat.say(bad)
    assert "from 1 to 10" in chat.text


@pytest.mark.parametrize("bad", ["31/02", "下下下周八", "", "   ", "x" * 5000, "whenever"])
def test_datetime_rejects_nonsense(chat: Chat, bad: str) -> None:
    for answer in ["apple", "1", "5", "5"]:
        chat.say(answer)
    chat.say(bad)
    assert any(
        phrase in chat.text
        for phrase in ("couldn't read that", "no such date or time", "too long", "didn't get")
    ), chat.text


def test_datetime_confirmation_can_be_refused_and_retyped(chat: Chat) -> None:
    for answer in ["apple", "1", "5", "5"]:
        chat.say(answer)
    chat.say("friday 10am")
    assert "Fri 27 Nov 2026, 10:00" in chat.text
    chat.press("No, let me retype")
    chat.say("in 2 hours")
    assert "Mon 23 Nov 2026, 19:00" in chat.text
    chat.say("yes")
    assert "Mon 23 Nov 2026" not in chat.text


def test_yes_no_validation(chat: Chat) -> None:
    for answer in ["apple", "1", "5", "5", "tomorrow 9am", "yes"]:
        chat.say(answer)
    chat.say("perhaps")
    assert "answer yes or no" in chat.text


def test_sticker_on_each_kind_is_re_asked(chat: Chat) -> None:
    for answer in ["apple", "1", "5", "5", "tomorrow 9am", "yes", "yes"]:
        chat.send(Incoming.unsupported("sticker"))
        assert "typed answer" in chat.text
        chat.say(answer)
    assert RESULTS == []  # still at the optional note
    chat.say("done")
    assert RESULTS[0]["note"] == "done"


def test_optional_text_respects_its_own_limit(chat: Chat) -> None:
    for answer in ["apple", "1", "5", "5", "tomorrow 9am", "yes", "yes"]:
        chat.say(answer)
    chat.say("z" * 51)
    assert "under 50 characters" in chat.text


def test_a_date_step_explains_a_time_it_cannot_use(engine: Engine) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/remind call Mr Wang")  # the reminder's date step asks when
    assert "more than 2 years ahead" in chat.say("in 500 years")[0].text
    assert "no such date or time" in chat.say("Feb 30 10:00")[0].text
    assert "morning or the evening" in chat.say("tomorrow at 7")[0].text
