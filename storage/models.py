"""The tables. Times are aware UTC datetimes; conversion to a user's zone happens at display."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time in UTC, the form every timestamp column holds."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A timestamp read back from a column, made aware: SQLite returns naive UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
    # Reminder preferences (/settings): quiet hours in local "HH:MM", lead times in minutes.
    quiet_start: str = Field(default="21:00", max_length=5)
    quiet_end: str = Field(default="08:00", max_length=5)
    brief_lead_minutes: int = Field(default=60)
    debrief_after_minutes: int = Field(default=90)
    # Weekly digest for managers (/digestsettings): ISO weekday 1–7 and local "HH:MM".
    digest_enabled: bool = Field(default=True)
    digest_weekday: int = Field(default=1)
    digest_time: str = Field(default="08:30", max_length=5)
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


# ----- the rep's field work ---------------------------------------------------


class Account(SQLModel, table=True):
    """A customer organisation a rep works, with its tier, value and opening position."""

    __tablename__ = "accounts"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=120)
    industry: str | None = Field(default=None, max_length=32)
    stage: str = Field(default="target_market", max_length=16)  # funnel stage id
    customer_type: str = Field(default="potential", max_length=16)  # existing | potential
    # Existing: contribution × stability; potential: expected contribution × intent.
    contribution: str | None = Field(default=None, max_length=8)  # high | low
    stability: str | None = Field(default=None, max_length=8)  # high | low (stability or intent)
    tier: str | None = Field(default=None, max_length=8)  # EI…EIV, PI…PIV
    short_term: int | None = None  # 1–10
    long_term: int | None = None  # 1–10
    value_class: int | None = None  # 1–4
    territory: str | None = Field(default=None, max_length=8)  # ours | neutral | theirs
    lead: str | None = Field(default=None, max_length=8)  # lead | even | trail
    opening: str | None = Field(default=None, max_length=1)  # A–I
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Contact(SQLModel, table=True):
    """A person in an account's decision chain."""

    __tablename__ = "contacts"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    name: str = Field(max_length=80)
    title: str | None = Field(default=None, max_length=80)
    role: str = Field(max_length=16)  # decision_maker | influencer | expert | buyer | user
    stance: str = Field(default="neutral", max_length=16)  # supporter | neutral | opponent
    relationship: str = Field(default="outsider", max_length=16)  # outsider|friend|supplier|partner
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AccountChange(SQLModel, table=True):
    """One change of an account's stage, opening or a contact's stance, for the digest."""

    __tablename__ = "account_changes"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    changed_by: int = Field(foreign_key="users.id")
    field_name: str = Field(max_length=32)  # stage | opening | stance:<contact id>
    old_value: str | None = Field(default=None, max_length=32)
    new_value: str | None = Field(default=None, max_length=32)
    changed_at: datetime = Field(default_factory=utcnow, index=True)


class Visit(SQLModel, table=True):
    """A customer visit: planned with its checklist answers, later done and debriefed."""

    __tablename__ = "visits"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    planned_at: datetime = Field(index=True)
    status: str = Field(default="planned", max_length=16)  # planned | done | cancelled
    contact_id: int | None = Field(default=None, foreign_key="contacts.id")
    contact_name: str | None = Field(default=None, max_length=80)
    contact_role: str | None = Field(default=None, max_length=16)
    objective: str | None = Field(default=None, sa_column=Column(Text))
    customer_action: str | None = Field(default=None, sa_column=Column(Text))
    territory: str | None = Field(default=None, max_length=8)
    lead: str | None = Field(default=None, max_length=8)
    opening: str | None = Field(default=None, max_length=1)
    strategy: str | None = Field(default=None, max_length=16)
    questions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    objections: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    proof: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    next_hook: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class ProbePlan(SQLModel, table=True):
    """A SPIN question plan for an account, and the needs heard when it was used."""

    __tablename__ = "probe_plans"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="visits.id")
    # Each question: {"stage": "situation"…, "direction": "cost"…, "text": …, "source": id|null}
    questions: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)


class Need(SQLModel, table=True):
    """A customer need heard in a meeting: implied (a problem) or explicit (a want)."""

    __tablename__ = "needs"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    probe_id: int | None = Field(default=None, foreign_key="probe_plans.id")
    text: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(max_length=16)  # implied | explicit
    implication_asked: bool = False
    need_payoff_asked: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class ObjectionLog(SQLModel, table=True):
    """An objection a rep met, how they answered it and whether it worked."""

    __tablename__ = "objection_logs"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="accounts.id")
    visit_id: int | None = Field(default=None, foreign_key="visits.id")
    customer_words: str | None = Field(default=None, sa_column=Column(Text))
    objection_type: str = Field(max_length=32, index=True)
    confidence: float | None = None
    response: str | None = Field(default=None, sa_column=Column(Text))
    outcome: str | None = Field(default=None, max_length=16)  # worked | partly | failed
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ObjectionLabel(SQLModel, table=True):
    """A customer's words with the objection type a rep picked: training data of the company.

    `predicted` is what the coach guessed first; a label that differs from it is a correction.
    """

    __tablename__ = "objection_labels"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    label: str = Field(max_length=32)
    predicted: str | None = Field(default=None, max_length=32)
    confidence: float | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Debrief(SQLModel, table=True):
    """A post-visit coaching review written by the rep."""

    __tablename__ = "debriefs"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="visits.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="accounts.id")
    feelings: str | None = Field(default=None, sa_column=Column(Text))
    objective: str | None = Field(default=None, sa_column=Column(Text))
    plan: str | None = Field(default=None, sa_column=Column(Text))
    happened: str | None = Field(default=None, sa_column=Column(Text))
    why_customer: str | None = Field(default=None, sa_column=Column(Text))
    outcome: str = Field(max_length=16)  # order | advance | continuation | no_sale, as the rep said
    # The coach's reading of the same call: an advance the rep claimed without a customer
    # commitment is a continuation. None for debriefs written before it was judged.
    judged_outcome: str | None = Field(default=None, max_length=16)
    went_best: str | None = Field(default=None, sa_column=Column(Text))
    improve: str | None = Field(default=None, sa_column=Column(Text))
    ratings: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    next_step: str | None = Field(default=None, sa_column=Column(Text))
    next_step_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class FollowUp(SQLModel, table=True):
    """Something a rep must do by a given time, such as a debrief's next step."""

    __tablename__ = "follow_ups"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="accounts.id")
    debrief_id: int | None = Field(default=None, foreign_key="debriefs.id")
    text: str = Field(sa_column=Column(Text, nullable=False))
    due_at: datetime = Field(index=True)
    status: str = Field(default="open", max_length=16)  # open | done | cancelled
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class Reminder(SQLModel, table=True):
    """A message due to a user at a time; the database, not the scheduler, is the truth.

    Status moves pending → sending → sent, or back to pending with a later
    `due_at` after a retryable failure, or to failed / unknown / cancelled.
    """

    __tablename__ = "reminders"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(max_length=16)  # visit_brief | visit_debrief | follow_up | drill
    # One reminder per purpose: re-scheduling the same thing updates, never duplicates.
    dedup_key: str = Field(max_length=64, unique=True)
    due_at: datetime = Field(index=True)
    original_due_at: datetime  # what the user asked for, before quiet hours or snoozes
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=200)
    visit_id: int | None = Field(default=None, foreign_key="visits.id")
    follow_up_id: int | None = Field(default=None, foreign_key="follow_ups.id")
    asked_count: int = Field(default=0)  # how often "How did it go?" was put off with Later
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    late: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)


# ----- managers -----------------------------------------------------------------


class Comment(SQLModel, table=True):
    """A manager's coaching comment on a rep's debrief (or on a drill)."""

    __tablename__ = "comments"

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="users.id", index=True)
    debrief_id: int | None = Field(default=None, foreign_key="debriefs.id", index=True)
    drill_id: int | None = Field(default=None, foreign_key="drills.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class DigestRun(SQLModel, table=True):
    """One weekly digest for one manager and team; the unique key makes it go out once."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("manager_id", "team_id", "week"),)

    id: int | None = Field(default=None, primary_key=True)
    manager_id: int = Field(foreign_key="users.id", index=True)
    team_id: int = Field(foreign_key="teams.id")
    week: str = Field(max_length=8)  # ISO week, e.g. 2026-W47
    status: str = Field(default="sending", max_length=16)  # sending | sent | failed
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


# ----- trainees -------------------------------------------------------------------


class Drill(SQLModel, table=True):
    """One role-play drill: the transcript, the scores per criterion, any overrides."""

    __tablename__ = "drills"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    scenario_id: str = Field(max_length=40, index=True)
    language: str = Field(max_length=8)
    status: str = Field(default="active", max_length=16)  # active | finished | abandoned
    turn: int = Field(default=0)
    # Each entry: {"speaker": "customer"|"trainee", "text": …, "moves": […], "scores": {…}}
    transcript: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    scores: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Manager overrides: {criterion: {"score": 7|5|3, "comment": …, "by": user id}}
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    total: int | None = None
    assignment_id: int | None = Field(default=None, foreign_key="assignments.id")
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = Field(default=None, index=True)


class Assignment(SQLModel, table=True):
    """A manager asking a team member to practise a scenario by a date."""

    __tablename__ = "assignments"

    id: int | None = Field(default=None, primary_key=True)
    manager_id: int = Field(foreign_key="users.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    scenario_id: str = Field(max_length=40)
    due_at: datetime
    status: str = Field(default="open", max_length=16)  # open | done | cancelled
    created_at: datetime = Field(default_factory=utcnow)


# ----- production -------------------------------------------------------------


class ProcessedUpdate(SQLModel, table=True):
    """A Telegram update already taken in; a re-delivered one (same id) is ignored."""

    __tablename__ = "processed_updates"

    update_id: int = Field(primary_key=True, sa_type=BigInteger)
    received_at: datetime = Field(default_factory=utcnow, index=True)


class InviteFailure(SQLModel, table=True):
    """A wrong invite code typed by a user, for slowing down guessing."""

    __tablename__ = "invite_failures"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    failed_at: datetime = Field(default_factory=utcnow, index=True)


# ----- exactly-once intake and delivery ------------------------------------------


class InboxEvent(SQLModel, table=True):
    """An update from a chat platform, stored before the platform is told it arrived.

    Keyed by the platform's own event id as text (a Telegram update_id, a Feishu
    event_id), so a re-delivered event is recognised and handled once.
    """

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)  # arrival order
    platform: str = Field(max_length=16)
    event_id: str = Field(max_length=128)
    user_key: str = Field(default="", max_length=64, index=True)  # whose turn order it keeps
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the event as JSON
    received_at: datetime = Field(default_factory=utcnow, index=True)
    handled_at: datetime | None = Field(default=None, index=True)


class OutboxMessage(SQLModel, table=True):
    """A message to send, written in the transaction that decided it, marked once sent."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)  # the order within a chat
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64, index=True)
    lane: str = Field(default="interactive", max_length=16)  # interactive | broadcast
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the message as JSON
    created_at: datetime = Field(default_factory=utcnow)
    # Who is sending it, and until when that claim holds (another process waits).
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = None
    attempts: int = Field(default=0)
    not_before: datetime | None = None  # a retry's earliest time
    sent_at: datetime | None = Field(default=None, index=True)
    failed: str | None = Field(default=None, max_length=200)  # why it was given up
    # The reminder it carries: the reminder fails with it when it can't be sent.
    reminder_id: int | None = None
