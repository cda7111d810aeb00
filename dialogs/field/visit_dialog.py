"""`/visit` walks the pre-visit checklist and ends in a visit brief; `/brief` shows it again."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from dialogs.core.answers import has_letter
from dialogs.core.io import Outgoing
from dialogs.core.steps import (
    AnswerKind,
    Command,
    Context,
    Dialog,
    Option,
    Predicate,
    Step,
    StopDialog,
)
from dialogs.field.accounts import (
    already_picked,
    ensure_account,
    new_account_steps,
    pick_account_step,
    preselect_account,
    validate_picked_account,
)
from dialogs.field.visit_brief import brief_of_visit, opening_values, render_brief
from playbooks.schema import OpeningCell, Question, SpinStage
from storage.accounts import (
    contacts_of,
    get_account,
    get_contact,
    record_change,
    touch,
)
from storage.models import Account, Contact, Visit
from storage.reminders import schedule_visit_reminders
from storage.visits import add_visit, get_visit, upcoming_visits
from understanding.readers import Understanding

SPIN_STAGES: tuple[SpinStage, ...] = ("situation", "problem", "implication", "need_payoff")
# Enough to choose from while the list stays readable on a phone (4 stages × 3).
QUESTIONS_PER_STAGE = 3
MAX_OWN_QUESTIONS = 10
# One answer step per expected objection; the picker offers at most this many types.
OBJECTION_SLOTS = 10
MAX_CONTACTS = 12
MAX_CONTACT_NAME = 80
MAX_SHORT_TEXT = 300  # objective, customer action, answers, hook: kept brief-sized
MAX_OWN_QUESTIONS_TEXT = 1000
# A visit stays "upcoming" for /brief a while after its start: reps open the brief
# in the lobby, when the planned time has just passed.
BRIEF_GRACE = timedelta(hours=3)
SAME_AS_LAST = "same"  # keep the account's opening assessment from last time
_CONTACT_KEY = re.compile(r"^c(\d{1,12})$")
_VISIT_KEY = re.compile(r"^v?(\d{1,12})$")
_LIST_MARK = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)、])\s*")

PromptValues = Callable[[Context], dict[str, Any]]
Store = Callable[[Context, Any], None]


# ----- objective coaching ----------------------------------------------------------


def needs_customer_action(objective: str, understanding: Understanding) -> bool:
    """True when an objective names no customer action, so the rep is asked for one.

    The objective model (trained on authored objectives, zh and en) tells a
    customer commitment ("采购部提供设备清单") from the rep's own activity
    ("provide a quote", "确认他们有没有预算") or a non-commitment ("agree to think
    about it").
    """
    return not understanding.names_customer_action(objective)


# ----- account and date ------------------------------------------------------------


def _begin(ctx: Context, args: str) -> list[Outgoing]:
    preselect_account(ctx, args)
    return [Outgoing(ctx.t("visit.intro"))]


def _picked_account(ctx: Context) -> Account | None:
    account_id = ctx.data.get("account_id")
    if account_id is None:
        return None
    return get_account(ctx.session, ctx.user.id or 0, int(account_id))


def _validate_account(ctx: Context, value: Any) -> str | None:
    # An unknown account key gets a text that says what to do instead.
    error = validate_picked_account(ctx, value)
    return "visit.unknown_account" if error == "errors.not_available" else error


def _industry(ctx: Context) -> str | None:
    account = _picked_account(ctx)
    return account.industry if account else ctx.data.get("new_account_industry")


def _not_in_past(ctx: Context, value: Any) -> str | None:
    return "visit.past_time" if datetime.fromisoformat(str(value)) < ctx.now else None


# ----- who they will meet ----------------------------------------------------------


def _account_contacts(ctx: Context) -> list[Contact]:
    account = _picked_account(ctx)
    return contacts_of(ctx.session, account.id or 0)[:MAX_CONTACTS] if account else []


def _contact_options(ctx: Context) -> list[Option]:
    # Names only: a typed answer matches any part of a label, and role words
    # ("maker", "user") would catch new names typed by hand.
    contacts = _account_contacts(ctx)
    return [Option(f"c{contact.id}", contact.name[:48], literal=True) for contact in contacts]


def _contact_of_account(ctx: Context, contact_id: int) -> Contact | None:
    account = _picked_account(ctx)
    return get_contact(ctx.session, account.id or 0, contact_id) if account else None


def _contact_for_key(ctx: Context, text: str) -> Contact | None:
    match = _CONTACT_KEY.match(text)
    return _contact_of_account(ctx, int(match.group(1))) if match else None


def _validate_contact(ctx: Context, value: Any) -> str | None:
    """A `c<id>` key must name a contact of the picked account (forged ids are refused)."""
    text = str(value)
    if _CONTACT_KEY.match(text) and _contact_for_key(ctx, text) is None:
        return "visit.unknown_contact"
    if len(text) > MAX_CONTACT_NAME:
        return "visit.contact_name_too_long"
    return None


def _store_contact(ctx: Context, value: Any) -> None:
    contact = _contact_for_key(ctx, str(value))
    # A snapshot of name and role keeps the visit queryable even if the contact changes.
    ctx.data["contact_id"] = contact.id if contact else None
    ctx.data["contact_name"] = contact.name if contact else str(value)
    ctx.data["contact_role"] = contact.role if contact else None


def _contact_values(ctx: Context) -> dict[str, Any]:
    return {"has_contacts": bool(_account_contacts(ctx))}


def _roles(ctx: Context) -> list[Option]:
    roles = ctx.playbooks.decision_roles.values()
    return [Option(role.id, ctx.local(role.label), literal=True) for role in roles]


def role_values(ctx: Context) -> dict[str, Any]:
    """The decision roles with their typical titles, to place a person by their title."""
    return {"roles": list(ctx.playbooks.decision_roles.values())}


# ----- objective -------------------------------------------------------------------


def _example(ctx: Context) -> str:
    examples = ctx.playbooks.objective_coaching.good_examples.get(ctx.user.language)
    return examples[0] if examples else ""


def _objective_values(ctx: Context) -> dict[str, Any]:
    return {
        "role": ctx.playbooks.decision_roles.get(ctx.data.get("contact_role") or ""),
        "example": _example(ctx),
    }


def _validate_objective(_ctx: Context, value: Any) -> str | None:
    # "." or a zero-width character is no objective: it needs words.
    return None if has_letter(str(value)) else "visit.objective_needs_letter"


def _store_objective(ctx: Context, value: Any) -> None:
    ctx.data["objective"] = value
    # A rewritten objective is judged afresh; an earlier follow-up answer no longer applies.
    ctx.data.pop("customer_action", None)


def _objective_is_vague(ctx: Context) -> bool:
    return needs_customer_action(str(ctx.data.get("objective", "")), ctx.services.understanding)


def _customer_action_values(ctx: Context) -> dict[str, Any]:
    return {"coaching": ctx.playbooks.objective_coaching, "example": _example(ctx)}


# ----- opening position and strategy -----------------------------------------------


def _axis_options(axis: str) -> Callable[[Context], list[Option]]:
    def options(ctx: Context) -> list[Option]:
        values = getattr(ctx.playbooks.opening_grid, axis)
        return [Option(value.id, ctx.local(value.label), literal=True) for value in values]

    return options


def _territory_values(ctx: Context) -> dict[str, Any]:
    account = _picked_account(ctx)
    return {
        "territories": ctx.playbooks.opening_grid.territories,
        "previous": account.opening if account else None,
        "keep": _previous_opening(ctx) is not None,
    }


def _lead_values(ctx: Context) -> dict[str, Any]:
    return {"leads": ctx.playbooks.opening_grid.leads}


def _previous_opening(ctx: Context) -> OpeningCell | None:
    """The account's opening assessment (territory and lead) from an earlier visit or debrief."""
    account = _picked_account(ctx)
    if account is None or not account.territory or not account.lead:
        return None
    values = opening_values(ctx.playbooks, account.territory, account.lead)
    cell: OpeningCell | None = values["cell"]
    return cell


def _has_previous_opening(ctx: Context) -> bool:
    return _previous_opening(ctx) is not None


def _same_option(ctx: Context, shown: str) -> Option:
    return Option(SAME_AS_LAST, ctx.t("visit.same_as_last", value=shown), literal=True)


def _territory_again_options(ctx: Context) -> list[Option]:
    """The "Same as last time (B)" option first, then the territories to judge afresh."""
    cell = _previous_opening(ctx)
    same = [_same_option(ctx, cell.letter)] if cell else []
    return [*same, *_axis_options("territories")(ctx)]


def _store_territory_again(ctx: Context, value: Any) -> None:
    """Same as last time (or /skip) keeps territory and lead; a territory asks the lead next."""
    cell = _previous_opening(ctx)
    kept = value in (None, SAME_AS_LAST) and cell is not None
    ctx.data["opening_kept"] = kept
    if kept and cell is not None:
        ctx.data["territory"], ctx.data["lead"] = cell.territory, cell.lead
    else:
        ctx.data["territory"] = value


def _lead_again_options(ctx: Context) -> list[Option]:
    cell = _previous_opening(ctx)
    leads = ctx.playbooks.opening_grid.leads
    previous = next((lead for lead in leads if cell and lead.id == cell.lead), None)
    same = [_same_option(ctx, ctx.local(previous.label))] if previous else []
    return [*same, *_axis_options("leads")(ctx)]


def _store_lead_again(ctx: Context, value: Any) -> None:
    cell = _previous_opening(ctx)
    if value in (None, SAME_AS_LAST) and cell is not None:
        ctx.data["lead"] = cell.lead
    else:
        ctx.data["lead"] = value


def _opening(ctx: Context) -> dict[str, Any]:
    return opening_values(ctx.playbooks, ctx.data.get("territory"), ctx.data.get("lead"))


def _strategy_options(ctx: Context) -> list[Option]:
    suggested = _opening(ctx)["suggested"]
    options = []
    for strategy in ctx.playbooks.competitive_strategies.values():
        label = ctx.local(strategy.label)
        if strategy.retreat:  # a retreat strategy says so wherever it is offered
            label = ctx.t("visit.retreat_option", label=label)
        if suggested is not None and strategy.id == suggested.id:
            label = ctx.t("visit.suggested", label=label)
        options.append(Option(strategy.id, label, literal=True))
    return options


def _strategy_values(ctx: Context) -> dict[str, Any]:
    retreats = [s for s in ctx.playbooks.competitive_strategies.values() if s.retreat]
    return {**_opening(ctx), "retreats": [ctx.local(item.label) for item in retreats]}


# ----- prepared questions ----------------------------------------------------------


def question_bank(ctx: Context) -> list[tuple[str, Question]]:
    """The questions offered, labelled by SPIN stage ("S1", "P2"…), industry-specific first."""
    industry = _industry(ctx)
    bank: list[tuple[str, Question]] = []
    for stage in SPIN_STAGES:
        questions = ctx.playbooks.questions_for(stage, industry)
        if industry is not None:
            # A stable sort: questions written for this industry come before general ones.
            questions.sort(key=lambda question: industry not in question.industries)
        for number, question in enumerate(questions[:QUESTIONS_PER_STAGE], start=1):
            bank.append((f"{stage[0].upper()}{number}", question))
    return bank


def _question_options(ctx: Context) -> list[Option]:
    return [Option(question.id, code, literal=True) for code, question in question_bank(ctx)]


def _question_values(ctx: Context) -> dict[str, Any]:
    groups = []
    bank = question_bank(ctx)
    for stage in SPIN_STAGES:
        items = [
            {"code": code, "text": question.text}
            for code, question in bank
            if question.stage == stage
        ]
        if items:
            groups.append({"stage": ctx.playbooks.spin_stages.get(stage), "questions": items})
    return {"groups": groups}


def own_questions(text: str | None) -> list[str]:
    """Questions typed one per line, without list marks or blank lines."""
    lines = [_LIST_MARK.sub("", line).strip() for line in (text or "").splitlines()]
    return [line for line in lines if line][:MAX_OWN_QUESTIONS]


def _store_own_questions(ctx: Context, value: Any) -> None:
    ctx.data["own_questions"] = own_questions(value)


def _own_question_values(ctx: Context) -> dict[str, Any]:
    return {"picked": len(ctx.data.get("questions") or [])}


# ----- expected objections ---------------------------------------------------------


def _objection_options(ctx: Context) -> list[Option]:
    objections = list(ctx.playbooks.objections.values())[:OBJECTION_SLOTS]
    return [Option(item.id, ctx.local(item.label), literal=True) for item in objections]


def _chosen_objections(ctx: Context) -> list[str]:
    return list(ctx.data.get("objections") or [])


def _has_slot(slot: int) -> Predicate:
    def shown(ctx: Context) -> bool:
        return slot < len(_chosen_objections(ctx))

    return shown


def _store_answer(slot: int) -> Store:
    def store(ctx: Context, value: Any) -> None:
        kind = _chosen_objections(ctx)[slot]
        ctx.data.setdefault("objection_answers", {})[kind] = value

    return store


def _answer_values(slot: int) -> PromptValues:
    def values(ctx: Context) -> dict[str, Any]:
        chosen = _chosen_objections(ctx)
        objection = ctx.playbooks.objections[chosen[slot]]
        examples = objection.examples.get(ctx.user.language)
        return {
            "number": slot + 1,
            "total": len(chosen),
            "objection": objection,
            "example": examples[0] if examples else "",
            "strategies": objection.strategies[:2],
        }

    return values


def _objection_answer_steps() -> tuple[Step, ...]:
    """One answer step per chosen objection.

    Separate steps rather than one looping step, so /back walks through the answers
    one by one: the engine restores the previous step id, never the loop's index.
    """
    return tuple(
        Step(
            id=f"objection_{slot + 1}",
            prompt="visit.ask_objection_answer",
            max_length=MAX_SHORT_TEXT,
            when=_has_slot(slot),
            store=_store_answer(slot),
            prompt_values=_answer_values(slot),
        )
        for slot in range(OBJECTION_SLOTS)
    )


# ----- proof and hook --------------------------------------------------------------


def _proof_options(ctx: Context) -> list[Option]:
    proofs = ctx.playbooks.proof_types.values()
    return [Option(proof.id, ctx.local(proof.label), literal=True) for proof in proofs]


def _checklist_tip(item_id: str) -> PromptValues:
    """prompt_values giving the checklist item's "why" as a coaching tip, if the item exists."""

    def values(ctx: Context) -> dict[str, Any]:
        item = ctx.playbooks.pre_visit_checklist.get(item_id)
        return {"tip": item.why if item else None}

    return values


# ----- finish ----------------------------------------------------------------------


def _finish(ctx: Context) -> list[Outgoing]:
    account = ensure_account(ctx)
    _update_opening(ctx, account)
    visit = add_visit(ctx.session, _visit_from_answers(ctx, account))
    # The brief is shown right now: a visit closer than the lead time gets no second one.
    schedule_visit_reminders(ctx.session, visit, ctx.user, now=ctx.now, brief_shown=True)
    return [Outgoing(render_brief(ctx, visit, account, saved=True))]


def _update_opening(ctx: Context, account: Account) -> None:
    cell = _opening(ctx)["cell"]
    old = account.opening
    account.territory, account.lead, account.opening = cell.territory, cell.lead, cell.letter
    record_change(ctx.session, account, ctx.user.id or 0, "opening", old, cell.letter)
    touch(ctx.session, account)


def _visit_from_answers(ctx: Context, account: Account) -> Visit:
    data = ctx.data
    contact_id = data.get("contact_id")
    contact = _contact_of_account(ctx, int(contact_id)) if contact_id else None
    return Visit(
        owner_id=ctx.user.id or 0,
        account_id=account.id or 0,
        planned_at=datetime.fromisoformat(data["when"]).astimezone(UTC),
        status="planned",
        contact_id=contact.id if contact else None,
        contact_name=str(data.get("contact_name") or "")[:MAX_CONTACT_NAME] or None,
        contact_role=data.get("contact_role"),
        objective=data.get("objective"),
        customer_action=data.get("customer_action"),
        territory=data.get("territory"),
        lead=data.get("lead"),
        opening=_opening(ctx)["cell"].letter,
        strategy=data.get("strategy"),
        questions=_final_questions(ctx),
        objections=_prepared_objections(ctx),
        proof=list(data.get("proof") or []),
        next_hook=data.get("next_hook"),
    )


def _final_questions(ctx: Context) -> list[str]:
    bank = ctx.playbooks.questions
    picked = [ctx.local(bank[key].text) for key in ctx.data.get("questions") or [] if key in bank]
    return [*picked, *ctx.data.get("own_questions", [])]


def _prepared_objections(ctx: Context) -> list[dict[str, str]]:
    answers: dict[str, str] = ctx.data.get("objection_answers", {})
    return [
        {"type": kind, "answer": answers[kind]}
        for kind in _chosen_objections(ctx)
        if kind in answers
    ]


VISIT = Dialog(
    id="visit",
    begin=_begin,
    finish=_finish,
    steps=(
        replace(
            pick_account_step("visit.pick_account"),
            validate=_validate_account,
            when=lambda ctx: not already_picked(ctx),
        ),
        *new_account_steps(),
        Step(
            id="when",
            prompt="visit.ask_when",
            kind=AnswerKind.DATETIME,
            validate=_not_in_past,
        ),
        Step(
            id="contact",
            prompt="visit.ask_contact",
            kind=AnswerKind.CHOICE,
            options=_contact_options,
            accepts_text=True,
            max_length=MAX_CONTACT_NAME,
            validate=_validate_contact,
            store=_store_contact,
            prompt_values=_contact_values,
        ),
        Step(
            id="contact_role",
            prompt="visit.ask_contact_role",
            kind=AnswerKind.CHOICE,
            options=_roles,
            columns=2,
            prompt_values=role_values,
            when=lambda ctx: ctx.data.get("contact_id") is None,
        ),
        Step(
            id="objective",
            prompt="visit.ask_objective",
            max_length=MAX_SHORT_TEXT,
            validate=_validate_objective,
            store=_store_objective,
            prompt_values=_objective_values,
        ),
        Step(
            id="customer_action",
            prompt="visit.ask_customer_action",
            max_length=MAX_SHORT_TEXT,
            when=_objective_is_vague,
            prompt_values=_customer_action_values,
        ),
        Step(
            id="territory",
            prompt="visit.ask_territory",
            kind=AnswerKind.CHOICE,
            options=_axis_options("territories"),
            prompt_values=_territory_values,
            when=lambda ctx: not _has_previous_opening(ctx),
        ),
        # An account assessed before: "Same as last time" (or /skip) keeps it in one answer.
        Step(
            id="territory_again",
            prompt="visit.ask_territory",
            kind=AnswerKind.CHOICE,
            options=_territory_again_options,
            optional=True,
            store=_store_territory_again,
            prompt_values=_territory_values,
            when=_has_previous_opening,
        ),
        Step(
            id="lead",
            prompt="visit.ask_lead",
            kind=AnswerKind.CHOICE,
            options=_axis_options("leads"),
            prompt_values=_lead_values,
            when=lambda ctx: not _has_previous_opening(ctx),
        ),
        Step(
            id="lead_again",
            prompt="visit.ask_lead",
            kind=AnswerKind.CHOICE,
            options=_lead_again_options,
            optional=True,
            store=_store_lead_again,
            prompt_values=_lead_values,
            when=lambda ctx: _has_previous_opening(ctx) and not ctx.data.get("opening_kept"),
        ),
        Step(
            id="strategy",
            prompt="visit.ask_strategy",
            kind=AnswerKind.CHOICE,
            options=_strategy_options,
            columns=2,
            # Optional, like the checklist item: some cells have no classic first strategy.
            optional=True,
            prompt_values=_strategy_values,
        ),
        Step(
            id="questions",
            prompt="visit.ask_questions",
            kind=AnswerKind.MULTI_CHOICE,
            options=_question_options,
            optional=True,
            columns=QUESTIONS_PER_STAGE,
            prompt_values=_question_values,
        ),
        Step(
            id="own_questions",
            prompt="visit.ask_own_questions",
            optional=True,
            max_length=MAX_OWN_QUESTIONS_TEXT,
            store=_store_own_questions,
            prompt_values=_own_question_values,
        ),
        Step(
            id="objections",
            prompt="visit.ask_objections",
            kind=AnswerKind.MULTI_CHOICE,
            options=_objection_options,
            optional=True,
            columns=2,
            prompt_values=_checklist_tip("expected-objections"),
        ),
        *_objection_answer_steps(),
        Step(
            id="proof",
            prompt="visit.ask_proof",
            kind=AnswerKind.MULTI_CHOICE,
            options=_proof_options,
            optional=True,
            columns=2,
            prompt_values=_checklist_tip("proof"),
        ),
        Step(
            id="next_hook",
            prompt="visit.ask_hook",
            optional=True,
            max_length=MAX_SHORT_TEXT,
            prompt_values=_checklist_tip("next-visit-hook"),
        ),
    ),
)


# ----- /brief ----------------------------------------------------------------------


def _upcoming(ctx: Context) -> list[Visit]:
    return upcoming_visits(ctx.session, ctx.user.id or 0, ctx.now - BRIEF_GRACE)


def _brief_of(ctx: Context, visit: Visit) -> Outgoing:
    return Outgoing(brief_of_visit(ctx, visit))


def _own_visit(ctx: Context, text: str) -> Visit | None:
    match = _VISIT_KEY.match(text.strip().lstrip("#"))
    return get_visit(ctx.session, ctx.user.id or 0, int(match.group(1))) if match else None


def _begin_brief(ctx: Context, args: str) -> list[Outgoing]:
    if args.strip():
        visit = _own_visit(ctx, args)
        raise StopDialog([_brief_of(ctx, visit) if visit else Outgoing(ctx.t("visit.not_found"))])
    visits = _upcoming(ctx)
    if not visits:
        raise StopDialog([Outgoing(ctx.t("visit.none_upcoming"))])
    if len(visits) == 1:
        raise StopDialog([_brief_of(ctx, visits[0])])
    return []


def _visit_options(ctx: Context) -> list[Option]:
    options = []
    for visit in _upcoming(ctx):
        account = get_account(ctx.session, ctx.user.id or 0, visit.account_id)
        name = account.name[:24] if account else "?"
        label = f"{name} · {ctx.format_when(visit.planned_at)}"
        options.append(Option(f"v{visit.id}", label, literal=True))
    return options


def _validate_visit(ctx: Context, value: Any) -> str | None:
    return None if _own_visit(ctx, str(value)) else "visit.not_found"


def _show_brief(ctx: Context) -> list[Outgoing]:
    visit = _own_visit(ctx, str(ctx.data["visit"]))
    assert visit is not None  # checked by the step's validation
    return [_brief_of(ctx, visit)]


BRIEF = Dialog(
    id="brief",
    begin=_begin_brief,
    finish=_show_brief,
    steps=(
        Step(
            id="visit",
            prompt="visit.pick_visit",
            kind=AnswerKind.CHOICE,
            options=_visit_options,
            validate=_validate_visit,
        ),
    ),
)

DIALOGS = (VISIT, BRIEF)
COMMANDS = (
    Command("visit", "commands.visit", dialog="visit"),
    Command("brief", "commands.brief", dialog="brief"),
)
