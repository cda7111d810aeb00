"""Reminder rows: scheduling, the atomic claim, and the delivery outcomes.

The claim makes one delivery per reminder hold with several bot processes on
one database: PostgreSQL skips rows another process has locked, and the
conditional UPDATE (whose row count must be 1) settles any remaining race on
every database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage.models import FollowUp, Reminder, User, Visit, utcnow

PENDING, SENDING, SENT = "pending", "sending", "sent"
FAILED, UNKNOWN, CANCELLED = "failed", "unknown", "cancelled"


def schedule(
    session: Session,
    *,
    user_id: int,
    kind: str,
    dedup_key: str,
    due_at: datetime,
    visit_id: int | None = None,
    follow_up_id: int | None = None,
    rearm_sent: bool = True,
) -> Reminder:
    """Create the reminder for `dedup_key`, or move the existing one to `due_at`.

    `rearm_sent=False` leaves a reminder that was already delivered alone:
    a new lead time should not send the same brief a second time.
    """
    reminder = session.exec(select(Reminder).where(Reminder.dedup_key == dedup_key)).first()
    if reminder is None:
        reminder = Reminder(
            user_id=user_id,
            kind=kind,
            dedup_key=dedup_key,
            due_at=due_at,
            original_due_at=due_at,
            visit_id=visit_id,
            follow_up_id=follow_up_id,
        )
    elif reminder.status == SENT and not rearm_sent:
        return reminder
    elif reminder.status != SENDING:
        # Re-scheduled (a postponed visit, a snooze): it is due again, once.
        reminder.due_at = reminder.original_due_at = due_at
        reminder.status, reminder.attempts, reminder.last_error = PENDING, 0, None
        reminder.late = False
    session.add(reminder)
    session.flush()
    return reminder


def snooze(session: Session, reminder: Reminder, until: datetime) -> None:
    """Deliver the reminder again at `until`."""
    reminder.due_at = reminder.original_due_at = until
    reminder.status, reminder.attempts, reminder.last_error = PENDING, 0, None
    reminder.late = False
    session.add(reminder)


def cancel(session: Session, dedup_key: str) -> None:
    """Cancel the pending reminder for `dedup_key`, if any."""
    session.execute(
        update(Reminder)
        .where(col(Reminder.dedup_key) == dedup_key, col(Reminder.status) == PENDING)
        .values(status=CANCELLED)
    )


def get_reminder(session: Session, user_id: int, reminder_id: int) -> Reminder | None:
    """The reminder, only if it belongs to `user_id`."""
    reminder = session.get(Reminder, reminder_id)
    return reminder if reminder is not None and reminder.user_id == user_id else None


def claim_due(
    session: Session,
    now: datetime,
    limit: int,
    platform: str,
    platform_user_id: str | None = None,
) -> list[int]:
    """Atomically take up to `limit` due reminders of `platform`'s users; returns their ids.

    With `platform_user_id`, only that person's (a terminal session delivers its own).
    """
    person = [User.platform_user_id == platform_user_id] if platform_user_id is not None else []
    candidates = list(
        session.exec(
            select(Reminder.id)
            .join(User, col(User.id) == col(Reminder.user_id))
            .where(
                Reminder.status == PENDING,
                Reminder.due_at <= now,
                User.platform == platform,
                *person,
            )
            .order_by(col(Reminder.due_at))
            .limit(limit)
            .with_for_update(skip_locked=True, of=Reminder)
        )
    )
    claimed: list[int] = []
    for reminder_id in candidates:
        result = session.execute(
            update(Reminder)
            .where(col(Reminder.id) == reminder_id, col(Reminder.status) == PENDING)
            .values(status=SENDING, claimed_at=now)
        )
        if result.rowcount == 1 and reminder_id is not None:  # type: ignore[attr-defined]
            claimed.append(reminder_id)
    return claimed


def mark_sent(session: Session, reminder: Reminder, now: datetime) -> None:
    """Delivered."""
    reminder.status, reminder.sent_at, reminder.last_error = SENT, now, None
    session.add(reminder)


def release(session: Session, reminder: Reminder, due_at: datetime, error: str | None) -> None:
    """Not delivered this time: due again at `due_at` (a retry or the end of quiet hours)."""
    reminder.status, reminder.due_at = PENDING, due_at
    reminder.last_error = error[:200] if error else None
    session.add(reminder)


def mark_failed(session: Session, reminder: Reminder, error: str) -> None:
    """Given up: shown to the user in /followups."""
    reminder.status, reminder.last_error = FAILED, error[:200]
    session.add(reminder)


def expire_stuck(session: Session, now: datetime, lease: timedelta) -> int:
    """Rows left "sending" by a crashed process become "unknown", never re-sent blindly.

    sendMessage has no idempotency key, so a crash between sending and
    recording leaves no way to know whether the user got it.
    """
    result = session.execute(
        update(Reminder)
        .where(col(Reminder.status) == SENDING, col(Reminder.claimed_at) < now - lease)
        .values(status=UNKNOWN, last_error="delivery interrupted")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pending_for_user(session: Session, user_id: int) -> list[Reminder]:
    """The user's reminders still to be delivered."""
    statement = select(Reminder).where(Reminder.user_id == user_id, Reminder.status == PENDING)
    return list(session.exec(statement))


def open_follow_ups(session: Session, user_id: int) -> list[tuple[FollowUp, Reminder | None]]:
    """The user's open follow-ups, overdue first then soonest, with their reminders."""
    statement = (
        select(FollowUp, Reminder)
        .join(Reminder, col(Reminder.follow_up_id) == col(FollowUp.id), isouter=True)
        .where(FollowUp.owner_id == user_id, FollowUp.status == "open")
        .order_by(col(FollowUp.due_at))
    )
    return [(follow_up, reminder) for follow_up, reminder in session.exec(statement)]


def follow_up_key(follow_up_id: int) -> str:
    """The dedup key of a follow-up's reminder."""
    return f"follow_up:{follow_up_id}"


def schedule_follow_up(session: Session, follow_up: FollowUp) -> Reminder:
    """Remind the owner of `follow_up` at its due time."""
    assert follow_up.id is not None
    return schedule(
        session,
        user_id=follow_up.owner_id,
        kind="follow_up",
        dedup_key=follow_up_key(follow_up.id),
        due_at=follow_up.due_at,
        follow_up_id=follow_up.id,
    )


def complete_follow_up(session: Session, follow_up: FollowUp, now: datetime | None = None) -> None:
    """Mark a follow-up done and drop its pending reminder."""
    follow_up.status, follow_up.done_at = "done", now or utcnow()
    session.add(follow_up)
    if follow_up.id is not None:
        cancel(session, follow_up_key(follow_up.id))


def visit_brief_key(visit_id: int) -> str:
    """The dedup key of the reminder that brings a visit's brief."""
    return f"visit:{visit_id}:brief"


def schedule_visit_reminders(
    session: Session,
    visit: Visit,
    user: User,
    *,
    now: datetime | None = None,
    brief_shown: bool = False,
    rearm_sent: bool = True,
) -> None:
    """The brief before a planned visit and "How did it go?" after it.

    With `now`, a visit planned closer than the brief lead time gets its brief
    once, now, and never as a "late" reminder: when the caller has just shown
    the brief (`brief_shown`) there is no brief reminder at all, otherwise it is
    due at `now` rather than at a moment already past. `rearm_sent=False` keeps
    reminders already delivered as they are (a settings change, not a new plan).
    """
    assert visit.id is not None and user.id is not None
    brief_due = visit.planned_at - timedelta(minutes=user.brief_lead_minutes)
    if now is not None and brief_due <= now:
        brief_due = now
    if brief_shown and brief_due == now:
        cancel(session, visit_brief_key(visit.id))
    else:
        schedule(
            session,
            user_id=user.id,
            kind="visit_brief",
            dedup_key=visit_brief_key(visit.id),
            due_at=brief_due,
            visit_id=visit.id,
            rearm_sent=rearm_sent,
        )
    schedule(
        session,
        user_id=user.id,
        kind="visit_debrief",
        dedup_key=f"visit:{visit.id}:debrief",
        due_at=visit.planned_at + timedelta(minutes=user.debrief_after_minutes),
        visit_id=visit.id,
        rearm_sent=rearm_sent,
    )


def cancel_visit_reminders(session: Session, visit_id: int) -> None:
    """A cancelled or debriefed visit needs no more reminders."""
    cancel(session, visit_brief_key(visit_id))
    cancel(session, f"visit:{visit_id}:debrief")


def _same_wall_clock(moment: datetime, old_zone: tzinfo, new_zone: tzinfo) -> datetime:
    return moment.astimezone(old_zone).replace(tzinfo=new_zone).astimezone(UTC)


def shift_for_new_zone(session: Session, user_id: int, old_zone: tzinfo, new_zone: tzinfo) -> int:
    """Keep the user's plans at the same local clock time after a time-zone change.

    "Tomorrow 09:00" was meant in the user's zone, so planned visits, open
    follow-ups and pending reminders move with it. Returns how many moved.
    """
    moved = 0
    for visit in session.exec(
        select(Visit).where(Visit.owner_id == user_id, Visit.status == "planned")
    ):
        visit.planned_at = _same_wall_clock(visit.planned_at, old_zone, new_zone)
        session.add(visit)
        moved += 1
    for follow_up in session.exec(
        select(FollowUp).where(FollowUp.owner_id == user_id, FollowUp.status == "open")
    ):
        follow_up.due_at = _same_wall_clock(follow_up.due_at, old_zone, new_zone)
        session.add(follow_up)
        moved += 1
    for reminder in pending_for_user(session, user_id):
        reminder.due_at = _same_wall_clock(reminder.due_at, old_zone, new_zone)
        reminder.original_due_at = _same_wall_clock(reminder.original_due_at, old_zone, new_zone)
        session.add(reminder)
        moved += 1
    session.flush()
    return moved
