"""The tables. Times are aware UTC datetimes; conversion to a user's zone happens at display."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time in UTC, the form every timestamp column holds."""
    return datetime.now(UTC)


class User(SQLModel, table=True):
    """A person using SalesCoach on one chat platform."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    # The platform's own id for the person (a Telegram user id, as text, so
    # WeCom/Feishu ids fit the same column).
    platform_user_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=64)
    role: str | None = Field(default=None, max_length=16)
    language: str = Field(default="en", max_length=8)
    timezone: str = Field(default="UTC", max_length=64)
    active: bool = Field(default=True)
    onboarded_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Team(SQLModel, table=True):
    """A group of reps and trainees coached by one or more managers."""

    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)


class Membership(SQLModel, table=True):
    """A user's place in a team: `manager` or `member`."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    role: str = Field(default="member", max_length=16)
    joined_at: datetime = Field(default_factory=utcnow)


class InviteCode(SQLModel, table=True):
    """A secret that lets its holder join a team until it is revoked."""

    __tablename__ = "invite_codes"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    team_id: int = Field(foreign_key="teams.id", index=True)
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class DialogState(SQLModel, table=True):
    """Where a user is in a conversation; one row per user, kept when idle.

    `version` only ever grows, so a button carrying an older version is
    recognisably stale even after the dialog it came from has ended.
    """

    __tablename__ = "dialog_states"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    dialog: str | None = Field(default=None, max_length=32)
    step: str | None = Field(default=None, max_length=32)
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    history: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    version: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow)
