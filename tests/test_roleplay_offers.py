"""The scripted customer takes up what was offered; model answers reply to the line heard."""

from __future__ import annotations

import html

import pytest

from dialogs.core.engine import Engine
from dialogs.practice.offers import follow_offer, times_in
from dialogs.practice.roleplay_scoring import score_reply
from dialogs.practice.roleplay_script import choose_branch, reply_to
from playbooks.loader import load_playbooks
from tests.helpers import Chat

PB = load_playbooks()
NO_TRUST = PB.scenarios["objection-no-trust"]
NO_NEED = PB.scenarios["objection-no-need"]
LAST = len(NO_TRUST.turns)
SUZHOU_TUESDAY = {
    "zh": "谢谢您愿意看看。那我们来安排：下周二我陪您去苏州的客户现场看看，上午还是下午方便？",
    "en": "Thanks for being open to it. Let me set it up: I can take you to our client site "
    "in Suzhou next Tuesday, morning or afternoon?",
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_offered_suzhou_on_tuesday_nobody_answers_wuxi_on_thursday(language: str) -> None:
    reply = SUZHOU_TUESDAY[language]
    seen = score_reply(reply, NO_TRUST, LAST, PB).seen
    line = reply_to(NO_TRUST, LAST, seen, language, reply).text
    if language == "zh":
        assert line.startswith("下周二去苏州。") and "无锡" not in line and "周四" not in line
    else:
        assert line.startswith("Suzhou next Tuesday.") and "Wuxi" not in line
        assert "Thursday" not in line


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_scripts_own_choice_stands_when_the_trainee_offered_it(language: str) -> None:
    model = NO_TRUST.turns[-1].model_answer.get(language)
    seen = score_reply(model, NO_TRUST, LAST, PB).seen
    scripted = NO_TRUST.turns[-1].branches[1].say.get(language)
    assert reply_to(NO_TRUST, LAST, seen, language, model).text == scripted


def test_time_phrases_in_both_languages() -> None:
    assert times_in("您看周二上午十点还是周四下午三点方便？", "zh") == [
        "周二上午十点",
        "周四下午三点",
    ]
    assert times_in("下周二，或者下个星期四；今天六点以后也行", "zh") == [
        "下周二",
        "下个星期四",
        "今天六点以后",
    ]
    assert times_in("Would today after six or tomorrow before nine suit you?", "en") == [
        "today after six",
        "tomorrow before nine",
    ]
    assert times_in("We serve one site at one time.", "en") == []


def test_a_line_without_a_time_is_left_alone() -> None:
    line = "Send your proposal to Director Zhang."
    assert follow_offer(line, "Tuesday or Thursday?", "en") == line
    assert follow_offer("Friday afternoon.", "Could we meet on Monday morning?", "en") == (
        "Monday morning."
    )


def test_the_drill_closes_on_the_offered_place_and_time(engine: Engine) -> None:
    chat = Chat(engine, "4701", "小周", "zh")
    chat.onboard(role="培训学员", zone="上海")
    chat.say("/practice objection-no-trust")
    chat.press("开始")
    for turn in NO_TRUST.turns[:-1]:
        chat.say(turn.model_answer.zh)
    chat.say(SUZHOU_TUESDAY["zh"])
    closing = chat.replies[0].text
    assert "下周二去苏州" in closing and "无锡" not in closing


def test_model_answers_reply_to_the_line_heard(engine: Engine) -> None:
    chat = Chat(engine, "4702", "Tina")
    chat.onboard(role="Trainee")
    chat.say("/practice objection-no-need")
    chat.press("Start")
    replies = [NO_NEED.turns[0].model_answer.en, "OK.", NO_NEED.turns[2].model_answer.en]
    for reply in [*replies, NO_NEED.turns[3].model_answer.en]:
        chat.say(reply)
    answers = chat.replies[-1].text
    reply_2, rest = html.unescape(answers).split("<b>Reply 2</b>")[1].split("<b>Reply 3</b>")
    reply_3 = rest.split("<b>Reply 4</b>")[0]
    assert "It replies to" not in reply_2  # the line a model reply leads to: its model fits
    # After "OK." the customer said something else: the model is shown with its own line.
    second = NO_NEED.turns[1]
    led_by = score_reply(second.model_answer.en, NO_NEED, 2, PB).seen
    written_for = second.branches[choose_branch(second, led_by)].say.en
    after_ok = choose_branch(second, score_reply("OK.", NO_NEED, 2, PB).seen)
    heard = second.branches[after_ok]
    assert heard.say.en != written_for and f"“{heard.say.en}”" in reply_3
    assert heard.model_answer is not None and f"Model: “{heard.model_answer.en}”" in reply_3
    assert "It replies to" not in reply_3


def test_every_line_a_trainee_can_hear_has_a_model_reply_that_scores_well() -> None:
    """Lines off the model path carry their own model reply, judged on the next turn."""
    for scenario in PB.scenarios.values():
        for number, turn in enumerate(scenario.turns[:-1], start=1):
            for language in ("zh", "en"):
                led_by = score_reply(turn.model_answer.get(language), scenario, number, PB).seen
                expected = choose_branch(turn, led_by)
                for index, branch in enumerate(turn.branches):
                    if index == expected:
                        continue
                    where = f"{scenario.id} turn {number} branch {index} ({language})"
                    assert branch.model_answer is not None, where
                    reply = branch.model_answer.get(language)
                    scores = score_reply(reply, scenario, number + 1, PB).criteria
                    assert min(item.score for item in scores.values()) >= 5, where
