"""Role-play drills and assignments: saving a drill turn by turn, history, overrides, reminders.

A manager's override replaces the scorer's number for one criterion; every
reader goes through `effective_scores`, and `Drill.total` always holds the
effective total, so the digest and /progress count the overridden score.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage.models import Assignment, Drill, Membership, User
from storage.reminders import cancel, schedule

ACTIVE, FINISHED, ABANDONED = "active", "finished", "abandoned"
OPEN, DONE = "open", "done"
MAX_HISTORY = 30
REMIND_BEFORE = timedelta(days=1)  # the second reminder of an assignment, before it is due
ASSIGNMENT, OVERRIDE = "assignment", "override"


# ----- scores ---------------------------------------------------------------------------


def effective_scores(drill: Drill) -> dict[str, int]:
    """The drill's score per criterion, a manager's override taking the scorer's place."""
    scores = dict(drill.scores)
    for criterion, override in drill.overrides.items():
        scores[criterion] = int(override["score"])
    return scores


def effective_total(drill: Drill) -> int | None:
    """The sum of the effective scores, or None before the drill is scored."""
    scores = effective_scores(drill)
    return sum(scores.values()) if scores else None


# ----- a drill, turn by turn ------------------------------------------------------------


def start_drill(
    session: Session,
    *,
    user_id: int,
    scenario_id: str,
    language: str,
    now: datetime,
    assignment_id: int | None = None,
) -> Drill:
    """A new active drill; an earlier one the user left unfinished is marked abandoned."""
    for stale in session.exec(
        select(Drill).where(Drill.user_id == user_id, Drill.status == ACTIVE)
    ):
        stale.status = ABANDONED
        session.add(stale)
    drill = Drill(
        user_id=user_id,
        scenario_id=scenario_id,
        language=language,
        assignment_id=assignment_id,
        started_at=now,
    )
    session.add(drill)
    session.flush()
    return drill


def get_drill(session: Session, drill_id: int) -> Drill | None:
    """The drill with this id, whoever did it: callers check access."""
    return session.get(Drill, drill_id)


def save_turn(session: Session, drill: Drill, transcript: list[dict[str, Any]], turn: int) -> None:
    """Keep the transcript so far (a fresh list, so the JSON column sees the change)."""
    drill.transcript = [dict(entry) for entry in transcript]
    drill.turn = turn
    session.add(drill)


def finish_drill(session: Session, drill: Drill, scores: dict[str, int], now: datetime) -> None:
    """Record the scorer's per-criterion scores and close the drill."""
    drill.scores = dict(scores)
    drill.total = effective_total(drill)
    drill.status = FINISHED
    drill.finished_at = now
    session.add(drill)
    session.flush()


def finished_drills(session: Session, user_id: int, limit: int = MAX_HISTORY) -> list[Drill]:
    """The user's finished drills, newest first."""
    statement = (
        select(Drill)
        .where(Drill.user_id == user_id, Drill.status == FINISHED)
        .order_by(col(Drill.finished_at).desc(), col(Drill.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def override_score(
    session: Session,
    drill: Drill,
    *,
    criterion: str,
    score: int,
    comment: str,
    by: int,
    at: datetime,
) -> None:
    """A manager's score for one criterion, shown and counted instead of the scorer's."""
    overrides = {key: dict(value) for key, value in drill.overrides.items()}
    overrides[criterion] = {
        "score": score,
        "comment": comment,
        "by": by,
        "at": at.isoformat(),
        "was": drill.scores.get(criterion),
    }
    drill.overrides = overrides
    drill.total = effective_total(drill)
    session.add(drill)
    session.flush()


# ----- assignments ----------------------------------------------------------------------


def create_assignment(
    session: Session,
    *,
    manager_id: int,
    user_id: int,
    scenario_id: str,
    due_at: datetime,
    now: datetime,
) -> Assignment:
    """Ask a member to practise a scenario by `due_at`: delivered now, reminded a day before."""
    assignment = Assignment(
        manager_id=manager_id,
        user_id=user_id,
        scenario_id=scenario_id,
        due_at=due_at,
        created_at=now,
    )
    session.add(assignment)
    session.flush()
    assert assignment.id is not None
    schedule(
        session,
        user_id=user_id,
        kind="drill",
        dedup_key=assignment_key(assignment.id),
        due_at=now,
    )
    reminder_at = due_at - REMIND_BEFORE
    if reminder_at > now:
        schedule(
            session,
            user_id=user_id,
            kind="drill",
            dedup_key=assignment_key(assignment.id, before_due=True),
            due_at=reminder_at,
        )
    return assignment


def get_assignment(session: Session, assignment_id: int) -> Assignment | None:
    """The assignment with this id: callers check whose it is."""
    return session.get(Assignment, assignment_id)


def open_assignments(session: Session, user_id: int) -> list[Assignment]:
    """The user's assignments still to do, soonest due first."""
    statement = (
        select(Assignment)
        .where(Assignment.user_id == user_id, Assignment.status == OPEN)
        .order_by(col(Assignment.due_at), col(Assignment.id))
    )
    return list(session.exec(statement))


def open_assignment_for(session: Session, user_id: int, scenario_id: str) -> Assignment | None:
    """The user's soonest-due open assignment of this scenario, if any."""
    statement = (
        select(Assignment)
        .where(
            Assignment.user_id == user_id,
            Assignment.scenario_id == scenario_id,
            Assignment.status == OPEN,
        )
        .order_by(col(Assignment.due_at), col(Assignment.id))
    )
    return session.exec(statement).first()


def complete_assignment(session: Session, assignment: Assignment, drill: Drill) -> None:
    """The drill fulfils the assignment: mark it done and stop its reminders."""
    assert assignment.id is not None
    assignment.status = DONE
    drill.assignment_id = assignment.id
    session.add(assignment)
    session.add(drill)
    cancel(session, assignment_key(assignment.id))
    cancel(session, assignment_key(assignment.id, before_due=True))


# ----- reminder keys --------------------------------------------------------------------


def assignment_key(assignment_id: int, *, before_due: bool = False) -> str:
    """The dedup key of an assignment's delivery, or of its reminder before the due date."""
    return f"{ASSIGNMENT}:{assignment_id}" + (":due" if before_due else "")


def override_key(drill_id: int, criterion: str) -> str:
    """The dedup key of the message telling a trainee about a manager's override."""
    return f"drill:{drill_id}:{OVERRIDE}:{criterion}"


def parse_drill_key(dedup_key: str) -> tuple[str, int, str] | None:
    """What a "drill" reminder is about: ("assignment", id, "" or "due") or
    ("override", drill id, criterion); None for anything else."""
    parts = dedup_key.split(":")
    if parts[0] == ASSIGNMENT and len(parts) in (2, 3) and parts[1].isdigit():
        return ASSIGNMENT, int(parts[1]), parts[2] if len(parts) == 3 else ""
    if len(parts) == 4 and parts[0] == "drill" and parts[1].isdigit() and parts[2] == OVERRIDE:
        return OVERRIDE, int(parts[1]), parts[3]
    return None


# ----- whom a manager may assign to and review ------------------------------------------


def team_members(session: Session, team_id: int) -> list[User]:
    """The members (not managers) of a team, by name."""
    statement = (
        select(User)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(Membership.team_id == team_id, Membership.role == "member")
        .order_by(col(User.display_name), col(User.id))
    )
    return list(session.exec(statement))


def is_team_member(session: Session, team_id: int, user_id: int) -> bool:
    """True when the user is a member (not a manager) of the team."""
    statement = select(Membership.id).where(
        Membership.team_id == team_id, Membership.user_id == user_id, Membership.role == "member"
    )
    return session.exec(statement).first() is not None


def manages_member(session: Session, manager_id: int, member_id: int) -> bool:
    """True when the manager manages a team the person is a member of."""
    leader = aliased(Membership)
    follower = aliased(Membership)
    statement = (
        select(leader.id)
        .join(follower, col(follower.team_id) == col(leader.team_id))
        .where(
            leader.user_id == manager_id,
            leader.role == "manager",
            follower.user_id == member_id,
            follower.role == "member",
        )
    )
    return session.exec(statement).first() is not None
