"""Feishu end to end: the real bot on the SDK, over HTTP callbacks, against the fake platform."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import FollowUp, InboxEvent, ObjectionLog, Reminder, User, Visit, utcnow
from storage.reminders import schedule_follow_up
from tests.fake_feishu import FakeFeishu, FeishuUser, Person, RunningFeishu


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    with FakeFeishu() as server:
        yield server


@pytest.fixture
def bot(fake: FakeFeishu, tmp_path: Path, any_database: str) -> Iterator[RunningFeishu]:
    running = RunningFeishu(fake, any_database, str(tmp_path / "models"), "callback")
    running.start()
    yield running
    running.stop()


def onboard_en(person: Person, name: str, role: str = "Sales rep") -> None:
    person.say("/start")
    person.say(name)
    person.press(role)
    person.press("Shanghai")
    person.press("Skip", replies=2)
    # Then what they can do; everything up to it is onboarding's.
    fake, open_id = person.fake, person.user.open_id
    wait_until(lambda: any("What you can do" in m.plain for m in fake.messages_to(open_id)))
    person.settle()


def user_row(bot: RunningFeishu, open_id: str) -> User:
    with Session(make_engine(bot.settings.database_url)) as session:
        return session.exec(select(User).where(User.platform_user_id == open_id)).one()


def wait_until(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# ----- onboarding ----------------------------------------------------------------------


def test_onboarding_in_chinese_from_the_client_locale(bot: RunningFeishu, fake: FakeFeishu) -> None:
    wang = Person(fake, FeishuUser("ou_wang", "王芳", "zh_CN"))
    [hello] = wang.say("/start")
    assert "我该怎么称呼你" in hello.plain
    assert hello.msg_type == "interactive" and hello.labels() == ["✖ 取消"]
    [role] = wang.say("王芳")
    assert "销售代表" in role.labels()
    [zone] = wang.press("销售代表")
    # The pressed card shows the choice, without its buttons, like Telegram's spent ones.
    wait_until(lambda: fake.message(role.message_id).patches == 1)
    pressed = fake.message(role.message_id)
    assert pressed.labels() == [] and "→ 销售代表" in pressed.plain
    [team] = wang.press(zone.labels()[0])
    assert "邀请" in team.plain
    done = wang.press("跳过", replies=2)
    assert any("/visit" in message.plain for message in done)
    user = user_row(bot, "ou_wang")
    assert (user.platform, user.language, user.display_name) == ("feishu", "zh", "王芳")
    assert user.onboarded_at is not None and user.role == "rep"


def test_onboarding_in_english_and_joining_a_team_by_invite_code(
    bot: RunningFeishu, fake: FakeFeishu
) -> None:
    boss = Person(fake, FeishuUser("ou_boss", "Mia", "en_US"))
    onboard_en(boss, "Mia", role="Sales manager")
    created, invite = boss.say("/newteam East <Coast> & Co", replies=2)
    assert "East <Coast> & Co" in created.plain  # escaped, shown as typed
    assert f"https://applink.feishu.cn/client/bot/open?appId={fake.app_id}" in invite.plain
    code_line = next(line for line in invite.plain.splitlines() if line.startswith("/join "))
    rep = Person(fake, FeishuUser("ou_rep", "Leo", "en_US"))
    rep.say("/start")
    rep.say("Leo")
    rep.press("Sales rep")
    rep.press("Shanghai")
    joined = rep.say(code_line, replies=2)
    assert any("East <Coast> & Co" in message.plain for message in joined)
    assert user_row(bot, "ou_rep").language == "en"


# ----- whole conversations -------------------------------------------------------------


def toggle(fake: FakeFeishu, person: Person, label: str) -> None:
    """Tick a multi-choice option: the card is updated in place, nothing new is sent."""
    card = person.card_with(label)
    person.deliver(fake.press_event(person.user, card, card.button(label)["value"]))
    wait_until(lambda: f"✅ {label}" in fake.message(card.message_id).labels())


def test_a_whole_visit_with_card_buttons(bot: RunningFeishu, fake: FakeFeishu) -> None:
    ana = Person(fake, FeishuUser("ou_ana", "Ana", "en_US"))
    onboard_en(ana, "Ana")
    intro, ask_name = ana.say("/visit", replies=2)
    assert "prepare your visit" in intro.plain
    assert "What is the account called?" in ask_name.plain
    ana.say("Huaxin Steel & Co")
    ana.press("Manufacturing")
    [confirm] = ana.say("tomorrow 3pm")
    assert "Is that right?" in confirm.plain
    ana.press("Yes")
    ana.say("Director Wang")
    ana.press("Decision maker")
    [follow_up] = ana.say("Build the relationship")
    assert "agree to do" in follow_up.plain
    ana.say("Director Wang agrees to a one-month trial")
    ana.press("Their territory")
    [strategy] = ana.press("We trail")
    assert "Opening position C · Normal opening" in strategy.plain
    ana.press("⭐")
    toggle(fake, ana, "S1")
    toggle(fake, ana, "N2")
    ana.press("Done")
    ana.say("Who signs off on this?")
    toggle(fake, ana, "Price too high")
    ana.press("Done")
    ana.say("Compare the five-year cost")
    ana.press("Skip")
    [brief] = ana.say("Invite them to the Nanjing site")
    assert "Visit brief: Huaxin Steel & Co" in brief.plain
    assert "Price too high: Compare the five-year cost" in brief.plain
    with Session(make_engine(bot.settings.database_url)) as session:
        visit = session.exec(select(Visit)).one()
        assert (visit.status, visit.opening, visit.strategy) == ("planned", "C", "delay")


def test_an_objection_from_words_to_a_logged_answer(bot: RunningFeishu, fake: FakeFeishu) -> None:
    nora = Person(fake, FeishuUser("ou_nora", "Nora", "en_US"))
    onboard_en(nora, "Nora")
    [ask] = nora.say("/objection")
    assert "What did the customer say?" in ask.plain
    coaching, _question = nora.say("Your price is too high & we <really> can't pay that", 2)
    assert coaching.plain.startswith("💬 Say now: ")
    assert "we <really> can't pay that" in coaching.plain  # escaped, shown as typed
    assert coaching.labels() == ["📖 The full four steps"]
    nora.say("I showed the cost per user per month next to the savings")
    [account] = nora.press("Worked")
    assert "Which account was this?" in account.plain
    [logged] = nora.press("Skip")
    assert "Logged ✅" in logged.plain
    with Session(make_engine(bot.settings.database_url)) as session:
        [entry] = session.exec(select(ObjectionLog)).all()
    assert (entry.objection_type, entry.outcome) == ("price", "worked")


def test_a_group_is_asked_to_message_privately_and_a_photo_gets_a_clear_answer(
    bot: RunningFeishu, fake: FakeFeishu
) -> None:
    ana = Person(fake, FeishuUser("ou_ana", "Ana", "en_US"))
    assert fake.post_event(fake.text_event(ana.user, "@_user_1 /visit", chat_type="group"))
    fake.wait_for_messages("oc_group", 1)
    [group_reply] = fake.messages_to("oc_group")
    assert "please message me privately" in group_reply.plain
    onboard_en(ana, "Ana")
    ana.deliver(fake.message_event(ana.user, "image", {"image_key": "img_1"}, chat_type="p2p"))
    [answer] = ana.read(1)
    assert "I can only read text" in answer.plain


# ----- what must be refused --------------------------------------------------------------


def due_follow_up(bot: RunningFeishu, open_id: str, text: str) -> int:
    """A follow-up of `open_id` due now; returns its reminder's id."""
    with Session(make_engine(bot.settings.database_url)) as session:
        owner = session.exec(select(User).where(User.platform_user_id == open_id)).one()
        owner.quiet_start = owner.quiet_end = "00:00"  # no quiet hours, whatever the hour
        session.add(owner)
        follow_up = FollowUp(owner_id=owner.id or 0, text=text, due_at=utcnow())
        session.add(follow_up)
        session.flush()
        reminder = schedule_follow_up(session, follow_up)
        session.commit()
        return reminder.id or 0


def test_a_card_press_for_someone_elses_reminder_is_refused(
    bot: RunningFeishu, fake: FakeFeishu
) -> None:
    ana = Person(fake, FeishuUser("ou_ana", "Ana", "en_US"))
    eve = Person(fake, FeishuUser("ou_eve", "Eve", "en_US"))
    onboard_en(ana, "Ana")
    onboard_en(eve, "Eve")
    reminder_id = due_follow_up(bot, "ou_ana", "Send the quote")
    [reminder] = ana.read(1)  # delivered by the dispatcher
    assert "Send the quote" in reminder.plain
    done = reminder.button("Done")["value"]
    # Eve replays Ana's button, then makes one up with her own id on it.
    eve.deliver(fake.press_event(eve.user, reminder, done))
    [first] = eve.read(1)
    eve.deliver(fake.press_event(eve.user, reminder, {**done, "open_id": "ou_eve"}))
    [second] = eve.read(1)
    for refused in (first, second):
        assert "belongs to an older message" in refused.plain
    assert fake.message(reminder.message_id).patches == 0
    with Session(make_engine(bot.settings.database_url)) as session:
        assert session.get(Reminder, reminder_id) is not None
        [follow_up] = session.exec(select(FollowUp)).all()
        assert follow_up.status == "open"
    # Ana's own press marks it done, on her card.
    ana.press("Done", replies=0)
    wait_until(lambda: fake.message(reminder.message_id).patches == 1)
    assert "Send the quote" in fake.message(reminder.message_id).plain
    with Session(make_engine(bot.settings.database_url)) as session:
        assert session.exec(select(FollowUp)).one().status == "done"


def test_a_wrong_signature_is_refused_and_changes_nothing(
    bot: RunningFeishu, fake: FakeFeishu
) -> None:
    mallory = FeishuUser("ou_mallory", "Mallory", "en_US")
    event = fake.text_event(mallory, "/start")
    refused = fake.post_event(event, signature="0" * 64)
    assert refused.status_code == 401
    time.sleep(0.3)
    assert fake.messages_to(mallory.open_id) == []
    with Session(make_engine(bot.settings.database_url)) as session:
        assert session.exec(select(User)).all() == []
        assert session.exec(select(InboxEvent)).all() == []
    wrong_token = fake.text_event(mallory, "/start")
    wrong_token["header"]["token"] = "not-the-token"
    assert fake.post_event(wrong_token).status_code == 401
    # The same event, genuinely signed, is taken in.
    assert fake.post_event(event).status_code == 200
    fake.wait_for_messages(mallory.open_id, 1)


def test_a_flood_is_told_to_slow_down_once_then_dropped(fake: FakeFeishu, tmp_path: Path) -> None:
    running = RunningFeishu(fake, f"sqlite:///{tmp_path / 'flood.db'}", str(tmp_path), "callback")
    running.settings = running.settings.model_copy(update={"flood_limit": 3})
    running.start()
    try:
        ana = Person(fake, FeishuUser("ou_ana", "Ana", "en_US"))
        for _ in range(6):
            ana.deliver(fake.text_event(ana.user, "/help"))
        messages = ana.settle(1.5)
    finally:
        running.stop()
    slow_down = [message for message in messages if "faster than I can keep up" in message.plain]
    assert len(slow_down) == 1
    assert len(messages) == 4  # three answers, one notice; the other two dropped


def test_the_url_verification_challenge_is_answered(bot: RunningFeishu, fake: FakeFeishu) -> None:
    answer = fake.challenge("c-123")
    assert answer.status_code == 200 and answer.json() == {"challenge": "c-123"}
    assert fake.challenge("c-456", token="wrong").status_code == 401
    # An event subscribed in the console that the bot doesn't handle is taken, not retried.
    read = fake.text_event(FeishuUser("ou_x", "X"), "")
    read["header"]["event_type"] = "im.message.message_read_v1"
    assert fake.post_event(read).status_code == 200


def test_a_redelivered_event_is_handled_once(bot: RunningFeishu, fake: FakeFeishu) -> None:
    ana = Person(fake, FeishuUser("ou_ana", "Ana", "en_US"))
    onboard_en(ana, "Ana")
    ana.say("/visit", replies=2)
    event = fake.text_event(ana.user, "Huaxin Steel")
    ana.deliver(event)
    ana.read(1)
    ana.deliver(event)  # Feishu did not see our answer in time and sends it again
    ana.deliver(event)
    assert ana.settle(0.5) == []
    card = ana.card_with("Manufacturing")
    press = fake.press_event(ana.user, card, card.button("Manufacturing")["value"])
    ana.deliver(press)
    ana.read(1)
    ana.deliver(press)
    assert ana.settle(0.5) == []
    with Session(make_engine(bot.settings.database_url)) as session:
        taken = {row.event_id for row in session.exec(select(InboxEvent))}
    assert {event["header"]["event_id"], press["header"]["event_id"]} <= taken


def test_an_event_taken_in_before_a_crash_is_handled_at_the_next_start(
    fake: FakeFeishu, tmp_path: Path, any_database: str
) -> None:
    from bot.feishu.received import Received, encode
    from dialogs.core.io import Incoming, Sender
    from storage.db import run_transaction
    from storage.inbox import store_event
    from storage.migrate import upgrade

    engine = make_engine(any_database)
    upgrade(engine)
    # Acknowledged to Feishu, then the process died before the turn ran.
    sender = Sender("feishu", "ou_late", language_code="zh-CN")
    received = Received(sender, "ou_late", Incoming.typed("/start"))
    run_transaction(engine, lambda s: store_event(s, "feishu", "ev-1", "ou_late", encode(received)))
    engine.dispose()
    running = RunningFeishu(fake, any_database, str(tmp_path / "models"), "callback")
    running.start()
    try:
        fake.wait_for_messages("ou_late", 1)
        time.sleep(0.5)
    finally:
        running.stop()
    [hello] = fake.messages_to("ou_late")
    assert "我该怎么称呼你" in hello.plain
    with Session(make_engine(any_database)) as session:
        assert session.exec(select(InboxEvent)).one().handled_at is not None


# ----- reminders and digests -----------------------------------------------------------


def test_rate_limits_are_waited_out_and_a_removed_bot_stops_reminders(
    bot: RunningFeishu, fake: FakeFeishu
) -> None:
    ana = Person(fake, FeishuUser("ou_ana", "Ana", "en_US"))
    onboard_en(ana, "Ana")
    fake.fail_next(2, reset=1)
    due_follow_up(bot, "ou_ana", "Call back Mr Li")
    [reminder] = ana.read(1)
    assert "Call back Mr Li" in reminder.plain
    fake.remove_bot(ana.user)
    reminder_id = due_follow_up(bot, "ou_ana", "Send the contract")
    wait_until(lambda: not user_row(bot, "ou_ana").active)
    with Session(make_engine(bot.settings.database_url)) as session:
        reminder_row = session.get(Reminder, reminder_id)
        assert reminder_row is not None and reminder_row.status == "failed"
    assert ana.settle() == []


def test_a_long_reply_is_split_below_feishus_limit(bot: RunningFeishu, fake: FakeFeishu) -> None:
    from bot.feishu.cards import TEXT_LIMIT
    from dialogs.core.io import Outgoing

    text = "\n".join(f"<b>{index}</b> 销售*拜访* & <i>复盘</i> " * 8 for index in range(200))
    bot.call(bot.app.transport.send("ou_long", Outgoing(text)))
    parts = fake.messages_to("ou_long")
    assert len(parts) > 1 and all(len(part.plain) <= TEXT_LIMIT for part in parts)
    assert "".join(part.plain for part in parts).count("销售*拜访*") == 1600
    assert time.monotonic() - 0 > 0 and not fake.errors


def test_the_weekly_digest_arrives_with_its_chart(
    fake: FakeFeishu, tmp_path: Path, any_database: str
) -> None:
    from tests.test_digest import Seed

    engine = make_engine(any_database)
    from storage.migrate import upgrade

    upgrade(engine)
    seed = Seed(engine)
    now = utcnow()
    with seed.session() as session:
        manager = User(
            platform="feishu",
            platform_user_id="ou_boss",
            display_name="Mia",
            role="manager",
            timezone="UTC",
            onboarded_at=now,
            digest_weekday=now.isoweekday(),
            digest_time=(now - timedelta(minutes=1)).strftime("%H:%M"),
            quiet_start="00:00",
            quiet_end="00:00",
        )
        session.add(manager)
        session.flush()
        session.refresh(manager)
        session.expunge(manager)
    reps = [seed.user(f"Rep {number}", zone="UTC") for number in range(3)]
    team = seed.team(manager, "East", reps)
    for rep in reps:
        account = seed.account(rep, f"Account of {rep.display_name}", opening="D")
        for moment in (now - timedelta(minutes=1), now - timedelta(days=7)):
            seed.visit_with_debrief(rep, account, moment - timedelta(hours=2), "advance")
    engine.dispose()
    running = RunningFeishu(fake, any_database, str(tmp_path / "models"), "callback")
    running.start()
    try:
        fake.wait_for_messages("ou_boss", 2, timeout=60)
        time.sleep(0.5)
    finally:
        running.stop()
    digest, *rest = fake.messages_to("ou_boss")
    assert digest.plain.startswith("📊 Weekly digest · East"), digest.plain[:80]
    [chart] = [message for message in rest if message.msg_type == "image"]
    assert chart.upload is not None and chart.upload.startswith(b"\x89PNG")
    assert team.id is not None
