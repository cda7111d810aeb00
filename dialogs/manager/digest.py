"""The weekly digest: ISO weeks in the manager's zone, the view model, its HTML and its chart."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from babel.dates import format_date
from markupsafe import Markup
from sqlmodel import Session

from dialogs.core.callbacks import encode_action
from dialogs.core.io import Button, Outgoing
from dialogs.core.texts import Texts, split_message
from dialogs.manager.digest_chart import ChartLabels, ChartRow, Renderer, render_chart
from dialogs.manager.pipeline import PipelineView, pipeline_view
from dialogs.manager.pipeline_digest import pipeline_sections
from playbooks.schema import RUBRIC_SCORES, Playbooks, PortfolioDiagnosis, PortfolioThresholds
from storage.digest_queries import (
    DigestWindow,
    FollowThrough,
    Member,
    RepCounts,
    Span,
    TeamWeek,
    load_follow_through,
    load_team_week,
)

MESSAGE_LIMIT = 4000  # below Telegram's 4,096, leaving room for what the entity parser counts
MEMBER_BUTTON = "m"  # action-button prefix: open a member's recent debriefs
# A visit that took place less than this long ago is not yet "without a debrief".
DEBRIEF_GRACE = timedelta(hours=12)
OVERDUE_ALERT = 3
MAX_MOVES_SHOWN = 25
MAX_REP_BUTTONS = 40
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


# ----- weeks ---------------------------------------------------------------------------


def week_label(moment: datetime, zone: tzinfo) -> str:
    """The ISO week, e.g. "2026-W47", that `moment` falls in, seen from `zone`."""
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> tuple[int, int] | None:
    """(year, week) for a label like "2026-W47"; None for anything else or a week that isn't."""
    match = _WEEK.match(text.strip().upper())
    if match is None:
        return None
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        return None
    return year, week


def week_start(label: str) -> date:
    """The Monday of an ISO week label."""
    parsed = parse_week(label)
    if parsed is None:
        raise ValueError(f"not an ISO week: {label!r}")
    return date.fromisocalendar(parsed[0], parsed[1], 1)


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def week_span(label: str, zone: tzinfo) -> Span:
    """Monday 00:00 to the next Monday 00:00 in `zone`, in UTC."""
    monday = week_start(label)
    return Span(_local_midnight(monday, zone), _local_midnight(monday + timedelta(days=7), zone))


def previous_week(label: str) -> str:
    """The ISO week before `label`."""
    year, week, _ = (week_start(label) - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def next_week_label(label: str) -> str:
    """The ISO week after `label`."""
    year, week, _ = (week_start(label) + timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def digest_window(label: str, zone: tzinfo, now: datetime) -> DigestWindow:
    """The week, the week before it, and the moment overdue and missing debriefs are judged."""
    current = week_span(label, zone)
    as_of = min(now, current.end)
    return DigestWindow(
        current=current,
        previous=week_span(previous_week(label), zone),
        as_of=as_of,
        debriefs_due_by=as_of - DEBRIEF_GRACE,
    )


def scheduled_week(now: datetime, zone: tzinfo) -> str:
    """The week a scheduled digest covers: early in the week the last one, later this one."""
    local = now.astimezone(zone)
    if local.isoweekday() <= 3:  # Monday to Wednesday: review the week that just ended
        return week_label(local - timedelta(days=7), zone)
    return week_label(local, zone)


# ----- the view model ------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    """One team's week, read from the database, with the dates it covers."""

    data: TeamWeek
    week: str
    first_day: date
    last_day: date
    # The pipeline at the week's end and what to follow through on (None: not read).
    pipeline: PipelineView | None = None
    follow_through: FollowThrough | None = None
    zone: tzinfo = UTC

    @property
    def empty(self) -> bool:
        """Nothing was recorded by anyone in the team this week."""
        active = any(counts.active for counts in self.data.current.values())
        deals_moved = self.pipeline is not None and self.pipeline.moved
        return not active and not self.data.stage_moves and not self.data.trio and not deals_moved

    def counts(self, user_id: int) -> RepCounts:
        """A member's numbers this week (zeros when they did nothing)."""
        return self.data.current.get(user_id, RepCounts())

    def counts_before(self, user_id: int) -> RepCounts:
        """A member's numbers the week before."""
        return self.data.previous.get(user_id, RepCounts())

    @property
    def has_drills(self) -> bool:
        """Role-play drills were finished in either week, so their column is worth showing."""
        tables = (self.data.current, self.data.previous)
        return any(counts.drills for table in tables for counts in table.values())


def build_digest(
    session: Session,
    team_id: int,
    week: str,
    *,
    zone: tzinfo,
    now: datetime,
    playbooks: Playbooks,
) -> Digest | None:
    """Read one team's week ("2026-W47"); None when the team does not exist."""
    week = week.strip().upper()
    window = digest_window(week, zone, now)
    data = load_team_week(
        session,
        team_id,
        window,
        flagged_openings=flagged_letters(playbooks),
        closed_stages=closed_stages(playbooks),
    )
    if data is None:
        return None
    monday = week_start(week)
    next_week = week_span(next_week_label(week), zone)
    return Digest(
        data=data,
        week=week,
        first_day=monday,
        last_day=monday + timedelta(days=6),
        pipeline=pipeline_view(
            session, team_id, as_of=window.as_of, zone=zone, playbooks=playbooks
        ),
        follow_through=load_follow_through(session, team_id, window, next_week),
        zone=zone,
    )


def flagged_letters(playbooks: Playbooks) -> list[str]:
    """Opening letters the manager should see by name: the problem and abnormal ones."""
    return sorted(
        cell.letter
        for cell in playbooks.opening_grid.cells
        if cell.opening_class in ("problem", "abnormal")
    )


def closed_stages(playbooks: Playbooks) -> list[str]:
    """Funnel stages after which an account is no longer an open opportunity: the last one."""
    stages = list(playbooks.funnel_stages)
    return stages[-1:]


def dominant_class(value_mix: dict[int, int], portfolio: PortfolioThresholds) -> int | None:
    """The value class that makes up too large a share of open opportunities, if any.

    The share and the minimum number of opportunities are playbook data (pipeline.yaml).
    """
    total = sum(value_mix.values())
    if total < portfolio.min_open:
        return None
    number, count = max(value_mix.items(), key=lambda item: (item[1], -item[0]))
    return number if 100 * count >= portfolio.dominant_share * total else None


# ----- rendering -----------------------------------------------------------------------


def render_digest(digest: Digest, t: Texts, playbooks: Playbooks) -> list[str]:
    """The digest as Telegram HTML, split into messages below Telegram's limit."""
    return split_message(digest_html(digest, t, playbooks), MESSAGE_LIMIT)


def digest_html(digest: Digest, t: Texts, playbooks: Playbooks) -> str:
    """The whole digest as one HTML text, sections separated by blank lines."""
    data = digest.data
    if not data.members:
        return t("digest.no_members", team=data.team_name)
    if digest.empty:
        return t(
            "digest.empty", team=data.team_name, week=_week_number(digest), dates=_dates(digest, t)
        )
    sections = [
        t("digest.header", team=data.team_name, week=_week_number(digest), dates=_dates(digest, t)),
        _reps_section(digest, t, playbooks),
        _trio_section(digest, t, playbooks),
        _totals_section(digest, t, playbooks),
        _objections_section(digest, t, playbooks),
        _openings_section(digest, t, playbooks),
        _value_section(digest, t, playbooks),
        _moves_section(digest, t, playbooks),
        _attention_section(digest, t),
        *pipeline_sections(digest.pipeline, digest.follow_through, t, playbooks, digest.zone),
    ]
    return "\n\n".join(section for section in sections if section)


def _week_number(digest: Digest) -> int:
    return int(digest.week.rsplit("W", 1)[1])


def _dates(digest: Digest, t: Texts) -> str:
    locale = "zh_CN" if t.language == "zh" else "en_GB"
    pattern = t("digest.date_format")
    first = format_date(digest.first_day, pattern, locale=locale)
    last = format_date(digest.last_day, pattern, locale=locale)
    return f"{first} – {last}"


def _drill_maximum(counts: RepCounts, playbooks: Playbooks) -> int | None:
    """The average maximum of the scored drills: 7 per criterion their scenario assesses."""
    if not counts.drills_scored:
        return None
    points = 0
    for scenario_id, number in counts.scored_by_scenario.items():
        scenario = playbooks.scenarios.get(scenario_id)  # gone from the playbook: every criterion
        criteria = len(scenario.criteria) if scenario else len(playbooks.rubric_criteria)
        points += number * max(RUBRIC_SCORES) * criteria
    return round(points / counts.drills_scored)


def _reps_section(digest: Digest, t: Texts, playbooks: Playbooks) -> str:
    reps = [
        {
            "name": member.name,
            "counts": digest.counts(member.user_id),
            "overdue": digest.data.overdue.get(member.user_id, 0),
            "average": _rounded(digest.counts(member.user_id).drill_average),
            "maximum": _drill_maximum(digest.counts(member.user_id), playbooks),
            # A trainee practises rather than visits: their line shows drills, not visits.
            "trainee": member.role == "trainee",
        }
        for member in digest.data.members
    ]
    return t("digest.reps", reps=reps, drills=digest.has_drills)


def _trio_section(digest: Digest, t: Texts, playbooks: Playbooks) -> str:
    """Role-play in threes: rounds each member played as the rep, and their average /98."""
    names = {member.user_id: member.name for member in digest.data.members}
    best = max(RUBRIC_SCORES) * len(playbooks.observer_form)
    lines = [
        t(
            "trio.digest_line",
            name=names[user_id],
            rounds=rounds,
            average=round(total / rounds),
            maximum=best,
        )
        for user_id, (rounds, total) in digest.data.trio.items()
        if user_id in names and rounds
    ]
    return "\n".join([t("trio.digest_title"), *lines]) if lines else ""


def _rounded(value: float | None) -> int | None:
    return round(value) if value is not None else None


def _team_total(table: dict[int, RepCounts], members: list[Member]) -> RepCounts:
    total = RepCounts()
    for member in members:
        counts = table.get(member.user_id)
        if counts is None:
            continue
        total.visits_planned += counts.visits_planned
        total.visits_done += counts.visits_done
        total.debriefs += counts.debriefs
        for outcome, number in counts.outcomes.items():
            total.outcomes[outcome] = total.outcomes.get(outcome, 0) + number
        total.follow_ups_done += counts.follow_ups_done
        total.objections += counts.objections
        total.drills += counts.drills
        total.drill_score_sum += counts.drill_score_sum
        total.drills_scored += counts.drills_scored
        for scenario, number in counts.scored_by_scenario.items():
            total.scored_by_scenario[scenario] = total.scored_by_scenario.get(scenario, 0) + number
    return total


_TOTALS = (
    "visits_planned",
    "visits_done",
    "debriefs",
    "advances",
    "continuations",
    "follow_ups_done",
    "objections",
)


def _totals_section(digest: Digest, t: Texts, playbooks: Playbooks) -> str:
    members = digest.data.members
    now = _team_total(digest.data.current, members)
    before = _team_total(digest.data.previous, members)
    metrics = list(_TOTALS) + (["drills"] if digest.has_drills else [])
    items = [
        {
            "label": _label(t.language, f"digest.metric_{name}"),
            "value": getattr(now, name),
            "change": getattr(now, name) - getattr(before, name),
        }
        for name in metrics
    ]
    return t(
        "digest.totals",
        items=items,
        overdue=sum(digest.data.overdue.values()),
        average=_rounded(now.drill_average) if digest.has_drills else None,
        maximum=_drill_maximum(now, playbooks),
    )


@lru_cache(maxsize=256)
def _label(language: str, key: str) -> str:
    """A fixed label: rendered once per language, since a digest asks for it on every build."""
    return Texts(language)(key)


def _one_line(text: str) -> str:
    # User text inside a digest line must not break it: HTML tags stay on one line.
    return " ".join(text.split())


def _objections_section(digest: Digest, t: Texts, playbooks: Playbooks) -> str:
    if not digest.data.objection_types:
        return _corrections_line(digest, t, playbooks).lstrip("\n")
    items = []
    for kind, count in digest.data.objection_types:
        objection = playbooks.objections.get(kind)
        best = digest.data.best_answers.get(kind)
        items.append(
            {
                "label": objection.label.get(t.language) if objection else kind,
                "count": count,
                "best": best,
                "response": _one_line(best.response) if best else "",
                "outcome": t(f"digest.outcome_{best.outcome}") if best else "",
            }
        )
    return t("digest.objections", items=items) + _corrections_line(digest, t, playbooks)


def _corrections_line(digest: Digest, t: Texts, playbooks: Playbooks) -> str:
    """How often reps had to pick or correct the objection type themselves, and which."""
    if not digest.data.coach_picks:
        return ""

    def label(kind: str) -> str:
        objection = playbooks.objections.get(kind)
        return objection.label.get(t.language) if objection else kind

    corrections = [
        {"guess": label(guess), "pick": label(pick), "count": count}
        for guess, pick, count in digest.data.coach_corrections
    ]
    return "\n" + t("digest.coach_corrections", picks=digest.data.coach_picks, items=corrections)


def _openings_section(digest: Digest, t: Texts, playbooks: Playbooks) -> str:
    openings = digest.data.openings
    if not openings:
        return ""
    grid = playbooks.opening_grid
    counts = [{"letter": letter, "count": openings[letter]} for letter in sorted(openings)]
    groups = []
    for class_id in ("problem", "abnormal"):
        letters = sorted(c.letter for c in grid.cells if c.opening_class == class_id)
        accounts = [a for a in digest.data.flagged_accounts if a.opening in letters]
        label = next((item.label for item in grid.classes if item.id == class_id), None)
        groups.append(
            {
                "id": class_id,
                "label": label.get(t.language) if label else class_id,
                "letters": ", ".join(letters),
                "accounts": accounts,
            }
        )
    return t(
        "digest.openings", counts=counts, groups=groups, **opening_reading(openings, t, playbooks)
    )


def opening_reading(openings: dict[str, int], t: Texts, playbooks: Playbooks) -> dict[str, Any]:
    """What the mix of openings means: each class's share and the signals it shows (seed 000).

    The signals and their thresholds are playbook data (`opening_signals`).
    """
    grid, total = playbooks.opening_grid, sum(openings.values())
    shares = []
    for item in grid.classes:
        count = sum(openings.get(c.letter, 0) for c in grid.cells if c.opening_class == item.id)
        shares.append({"label": item.label.get(t.language), "share": round(100 * count / total)})
    signals = [
        {
            "meaning": signal.meaning.get(t.language),
            "action": signal.action.get(t.language),
            "ours": signal.source == "ours",
        }
        for signal in playbooks.opening_signals.values()
        if signal.matches(openings)
    ]
    needed = min((s.min_openings for s in playbooks.opening_signals.values()), default=1)
    return {"shares": shares, "signals": signals, "enough": total >= needed}


def _value_section(digest: Digest, t: Texts, playbooks: Playbooks) -> str:
    mix = digest.data.value_mix
    total = sum(mix.values())
    if not total:
        return ""
    matrix = playbooks.value_matrix
    classes = [
        {
            "label": value_class.label.get(t.language),
            "count": mix.get(value_class.number, 0),
            "share": round(100 * mix.get(value_class.number, 0) / total),
        }
        for value_class in sorted(matrix.classes, key=lambda item: item.number)
    ]
    dominant = dominant_class(mix, playbooks.pipeline.portfolio)
    diagnosis: PortfolioDiagnosis | None = (
        matrix.diagnosis(dominant) if dominant is not None else None
    )
    return t(
        "digest.value_mix",
        classes=classes,
        total=total,
        enough=total >= playbooks.pipeline.portfolio.min_open,
        diagnosis=diagnosis.diagnosis.get(t.language) if diagnosis else None,
        action=diagnosis.action.get(t.language) if diagnosis else None,
    )


def _moves_section(digest: Digest, t: Texts, playbooks: Playbooks) -> str:
    moves = digest.data.stage_moves
    if not moves:
        return ""
    stages = playbooks.funnel_stages

    def label(stage_id: str) -> str:
        stage = stages.get(stage_id)
        return stage.label.get(t.language) if stage else stage_id

    shown = [
        {
            "account": move.account,
            "owner": move.owner,
            "old": label(move.old_stage),
            "new": label(move.new_stage),
        }
        for move in moves[:MAX_MOVES_SHOWN]
    ]
    return t("digest.moves", moves=shown, more=len(moves) - len(shown))


def _attention_section(digest: Digest, t: Texts) -> str:
    """Who needs the manager's eye and why, one line per person with all their reasons."""
    data = digest.data
    reasons: dict[int, list[dict[str, Any]]] = {member.user_id: [] for member in data.members}
    for member in data.members:
        missing = data.undebriefed.get(member.user_id, 0)
        if missing:
            reasons[member.user_id].append({"kind": "undebriefed", "count": missing})
        overdue = data.overdue.get(member.user_id, 0)
        if overdue >= OVERDUE_ALERT:
            reasons[member.user_id].append({"kind": "overdue", "count": overdue})
    for repeat in data.repeated_continuations:
        if repeat.owner_id in reasons:
            reasons[repeat.owner_id].append({"kind": "continuations", "account": repeat.account})
    items = [
        {"name": member.name, "reasons": reasons[member.user_id]}
        for member in data.members
        if reasons[member.user_id]
    ]
    return t("digest.attention", items=items)


# ----- messages ------------------------------------------------------------------------


def digest_messages(
    digest: Digest,
    t: Texts,
    playbooks: Playbooks,
    *,
    chart: bool = True,
    render: Renderer = render_chart,
) -> list[Outgoing]:
    """The digest as messages: text parts, then rep buttons and the chart on the last one."""
    parts = render_digest(digest, t, playbooks)
    messages = [Outgoing(part) for part in parts]
    if digest.empty or not digest.data.members:
        return messages
    messages[-1].buttons = rep_buttons(digest, t)
    if chart:
        png = digest_chart(digest, t, render)
        messages[-1].attachments = {f"digest-{digest.week}.png": png}
    return messages


def rep_buttons(digest: Digest, t: Texts) -> list[list[Button]]:
    """One button per member, two a row, opening their recent debriefs."""
    members = digest.data.members[:MAX_REP_BUTTONS]
    if not members:
        return []
    # One rendering for every label (a line each) rather than one per member.
    names = [" ".join(member.name.split()) for member in members]
    labels = t("digest.button_reps", names=names).split("\n")
    buttons = [
        Button(html.unescape(label), encode_action(MEMBER_BUTTON, member.user_id, "debriefs"))
        for member, label in zip(members, labels, strict=True)
    ]
    return [buttons[index : index + 2] for index in range(0, len(buttons), 2)]


def digest_chart(digest: Digest, t: Texts, render: Renderer = render_chart) -> bytes:
    """The PNG: visits done and debriefs per member, this week against last week."""
    return render(*chart_input(digest, t))


def chart_input(digest: Digest, t: Texts) -> tuple[list[ChartRow], ChartLabels]:
    """What the chart shows, in the reader's language: small and picklable, for a worker."""
    rows = [
        ChartRow(
            name=member.name,
            visits=digest.counts(member.user_id).visits_done,
            visits_before=digest.counts_before(member.user_id).visits_done,
            debriefs=digest.counts(member.user_id).debriefs,
            debriefs_before=digest.counts_before(member.user_id).debriefs,
        )
        for member in digest.data.members
    ]

    def plain(key: str, **values: Any) -> str:
        return Markup(t(key, **values)).striptags()  # tags gone, entities decoded once

    labels = ChartLabels(
        title=plain("digest.chart_title", team=digest.data.team_name),
        subtitle=plain("digest.chart_subtitle", week=_week_number(digest), dates=_dates(digest, t)),
        visits=plain("digest.chart_visits"),
        debriefs=plain("digest.chart_debriefs"),
        this_week=plain("digest.chart_this_week"),
        last_week=plain("digest.chart_last_week"),
        more=plain("digest.chart_more"),
    )
    return rows, labels
