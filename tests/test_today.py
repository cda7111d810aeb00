"""`/today`: the user's local calendar day, visits waiting for a debrief, follow-ups due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.core.engine import Engine
from storage.models import Account, Debrief, FollowUp, User, Visit
from tests.conftest import FIXED_NOW
from tests.helpers import Chat

# FIXED_NOW is Monday 23 November 2026, 09:00 UTC: 17:00 in Shanghai, 04:00 in New York.


def add_visit(
    database: Database,
    account: str,
    planned_at: datetime,
    *,
    user_id: str = "1001",
    **fields: object,
) -> int:
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == user_id)).one()
        row = Account(owner_id=owner.id or 0, name=account)
        session.add(row)
        session.flush()
        visit = Visit(owner_id=owner.id or 0, account_id=row.id or 0, planned_at=planned_at)
        for name, value in fields.items():
            setattr(visit, name, value)
        session.add(visit)
        session.commit()
        return visit.id or 0


def add_follow_up(database: Database, text: str, due_at: datetime, status: str = "open") -> None:
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == "1001")).one()
        session.add(FollowUp(owner_id=owner.id or 0, text=text, due_at=due_at, status=status))
        session.commit()


def test_an_empty_day_suggests_planning_a_visit(engine: Engine) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/today")
    assert "Nothing on your agenda today" in chat.text and "/visit" in chat.text


def test_the_day_ends_at_local_midnight_in_shanghai(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    add_visit(database, "Late Evening Co", datetime(2026, 11, 23, 15, 30, tzinfo=UTC))  # 23:30
    add_visit(database, "Tomorrow Co", datetime(2026, 11, 23, 16, 30, tzinfo=UTC))  # 00:30 +1
    add_visit(database, "Early Bird Co", datetime(2026, 11, 22, 16, 10, tzinfo=UTC))  # 00:10
    add_visit(database, "Yesterday Co", datetime(2026, 11, 22, 15, 50, tzinfo=UTC))  # 23:50 -1
    chat.say("/today")
    text = chat.text
    assert "Your day · Monday 23 November" in text
    today, _, earlier = text.partition("Earlier visits waiting for a debrief")
    assert "23:30 <b>Late Evening Co</b>" in today
    assert "00:10 <b>Early Bird Co</b>" in today and "waiting for a debrief" in today
    assert "Tomorrow Co" not in text
    assert "Yesterday Co" not in today and "Sun 22 Nov 2026, 23:50 <b>Yesterday Co</b>" in earlier
    assert "Send /debrief" in text


def test_the_day_ends_at_local_midnight_in_new_york(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard(zone="New York")
    add_visit(database, "Late Evening Co", datetime(2026, 11, 24, 4, 30, tzinfo=UTC))  # 23:30
    add_visit(database, "Tomorrow Co", datetime(2026, 11, 24, 5, 30, tzinfo=UTC))  # 00:30 +1
    # The same UTC date as now, but still Sunday evening in New York.
    add_visit(database, "Sunday Co", datetime(2026, 11, 23, 4, 30, tzinfo=UTC))
    chat.say("/today")
    today, _, earlier = chat.text.partition("Earlier visits waiting for a debrief")
    assert "Your day · Monday 23 November" in today
    assert "23:30 <b>Late Evening Co</b>" in today
    assert "Tomorrow Co" not in chat.text
    assert "Sunday Co" not in today and "Sunday Co" in earlier


def test_debriefed_cancelled_and_other_peoples_visits(engine: Engine, database: Database) -> None:
    other = Chat(engine, user_id="2002", name="Other")
    other.onboard(zone="Shanghai")
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    done = add_visit(database, "Done Co", FIXED_NOW - timedelta(hours=2), status="done")
    add_visit(database, "Cancelled Co", FIXED_NOW + timedelta(hours=1), status="cancelled")
    add_visit(database, "Upcoming Co", FIXED_NOW + timedelta(hours=2), objective="Agree a trial")
    add_visit(database, "Rival Co", FIXED_NOW + timedelta(hours=1), user_id="2002")
    with Session(database) as session:
        visit = session.get(Visit, done)
        assert visit is not None
        session.add(Debrief(owner_id=visit.owner_id, visit_id=done, outcome="advance"))
        session.commit()
    chat.say("/today")
    text = chat.text
    assert "15:00 <b>Done Co</b> ✅ debriefed" in text
    assert "19:00 <b>Upcoming Co</b>: Agree a trial" in text
    assert "waiting for a debrief" not in text and "Send /debrief" not in text
    assert "Cancelled Co" not in text and "Rival Co" not in text


def test_follow_ups_due_today_and_overdue(engine: Engine, database: Database) -> None:
    chat = Chat(engine, language="zh")
    chat.onboard(role="销售代表", zone="上海")
    add_follow_up(database, "给王总发报价", datetime(2026, 11, 23, 15, 30, tzinfo=UTC))  # 23:30
    add_follow_up(database, "约技术部开会", datetime(2026, 11, 21, 2, 0, tzinfo=UTC))  # overdue
    add_follow_up(database, "明天的事", datetime(2026, 11, 23, 16, 30, tzinfo=UTC))  # 00:30 +1
    add_follow_up(database, "已完成的事", FIXED_NOW - timedelta(hours=1), status="done")
    chat.say("/today")
    text = chat.text
    assert "今日安排" in text and "到期的跟进" in text
    assert "23:30：给王总发报价" in text
    assert "🔴 2026年11月21日 周六 10:00（已逾期）：约技术部开会" in text
    assert "明天的事" not in text and "已完成的事" not in text
