"""Queries about teams, memberships and invite codes."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import InviteCode, InviteFailure, Membership, Team, User, utcnow

# 16 random bytes: 128 bits, far beyond guessing, and 22 URL-safe characters,
# which fits Telegram's 64-character deep-link parameter with room to spare.
INVITE_CODE_BYTES = 16


def create_team(session: Session, manager: User, name: str) -> Team:
    """Create a team managed by `manager`."""
    assert manager.id is not None
    team = Team(name=name, created_by=manager.id)
    session.add(team)
    session.flush()
    assert team.id is not None
    session.add(Membership(team_id=team.id, user_id=manager.id, role="manager"))
    session.flush()
    return team


def create_invite(session: Session, team: Team, creator: User) -> InviteCode:
    """A fresh, unguessable invite code for `team`."""
    assert team.id is not None and creator.id is not None
    invite = InviteCode(
        code=secrets.token_urlsafe(INVITE_CODE_BYTES), team_id=team.id, created_by=creator.id
    )
    session.add(invite)
    session.flush()
    return invite


def find_active_invite(session: Session, code: str) -> InviteCode | None:
    """The invite with this code, unless it was revoked."""
    statement = select(InviteCode).where(
        InviteCode.code == code, col(InviteCode.revoked_at).is_(None)
    )
    return session.exec(statement).first()


def active_invites(session: Session, team_id: int) -> list[InviteCode]:
    """Invite codes of a team that still work, newest first."""
    statement = (
        select(InviteCode)
        .where(InviteCode.team_id == team_id, col(InviteCode.revoked_at).is_(None))
        .order_by(col(InviteCode.id).desc())
    )
    return list(session.exec(statement))


def revoke_invites(session: Session, team_id: int) -> int:
    """Revoke every working invite of a team; returns how many were revoked."""
    invites = active_invites(session, team_id)
    now = utcnow()
    for invite in invites:
        invite.revoked_at = now
        session.add(invite)
    session.flush()
    return len(invites)


def managed_teams(session: Session, user_id: int) -> list[Team]:
    """Teams in which the user is a manager."""
    statement = (
        select(Team)
        .join(Membership, col(Membership.team_id) == col(Team.id))
        .where(Membership.user_id == user_id, Membership.role == "manager")
        .order_by(col(Team.id))
    )
    return list(session.exec(statement))


def user_teams(session: Session, user_id: int) -> list[tuple[Team, str]]:
    """Every team the user belongs to, with their role in it."""
    statement = (
        select(Team, Membership.role)
        .join(Membership, col(Membership.team_id) == col(Team.id))
        .where(Membership.user_id == user_id)
        .order_by(col(Team.id))
    )
    return [(team, role) for team, role in session.exec(statement)]


def member_teams(session: Session, user_id: int) -> list[Team]:
    """Teams in which the user is a member (not a manager): one, normally."""
    return [team for team, role in user_teams(session, user_id) if role == "member"]


def get_team(session: Session, team_id: int) -> Team | None:
    """The team with this id."""
    return session.get(Team, team_id)


def join_team(session: Session, user: User, team_id: int) -> bool:
    """Make `user` a member of the team; returns False if already in it.

    A rep or trainee belongs to one team at a time, so joining a new team as a
    member leaves the previous one (`member_teams` tells which, to ask first and
    to tell its managers); a manager's own teams are kept.
    """
    assert user.id is not None
    existing = session.exec(
        select(Membership).where(Membership.user_id == user.id, Membership.team_id == team_id)
    ).first()
    if existing is not None:
        return False
    previous = session.exec(
        select(Membership).where(Membership.user_id == user.id, Membership.role == "member")
    ).all()
    for membership in previous:
        session.delete(membership)
    session.add(Membership(team_id=team_id, user_id=user.id, role="member"))
    session.flush()
    return True


def record_invite_failure(session: Session, user_id: int) -> None:
    """Remember a wrong invite code typed by the user."""
    session.add(InviteFailure(user_id=user_id))
    session.flush()


def invite_failures_since(session: Session, user_id: int, since: datetime) -> int:
    """How many wrong invite codes the user typed since `since`."""
    statement = select(func.count()).where(
        InviteFailure.user_id == user_id, InviteFailure.failed_at >= since
    )
    return int(session.exec(statement).one())


def left_key(team_id: int, member_id: int, manager_id: int) -> str:
    """The dedup key of the reminder row telling a manager that a member left the team."""
    return f"left:{team_id}:{member_id}:{manager_id}"


def left_of(dedup_key: str) -> tuple[int, int] | None:
    """(team id, member id) inside a `left_key`, or None."""
    prefix, *numbers = dedup_key.split(":")
    if (
        prefix != "left"
        or len(numbers) != 3
        or not all(n.isascii() and n.isdigit() for n in numbers)
    ):
        return None
    return int(numbers[0]), int(numbers[1])


def all_teams_with_people(session: Session) -> list[tuple[Team, list[User], int]]:
    """Every team, oldest first, with its managers (in the order they joined) and member count.

    Read-only, two queries whatever the number of teams: for `salescoach teams list`.
    """
    teams = list(session.exec(select(Team).order_by(col(Team.id))))
    statement = (
        select(Membership.team_id, Membership.role, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .order_by(col(Membership.id))
    )
    managers: dict[int, list[User]] = {}
    members: dict[int, int] = {}
    for team_id, role, user in session.exec(statement):
        if role == "manager":
            managers.setdefault(team_id, []).append(user)
        else:
            members[team_id] = members.get(team_id, 0) + 1
    return [(team, managers.get(team.id or 0, []), members.get(team.id or 0, 0)) for team in teams]
