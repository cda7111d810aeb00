"""Text typed outside any conversation: objections, reminders, visits, method questions, help."""

from __future__ import annotations

from dialogs.core.engine import Engine
from tests.helpers import Chat


def rep(engine: Engine, language: str = "en", user_id: str = "2001") -> Chat:
    chat = Chat(engine, user_id=user_id, name="Kim", language=language)
    chat.onboard(
        role="Sales rep" if language == "en" else "销售代表",
        zone="Shanghai" if language == "en" else "上海",
    )
    return chat


def test_a_customer_objection_offers_objection_with_the_words(engine: Engine) -> None:
    chat = rep(engine)
    chat.say("they said they already have a supplier they're happy with")
    assert "Sounds like a customer's objection" in chat.text
    assert chat.labels()[:2] == ["Yes, /objection", "No, thanks"]
    chat.press("Yes, /objection")
    assert "① The objection: Already has a supplier" in chat.text
    assert "they said they already have a supplier" in chat.text


def test_chinese_objection_and_declining_the_offer(engine: Engine) -> None:
    chat = rep(engine, "zh", "2002")
    chat.say("客户说我们太贵了怎么办")
    assert "听起来是客户的异议" in chat.text
    chat.press("不用了")
    assert "随时发送 /help" in chat.text
    chat.say("/skip")
    assert "听起来" not in chat.text  # the offer is gone: nothing to skip


def test_a_dated_request_offers_a_reminder(engine: Engine) -> None:
    chat = rep(engine, "zh", "2003")
    chat.say("明天上午提醒我给王总打电话")
    assert "要我设个提醒吗" in chat.text
    chat.press("好的，/remind")
    assert "提醒你：给王总打电话" in chat.text
    assert "11月24日 周二 09:00" in chat.text  # tomorrow morning, from the words themselves


def test_a_visit_coming_up_offers_visit(engine: Engine) -> None:
    chat = rep(engine, "en", "2004")
    chat.say("prepping for a meeting with the hospital CFO tomorrow, any tips?")
    assert "Shall we prepare it together?" in chat.text
    chat.press("Yes, /visit")
    assert "prepare" in chat.text.lower()


def test_method_questions_are_answered_from_the_glossary(engine: Engine) -> None:
    chat = rep(engine, "zh", "2005")
    chat.say("什么是B开局")
    assert "B" in chat.text and "开局" in chat.text
    assert not chat.labels()
    english = rep(engine, "en", "2006")
    english.say("what is an implication question?")
    assert "mplication" in english.text
    assert (
        "/probe" in english.text or "/visit" in english.text or "Put it to work" not in english.text
    )


def test_anything_else_gets_the_help(engine: Engine) -> None:
    chat = rep(engine, "en", "2007")
    for text in ("thanks!", "hmm", "😀", "what's the weather like"):
        chat.say(text)
        assert "/objection" in chat.text, text  # the help lists the rep's commands
        assert not chat.labels(), text
