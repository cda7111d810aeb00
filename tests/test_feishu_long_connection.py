"""Feishu's long connection: the SDK's WebSocket client against the fake's own frames.

The fake serves the connection with the SDK's protobuf `Frame` (lark_oapi.ws.pb),
so these tests run the real client: endpoint discovery, data frames in, the
acknowledgement frames back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import User
from tests.fake_feishu import FakeFeishu, FeishuUser, Person, RunningFeishu


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    with FakeFeishu() as server:
        yield server


@pytest.fixture
def bot(fake: FakeFeishu, tmp_path: Path) -> Iterator[RunningFeishu]:
    database = f"sqlite:///{tmp_path / 'long.db'}"
    running = RunningFeishu(fake, database, str(tmp_path / "models"), "long")
    running.start()
    yield running
    running.stop()


def test_messages_and_card_presses_arrive_over_the_long_connection(
    bot: RunningFeishu, fake: FakeFeishu
) -> None:
    assert ("POST", "/callback/ws/endpoint") in fake.calls
    li = Person(fake, FeishuUser("ou_li", "李雷", "zh_CN"), mode="long")
    [hello] = li.say("/start")
    assert "我该怎么称呼你" in hello.plain
    [role] = li.say("李雷")
    [zone] = li.press("销售代表")
    assert zone.labels()
    # Every data frame was acknowledged with 200 at once, the turn running afterwards.
    deadline = time.monotonic() + 5
    while len(fake.acks) < 3:
        assert time.monotonic() < deadline, fake.acks
        time.sleep(0.02)
    assert [ack["code"] for ack in fake.acks] == [200, 200, 200]
    with Session(make_engine(bot.settings.database_url)) as session:
        user = session.exec(select(User)).one()
    assert (user.platform, user.platform_user_id, user.language) == ("feishu", "ou_li", "zh")
    assert role.message_id != zone.message_id


def test_an_event_sent_twice_down_the_connection_is_handled_once(
    bot: RunningFeishu, fake: FakeFeishu
) -> None:
    ana = Person(fake, FeishuUser("ou_ana", "Ana", "en_US"), mode="long")
    event = fake.text_event(ana.user, "/start")
    ana.deliver(event)
    ana.read(1)
    ana.deliver(event)
    assert ana.settle(0.5) == []
    deadline = time.monotonic() + 5
    while len(fake.acks) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert [ack["code"] for ack in fake.acks] == [200, 200]  # the repeat is acknowledged too
