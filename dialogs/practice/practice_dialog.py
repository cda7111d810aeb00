"""Role-play practice: /practice drills, /progress, and for managers /assign and /review.

/practice lists the scenarios by skill, shows the setting (and, on request,
the rubric), then plays the customer for 3–6 replies. Each reply is scored by
`roleplay_scoring` (deterministic); the customer's next line and the feedback
arrive together in the next prompt, and the drill ends with a scorecard and
the model answers. Managers assign scenarios (delivered and reminded through
reminder rows) and review finished drills, overriding a criterion with a
comment. Every score shown goes through `storage.drills.effective_scores`, and
every id from a button or typed answer is checked against the memberships.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, get_args

from markupsafe import Markup
from sqlmodel import Session

from dialogs.core.answers import key_number
from dialogs.core.callbacks import ActionData, encode_action
from dialogs.core.io import Button, Outgoing
from dialogs.core.steps import (
    END,
    AnswerKind,
    Command,
    Context,
    Dialog,
    Option,
    Step,
    StopDialog,
    Turn,
)
from dialogs.practice import trio_messages
from dialogs.practice.progress_chart import Series, render_progress
from dialogs.practice.roleplay_llm import AiCustomer, Line
from dialogs.practice.roleplay_scoring import (
    OUTSTANDING,
    ReplyScore,
    drill_for,
    drill_scores,
    reply_size,
    score_reply,
    weakest,
)
from dialogs.practice.roleplay_script import choose_branch, opening, reply_to
from playbooks.schema import MAX_TURNS, RUBRIC_SCORES, RubricCriterion, Scenario, Skill
from storage.accounts import industries_around
from storage.drills import (
    ASSIGNMENT,
    OPEN,
    complete_assignment,
    create_assignment,
    effective_scores,
    effective_total,
    finish_drill,
    finished_drills,
    get_assignment,
    get_drill,
    is_team_member,
    manages_member,
    open_assignment_for,
    open_assignments,
    override_key,
    override_score,
    parse_drill_key,
    save_turn,
    start_drill,
    team_members,
)
from storage.models import Assignment, Drill, Reminder, Team, User
from storage.reminders import schedule
from storage.teams import get_team, managed_teams
from storage.trio import is_trio_message

PRACTICE, ASSIGN, REVIEW = "practice", "assign", "review"
MANAGERS = frozenset({"manager"})
PRACTICE_BUTTON = "p"  # action-button prefix: start an assignment, open a drill, next drill
MAX_REPLY = 1000
MAX_COMMENT = 500
START, RUBRIC = "start", "rubric"
OVERRIDE, OTHER, CLOSE = "override", "other", "done"
LISTED_DRILLS = 5  # drills listed in /progress
LISTED_FOR_REVIEW = 10
RECENT = 5  # drills whose scores decide the weakest criterion in /progress
HISTORY_POINTS = 6  # scores per criterion shown as text in /progress
CHART = "progress.png"


# ----- small helpers -------------------------------------------------------------------------


def _plain(text: str) -> str:
    """A rendered locale string as plain text for a button label."""
    return html.unescape(text)


def _stale(ctx: Context) -> list[Outgoing]:
    notice = ctx.t("common.stale_button")
    return [Outgoing(notice, notice=notice)]


def _title(ctx: Context, scenario_id: str) -> str:
    drill = ctx.playbooks.drills.get(scenario_id)
    return ctx.local(drill.title) if drill is not None else scenario_id


def _criterion_label(ctx: Context, criterion: str) -> str:
    item = ctx.playbooks.rubric_criteria.get(criterion)
    return ctx.local(item.label) if item is not None else criterion


def _move_label(ctx: Context, move: str) -> str:
    item = ctx.playbooks.moves.get(move)
    return ctx.local(item.label) if item is not None else move


def _rubric_line(ctx: Context, criterion: str, score: int) -> str:
    item = ctx.playbooks.rubric_criteria.get(criterion)
    level = item.levels.get(score) if item is not None else None
    return ctx.local(level) if level is not None else ""


def _maximum(ctx: Context, scenario_id: str) -> int:
    scenario = ctx.playbooks.scenarios.get(scenario_id)
    return OUTSTANDING * len(scenario.criteria) if scenario is not None else 0


def _name(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return user.display_name if user is not None else ""


# ----- choosing a scenario -------------------------------------------------------------------


def _ordered(ctx: Context) -> list[str]:
    """Scenario ids grouped by skill, in the playbook's order within each skill.

    Only the drills that suit the industries the user's team works in are offered
    (all of them when no account around the user has an industry, or none would suit).
    """
    pb = ctx.playbooks
    playable = [drill_id for drill_id in pb.drills if drill_id in pb.scenarios]
    industries = industries_around(ctx.session, ctx.user.id or 0)
    suiting = [drill_id for drill_id in playable if pb.drill_suits(drill_id, industries)]
    offered = suiting or playable
    return [d for skill in get_args(Skill) for d in offered if pb.drills[d].skill == skill]


def _drill_for(ctx: Context, criterion: RubricCriterion, current: str | None) -> str:
    """The drill that trains `criterion`, among those offered to the user when one is."""
    offered = set(_ordered(ctx))
    fitting = [drill for drill in criterion.drills if drill in offered]
    if not fitting:
        return drill_for(criterion, current)
    return next((drill for drill in fitting if drill != current), fitting[0])


def _scenario(ctx: Context) -> Scenario:
    return ctx.playbooks.scenarios[str(ctx.data["scenario"])]


def _language(ctx: Context) -> str:
    return str(ctx.data.get("language") or ctx.user.language)


def _choose(ctx: Context, scenario_id: str) -> None:
    """Set up a drill of `scenario_id`: the customer opens, in the user's language."""
    language = ctx.user.language
    ctx.data["scenario"] = scenario_id
    ctx.data["language"] = language
    scenario = ctx.playbooks.scenarios[scenario_id]
    line = {"speaker": "customer", "text": opening(scenario, language), "source": "script"}
    ctx.data["transcript"] = [line]
    ctx.data.pop("drill_id", None)


def _begin_practice(ctx: Context, args: str) -> list[Outgoing]:
    """`/practice [scenario id]`; "a<id>" starts an assignment (from its reminder button)."""
    target = args.strip()
    if not target:
        return []
    assignment_id = key_number(target, "a")
    if assignment_id is not None:
        assignment = _own_open_assignment(ctx, assignment_id)
        if assignment is None:
            raise StopDialog([Outgoing(ctx.t("practice.assignment_gone"))])
        ctx.data["assignment"] = assignment_id
        _choose(ctx, assignment.scenario_id)
        return []
    if target in ctx.playbooks.scenarios:
        _choose(ctx, target)
        return []
    return [Outgoing(ctx.t("practice.unknown_scenario"))]


def _own_open_assignment(ctx: Context, assignment_id: int) -> Assignment | None:
    assignment = get_assignment(ctx.session, assignment_id)
    if assignment is None or assignment.user_id != ctx.user.id or assignment.status != OPEN:
        return None
    return assignment if assignment.scenario_id in ctx.playbooks.scenarios else None


def _scenario_options(ctx: Context) -> list[Option]:
    return [Option(sid, _title(ctx, sid), literal=True) for sid in _ordered(ctx)]


def _assigned(ctx: Context) -> list[dict[str, Any]]:
    return [
        {
            "title": _title(ctx, item.scenario_id),
            "due": ctx.format_when(item.due_at),
            "overdue": item.due_at < ctx.now,
        }
        for item in open_assignments(ctx.session, ctx.user.id or 0)
        if item.scenario_id in ctx.playbooks.scenarios
    ]


def _list_values(ctx: Context) -> dict[str, Any]:
    best: dict[str, int] = {}
    for drill in finished_drills(ctx.session, ctx.user.id or 0):
        total = effective_total(drill) or 0
        best[drill.scenario_id] = max(best.get(drill.scenario_id, 0), total)
    groups = []
    ordered = _ordered(ctx)
    for skill in get_args(Skill):
        items = [
            {"title": _title(ctx, sid), "best": best.get(sid), "maximum": _maximum(ctx, sid)}
            for sid in ordered
            if ctx.playbooks.drills[sid].skill == skill
        ]
        if items:
            groups.append({"skill": ctx.t(f"practice.skill_{skill}"), "scenarios": items})
    return {"groups": groups, "assigned": _assigned(ctx)}


def _validate_scenario(ctx: Context, value: Any) -> str | None:
    return None if str(value) in ctx.playbooks.scenarios else "errors.not_available"


def _store_scenario(ctx: Context, value: Any) -> None:
    _choose(ctx, str(value))


def _ready_values(ctx: Context) -> dict[str, Any]:
    scenario = _scenario(ctx)
    drill = ctx.playbooks.drills[scenario.id]
    return {
        "title": ctx.local(drill.title),
        "persona": ctx.local(scenario.persona),
        "situation": ctx.local(scenario.situation),
        "goal": ctx.local(drill.rep_goal),
        "turns": len(scenario.turns),
        "criteria": [_criterion_label(ctx, c) for c in scenario.criteria],
    }


def _ready_options(_ctx: Context) -> list[Option]:
    return [Option(START, "practice.button_start"), Option(RUBRIC, "practice.button_rubric")]


def _rubric_values(ctx: Context) -> dict[str, Any]:
    scenario = _scenario(ctx)
    criteria = []
    for criterion_id in scenario.criteria:
        criterion = ctx.playbooks.rubric_criteria[criterion_id]
        criteria.append(
            {
                "label": ctx.local(criterion.label),
                "description": ctx.local(criterion.description),
                "seven": ctx.local(criterion.levels[7]),
                "five": ctx.local(criterion.levels[5]),
                "three": ctx.local(criterion.levels[3]),
            }
        )
    return {"title": _title(ctx, scenario.id), "criteria": criteria}


# ----- the turns -----------------------------------------------------------------------------


def _trainee_entry(number: int, text: str, result: ReplyScore, branch: int) -> dict[str, Any]:
    return {
        "speaker": "trainee",
        "turn": number,
        "text": text,
        "moves": [{"id": m.id, "cue": m.cue, "size": m.size} for m in result.moves],
        "scores": {c: item.score for c, item in result.criteria.items()},
        "fine": {c: item.fine for c, item in result.criteria.items()},
        "unsure": list(result.unsure),
        "counted": {c: [*item.rewards, *item.penalties] for c, item in result.criteria.items()},
        "tip": result.tip,
        "branch": branch,
    }


def _ai(ctx: Context) -> AiCustomer | None:
    model = ctx.services.extras.get("llm")
    return model if isinstance(model, AiCustomer) else None


def _customer_says(
    ctx: Context, scenario: Scenario, so_far: Sequence[dict[str, Any]], scripted: str
) -> tuple[str, str]:
    """The customer's line and where it came from: the AI customer, or the script."""
    model = _ai(ctx)
    if model is None:
        return scripted, "script"
    history = [Line(str(entry["speaker"]), str(entry["text"])) for entry in so_far]
    drill = ctx.playbooks.drills.get(scenario.id)
    line = model.customer_line(scenario, drill, history, scripted, _language(ctx))
    return (line, "ai") if line else (scripted, "script")


def _drill_row(ctx: Context) -> Drill:
    """The drill's row, created at the first reply so an abandoned list leaves nothing."""
    drill = get_drill(ctx.session, int(ctx.data.get("drill_id") or 0))
    if drill is not None and drill.user_id == ctx.user.id:
        return drill
    drill = start_drill(
        ctx.session,
        user_id=ctx.user.id or 0,
        scenario_id=str(ctx.data["scenario"]),
        language=_language(ctx),
        now=ctx.now,
        assignment_id=ctx.data.get("assignment"),
    )
    ctx.data["drill_id"] = drill.id
    return drill


def _store_turn(number: int) -> Callable[[Context, Any], None]:
    def store(ctx: Context, value: Any) -> None:
        scenario = _scenario(ctx)
        text = str(value)
        result = score_reply(text, scenario, number, ctx.playbooks)
        scripted = reply_to(scenario, number, result.seen, _language(ctx), text)
        # Going back and answering again replaces this reply and everything after it.
        transcript = list(ctx.data.get("transcript", []))[: 2 * number - 1]
        transcript.append(_trainee_entry(number, text, result, scripted.branch))
        # The AI customer (if any) is asked before this transaction writes anything, so a
        # slow endpoint never holds a database write lock.
        line, source = _customer_says(ctx, scenario, transcript, scripted.text)
        transcript.append({"speaker": "customer", "text": line, "source": source})
        ctx.data["transcript"] = transcript
        if number == len(scenario.turns):
            ctx.data["ai_comment"] = _ai_comment(ctx, scenario, transcript)
        save_turn(ctx.session, _drill_row(ctx), transcript, number)

    return store


def _after_turn(number: int) -> Callable[[Context, Any], str | None]:
    def following(ctx: Context, _value: Any) -> str | None:
        return END if number >= len(_scenario(ctx).turns) else None

    return following


def _detail(ctx: Context, move: dict[str, Any], text: str) -> str | None:
    if move.get("size"):
        unit = "length_chars" if reply_size(text)[1] else "length_words"
        return ctx.t(f"practice.{unit}", size=move["size"])
    return ctx.t("practice.cue", cue=move["cue"]) if move.get("cue") else None


def feedback(ctx: Context, entry: dict[str, Any]) -> Markup:
    """What one reply showed: what worked, what to avoid, each criterion's line, one tip."""
    moves = entry.get("moves", [])
    kinds = {move.id: move.kind for move in ctx.playbooks.moves.values()}
    shown = [
        {
            "label": _move_label(ctx, move["id"]),
            "detail": _detail(ctx, move, str(entry["text"])),
            "kind": kinds.get(move["id"], "reward"),
        }
        for move in moves
    ]
    scores: dict[str, int] = entry.get("scores", {})
    criteria = [
        {
            "label": _criterion_label(ctx, criterion),
            "score": score,
            "line": _rubric_line(ctx, criterion, score),
            "moves": [_move_label(ctx, m) for m in entry.get("counted", {}).get(criterion, [])],
        }
        for criterion, score in scores.items()
    ]
    tip_move = ctx.playbooks.moves.get(str(entry.get("tip")))
    return ctx.t.safe(
        "practice.feedback",
        number=entry.get("turn"),
        total=sum(scores.values()),
        maximum=OUTSTANDING * len(scores),
        worked=[item for item in shown if item["kind"] == "reward"],
        slips=[item for item in shown if item["kind"] == "penalty"],
        criteria=criteria,
        tip=ctx.local(tip_move.tip) if tip_move is not None else None,
        unsure=bool(entry.get("unsure")),
    )


def _entry(ctx: Context, index: int) -> dict[str, Any] | None:
    transcript = ctx.data.get("transcript", [])
    return transcript[index] if 0 <= index < len(transcript) else None


def _turn_values(number: int) -> Callable[[Context], dict[str, Any]]:
    def values(ctx: Context) -> dict[str, Any]:
        scenario = _scenario(ctx)
        previous = _entry(ctx, 2 * number - 3) if number > 1 else None
        line = _entry(ctx, 2 * number - 2) or {"text": ""}
        return {
            "feedback": feedback(ctx, previous) if previous else None,
            "customer": ctx.local(scenario.customer),
            "line": line["text"],
            "number": number,
            "count": len(scenario.turns),
        }

    return values


def _turn_step(number: int) -> Step:
    return Step(
        id=f"turn{number}",
        prompt="practice.turn",
        max_length=MAX_REPLY,
        when=lambda ctx: number <= len(_scenario(ctx).turns),
        store=_store_turn(number),
        next=_after_turn(number),
        prompt_values=_turn_values(number),
    )


# ----- the scorecard -------------------------------------------------------------------------


def _trainee_entries(transcript: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in transcript if entry.get("speaker") == "trainee"]


def _seen_per_criterion(drill: Drill) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for entry in _trainee_entries(drill.transcript):
        for criterion, moves in entry.get("counted", {}).items():
            bucket = seen.setdefault(criterion, [])
            bucket.extend(move for move in moves if move not in bucket)
    return seen


def suggestion_for(ctx: Context, drill: Drill) -> tuple[str | None, str]:
    """The drill's weakest criterion (None when all are 7) and the drill to practise next."""
    scenario = ctx.playbooks.scenarios.get(drill.scenario_id)
    scores = effective_scores(drill)
    order = scenario.criteria if scenario is not None else list(scores)
    low = weakest(scores, order)
    if low is None or scores[low] == OUTSTANDING or low not in ctx.playbooks.rubric_criteria:
        ordered = _ordered(ctx)
        index = ordered.index(drill.scenario_id) if drill.scenario_id in ordered else -1
        return None, ordered[(index + 1) % len(ordered)]
    return low, _drill_for(ctx, ctx.playbooks.rubric_criteria[low], drill.scenario_id)


def _criteria_rows(ctx: Context, drill: Drill) -> list[dict[str, Any]]:
    scores = effective_scores(drill)
    seen = _seen_per_criterion(drill)
    scenario = ctx.playbooks.scenarios.get(drill.scenario_id)
    order = scenario.criteria if scenario is not None else list(scores)
    rows = []
    for criterion in order:
        if criterion not in scores:
            continue
        override = drill.overrides.get(criterion)
        rows.append(
            {
                "label": _criterion_label(ctx, criterion),
                "score": scores[criterion],
                "line": _rubric_line(ctx, criterion, scores[criterion]),
                "moves": [_move_label(ctx, move) for move in seen.get(criterion, [])],
                "override": {
                    "was": override.get("was"),
                    "by": _name(ctx.session, int(override.get("by") or 0)),
                    "comment": override.get("comment", ""),
                }
                if override
                else None,
            }
        )
    return rows


def _unsure_replies(drill: Drill) -> list[int]:
    """The replies the judge was unsure about (a manager can check them in /review)."""
    return [
        int(entry.get("turn") or 0)
        for entry in _trainee_entries(drill.transcript)
        if entry.get("unsure")
    ]


def scorecard(ctx: Context, drill: Drill, *, who: str | None = None) -> Outgoing:
    """The drill's scorecard (effective scores) with a button for the one suggested drill."""
    low = suggestion_for(ctx, drill)[0]
    next_drill, reason = recommended(ctx, drill.user_id)
    text = ctx.t(
        "practice.scorecard",
        title=_title(ctx, drill.scenario_id),
        who=who,
        criteria=_criteria_rows(ctx, drill),
        total=effective_total(drill) or 0,
        maximum=_maximum(ctx, drill.scenario_id),
        weakest=_criterion_label(ctx, low) if low else None,
        suggestion=_title(ctx, next_drill),
        reason=reason,
        unsure=_unsure_replies(drill),
        reviewed=bool(drill.overrides),
    )
    if who is not None or drill.id is None:
        return Outgoing(text)
    label = _plain(ctx.t("practice.button_next", title=_title(ctx, next_drill)))
    return Outgoing(
        text, buttons=[[Button(label, encode_action(PRACTICE_BUTTON, drill.id, "next"))]]
    )


def _model_answers(ctx: Context, scenario: Scenario, transcript: Sequence[dict[str, Any]]) -> str:
    """Per reply: the line the trainee heard, their answer, and a model answer to that line,
    or, when none was written for it, the model answer with the line it replies to."""
    language = _language(ctx)
    turns = []
    entries = _trainee_entries(transcript)
    for index, entry in enumerate(entries):
        asked = transcript[2 * index] if 2 * index < len(transcript) else {"text": ""}
        model, written_for = _model_for(ctx, scenario, entries, index, asked, language)
        turns.append(
            {"customer": asked["text"], "mine": entry["text"], "model": model, "for": written_for}
        )
    return ctx.t("practice.model_answers", turns=turns, customer=ctx.local(scenario.customer))


def _model_for(
    ctx: Context,
    scenario: Scenario,
    entries: Sequence[dict[str, Any]],
    index: int,
    asked: dict[str, Any],
    language: str,
) -> tuple[str, str | None]:
    """A model answer for reply `index` (0-based) and, when it does not reply to the line
    heard, the line it does reply to."""
    model = scenario.turns[index].model_answer.get(language)
    if index == 0:
        return model, None  # the opening: always the scripted one
    previous = scenario.turns[index - 1]
    # The line the turn's model answer replies to: where the previous model answer leads.
    led_by = score_reply(previous.model_answer.get(language), scenario, index, ctx.playbooks)
    expected = choose_branch(previous, led_by.seen)
    heard = int(entries[index - 1].get("branch", -1))
    scripted = asked.get("source", "script") == "script"
    if scripted and heard == expected:
        return model, None
    if scripted and 0 <= heard < len(previous.branches):
        own = previous.branches[heard].model_answer
        if own is not None:
            return own.get(language), None
    return model, previous.branches[expected].say.get(language)


def _fulfil_assignment(ctx: Context, drill: Drill) -> None:
    """The drill counts for the assignment it was started from, or the soonest-due open one."""
    chosen = None
    if ctx.data.get("assignment"):
        candidate = _own_open_assignment(ctx, int(ctx.data["assignment"]))
        if candidate is not None and candidate.scenario_id == drill.scenario_id:
            chosen = candidate
    if chosen is None:
        chosen = open_assignment_for(ctx.session, ctx.user.id or 0, drill.scenario_id)
    if chosen is not None:
        complete_assignment(ctx.session, chosen, drill)


def _final_scores(scenario: Scenario, transcript: Sequence[dict[str, Any]]) -> dict[str, int]:
    entries = _trainee_entries(transcript)
    fine = [entry.get("fine") or {} for entry in entries]
    return drill_scores([entry["scores"] for entry in entries], scenario.criteria, fine)


def _ai_comment(
    ctx: Context, scenario: Scenario, transcript: Sequence[dict[str, Any]]
) -> str | None:
    """The AI's one-paragraph note on the drill, told the rubric's scores; None without AI."""
    model = _ai(ctx)
    if model is None:
        return None
    history = [Line(str(entry["speaker"]), str(entry["text"])) for entry in transcript]
    scores = _final_scores(scenario, transcript)
    named = {_criterion_label(ctx, criterion): score for criterion, score in scores.items()}
    return model.coach_comment(history, named, _language(ctx))


def _finish_practice(ctx: Context) -> list[Outgoing]:
    scenario = _scenario(ctx)
    transcript = list(ctx.data.get("transcript", []))
    entries = _trainee_entries(transcript)
    drill = _drill_row(ctx)
    save_turn(ctx.session, drill, transcript, len(entries))
    finish_drill(ctx.session, drill, _final_scores(scenario, transcript), ctx.now)
    _fulfil_assignment(ctx, drill)
    closing = ctx.t(
        "practice.closing",
        feedback=feedback(ctx, entries[-1]),
        customer=ctx.local(scenario.customer),
        line=transcript[-1]["text"],
    )
    replies = [
        Outgoing(closing),
        scorecard(ctx, drill),
        Outgoing(_model_answers(ctx, scenario, transcript)),
    ]
    comment = ctx.data.get("ai_comment")
    if comment:
        replies.append(Outgoing(ctx.t("practice.ai_comment", text=comment)))
    return replies


PRACTICE_DIALOG = Dialog(
    id=PRACTICE,
    begin=_begin_practice,
    finish=_finish_practice,
    steps=(
        Step(
            id="scenario",
            prompt="practice.pick_scenario",
            kind=AnswerKind.CHOICE,
            options=_scenario_options,
            validate=_validate_scenario,
            store=_store_scenario,
            prompt_values=_list_values,
            when=lambda ctx: "scenario" not in ctx.data,
        ),
        Step(
            id="ready",
            prompt="practice.ready",
            kind=AnswerKind.CHOICE,
            options=_ready_options,
            columns=2,
            prompt_values=_ready_values,
            next=lambda _ctx, value: "rubric" if value == RUBRIC else "turn1",
        ),
        Step(
            id="rubric",
            prompt="practice.rubric",
            kind=AnswerKind.CHOICE,
            options=lambda _ctx: [Option(START, "practice.button_start")],
            prompt_values=_rubric_values,
        ),
        *(_turn_step(number) for number in range(1, MAX_TURNS + 1)),
    ),
)


# ----- /progress -----------------------------------------------------------------------------


def _history(ctx: Context, drills: Sequence[Drill]) -> list[tuple[str, list[int | None]]]:
    """Per criterion (playbook order), its effective score in each drill, oldest first."""
    scored = [effective_scores(drill) for drill in reversed(drills)]
    rows = []
    for criterion in ctx.playbooks.rubric_criteria:
        values = [scores.get(criterion) for scores in scored]
        if any(value is not None for value in values):
            rows.append((criterion, values))
    return rows


def _next_drill(
    ctx: Context, drills: Sequence[Drill], assigned: Sequence[Assignment]
) -> tuple[str, str]:
    """What to practise next and why: an assignment, the weakest criterion, or a first drill."""
    due = [item for item in assigned if item.scenario_id in ctx.playbooks.scenarios]
    if due:
        reason = ctx.t("practice.reason_assigned", due=ctx.format_when(due[0].due_at))
        return due[0].scenario_id, reason
    averages: dict[str, float] = {}
    for criterion_id, values in _history(ctx, drills[:RECENT]):
        scores = [value for value in values if value is not None]
        averages[criterion_id] = sum(scores) / len(scores)
    if averages and min(averages.values()) < OUTSTANDING:
        low = ctx.playbooks.rubric_criteria[min(averages, key=lambda c: averages[c])]
        reason = ctx.t("practice.reason_weakest", criterion=ctx.local(low.label))
        return _drill_for(ctx, low, drills[0].scenario_id), reason
    ordered = _ordered(ctx)
    if averages:  # 7 on every criterion lately: the next drill in the list
        last = drills[0].scenario_id
        index = ordered.index(last) if last in ordered else -1
        return ordered[(index + 1) % len(ordered)], ctx.t("practice.reason_challenge")
    return ordered[0], ctx.t("practice.reason_first")


def recommended(ctx: Context, user_id: int) -> tuple[str, str]:
    """The one drill recommended to `user_id` next, and why: the scorecard, its button and
    /progress all show this one."""
    drills = finished_drills(ctx.session, user_id)
    return _next_drill(ctx, drills, open_assignments(ctx.session, user_id))


def _chart(ctx: Context, drills: Sequence[Drill]) -> bytes:
    oldest_first = list(reversed(drills))
    ticks = [(drill.finished_at or drill.started_at).astimezone(ctx.zone) for drill in oldest_first]
    series = [
        Series(_criterion_label(ctx, criterion), values)
        for criterion, values in _history(ctx, drills)
    ]
    title = _plain(ctx.t("practice.chart_title"))
    return render_progress(title, ticks, series, language=ctx.user.language)


def show_progress(ctx: Context, _args: str) -> list[Outgoing]:
    """/progress: recent drills, scores per criterion over time (text and chart), what next."""
    drills = finished_drills(ctx.session, ctx.user.id or 0)
    next_id, reason = recommended(ctx, ctx.user.id or 0)
    text = ctx.t(
        "practice.progress",
        drills=[
            {
                "when": ctx.format_when(drill.finished_at or drill.started_at),
                "title": _title(ctx, drill.scenario_id),
                "total": effective_total(drill) or 0,
                "maximum": _maximum(ctx, drill.scenario_id),
                "changed": bool(drill.overrides),
            }
            for drill in drills[:LISTED_DRILLS]
        ],
        count=len(drills),
        history=[
            {
                "label": _criterion_label(ctx, criterion),
                "scores": [v for v in values if v is not None][-HISTORY_POINTS:],
            }
            for criterion, values in _history(ctx, drills)
        ],
        assigned=_assigned(ctx),
        suggestion=_title(ctx, next_id),
        reason=reason,
    )
    attachments = {CHART: _chart(ctx, drills)} if drills else {}
    replies = [Outgoing(text, attachments=attachments)]
    trio = trio_messages.progress_section(ctx)  # role-play in threes, as the rep
    return [*replies, trio] if trio is not None else replies


# ----- managers: the team and the member -----------------------------------------------------


def _team(ctx: Context) -> Team | None:
    """The team picked in this conversation, if the user still manages it."""
    team_id = key_number(ctx.data.get("team"), "t")
    if team_id is None:
        return None
    managed = {team.id for team in managed_teams(ctx.session, ctx.user.id or 0)}
    return get_team(ctx.session, team_id) if team_id in managed else None


def _member(ctx: Context, value: Any) -> User | None:
    """The person behind "u<id>", if they are a member of the picked team."""
    team = _team(ctx)
    user_id = key_number(value, "u")
    if team is None or user_id is None or not is_team_member(ctx.session, team.id or 0, user_id):
        return None
    return ctx.session.get(User, user_id)


def _people(ctx: Context, team: Team, *, reviewing: bool) -> list[User]:
    """The team's members; when reviewing, only those with a finished drill to read."""
    people = team_members(ctx.session, team.id or 0)
    if reviewing:
        people = [person for person in people if finished_drills(ctx.session, person.id or 0, 1)]
    return people


def _teams(ctx: Context, *, reviewing: bool) -> list[Team]:
    teams = managed_teams(ctx.session, ctx.user.id or 0)
    return [team for team in teams if _people(ctx, team, reviewing=reviewing)]


def _team_options(reviewing: bool) -> Callable[[Context], list[Option]]:
    def options(ctx: Context) -> list[Option]:
        teams = _teams(ctx, reviewing=reviewing)
        return [Option(f"t{team.id}", team.name, literal=True) for team in teams]

    return options


def _validate_team(ctx: Context, value: Any) -> str | None:
    team_id = key_number(value, "t")
    managed = {team.id for team in managed_teams(ctx.session, ctx.user.id or 0)}
    return None if team_id in managed else "errors.not_available"


def _member_options(reviewing: bool) -> Callable[[Context], list[Option]]:
    def options(ctx: Context) -> list[Option]:
        team = _team(ctx)
        people = _people(ctx, team, reviewing=reviewing) if team is not None else []
        return [Option(f"u{person.id}", person.display_name, literal=True) for person in people]

    return options


def _validate_member(ctx: Context, value: Any) -> str | None:
    return None if _member(ctx, value) is not None else "practice.not_member"


def _team_values(ctx: Context) -> dict[str, Any]:
    team = _team(ctx)
    return {"team": team.name if team is not None else ""}


def _member_values(ctx: Context) -> dict[str, Any]:
    member = _member(ctx, ctx.data.get("member"))
    return {"name": member.display_name if member is not None else ""}


def _team_step(prompt: str, *, reviewing: bool) -> Step:
    return Step(
        id="team",
        prompt=prompt,
        kind=AnswerKind.CHOICE,
        options=_team_options(reviewing),
        validate=_validate_team,
        when=lambda ctx: "team" not in ctx.data,
    )


def _member_step(prompt: str, *, reviewing: bool) -> Step:
    return Step(
        id="member",
        prompt=prompt,
        kind=AnswerKind.CHOICE,
        options=_member_options(reviewing),
        columns=2,
        validate=_validate_member,
        prompt_values=_team_values,
        when=lambda ctx: "member" not in ctx.data,
    )


def _begin_for_manager(ctx: Context, *, reviewing: bool) -> list[Team]:
    """The teams to choose from (picked already when there is one), or why there are none."""
    if not managed_teams(ctx.session, ctx.user.id or 0):
        raise StopDialog([Outgoing(ctx.t("practice.no_teams"))])
    teams = _teams(ctx, reviewing=reviewing)
    if not teams:
        reason = "practice.no_drills" if reviewing else "practice.no_members"
        raise StopDialog([Outgoing(ctx.t(reason))])
    if len(teams) == 1:
        ctx.data["team"] = f"t{teams[0].id}"
    return teams


# ----- /assign -------------------------------------------------------------------------------


def _begin_assign(ctx: Context, _args: str) -> list[Outgoing]:
    _begin_for_manager(ctx, reviewing=False)
    return []


def _assign_values(ctx: Context) -> dict[str, Any]:
    return {**_member_values(ctx), "title": _title(ctx, str(ctx.data.get("scenario", "")))}


def _validate_due(ctx: Context, value: Any) -> str | None:
    moment = datetime.fromisoformat(str(value))
    return None if moment > ctx.now else "practice.due_in_past"


def _finish_assign(ctx: Context) -> list[Outgoing]:
    member = _member(ctx, ctx.data.get("member"))
    scenario_id = str(ctx.data.get("scenario", ""))
    if member is None or member.id is None or scenario_id not in ctx.playbooks.scenarios:
        return [Outgoing(ctx.t("practice.not_member"))]
    due_at = datetime.fromisoformat(str(ctx.data["due"]))
    create_assignment(
        ctx.session,
        manager_id=ctx.user.id or 0,
        user_id=member.id,
        scenario_id=scenario_id,
        due_at=due_at,
        now=ctx.now,
    )
    text = ctx.t(
        "practice.assigned",
        title=_title(ctx, scenario_id),
        name=member.display_name,
        due=ctx.format_when(due_at),
    )
    return [Outgoing(text)]


ASSIGN_DIALOG = Dialog(
    id=ASSIGN,
    begin=_begin_assign,
    finish=_finish_assign,
    steps=(
        _team_step("practice.pick_team", reviewing=False),
        _member_step("practice.assign_pick_member", reviewing=False),
        Step(
            id="scenario",
            prompt="practice.assign_pick_scenario",
            kind=AnswerKind.CHOICE,
            options=_scenario_options,
            validate=_validate_scenario,
            prompt_values=_member_values,
        ),
        Step(
            id="due",
            prompt="practice.assign_ask_due",
            kind=AnswerKind.DATETIME,
            validate=_validate_due,
            prompt_values=_assign_values,
        ),
    ),
)


# ----- /review -------------------------------------------------------------------------------


def _reviewable(ctx: Context, value: Any) -> Drill | None:
    """The finished drill behind "k<id>", if its trainee is in a team the user manages."""
    drill_id = key_number(value, "k")
    drill = get_drill(ctx.session, drill_id) if drill_id is not None else None
    if drill is None or drill.status != "finished":
        return None
    if not manages_member(ctx.session, ctx.user.id or 0, drill.user_id):
        return None
    member = key_number(ctx.data.get("member"), "u")
    return drill if member is None or member == drill.user_id else None


def _begin_review(ctx: Context, args: str) -> list[Outgoing]:
    """`/review`, or straight to one drill ("k<id>") from a button."""
    teams = _begin_for_manager(ctx, reviewing=True)
    drill_id = key_number(args.strip(), "k")
    if drill_id is None:
        return []
    drill = _reviewable(ctx, f"k{drill_id}")
    team = next(
        (t for t in teams if drill and is_team_member(ctx.session, t.id or 0, drill.user_id)), None
    )
    if drill is None or team is None:
        raise StopDialog(_stale(ctx))
    ctx.data.update(team=f"t{team.id}", member=f"u{drill.user_id}", drill=f"k{drill.id}")
    return []


def _drill_options(ctx: Context) -> list[Option]:
    member = _member(ctx, ctx.data.get("member"))
    if member is None:
        return []
    drills = finished_drills(ctx.session, member.id or 0, LISTED_FOR_REVIEW)
    return [
        Option(
            f"k{drill.id}",
            _plain(ctx.t("practice.button_drill", number=n, title=_title(ctx, drill.scenario_id))),
            literal=True,
        )
        for n, drill in enumerate(drills, start=1)
    ]


def _drill_list_values(ctx: Context) -> dict[str, Any]:
    member = _member(ctx, ctx.data.get("member"))
    drills = finished_drills(ctx.session, member.id or 0, LISTED_FOR_REVIEW) if member else []
    return {
        "name": member.display_name if member is not None else "",
        "drills": [
            {
                "when": ctx.format_when(drill.finished_at or drill.started_at),
                "title": _title(ctx, drill.scenario_id),
                "total": effective_total(drill) or 0,
                "maximum": _maximum(ctx, drill.scenario_id),
                "changed": bool(drill.overrides),
            }
            for drill in drills
        ],
    }


def _validate_drill(ctx: Context, value: Any) -> str | None:
    return None if _reviewable(ctx, value) is not None else "errors.not_available"


def transcript_card(ctx: Context, drill: Drill, who: str) -> str:
    """The drill as it went: each customer line, each reply with its per-reply scores."""
    lines = []
    for entry in drill.transcript:
        customer = entry.get("speaker") == "customer"
        scores = entry.get("scores", {})
        named = " · ".join(f"{_criterion_label(ctx, c)} {s}" for c, s in scores.items())
        lines.append({"customer": customer, "text": entry.get("text", ""), "scores": named})
    scenario = ctx.playbooks.scenarios.get(drill.scenario_id)
    return ctx.t(
        "practice.transcript",
        who=who,
        title=_title(ctx, drill.scenario_id),
        when=ctx.format_when(drill.finished_at or drill.started_at),
        customer=ctx.local(scenario.customer) if scenario is not None else "",
        lines=lines,
    )


def _read_values(ctx: Context) -> dict[str, Any]:
    drill = _reviewable(ctx, ctx.data.get("drill"))
    if drill is None:
        return {"card": ""}
    who = _name(ctx.session, drill.user_id)
    card = transcript_card(ctx, drill, who) + "\n\n" + scorecard(ctx, drill, who=who).text
    return {"card": Markup(card)}


def _read_options(_ctx: Context) -> list[Option]:
    return [
        Option(OVERRIDE, "practice.button_override"),
        Option(OTHER, "practice.button_other"),
        Option(CLOSE, "practice.button_close"),
    ]


def _store_read(ctx: Context, value: Any) -> None:
    ctx.data["read"] = value
    if value == OTHER:
        ctx.data.pop("drill", None)  # so the list is asked again


def _criterion_options(ctx: Context) -> list[Option]:
    drill = _reviewable(ctx, ctx.data.get("drill"))
    scenario = ctx.playbooks.scenarios.get(drill.scenario_id) if drill else None
    criteria = scenario.criteria if scenario is not None else []
    return [Option(c, _criterion_label(ctx, c), literal=True) for c in criteria]


def _validate_criterion(ctx: Context, value: Any) -> str | None:
    allowed = {option.key for option in _criterion_options(ctx)}
    return None if value in allowed else "errors.not_available"


def _score_options(_ctx: Context) -> list[Option]:
    return [Option(f"s{score}", f"practice.score_{score}") for score in RUBRIC_SCORES]


def _score_values(ctx: Context) -> dict[str, Any]:
    drill = _reviewable(ctx, ctx.data.get("drill"))
    criterion = str(ctx.data.get("criterion", ""))
    current = effective_scores(drill).get(criterion) if drill is not None else None
    return {"criterion": _criterion_label(ctx, criterion), "current": current}


def _comment_values(ctx: Context) -> dict[str, Any]:
    drill = _reviewable(ctx, ctx.data.get("drill"))
    return {"name": _name(ctx.session, drill.user_id) if drill is not None else ""}


def _finish_review(ctx: Context) -> list[Outgoing]:
    if ctx.data.get("read") != OVERRIDE:
        return [Outgoing(ctx.t("practice.review_closed"))]
    drill = _reviewable(ctx, ctx.data.get("drill"))
    criterion = str(ctx.data.get("criterion", ""))
    score = key_number(ctx.data.get("score"), "s")
    if drill is None or drill.id is None or _validate_criterion(ctx, criterion) or score is None:
        return _stale(ctx)
    was = effective_scores(drill).get(criterion)
    override_score(
        ctx.session,
        drill,
        criterion=criterion,
        score=score,
        comment=str(ctx.data.get("comment", "")),
        by=ctx.user.id or 0,
        at=ctx.now,
    )
    # The trainee hears of it through a reminder row: it survives restarts and goes out once.
    schedule(
        ctx.session,
        user_id=drill.user_id,
        kind="drill",
        dedup_key=override_key(drill.id, criterion),
        due_at=ctx.now,
    )
    text = ctx.t(
        "practice.review_saved",
        criterion=_criterion_label(ctx, criterion),
        was=was,
        score=score,
        name=_name(ctx.session, drill.user_id),
        title=_title(ctx, drill.scenario_id),
        total=effective_total(drill) or 0,
        maximum=_maximum(ctx, drill.scenario_id),
    )
    return [Outgoing(text)]


REVIEW_DIALOG = Dialog(
    id=REVIEW,
    begin=_begin_review,
    finish=_finish_review,
    steps=(
        _team_step("practice.pick_team", reviewing=True),
        _member_step("practice.review_pick_member", reviewing=True),
        Step(
            id="drill",
            prompt="practice.review_pick_drill",
            kind=AnswerKind.CHOICE,
            options=_drill_options,
            validate=_validate_drill,
            prompt_values=_drill_list_values,
            when=lambda ctx: "drill" not in ctx.data,
        ),
        Step(
            id="read",
            prompt="practice.review_read",
            kind=AnswerKind.CHOICE,
            options=_read_options,
            columns=2,
            prompt_values=_read_values,
            store=_store_read,
            next=lambda _ctx, value: {OVERRIDE: "criterion", OTHER: "drill"}.get(str(value), END),
        ),
        Step(
            id="criterion",
            prompt="practice.review_pick_criterion",
            kind=AnswerKind.CHOICE,
            options=_criterion_options,
            validate=_validate_criterion,
        ),
        Step(
            id="score",
            prompt="practice.review_pick_score",
            kind=AnswerKind.CHOICE,
            options=_score_options,
            columns=3,
            prompt_values=_score_values,
        ),
        Step(
            id="comment",
            prompt="practice.review_ask_comment",
            max_length=MAX_COMMENT,
            prompt_values=_comment_values,
        ),
    ),
)


# ----- reminders and buttons -----------------------------------------------------------------


def drill_reminder(ctx: Context, reminder: Reminder) -> Outgoing | None:
    """The message of a "drill" reminder: an assignment, its due-date reminder, or an override.

    None when what it was about is gone, done, or not the recipient's.
    """
    if is_trio_message(reminder.dedup_key):  # role-play in threes reaching the others
        return trio_messages.compose(ctx, reminder)
    parsed = parse_drill_key(reminder.dedup_key)
    if parsed is None:
        return None
    kind, number, detail = parsed
    if kind == ASSIGNMENT:
        return _assignment_message(ctx, reminder, number, before_due=detail == "due")
    return _override_message(ctx, reminder, number, detail)


def _assignment_message(
    ctx: Context, reminder: Reminder, assignment_id: int, *, before_due: bool
) -> Outgoing | None:
    assignment = get_assignment(ctx.session, assignment_id)
    if (
        assignment is None
        or assignment.user_id != reminder.user_id
        or assignment.status != OPEN
        or assignment.scenario_id not in ctx.playbooks.scenarios
    ):
        return None
    text = ctx.t(
        "practice.reminder_due" if before_due else "practice.reminder_assigned",
        manager=_name(ctx.session, assignment.manager_id),
        title=_title(ctx, assignment.scenario_id),
        due=ctx.format_when(assignment.due_at),
    )
    button = Button(
        _plain(ctx.t("practice.button_start_now")),
        encode_action(PRACTICE_BUTTON, assignment_id, "start"),
    )
    return Outgoing(text, buttons=[[button]])


def _override_message(
    ctx: Context, reminder: Reminder, drill_id: int, criterion: str
) -> Outgoing | None:
    drill = get_drill(ctx.session, drill_id)
    override = drill.overrides.get(criterion) if drill is not None else None
    if drill is None or override is None or drill.user_id != reminder.user_id:
        return None
    text = ctx.t(
        "practice.reminder_override",
        manager=_name(ctx.session, int(override.get("by") or 0)),
        title=_title(ctx, drill.scenario_id),
        criterion=_criterion_label(ctx, criterion),
        was=override.get("was"),
        score=override.get("score"),
        comment=override.get("comment", ""),
    )
    button = Button(
        _plain(ctx.t("practice.button_open")), encode_action(PRACTICE_BUTTON, drill_id, "view")
    )
    return Outgoing(text, buttons=[[button]])


def _start_assignment(turn: Turn, assignment_id: int) -> list[Outgoing]:
    if _own_open_assignment(turn.ctx, assignment_id) is None:
        return [Outgoing(turn.ctx.t("practice.assignment_gone"))]
    return turn.start_dialog(PRACTICE, f"a{assignment_id}")


def _view_drill(turn: Turn, drill_id: int) -> list[Outgoing]:
    """The trainee reads their drill; a manager of theirs opens it in /review."""
    ctx = turn.ctx
    drill = get_drill(ctx.session, drill_id)
    if drill is None or drill.status != "finished":
        return _stale(ctx)
    if drill.user_id == ctx.user.id:
        who = ctx.user.display_name
        return [Outgoing(transcript_card(ctx, drill, who)), scorecard(ctx, drill)]
    if manages_member(ctx.session, ctx.user.id or 0, drill.user_id):
        return turn.start_dialog(REVIEW, f"k{drill_id}")
    return _stale(ctx)


def _practise_next(turn: Turn, drill_id: int) -> list[Outgoing]:
    ctx = turn.ctx
    drill = get_drill(ctx.session, drill_id)
    if drill is None or drill.user_id != ctx.user.id or drill.status != "finished":
        return _stale(ctx)
    return turn.start_dialog(PRACTICE, recommended(ctx, ctx.user.id or 0)[0])


_BUTTONS: dict[str, Callable[[Turn, int], list[Outgoing]]] = {
    "start": _start_assignment,
    "view": _view_drill,
    "next": _practise_next,
}


def on_practice_button(turn: Turn, action: ActionData) -> list[Outgoing]:
    """Start an assigned drill, open a finished one, or start the suggested next drill."""
    handler = _BUTTONS.get(action.verb)
    return handler(turn, action.target_id) if handler is not None else _stale(turn.ctx)


DIALOGS = (PRACTICE_DIALOG, ASSIGN_DIALOG, REVIEW_DIALOG)
COMMANDS = (
    Command("practice", "commands.practice", dialog=PRACTICE),
    Command("progress", "commands.progress", run=show_progress),
    Command("assign", "commands.assign", dialog=ASSIGN, roles=MANAGERS),
    Command("review", "commands.review", dialog=REVIEW, roles=MANAGERS),
)
ACTIONS = {PRACTICE_BUTTON: on_practice_button}
