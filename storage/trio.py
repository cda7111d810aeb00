"""Role-play in threes: sessions, seats, rotating roles, the observer's form, and history.

Three people take seats 0–2; in round n the seat (n-1) plays the rep, seat n
the customer and seat n+1 the observer (mod 3), so after three rounds everyone
has played each role once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from storage.models import TrioMember, TrioRound, TrioSession, as_utc

GATHERING, RUNNING, DONE, CANCELLED = "gathering", "running", "done", "cancelled"
OPEN_STATUSES = (GATHERING, RUNNING)
SEATS = 3
ROUNDS = 3
FORM_SCORES = (7, 5, 3)
# Codes are read aloud and typed: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
# A trio still waiting for people after this long is given up: its code stops working and
# the people in it are free to open or join another.
GATHERING_LIFETIME = timedelta(days=1)


class Joined(StrEnum):
    """What came of an attempt to take a seat."""

    JOINED = "joined"
    ALREADY = "already"  # the person has a seat already
    FULL = "full"
    CLOSED = "closed"  # finished or cancelled
    NOT_INVITED = "not_invited"  # a manager's trio, for three named people


@dataclass(frozen=True)
class Roles:
    """Who plays what in one round (user ids)."""

    rep: int
    customer: int
    observer: int


def seats_for_round(number: int) -> tuple[int, int, int]:
    """The seats of the rep, the customer and the observer in round `number` (1-based)."""
    rep = (number - 1) % SEATS
    return rep, (rep + 1) % SEATS, (rep + 2) % SEATS


def new_code(session: Session) -> str:
    """A fresh code no session uses."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.exec(select(TrioSession.id).where(TrioSession.code == code)).first() is None:
            return code


def normalise_code(text: str) -> str:
    """What a person typed, as a code: upper case, without spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def create_session(
    session: Session,
    *,
    creator_id: int,
    card_id: str,
    language: str,
    now: datetime,
    team_id: int | None = None,
    invited: list[int] | None = None,
) -> TrioSession:
    """A trio: the creator takes seat 0, or the three `invited` people get seats to claim."""
    trio = TrioSession(
        code=new_code(session),
        card_id=card_id,
        language=language,
        created_by=creator_id,
        team_id=team_id,
        created_at=now,
    )
    session.add(trio)
    session.flush()
    assert trio.id is not None
    if invited is None:
        session.add(TrioMember(session_id=trio.id, user_id=creator_id, seat=0, joined_at=now))
    else:
        for seat, user_id in enumerate(invited[:SEATS]):
            session.add(TrioMember(session_id=trio.id, user_id=user_id, seat=seat))
    session.flush()
    return trio


def get_session(session: Session, trio_id: int, *, for_update: bool = False) -> TrioSession | None:
    """The session with this id; locked for the transaction when `for_update` (PostgreSQL)."""
    statement = select(TrioSession).where(TrioSession.id == trio_id)
    if for_update:
        statement = statement.with_for_update()
    return session.exec(statement).first()


def find_by_code(session: Session, code: str) -> TrioSession | None:
    """The session a typed code names, locked for the transaction (PostgreSQL)."""
    statement = select(TrioSession).where(TrioSession.code == normalise_code(code))
    return session.exec(statement.with_for_update()).first()


def members(session: Session, trio_id: int) -> list[TrioMember]:
    """The seats of a session, in seat order."""
    statement = (
        select(TrioMember).where(TrioMember.session_id == trio_id).order_by(col(TrioMember.seat))
    )
    return list(session.exec(statement))


def seat_of(session: Session, trio_id: int, user_id: int) -> TrioMember | None:
    """The person's seat in the session, if they have one."""
    statement = select(TrioMember).where(
        TrioMember.session_id == trio_id, TrioMember.user_id == user_id
    )
    return session.exec(statement).first()


def expired(trio: TrioSession, now: datetime) -> bool:
    """A trio that gathered for too long without starting."""
    return trio.status == GATHERING and now - as_utc(trio.created_at) > GATHERING_LIFETIME


def open_session_of(session: Session, user_id: int, now: datetime) -> TrioSession | None:
    """The gathering or running session the person has a seat in (joined or invited)."""
    statement = (
        select(TrioSession)
        .join(TrioMember, col(TrioMember.session_id) == col(TrioSession.id))
        .where(
            TrioMember.user_id == user_id,
            col(TrioMember.left_at).is_(None),
            col(TrioSession.status).in_(OPEN_STATUSES),
        )
        .order_by(col(TrioSession.id).desc())
    )
    return next((trio for trio in session.exec(statement) if not expired(trio, now)), None)


def joined_members(session: Session, trio_id: int) -> list[TrioMember]:
    """The seats taken so far."""
    return [member for member in members(session, trio_id) if member.joined_at is not None]


def join(session: Session, trio: TrioSession, user_id: int, now: datetime) -> Joined:
    """Take a seat in `trio` (the caller locked it); the third seat taken starts round 1."""
    if trio.status not in OPEN_STATUSES or expired(trio, now):
        return Joined.CLOSED
    seats = members(session, trio.id or 0)
    mine = next((member for member in seats if member.user_id == user_id), None)
    if mine is not None and mine.joined_at is not None:
        return Joined.ALREADY
    if trio.status == RUNNING:
        return Joined.FULL
    if mine is not None:  # invited by a manager: claim the seat kept for them
        mine.joined_at = now
        session.add(mine)
    elif any(member.joined_at is None for member in seats):
        return Joined.NOT_INVITED
    elif len(seats) >= SEATS:
        return Joined.FULL
    else:
        seat = TrioMember(session_id=trio.id or 0, user_id=user_id, seat=len(seats), joined_at=now)
        session.add(seat)
    session.flush()
    if len(joined_members(session, trio.id or 0)) == SEATS:
        start_round(session, trio, 1, now)
    return Joined.JOINED


def roles_for(session: Session, trio_id: int, number: int) -> Roles:
    """Who plays which role in round `number`."""
    seats = {member.seat: member.user_id for member in members(session, trio_id)}
    rep, customer, observer = seats_for_round(number)
    return Roles(seats[rep], seats[customer], seats[observer])


def start_round(session: Session, trio: TrioSession, number: int, now: datetime) -> TrioRound:
    """Begin round `number` with the rotation's roles; the clock starts now."""
    roles = roles_for(session, trio.id or 0, number)
    played = TrioRound(
        session_id=trio.id or 0,
        number=number,
        card_id=trio.card_id,
        rep_id=roles.rep,
        customer_id=roles.customer,
        observer_id=roles.observer,
        started_at=now,
    )
    trio.status, trio.round = RUNNING, number
    session.add(trio)
    session.add(played)
    session.flush()
    return played


def get_round(session: Session, trio_id: int, number: int) -> TrioRound | None:
    """Round `number` of the session."""
    statement = select(TrioRound).where(TrioRound.session_id == trio_id, TrioRound.number == number)
    return session.exec(statement).first()


def current_round(session: Session, trio: TrioSession) -> TrioRound | None:
    """The round under way, when the session is running."""
    if trio.status != RUNNING:
        return None
    return get_round(session, trio.id or 0, trio.round)


def set_score(session: Session, played: TrioRound, item: str, score: int) -> None:
    """Record the observer's 7, 5 or 3 for one item."""
    if score not in FORM_SCORES:
        raise ValueError(f"a form score is 7, 5 or 3, not {score}")
    played.scores = {**played.scores, item: score}
    session.add(played)


def set_comment(session: Session, played: TrioRound, item: str, comment: str) -> None:
    """Record (or, when empty, remove) the observer's comment on one item."""
    comments = dict(played.comments)
    if comment:
        comments[item] = comment
    else:
        comments.pop(item, None)
    played.comments = comments
    session.add(played)


def restart_clock(session: Session, played: TrioRound, now: datetime) -> None:
    """The round's clock starts again now (the cards are read, the conversation begins)."""
    played.started_at = now
    session.add(played)


def finish_round(
    session: Session, trio: TrioSession, played: TrioRound, now: datetime
) -> TrioRound | None:
    """Close the round (total, time used) and start the next; None when that was the last."""
    played.total = sum(played.scores.values())
    played.finished_at = now
    played.seconds_used = max(0, int((now - as_utc(played.started_at)).total_seconds()))
    session.add(played)
    if played.number >= ROUNDS:
        trio.status, trio.finished_at = DONE, now
        session.add(trio)
        session.flush()
        return None
    return start_round(session, trio, played.number + 1, now)


def leave(session: Session, trio: TrioSession, user_id: int, now: datetime) -> list[int]:
    """The person leaves: the session stops. Returns the others still in it, to be told."""
    seat = seat_of(session, trio.id or 0, user_id)
    if seat is not None:
        seat.left_at = now
        session.add(seat)
    trio.status, trio.finished_at = CANCELLED, now
    session.add(trio)
    session.flush()
    return [
        member.user_id
        for member in members(session, trio.id or 0)
        if member.user_id != user_id and member.left_at is None
    ]


def rounds_as_rep(session: Session, user_id: int, limit: int = 50) -> list[TrioRound]:
    """The person's finished rounds as the rep, newest first."""
    statement = (
        select(TrioRound)
        .where(TrioRound.rep_id == user_id, col(TrioRound.finished_at).is_not(None))
        .order_by(col(TrioRound.finished_at).desc(), col(TrioRound.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def rounds_between(
    session: Session, user_ids: list[int], start: datetime, end: datetime
) -> list[TrioRound]:
    """Finished rounds played as the rep by any of `user_ids` in [start, end)."""
    if not user_ids:
        return []
    statement = (
        select(TrioRound)
        .where(
            col(TrioRound.rep_id).in_(user_ids),
            col(TrioRound.finished_at) >= start,
            col(TrioRound.finished_at) < end,
        )
        .order_by(col(TrioRound.finished_at))
    )
    return list(session.exec(statement))


MESSAGE_KEY_PREFIX = "trio:"


def message_key(trio_id: int, event: str, number: int, user_id: int) -> str:
    """The dedup key of a message to one participant about one event of one round."""
    return f"{MESSAGE_KEY_PREFIX}{trio_id}:{event}:{number}:{user_id}"


def is_trio_message(dedup_key: str) -> bool:
    """Whether a reminder row carries a live role-play's message rather than a reminder."""
    return dedup_key.startswith(MESSAGE_KEY_PREFIX)


def parse_message_key(dedup_key: str) -> tuple[int, str, int] | None:
    """(session id, event, round) of a trio message key; None for any other key."""
    parts = dedup_key.split(":")
    if len(parts) != 5 or parts[0] != "trio" or not parts[1].isdigit():
        return None
    if not parts[3].isdigit():
        return None
    return int(parts[1]), parts[2], int(parts[3])
