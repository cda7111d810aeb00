"""The inbox and outbox tables on both databases: an event is stored once and handled once,
and a chat's messages are claimed in order, one sender at a time."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from storage.db import make_engine, transaction
from storage.inbox import claim_turn, pending_events, store_event
from storage.migrate import upgrade
from storage.models import OutboxMessage, Reminder, User, utcnow
from storage.outbox import (
    BROADCAST,
    INTERACTIVE,
    add_message,
    chats_waiting,
    claim_head,
    give_up_chat,
    mark_sent,
    release_claims,
    retry_later,
    unsent_count,
)

LEASE = timedelta(seconds=60)


def test_an_event_is_stored_once_and_handled_once(any_database: str) -> None:
    database = make_engine(any_database)
    upgrade(database)
    with transaction(database) as session:
        assert store_event(session, "telegram", "17", "42", '{"update_id": 17}')
        assert not store_event(session, "telegram", "17", "42", '{"update_id": 17}')
        assert store_event(session, "feishu", "17", "ou_1", "{}")  # another platform's 17
        assert store_event(session, "telegram", "18", "42", '{"update_id": 18}')
    with Session(database) as session:
        assert [p.event_id for p in pending_events(session, "telegram")] == ["17", "18"]
    with transaction(database) as session:
        assert claim_turn(session, "telegram", "17")
    with transaction(database) as session:
        assert not claim_turn(session, "telegram", "17")  # handled: a second turn backs off
        assert claim_turn(session, "telegram", "99")  # never stored: the caller's to handle
    with Session(database) as session:
        assert [p.event_id for p in pending_events(session, "telegram")] == ["18"]
        assert [p.event_id for p in pending_events(session, "feishu")] == ["17"]
    database.dispose()


def test_a_chats_messages_are_claimed_in_order_by_one_sender(any_database: str) -> None:
    database = make_engine(any_database)
    upgrade(database)
    now = utcnow()
    with transaction(database) as session:
        first = add_message(session, "telegram", "7", "one", INTERACTIVE)
        second = add_message(session, "telegram", "7", "two", BROADCAST)
        add_message(session, "telegram", "8", "other chat", INTERACTIVE)
    with transaction(database) as session:
        claimed = claim_head(session, "telegram", "7", "a@host:1", now, LEASE)
        assert claimed is not None and (claimed.id, claimed.payload) == (first, "one")
    with transaction(database) as session:
        # Another sender waits: the head is taken, and the next may not overtake it.
        assert claim_head(session, "telegram", "7", "b@host:2", now, LEASE) is None
        waiting = chats_waiting(session, "telegram", "b@host:2", now)
        assert waiting == [("7", BROADCAST), ("8", INTERACTIVE)]
        # The holder takes it again (its own claim), e.g. after a failed attempt.
        again = claim_head(session, "telegram", "7", "a@host:1", now, LEASE)
        assert again is not None and again.id == first
        # The chat's broadcasts are a queue of their own: a reply never waits behind them.
        broadcast = claim_head(session, "telegram", "7", "b@host:2", now, LEASE, BROADCAST)
        assert broadcast is not None and broadcast.id == second
        retry_later(session, second, now + timedelta(seconds=30))
    with transaction(database) as session:
        mark_sent(session, first)
        third = add_message(session, "telegram", "7", "three", INTERACTIVE)
    with transaction(database) as session:
        nxt = claim_head(session, "telegram", "7", "b@host:2", now, LEASE)
        assert nxt is not None and nxt.id == third
        assert claim_head(session, "telegram", "7", "b@host:2", now, LEASE, BROADCAST) is None
        later = now + timedelta(seconds=31)  # the retry is due
        assert claim_head(session, "telegram", "7", "b@host:2", later, LEASE, BROADCAST)
    with transaction(database) as session:
        # A dead sender's claim is freed at once; any other would wait for the lease.
        assert claim_head(session, "telegram", "8", "dead@host:3", now, LEASE) is not None
        assert claim_head(session, "telegram", "8", "b@host:2", now, LEASE) is None
        assert release_claims(session, "dead@host:3") == 1
        assert claim_head(session, "telegram", "8", "b@host:2", now, LEASE) is not None
    with Session(database) as session:
        assert unsent_count(session) == 3
    database.dispose()


def test_a_blocked_chats_messages_are_dropped_and_their_reminders_fail(
    any_database: str,
) -> None:
    database = make_engine(any_database)
    upgrade(database)
    with transaction(database) as session:
        user = User(platform="telegram", platform_user_id="7")
        session.add(user)
        session.flush()
        reminder = Reminder(
            user_id=user.id or 0, kind="follow_up", dedup_key="k", due_at=utcnow(),
            original_due_at=utcnow(), status="sent",
        )  # fmt: skip
        session.add(reminder)
        session.flush()
        add_message(session, "telegram", "7", "reminder", BROADCAST, reminder.id)
        add_message(session, "telegram", "7", "reply", INTERACTIVE)
    with transaction(database) as session:
        assert give_up_chat(session, "telegram", "7", "the user blocked the bot") == 2
    with Session(database) as session:
        assert unsent_count(session) == 0
        assert session.get(Reminder, reminder.id).status == "failed"  # type: ignore[union-attr]
        rows = session.query(OutboxMessage).all()
        assert {row.failed for row in rows} == {"the user blocked the bot"}
    database.dispose()
