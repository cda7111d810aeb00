"""Aggregate reads for a team's weekly digest: a fixed handful of GROUP BY queries per team.

Every query covers the whole team at once (grouped per rep where numbers are
per rep), so the number of queries for a digest does not grow with the team.
The week and the previous week are counted in the same query with
conditional sums. Nothing here knows the playbook: callers pass which
openings to flag and which funnel stages count as closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from storage.models import (
    Account,
    AccountChange,
    Assignment,
    Debrief,
    DigestRun,
    Drill,
    FollowUp,
    Membership,
    ObjectionLabel,
    ObjectionLog,
    Team,
    TrioRound,
    User,
    Visit,
    as_utc,
)

TOP_OBJECTION_TYPES = 3
MAX_FLAGGED_ACCOUNTS = 30
MAX_STAGE_CHANGES = 500
# "Two continuations in a row" looks this far back for the earlier one.
CONTINUATION_LOOKBACK = timedelta(days=180)
OUTCOMES = ("order", "advance", "continuation", "no_sale")
RATED_OUTCOMES = ("worked", "partly")


@dataclass(frozen=True)
class Span:
    """A half-open stretch of time [start, end), in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class DigestWindow:
    """The week reported on, the week before it, and the moments things are judged at."""

    current: Span
    previous: Span
    as_of: datetime  # follow-ups due before this are overdue
    debriefs_due_by: datetime  # visits that took place before this should have a debrief


@dataclass
class RepCounts:
    """One rep's activity in one week."""

    visits_planned: int = 0
    visits_done: int = 0
    debriefs: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    follow_ups_done: int = 0
    objections: int = 0
    drills: int = 0
    drill_score_sum: int = 0
    drills_scored: int = 0
    scored_by_scenario: dict[str, int] = field(default_factory=dict)
    """Scored drills per scenario: scenarios differ in criteria, so in their maximum."""

    @property
    def advances(self) -> int:
        """Debriefs whose outcome was an advance (as the coach judged it)."""
        return self.outcomes.get("advance", 0)

    @property
    def continuations(self) -> int:
        """Debriefs whose outcome was a continuation (as the coach judged it)."""
        return self.outcomes.get("continuation", 0)

    @property
    def drill_average(self) -> float | None:
        """The average total of the scored drills, or None without any."""
        return self.drill_score_sum / self.drills_scored if self.drills_scored else None

    @property
    def active(self) -> bool:
        """Whether anything at all happened."""
        return any(
            (
                self.visits_planned,
                self.visits_done,
                self.debriefs,
                self.follow_ups_done,
                self.objections,
                self.drills,
            )
        )


@dataclass(frozen=True)
class Member:
    """Someone in a team, with their role in it."""

    user_id: int
    name: str
    role: str | None  # rep | trainee | manager (the person's own role)
    team_role: str  # manager | member
    last_activity: datetime | None = None


@dataclass(frozen=True)
class BestAnswer:
    """The team's best-rated recorded answer to one objection type."""

    response: str
    outcome: str
    author: str


@dataclass(frozen=True)
class FlaggedAccount:
    """An open opportunity whose opening position needs the manager's eye."""

    name: str
    opening: str
    owner: str


@dataclass(frozen=True)
class StageMove:
    """An account that moved through the funnel during the week."""

    account: str
    owner: str
    old_stage: str
    new_stage: str


@dataclass(frozen=True)
class RepeatedContinuation:
    """An account whose last two debriefs both ended in a continuation."""

    account: str
    owner_id: int


@dataclass
class TeamWeek:
    """Everything the digest shows about one team and one week, as plain numbers and names."""

    team_id: int
    team_name: str
    members: list[Member]
    current: dict[int, RepCounts]
    previous: dict[int, RepCounts]
    overdue: dict[int, int]
    undebriefed: dict[int, int]
    objection_types: list[tuple[str, int]]
    best_answers: dict[str, BestAnswer]
    coach_picks: int
    """Objection types reps picked themselves this week (the coach was unsure or wrong)."""
    coach_corrections: list[tuple[str, str, int]]
    """(coach's guess, rep's pick, count) where the two differ, most frequent first."""
    openings: dict[str, int]
    value_mix: dict[int, int]
    flagged_accounts: list[FlaggedAccount]
    stage_moves: list[StageMove]
    repeated_continuations: list[RepeatedContinuation]
    trio: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Role-play in threes this week, per member as the rep: (rounds, sum of totals /98)."""


# ----- statements, built once with bound parameters ---------------------------------
#
# Building a SQLAlchemy statement costs more Python time than SQLite takes to
# run it, so each digest statement is built once at import; a digest only
# binds its parameters. Every statement gets the same parameter dict.

_MOMENT = DateTime(timezone=True)
_TEAM = bindparam("team_id", type_=Integer)
_THIS_START = bindparam("this_start", type_=_MOMENT)
_THIS_END = bindparam("this_end", type_=_MOMENT)
_PREV_START = bindparam("prev_start", type_=_MOMENT)
_PREV_END = bindparam("prev_end", type_=_MOMENT)
_AS_OF = bindparam("as_of", type_=_MOMENT)
_DUE_BY = bindparam("debriefs_due_by", type_=_MOMENT)
_LOOKBACK = bindparam("lookback_start", type_=_MOMENT)
_CLOSED = bindparam("closed_stages", type_=String, expanding=True)
_FLAGGED = bindparam("flagged_openings", type_=String, expanding=True)
_KINDS = bindparam("kinds", type_=String, expanding=True)


def _this_week(column: Any) -> ColumnElement[bool]:
    return and_(column >= _THIS_START, column < _THIS_END)


def _last_week(column: Any) -> ColumnElement[bool]:
    return and_(column >= _PREV_START, column < _PREV_END)


def _both_weeks(column: Any) -> ColumnElement[bool]:
    return and_(column >= _PREV_START, column < _THIS_END)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_if(condition: ColumnElement[bool], value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _team_reps() -> Any:
    """The ids of the team's members (reps and trainees), as a subquery."""
    return select(col(Membership.user_id)).where(
        col(Membership.team_id) == _TEAM, col(Membership.role) == "member"
    )


def _whole_team() -> Any:
    """The ids of everyone in the team, managers included, as a subquery."""
    return select(col(Membership.user_id)).where(col(Membership.team_id) == _TEAM)


def _members_statement() -> Any:
    return (
        select(col(User.id), col(User.display_name), col(User.role), col(Membership.role))
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(col(Membership.team_id) == _TEAM, col(Membership.role) == "member")
        .order_by(col(User.display_name), col(User.id))
    )


def _roster_statement() -> Any:
    """Everyone in the team with the latest moment they recorded anything."""
    people = _whole_team()
    moments = union_all(
        select(col(Visit.owner_id).label("user_id"), col(Visit.created_at).label("at")).where(
            col(Visit.owner_id).in_(people)
        ),
        select(col(Debrief.owner_id), col(Debrief.created_at)).where(
            col(Debrief.owner_id).in_(people)
        ),
        select(col(ObjectionLog.owner_id), col(ObjectionLog.created_at)).where(
            col(ObjectionLog.owner_id).in_(people)
        ),
        select(col(FollowUp.owner_id), col(FollowUp.created_at)).where(
            col(FollowUp.owner_id).in_(people)
        ),
        select(col(Account.owner_id), col(Account.updated_at)).where(
            col(Account.owner_id).in_(people)
        ),
        select(col(Drill.user_id), col(Drill.started_at)).where(col(Drill.user_id).in_(people)),
    ).subquery()
    latest = (
        select(moments.c.user_id, func.max(moments.c.at).label("at"))
        .group_by(moments.c.user_id)
        .subquery()
    )
    return (
        select(
            col(User.id), col(User.display_name), col(User.role), col(Membership.role), latest.c.at
        )
        .join(Membership, col(Membership.user_id) == col(User.id))
        .outerjoin(latest, latest.c.user_id == col(User.id))
        .where(col(Membership.team_id) == _TEAM)
        .order_by(
            case((col(Membership.role) == "manager", 0), else_=1),
            col(User.display_name),
            col(User.id),
        )
    )


def _visits_statement() -> Any:
    """Per rep: visits planned and done in both weeks, and this week's without a debrief."""
    taking_place = col(Visit.status) != "cancelled"
    done = col(Visit.status) == "done"
    done_at = func.coalesce(col(Visit.done_at), col(Visit.planned_at))
    has_debrief = exists().where(col(Debrief.visit_id) == col(Visit.id))
    planned_at = col(Visit.planned_at)
    return (
        select(
            col(Visit.owner_id),
            _count_if(and_(taking_place, _this_week(planned_at))),
            _count_if(and_(done, _this_week(done_at))),
            _count_if(and_(taking_place, _last_week(planned_at))),
            _count_if(and_(done, _last_week(done_at))),
            _count_if(
                and_(taking_place, _this_week(planned_at), planned_at < _DUE_BY, ~has_debrief)
            ),
        )
        .where(
            col(Visit.owner_id).in_(_team_reps()),
            or_(_both_weeks(planned_at), _both_weeks(col(Visit.done_at))),
        )
        .group_by(col(Visit.owner_id))
    )


def _call_outcome() -> Any:
    """A debrief's outcome as the coach judged it; the rep's own word for older debriefs."""
    return func.coalesce(col(Debrief.judged_outcome), col(Debrief.outcome))


def _debriefs_statement() -> Any:
    """Per rep: debriefs and their call outcomes (as judged), this week then last week."""
    created = col(Debrief.created_at)
    outcome = _call_outcome()
    columns: list[Any] = [col(Debrief.owner_id)]
    for within in (_this_week, _last_week):
        columns.append(_count_if(within(created)))
        columns.extend(_count_if(and_(within(created), outcome == kind)) for kind in OUTCOMES)
    return (
        select(*columns)
        .where(col(Debrief.owner_id).in_(_team_reps()), _both_weeks(created))
        .group_by(col(Debrief.owner_id))
    )


def _follow_ups_statement() -> Any:
    """Per rep: follow-ups done in both weeks, and the open ones overdue at `as_of`."""
    done = col(FollowUp.status) == "done"
    is_open = col(FollowUp.status) == "open"
    return (
        select(
            col(FollowUp.owner_id),
            _count_if(and_(done, _this_week(col(FollowUp.done_at)))),
            _count_if(and_(done, _last_week(col(FollowUp.done_at)))),
            _count_if(and_(is_open, col(FollowUp.due_at) < _AS_OF)),
        )
        .where(
            col(FollowUp.owner_id).in_(_team_reps()),
            or_(is_open, col(FollowUp.done_at) >= _PREV_START),
        )
        .group_by(col(FollowUp.owner_id))
    )


def _objections_statement() -> Any:
    """Per rep: objections logged in both weeks."""
    created = col(ObjectionLog.created_at)
    return (
        select(
            col(ObjectionLog.owner_id),
            _count_if(_this_week(created)),
            _count_if(_last_week(created)),
        )
        .where(col(ObjectionLog.owner_id).in_(_team_reps()), _both_weeks(created))
        .group_by(col(ObjectionLog.owner_id))
    )


def _drills_statement() -> Any:
    """Per rep and scenario: finished drills, their score total and how many were scored."""
    finished = col(Drill.finished_at)
    scored = col(Drill.total).is_not(None)
    columns: list[Any] = [col(Drill.user_id), col(Drill.scenario_id)]
    for within in (_this_week, _last_week):
        columns.append(_count_if(within(finished)))
        columns.append(_sum_if(and_(within(finished), scored), col(Drill.total)))
        columns.append(_count_if(and_(within(finished), scored)))
    return (
        select(*columns)
        .where(
            col(Drill.user_id).in_(_team_reps()),
            col(Drill.status) == "finished",
            _both_weeks(finished),
        )
        .group_by(col(Drill.user_id), col(Drill.scenario_id))
    )


def _trio_statement() -> Any:
    """Per member: rounds of role-play in threes finished this week as the rep, and their totals."""
    return (
        select(
            col(TrioRound.rep_id), func.count(), func.coalesce(func.sum(col(TrioRound.total)), 0)
        )
        .where(col(TrioRound.rep_id).in_(_team_reps()), _this_week(col(TrioRound.finished_at)))
        .group_by(col(TrioRound.rep_id))
    )


def _top_objections_statement() -> Any:
    """The objection types met most often this week, most frequent first."""
    count = func.count().label("count")
    return (
        select(col(ObjectionLog.objection_type), count)
        .where(
            col(ObjectionLog.owner_id).in_(_team_reps()),
            _this_week(col(ObjectionLog.created_at)),
        )
        .group_by(col(ObjectionLog.objection_type))
        .order_by(count.desc(), col(ObjectionLog.objection_type))
        .limit(TOP_OBJECTION_TYPES)
    )


def _coach_labels_statement() -> Any:
    """Objection types the team's reps picked this week, beside what the coach had guessed."""
    return (
        select(col(ObjectionLabel.predicted), col(ObjectionLabel.label), func.count())
        .where(
            col(ObjectionLabel.owner_id).in_(_team_reps()),
            _this_week(col(ObjectionLabel.created_at)),
        )
        .group_by(col(ObjectionLabel.predicted), col(ObjectionLabel.label))
        .order_by(func.count().desc(), col(ObjectionLabel.predicted))
    )


def _best_answers_statement() -> Any:
    """For each type in `kinds`, the team's best-rated answer: worked beats partly, newest first.

    One window-function query for all the types, over everyone in the team
    (managers included) and all time.
    """
    # Wrapped so no index on the type can serve it: given one, SQLite walks every
    # team's objections of those types in type order instead of this team's few.
    kind = func.coalesce(col(ObjectionLog.objection_type), "")
    rank = (
        func.row_number()
        .over(
            partition_by=kind,
            order_by=(
                case((col(ObjectionLog.outcome) == "worked", 0), else_=1),
                col(ObjectionLog.created_at).desc(),
                col(ObjectionLog.id).desc(),
            ),
        )
        .label("rank")
    )
    ranked = (
        select(
            kind.label("kind"),
            col(ObjectionLog.response).label("response"),
            col(ObjectionLog.outcome).label("outcome"),
            col(User.display_name).label("author"),
            rank,
        )
        .join(User, col(User.id) == col(ObjectionLog.owner_id))
        .where(
            col(ObjectionLog.owner_id).in_(_whole_team()),
            col(ObjectionLog.response).is_not(None),
            col(ObjectionLog.outcome).in_(RATED_OUTCOMES),
        )
        .subquery()
    )
    return select(ranked.c.kind, ranked.c.response, ranked.c.outcome, ranked.c.author).where(
        ranked.c.rank == 1, ranked.c.kind.in_(_KINDS)
    )


def _open_accounts() -> ColumnElement[bool]:
    return and_(col(Account.owner_id).in_(_team_reps()), col(Account.stage).not_in(_CLOSED))


def _portfolio_statement() -> Any:
    """Open opportunities counted by opening position and value class together."""
    return (
        select(col(Account.opening), col(Account.value_class), func.count())
        .where(_open_accounts())
        .group_by(col(Account.opening), col(Account.value_class))
    )


def _flagged_statement() -> Any:
    """Open opportunities whose opening is one of the flagged letters, by letter then name."""
    return (
        select(col(Account.name), col(Account.opening), col(User.display_name))
        .join(User, col(User.id) == col(Account.owner_id))
        .where(_open_accounts(), col(Account.opening).in_(_FLAGGED))
        .order_by(col(Account.opening), col(Account.name))
        .limit(MAX_FLAGGED_ACCOUNTS)
    )


def _stage_changes_statement() -> Any:
    """This week's funnel-stage changes of the team's accounts, in order."""
    return (
        select(
            col(AccountChange.account_id),
            col(Account.name),
            col(User.display_name),
            col(AccountChange.old_value),
            col(AccountChange.new_value),
        )
        .join(Account, col(Account.id) == col(AccountChange.account_id))
        .join(User, col(User.id) == col(Account.owner_id))
        .where(
            col(AccountChange.field_name) == "stage",
            col(Account.owner_id).in_(_team_reps()),
            _this_week(col(AccountChange.changed_at)),
        )
        .order_by(col(AccountChange.changed_at), col(AccountChange.id))
        .limit(MAX_STAGE_CHANGES)
    )


def _continuations_statement() -> Any:
    """Accounts whose debrief this week was a continuation right after another continuation."""
    before = (
        func.lag(_call_outcome())
        .over(
            partition_by=col(Debrief.account_id),
            order_by=(col(Debrief.created_at), col(Debrief.id)),
        )
        .label("before")
    )
    history = (
        select(
            col(Debrief.account_id).label("account_id"),
            col(Debrief.owner_id).label("owner_id"),
            _call_outcome().label("outcome"),
            col(Debrief.created_at).label("created_at"),
            before,
        )
        .where(
            col(Debrief.owner_id).in_(_team_reps()),
            col(Debrief.account_id).is_not(None),
            col(Debrief.created_at) >= _LOOKBACK,
            col(Debrief.created_at) < _THIS_END,
        )
        .subquery()
    )
    return (
        select(col(Account.name), history.c.owner_id)
        .join(Account, col(Account.id) == history.c.account_id)
        .where(
            history.c.outcome == "continuation",
            history.c.before == "continuation",
            history.c.created_at >= _THIS_START,
        )
        .distinct()
        .order_by(col(Account.name))
    )


_TEAM_NAME = select(col(Team.name)).where(col(Team.id) == _TEAM)
_MEMBERS = _members_statement()
_ROSTER = _roster_statement()
_VISITS = _visits_statement()
_DEBRIEFS = _debriefs_statement()
_FOLLOW_UPS = _follow_ups_statement()
_OBJECTIONS = _objections_statement()
_DRILLS = _drills_statement()
_TRIO = _trio_statement()
_TOP_OBJECTIONS = _top_objections_statement()
_BEST_ANSWERS = _best_answers_statement()
_COACH_LABELS = _coach_labels_statement()
_PORTFOLIO = _portfolio_statement()
_FLAGGED_ACCOUNTS = _flagged_statement()
_STAGE_CHANGES = _stage_changes_statement()
_CONTINUATIONS = _continuations_statement()


# ----- members ---------------------------------------------------------------------


def team_members(session: Session, team_id: int) -> list[Member]:
    """The team's members (not its managers), by name."""
    return [
        Member(user_id=user_id, name=name, role=role, team_role=team_role)
        for user_id, name, role, team_role in session.connection().execute(
            _MEMBERS, {"team_id": team_id}
        )
    ]


def team_roster(session: Session, team_id: int) -> list[Member]:
    """Everyone in the team, managers first, each with their last recorded activity.

    One query: the latest moment per person across visits, debriefs,
    objections, follow-ups, accounts and drills.
    """
    return [
        Member(user_id, name, role, team_role, _aware(at))
        for user_id, name, role, team_role, at in session.execute(_ROSTER, {"team_id": team_id})
    ]


def _aware(value: Any) -> datetime | None:
    """A MAX() over a union comes back from SQLite as text or a naive datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return None
    return as_utc(moment)


# ----- the week's numbers ----------------------------------------------------------


def load_team_week(
    session: Session,
    team_id: int,
    window: DigestWindow,
    *,
    flagged_openings: Sequence[str],
    closed_stages: Sequence[str],
) -> TeamWeek | None:
    """The digest's numbers for one team and week; None when the team does not exist."""
    # Straight to the connection: the ORM session adds nothing to plain rows of numbers.
    db = session.connection()
    team_name = db.execute(_TEAM_NAME, {"team_id": team_id}).scalar()
    if team_name is None:
        return None
    params: dict[str, Any] = {
        "team_id": team_id,
        "this_start": window.current.start,
        "this_end": window.current.end,
        "prev_start": window.previous.start,
        "prev_end": window.previous.end,
        "as_of": window.as_of,
        "debriefs_due_by": window.debriefs_due_by,
        "lookback_start": window.current.start - CONTINUATION_LOOKBACK,
        "closed_stages": list(closed_stages),
        "flagged_openings": list(flagged_openings),
    }
    current: dict[int, RepCounts] = {}
    previous: dict[int, RepCounts] = {}
    undebriefed = _visit_counts(db, params, current, previous)
    _debrief_counts(db, params, current, previous)
    overdue = _follow_up_counts(db, params, current, previous)
    _objection_counts(db, params, current, previous)
    _drill_counts(db, params, current, previous)
    objection_types = [(kind, number) for kind, number in db.execute(_TOP_OBJECTIONS, params)]
    params["kinds"] = [kind for kind, _ in objection_types]
    labels = list(db.execute(_COACH_LABELS, params))
    openings, value_mix = _portfolio(db, params)
    return TeamWeek(
        team_id=team_id,
        team_name=team_name,
        members=[
            Member(user_id=user_id, name=name, role=role, team_role=team_role)
            for user_id, name, role, team_role in db.execute(_MEMBERS, params)
        ],
        current=current,
        previous=previous,
        overdue=overdue,
        undebriefed=undebriefed,
        objection_types=objection_types,
        best_answers=_best_answers(db, params),
        coach_picks=sum(count for _guess, _pick, count in labels),
        coach_corrections=[
            (str(guess), str(pick), int(count))
            for guess, pick, count in labels
            if guess is not None and guess != pick
        ],
        openings=openings,
        value_mix=value_mix,
        flagged_accounts=[
            FlaggedAccount(name=name, opening=opening, owner=owner)
            for name, opening, owner in db.execute(_FLAGGED_ACCOUNTS, params)
        ],
        stage_moves=_stage_moves(db, params),
        repeated_continuations=[
            RepeatedContinuation(account=name, owner_id=owner)
            for name, owner in db.execute(_CONTINUATIONS, params)
        ],
        trio={rep: (rounds, total) for rep, rounds, total in db.execute(_TRIO, params)},
    )


def _rep(table: dict[int, RepCounts], user_id: int) -> RepCounts:
    return table.setdefault(user_id, RepCounts())


Tables = dict[int, RepCounts]


def _visit_counts(
    db: Connection, params: dict[str, Any], current: Tables, previous: Tables
) -> dict[int, int]:
    """Visits planned and done per rep, both weeks; returns visits still without a debrief."""
    undebriefed: dict[int, int] = {}
    for owner, planned, done, planned_before, done_before, missing in db.execute(_VISITS, params):
        this, last = _rep(current, owner), _rep(previous, owner)
        this.visits_planned, this.visits_done = planned, done
        last.visits_planned, last.visits_done = planned_before, done_before
        if missing:
            undebriefed[owner] = missing
    return undebriefed


def _debrief_counts(
    db: Connection, params: dict[str, Any], current: Tables, previous: Tables
) -> None:
    """Debriefs per rep and per call outcome, both weeks."""
    width = 1 + len(OUTCOMES)
    for owner, *numbers in db.execute(_DEBRIEFS, params):
        for table, offset in ((current, 0), (previous, width)):
            counts = _rep(table, owner)
            counts.debriefs = numbers[offset]
            counts.outcomes = dict(zip(OUTCOMES, numbers[offset + 1 : offset + width], strict=True))


def _follow_up_counts(
    db: Connection, params: dict[str, Any], current: Tables, previous: Tables
) -> dict[int, int]:
    """Follow-ups done per rep, both weeks; returns the open ones overdue at `as_of`."""
    overdue: dict[int, int] = {}
    for owner, done_now, done_before, late in db.execute(_FOLLOW_UPS, params):
        _rep(current, owner).follow_ups_done = done_now
        _rep(previous, owner).follow_ups_done = done_before
        if late:
            overdue[owner] = late
    return overdue


def _objection_counts(
    db: Connection, params: dict[str, Any], current: Tables, previous: Tables
) -> None:
    """Objections logged per rep, both weeks."""
    for owner, now_count, before_count in db.execute(_OBJECTIONS, params):
        _rep(current, owner).objections = now_count
        _rep(previous, owner).objections = before_count


def _drill_counts(
    db: Connection, params: dict[str, Any], current: Tables, previous: Tables
) -> None:
    """Finished role-play drills per rep and their scores, both weeks."""
    for user_id, scenario_id, *numbers in db.execute(_DRILLS, params):
        for table, offset in ((current, 0), (previous, 3)):
            counts = _rep(table, user_id)
            finished, total, scored = numbers[offset : offset + 3]
            counts.drills += finished
            counts.drill_score_sum += total or 0
            counts.drills_scored += scored
            if scored:
                counts.scored_by_scenario[scenario_id] = scored


def _best_answers(db: Connection, params: dict[str, Any]) -> dict[str, BestAnswer]:
    return {
        kind: BestAnswer(response=response, outcome=outcome, author=author)
        for kind, response, outcome, author in db.execute(_BEST_ANSWERS, params)
    }


def _portfolio(db: Connection, params: dict[str, Any]) -> tuple[dict[str, int], dict[int, int]]:
    """Open opportunities counted by opening position and by value class."""
    openings: dict[str, int] = {}
    value_mix: dict[int, int] = {}
    for opening, value_class, number in db.execute(_PORTFOLIO, params):
        if opening:
            openings[opening] = openings.get(opening, 0) + number
        if value_class:
            value_mix[value_class] = value_mix.get(value_class, 0) + number
    return openings, value_mix


def _stage_moves(db: Connection, params: dict[str, Any]) -> list[StageMove]:
    """Accounts whose funnel stage changed in the week: first stage before → last stage after."""
    first: dict[int, tuple[str, str, str]] = {}
    last: dict[int, str | None] = {}
    for account_id, name, owner, old, new in db.execute(_STAGE_CHANGES, params):
        # A change without an old value is the account being created, not a move.
        if account_id not in first and old is not None:
            first[account_id] = (name, owner, old)
        last[account_id] = new
    return [
        StageMove(account=name, owner=owner, old_stage=old, new_stage=new)
        for account_id, (name, owner, old) in first.items()
        if (new := last[account_id]) is not None and new != old
    ]


# ----- exactly once ------------------------------------------------------------------


def claim_digest(
    session: Session,
    manager_id: int,
    team_id: int,
    week: str,
    *,
    status: str = "sending",
    at: datetime | None = None,
) -> int | None:
    """Insert the run row for this manager, team and week; None when someone already has.

    The unique key decides: of two processes racing, only the one whose
    insert succeeds may send. Call it in its own transaction and commit
    before sending. `at` stamps the row (created_at).
    """
    run = DigestRun(manager_id=manager_id, team_id=team_id, week=week, status=status)
    if at is not None:
        run.created_at = at
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run.id


def reclaim_digest(session: Session, run_id: int, from_status: str) -> bool:
    """Take a run left in `from_status` (a retryable failure) back into "sending"; True if won."""
    return _update_run(session, run_id, from_status, {"status": "sending"})


def take_over_digest(
    session: Session, run_id: int, status: str, stamp: datetime, at: datetime
) -> bool:
    """Restamp a run still in `status` with the `stamp` we saw, to `at`; True if won.

    How a process takes over a run whose builder died: the stamp makes the
    take-over, and the dead builder's later `start_sending_digest`, conditional.
    """
    return _update_run(session, run_id, status, {"created_at": at}, stamp=stamp)


def start_sending_digest(session: Session, run_id: int, status: str, stamp: datetime) -> bool:
    """Move a run from `status` to "sending" if it still carries our `stamp`; True if so."""
    return _update_run(session, run_id, status, {"status": "sending"}, stamp=stamp)


def _update_run(
    session: Session,
    run_id: int,
    status: str,
    values: dict[str, Any],
    *,
    stamp: datetime | None = None,
) -> bool:
    """Set `values` on the run only while it is in `status` (and carries `stamp`); True if so."""
    conditions = [col(DigestRun.id) == run_id, col(DigestRun.status) == status]
    if stamp is not None:
        conditions.append(col(DigestRun.created_at) == stamp)
    statement = update(DigestRun).where(*conditions).values(values)
    result = session.execute(statement)
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


def find_digest_run(session: Session, manager_id: int, team_id: int, week: str) -> DigestRun | None:
    """The run row for this manager, team and week, if there is one."""
    statement = select(DigestRun).where(
        col(DigestRun.manager_id) == manager_id,
        col(DigestRun.team_id) == team_id,
        col(DigestRun.week) == week,
    )
    return session.execute(statement).scalars().first()


def finish_digest(session: Session, run_id: int, status: str, at: datetime) -> None:
    """Record how sending a run ended."""
    run = session.get(DigestRun, run_id)
    if run is not None:
        run.status = status
        run.sent_at = at if status == "sent" else None
        session.add(run)


def digest_runs_for(session: Session, weeks: Sequence[str]) -> dict[tuple[int, int, str], Any]:
    """Existing runs of these weeks keyed by (manager, team, week), with id and status."""
    if not weeks:
        return {}
    statement = select(
        col(DigestRun.manager_id),
        col(DigestRun.team_id),
        col(DigestRun.week),
        col(DigestRun.id),
        col(DigestRun.status),
        col(DigestRun.created_at),
    ).where(col(DigestRun.week).in_(list(weeks)))
    return {
        (manager, team, week): (run_id, status, created)
        for manager, team, week, run_id, status, created in session.execute(statement)
    }


@dataclass(frozen=True)
class DigestSubscriber:
    """A manager who should get weekly digests, with when and where."""

    user_id: int
    timezone: str
    weekday: int  # ISO, 1 = Monday
    time: str  # local "HH:MM"
    team_ids: tuple[int, ...]


def digest_subscribers(session: Session, platform: str) -> list[DigestSubscriber]:
    """Active managers of `platform` with digests on, each with the teams they manage."""
    statement = (
        select(
            col(User.id),
            col(User.timezone),
            col(User.digest_weekday),
            col(User.digest_time),
            col(Membership.team_id),
        )
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(
            col(User.platform) == platform,
            col(User.active).is_(True),
            col(User.digest_enabled).is_(True),
            col(Membership.role) == "manager",
        )
        .order_by(col(User.id), col(Membership.team_id))
    )
    grouped: dict[int, tuple[str, int, str, list[int]]] = {}
    for user_id, zone, weekday, clock, team_id in session.execute(statement):
        grouped.setdefault(user_id, (zone, weekday, clock, []))[3].append(team_id)
    return [
        DigestSubscriber(user_id, zone, weekday, clock, tuple(teams))
        for user_id, (zone, weekday, clock, teams) in grouped.items()
    ]


# ----- follow-through: drills owed, judged calls, next week's plan ------------------------

MAX_FOLLOW_THROUGH_ROWS = 200  # per list; the digest shows fewer and counts the rest


@dataclass(frozen=True)
class OpenAssignment:
    """A drill a manager assigned that the member has not done yet."""

    user_id: int
    name: str
    scenario_id: str
    due_at: datetime
    overdue: bool


@dataclass(frozen=True)
class JudgedDifferently:
    """A debrief of the week where the coach read the call otherwise than the rep claimed."""

    user_id: int
    name: str
    account: str | None
    claimed: str
    judged: str


@dataclass(frozen=True)
class PlannedVisit:
    """A visit planned in the week after the digest's week."""

    user_id: int
    name: str
    account: str
    planned_at: datetime


@dataclass
class FollowThrough:
    """What the manager should follow up on beyond the week's numbers."""

    assignments: list[OpenAssignment]
    judged_differently: list[JudgedDifferently]
    planned_visits: list[PlannedVisit]


def load_follow_through(
    session: Session, team_id: int, window: DigestWindow, next_week: Span
) -> FollowThrough:
    """Drills assigned and not done, this week's claims the coach judged otherwise, next
    week's planned visits: three queries for the whole team."""
    reps = select(col(Membership.user_id)).where(
        col(Membership.team_id) == team_id, col(Membership.role) == "member"
    )
    assignments = (
        select(
            col(Assignment.user_id),
            col(User.display_name),
            col(Assignment.scenario_id),
            col(Assignment.due_at),
        )
        .join(User, col(User.id) == col(Assignment.user_id))
        .where(col(Assignment.user_id).in_(reps), col(Assignment.status) == "open")
        .order_by(col(Assignment.due_at), col(User.display_name))
        .limit(MAX_FOLLOW_THROUGH_ROWS)
    )
    judged = (
        select(
            col(Debrief.owner_id),
            col(User.display_name),
            col(Account.name),
            col(Debrief.outcome),
            col(Debrief.judged_outcome),
        )
        .join(User, col(User.id) == col(Debrief.owner_id))
        .outerjoin(Account, col(Account.id) == col(Debrief.account_id))
        .where(
            col(Debrief.owner_id).in_(reps),
            col(Debrief.created_at) >= window.current.start,
            col(Debrief.created_at) < window.current.end,
            col(Debrief.judged_outcome).is_not(None),
            col(Debrief.judged_outcome) != col(Debrief.outcome),
        )
        .order_by(col(User.display_name), col(Debrief.created_at))
        .limit(MAX_FOLLOW_THROUGH_ROWS)
    )
    planned = (
        select(
            col(Visit.owner_id), col(User.display_name), col(Account.name), col(Visit.planned_at)
        )
        .join(User, col(User.id) == col(Visit.owner_id))
        .join(Account, col(Account.id) == col(Visit.account_id))
        .where(
            col(Visit.owner_id).in_(reps),
            col(Visit.status) == "planned",
            col(Visit.planned_at) >= next_week.start,
            col(Visit.planned_at) < next_week.end,
        )
        .order_by(col(Visit.planned_at), col(User.display_name))
        .limit(MAX_FOLLOW_THROUGH_ROWS)
    )
    return FollowThrough(
        assignments=[
            OpenAssignment(user_id, name, scenario, as_utc(due), as_utc(due) < window.as_of)
            for user_id, name, scenario, due in session.execute(assignments)
        ],
        judged_differently=[
            JudgedDifferently(user_id, name, account, str(claimed), str(verdict))
            for user_id, name, account, claimed, verdict in session.execute(judged)
        ],
        planned_visits=[
            PlannedVisit(user_id, name, account, as_utc(at))
            for user_id, name, account, at in session.execute(planned)
        ],
    )
