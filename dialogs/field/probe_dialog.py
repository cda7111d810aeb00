"""`/probe`: plan SPIN questions for an account, then record the needs heard and their gaps."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from markupsafe import Markup

from dialogs.core.io import Outgoing
from dialogs.core.steps import END, AnswerKind, Command, Context, Dialog, Option, Step
from dialogs.field.accounts import (
    already_picked,
    ensure_account,
    new_account_steps,
    pick_account_step,
    preselect_account,
)
from playbooks.schema import Question, SpinStage
from storage.accounts import get_account
from storage.probes import HeardNeed, add_needs, latest_plan, needs_of, save_plan

PLAN, RECORD = "plan", "record"
STAGES: tuple[SpinStage, ...] = ("situation", "problem", "implication", "need_payoff")
# The SPIN stages that develop an implied need into an explicit one, in asking order.
DEVELOPING: tuple[SpinStage, ...] = ("implication", "need_payoff")
IMPLIED, EXPLICIT = "implied", "explicit"
MAX_OFFERED = 20  # bank questions offered per stage; more would not fit a chat screen
MAX_OWN = 10
MAX_OWN_LENGTH = 300
MAX_NEEDS = 20
MAX_NEED_LENGTH = 500
GAPS_SHOWN = 5
NEED_FIELDS = ("text", "kind", "implication_asked", "need_payoff_asked")
# "S: question" files an own question under a stage; a separator is required so
# a question that merely starts with one of these letters is not misfiled.
_STAGE_PREFIX = re.compile(r"^\s*([SPINspin])\s*[:\uff1a.\u3001)\uff09\]-]\s*(.+)$")
_STAGE_BY_LETTER: dict[str, SpinStage] = dict(zip("spin", STAGES, strict=True))
_OWN_SEPARATOR = re.compile(r"[\n;\uff1b]")
_WORD = re.compile(r"[a-z]{4,}")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
# Words too common in questions to say two texts are about the same thing.
_STOPWORDS = frozenset({"what", "when", "where", "which", "with", "would", "could", "does", "that",
                        "this", "your", "have", "they", "them", "their", "there", "from", "about",
                        "like", "much", "many", "more", "most", "into", "than", "then", "were",
                        "will", "every", "year", "time", "been"})  # fmt: skip


# ----- gaps: implied needs still to develop ----------------------------------------------


class NeedRecord(Protocol):
    """What gap finding reads from a recorded need (a stored row or a fresh answer)."""

    @property
    def text(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def implication_asked(self) -> bool: ...
    @property
    def need_payoff_asked(self) -> bool: ...


@dataclass(frozen=True)
class Gap:
    """An implied need and the developing questions it has not had yet."""

    text: str
    missing: tuple[SpinStage, ...]


def _same_need(text: str) -> str:
    return " ".join(text.casefold().split())


def find_gaps(needs: Iterable[NeedRecord]) -> list[Gap]:
    """Implied needs lacking an implication or need-payoff question, newest first.

    `needs` come oldest first; a need recorded again (same words) is judged by
    its latest record, so a need later developed or made explicit drops out.
    """
    latest: dict[str, NeedRecord] = {}
    for need in needs:
        key = _same_need(need.text)
        latest.pop(key, None)  # re-inserting keeps the dict in order of latest record
        latest[key] = need
    gaps = []
    for need in reversed(latest.values()):
        if need.kind != IMPLIED:
            continue
        asked = {"implication": need.implication_asked, "need_payoff": need.need_payoff_asked}
        missing = tuple(stage for stage in DEVELOPING if not asked[stage])
        if missing:
            gaps.append(Gap(need.text, missing))
    return gaps


def _terms(text: str) -> set[str]:
    """Content words (plural "s" dropped) and Chinese character pairs, for matching a need."""
    folded = text.casefold()
    english = {word.removesuffix("s") for word in _WORD.findall(folded) if word not in _STOPWORDS}
    chinese = {run[i : i + 2] for run in _CJK_RUN.findall(folded) for i in range(len(run) - 1)}
    return english | chinese


def suggest(questions: Sequence[Question], need: str, used: set[str]) -> Question | None:
    """The bank question sharing most words with the need; generic ones (no direction) next.

    A question already suggested for another gap is passed over while others remain,
    so a list of gaps does not repeat one suggestion.
    """
    if not questions:
        return None
    need_terms = _terms(need)

    def rank(question: Question) -> tuple[bool, int, bool]:
        shared = len(need_terms & (_terms(question.text.zh) | _terms(question.text.en)))
        return (question.id not in used, shared, question.direction is None)

    return max(questions, key=rank)


def gap_summary(ctx: Context, needs: Iterable[NeedRecord], industry: str | None) -> Markup:
    """The rendered list of gaps with a suggested question each, empty when there are none."""
    gaps = find_gaps(needs)
    if not gaps:
        return Markup("")
    stages = ctx.playbooks.spin_stages
    used: set[str] = set()
    items = []
    for gap in gaps[:GAPS_SHOWN]:
        question = suggest(ctx.playbooks.questions_for(gap.missing[0], industry), gap.text, used)
        if question is not None:
            used.add(question.id)
        missing = [stages[stage] for stage in gap.missing if stage in stages]
        items.append({"text": gap.text, "missing": missing, "suggestion": question})
    return ctx.t.safe("probe.gaps", gaps=items, more=len(gaps) - len(items))


# ----- the account ---------------------------------------------------------------------


def _begin(ctx: Context, args: str) -> list[Outgoing]:
    """`/probe <account name>` picks (or starts) the account straight away."""
    preselect_account(ctx, args, new_when_none=False)
    return []


def _account_name(ctx: Context) -> str:
    return str(ctx.data.get("account_name") or ctx.data.get("new_account_name") or "")


def _industry(ctx: Context) -> str | None:
    account_id = ctx.data.get("account_id")
    if account_id is None:
        return ctx.data.get("new_account_industry")
    account = get_account(ctx.session, ctx.user.id or 0, int(account_id))
    return account.industry if account else None


def _earlier_needs_summary(ctx: Context) -> Markup:
    account_id = ctx.data.get("account_id")
    if account_id is None:
        return Markup("")
    needs = needs_of(ctx.session, ctx.user.id or 0, int(account_id))
    return gap_summary(ctx, needs, _industry(ctx))


def _mode_values(ctx: Context) -> dict[str, Any]:
    return {"account": _account_name(ctx), "gaps": _earlier_needs_summary(ctx)}


def _mode_options(_ctx: Context) -> list[Option]:
    return [Option(PLAN, "probe.mode_plan"), Option(RECORD, "probe.mode_record")]


def _after_mode(_ctx: Context, value: Any) -> str:
    return "directions" if value == PLAN else "need_text"


# ----- the plan ------------------------------------------------------------------------


def _direction_options(ctx: Context) -> list[Option]:
    return [
        Option(direction.id, ctx.local(direction.label), literal=True)
        for direction in ctx.playbooks.directions.values()
    ]


def _direction_values(ctx: Context) -> dict[str, Any]:
    return {
        "directions": list(ctx.playbooks.directions.values()),
        "techniques": list(ctx.playbooks.probing_techniques.values()),
    }


def offered(ctx: Context, stage: SpinStage) -> list[Question]:
    """Bank questions of a stage for the account's industry (and chosen directions for S)."""
    questions = ctx.playbooks.questions_for(stage, _industry(ctx))
    chosen = ctx.data.get("directions")
    if stage == "situation" and chosen:
        questions = [question for question in questions if question.direction in chosen]
    return questions[:MAX_OFFERED]


def _question_step(stage: SpinStage) -> Step:
    def options(ctx: Context) -> list[Option]:
        questions = offered(ctx, stage)
        return [Option(q.id, str(number), literal=True) for number, q in enumerate(questions, 1)]

    def values(ctx: Context) -> dict[str, Any]:
        return {
            "stage": ctx.playbooks.spin_stages[stage],
            "questions": offered(ctx, stage),
            "directions": ctx.playbooks.directions,
            "forms": ctx.playbooks.question_forms,
        }

    return Step(
        id=f"q_{stage}",
        prompt="probe.ask_questions",
        kind=AnswerKind.MULTI_CHOICE,
        options=options,
        optional=True,
        columns=5,
        prompt_values=values,
        when=lambda ctx: bool(offered(ctx, stage)),
    )


@dataclass(frozen=True)
class OwnQuestion:
    """A question the rep wrote, filed under a stage when they gave one."""

    text: str
    stage: SpinStage | None


def parse_own(text: str) -> list[OwnQuestion]:
    """One question per line or per ";"; an "S:", "P:", "I:" or "N:" prefix files it.

    Semicolons let a terminal user, who cannot type a line break, add several.
    """
    questions = []
    for line in _OWN_SEPARATOR.split(text):
        if not line.strip():
            continue
        match = _STAGE_PREFIX.match(line)
        if match:
            stage = _STAGE_BY_LETTER[match.group(1).lower()]
            questions.append(OwnQuestion(match.group(2).strip(), stage))
        else:
            questions.append(OwnQuestion(line.strip(), None))
    return questions


def _validate_own(_ctx: Context, value: Any) -> str | None:
    questions = parse_own(str(value))
    if len(questions) > MAX_OWN:
        return "probe.too_many_own"
    if any(len(question.text) > MAX_OWN_LENGTH for question in questions):
        return "probe.own_too_long"
    return None


def _has_unfiled_own(ctx: Context) -> bool:
    return any(question.stage is None for question in parse_own(str(ctx.data.get("own") or "")))


def _stage_options(ctx: Context) -> list[Option]:
    stages = ctx.playbooks.spin_stages
    return [Option(stage, ctx.local(stages[stage].label), literal=True) for stage in STAGES]


def plan_questions(ctx: Context) -> list[dict[str, Any]]:
    """The chosen bank questions, then the rep's own, in S, P, I, N order."""
    bank = ctx.playbooks.questions
    chosen = [
        {
            "stage": stage,
            "direction": bank[key].direction,
            "text": ctx.local(bank[key].text),
            "source": key,
        }
        for stage in STAGES
        for key in ctx.data.get(f"q_{stage}") or []
        if key in bank
    ]
    unfiled_stage = ctx.data.get("own_stage") or "problem"
    own = [
        {"stage": q.stage or unfiled_stage, "direction": None, "text": q.text, "source": None}
        for q in parse_own(str(ctx.data.get("own") or ""))
    ]
    return sorted([*chosen, *own], key=lambda question: STAGES.index(question["stage"]))


def _plan_message(ctx: Context, questions: Sequence[dict[str, Any]]) -> str:
    pb = ctx.playbooks
    groups = [
        {
            "stage": pb.spin_stages[stage],
            "questions": [
                {"text": q["text"], "direction": pb.directions.get(q["direction"] or "")}
                for q in questions
                if q["stage"] == stage
            ],
        }
        for stage in STAGES
    ]
    return ctx.t(
        "probe.plan",
        account=_account_name(ctx),
        groups=[group for group in groups if group["questions"]],
        forms=list(pb.question_forms.values()),
    )


def _finish_plan(ctx: Context) -> list[Outgoing]:
    questions = plan_questions(ctx)
    if not questions:
        return [Outgoing(ctx.t("probe.plan_empty"))]
    account = ensure_account(ctx)
    save_plan(ctx.session, ctx.user.id or 0, account.id or 0, questions)
    ctx.data["account_name"] = account.name
    return [Outgoing(_plan_message(ctx, questions))]


# ----- recording needs -----------------------------------------------------------------


def _store_need_text(ctx: Context, value: Any) -> None:
    # A fresh draft: answers left over from a step gone back past must not leak in.
    ctx.data["need"] = {"text": value}


def _store_need_field(field: str) -> Callable[[Context, Any], None]:
    def store(ctx: Context, value: Any) -> None:
        ctx.data.setdefault("need", {})[field] = value

    return store


def _kind_options(_ctx: Context) -> list[Option]:
    return [Option(IMPLIED, "probe.kind_implied"), Option(EXPLICIT, "probe.kind_explicit")]


def _commit_need(ctx: Context, value: Any) -> None:
    """Add the finished draft; answering again after going back replaces, never duplicates."""
    draft = dict(ctx.data.get("need") or {})
    needs: list[dict[str, Any]] = ctx.data.setdefault("needs", [])
    if all(field in draft for field in NEED_FIELDS):
        if needs and _same_need(needs[-1]["text"]) == _same_need(draft["text"]):
            needs[-1] = draft
        else:
            needs.append(draft)
    ctx.data["more_needs"] = value


def _after_need(ctx: Context, value: Any) -> str:
    return "need_text" if value and len(ctx.data.get("needs", [])) < MAX_NEEDS else END


def _need_values(ctx: Context) -> dict[str, Any]:
    return {"count": len(ctx.data.get("needs", [])), "account": _account_name(ctx)}


def _finish_record(ctx: Context) -> list[Outgoing]:
    heard = [
        HeardNeed(
            text=need["text"],
            kind=need["kind"],
            implication_asked=need["implication_asked"],
            need_payoff_asked=need["need_payoff_asked"],
        )
        for need in ctx.data.get("needs", [])
    ]
    if not heard:
        return [Outgoing(ctx.t("probe.no_needs"))]
    account = ensure_account(ctx)
    owner_id, account_id = ctx.user.id or 0, account.id or 0
    plan = latest_plan(ctx.session, owner_id, account_id)
    add_needs(ctx.session, owner_id, account_id, heard, plan.id if plan else None)
    summary = gap_summary(ctx, needs_of(ctx.session, owner_id, account_id), account.industry)
    return [
        Outgoing(
            ctx.t(
                "probe.recorded",
                account=account.name,
                count=len(heard),
                explicit=sum(need.kind == EXPLICIT for need in heard),
                gaps=summary,
            )
        )
    ]


def _finish(ctx: Context) -> list[Outgoing]:
    return _finish_plan(ctx) if ctx.data.get("mode") == PLAN else _finish_record(ctx)


PROBE = Dialog(
    id="probe",
    begin=_begin,
    finish=_finish,
    steps=(
        replace(
            pick_account_step("probe.pick_account"),
            when=lambda ctx: not already_picked(ctx),
        ),
        *new_account_steps(),
        Step(
            id="mode",
            prompt="probe.ask_mode",
            kind=AnswerKind.CHOICE,
            options=_mode_options,
            prompt_values=_mode_values,
            next=_after_mode,
        ),
        Step(
            id="directions",
            prompt="probe.ask_directions",
            kind=AnswerKind.MULTI_CHOICE,
            options=_direction_options,
            optional=True,
            columns=2,
            prompt_values=_direction_values,
        ),
        *(_question_step(stage) for stage in STAGES),
        Step(
            id="own",
            prompt="probe.ask_own",
            optional=True,
            max_length=MAX_OWN * (MAX_OWN_LENGTH + 5),
            validate=_validate_own,
            # A plan ends here; the need-recording steps below belong to the other mode.
            next=lambda ctx, _value: "own_stage" if _has_unfiled_own(ctx) else END,
        ),
        Step(
            id="own_stage",
            prompt="probe.ask_own_stage",
            kind=AnswerKind.CHOICE,
            options=_stage_options,
            columns=2,
            when=_has_unfiled_own,
            next=END,
        ),
        Step(
            id="need_text",
            prompt="probe.ask_need",
            max_length=MAX_NEED_LENGTH,
            store=_store_need_text,
            prompt_values=_need_values,
        ),
        Step(
            id="need_kind",
            prompt="probe.ask_kind",
            kind=AnswerKind.CHOICE,
            options=_kind_options,
            store=_store_need_field("kind"),
        ),
        Step(
            id="implication_asked",
            prompt="probe.ask_implication",
            kind=AnswerKind.YES_NO,
            store=_store_need_field("implication_asked"),
        ),
        Step(
            id="need_payoff_asked",
            prompt="probe.ask_need_payoff",
            kind=AnswerKind.YES_NO,
            store=_store_need_field("need_payoff_asked"),
        ),
        Step(
            id="more_needs",
            prompt="probe.ask_more",
            kind=AnswerKind.YES_NO,
            store=_commit_need,
            next=_after_need,
        ),
    ),
)

DIALOGS = (PROBE,)
COMMANDS = (Command("probe", "commands.probe", dialog="probe"),)
