"""`/objection`: name the customer's objection, coach its four steps, and log how the answer went.

Two dialogs: `objection` identifies the type and finishes with one short
coaching message (a sentence to say now, the four steps in a line each, and a
button for the full four-step coaching), then chains to `objection_log`, which
asks what the rep said and, when they say, whether it worked. Splitting them
keeps a re-asked log question from repeating the coaching.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from dialogs.core.answers import match_option
from dialogs.core.callbacks import ActionData, encode_action
from dialogs.core.io import Button, Outgoing
from dialogs.core.steps import (
    AnswerKind,
    Command,
    Context,
    Dialog,
    Option,
    Step,
    StopDialog,
    Turn,
)
from dialogs.field.accounts import (
    MAX_NAME,
    account_options,
    ensure_account,
    is_new_account,
    new_account_steps,
    store_picked_account,
    validate_picked_account,
)
from playbooks.schema import Objection
from storage.objection_labels import record_label
from storage.objections import OUTCOMES, WORKED, best_responses, log_objection
from understanding.reading import NotUnderstood, Reading, is_meaningless

IDENTIFY = "objection"
LOG = "objection_log"
NONE_OF_THESE = "none_of_these"
MAX_WORDS = 1000
MAX_RESPONSE = 1000
QUOTE_LIMIT = 300
TEAM_EXAMPLES = 3
SHORTLIST = 3
SHORT_QUOTE = 120  # a teammate's answer quoted in the short coaching
COACHING_BUTTON = "o"  # action-button prefix: the full coaching of an objection type
FULL = "full"


# ----- identifying the type -------------------------------------------------------------


def type_options(ctx: Context) -> list[Option]:
    """Every objection type of the library, by its short label."""
    return [
        Option(type_id, ctx.local(objection.label), literal=True)
        for type_id, objection in ctx.playbooks.objections.items()
    ]


def shortlist(reading: Reading) -> list[str]:
    """The three likeliest types, for the rep to pick from when the coach is unsure."""
    return [type_id for type_id, _ in reading.candidates[:SHORTLIST]]


def _forget_identification(ctx: Context) -> None:
    keys = ("type", "words", "confidence", "candidates", "chosen_by_rep", "predicted", "evidence")
    for key in keys:
        ctx.data.pop(key, None)


def _read_words(ctx: Context, words: str) -> None:
    """Read the customer's words: a confident type with its evidence, or a shortlist to pick."""
    ctx.data["words"] = words
    try:
        reading = ctx.services.understanding.objection(words)
    except NotUnderstood:
        return  # no word the model knows: the rep picks from every type
    ctx.data["confidence"] = round(reading.confidence, 3)
    ctx.data["predicted"] = reading.label
    ctx.data["evidence"] = reading.evidence
    ctx.data["secondary"] = reading.secondary
    if reading.confident:
        ctx.data["type"] = reading.label
    else:
        ctx.data["candidates"] = shortlist(reading)


def _validate_first(ctx: Context, value: Any) -> str | None:
    """Words with nothing to read ("hmm", "…", an emoji) get asked for again."""
    text = str(value)
    if text in ctx.playbooks.objections or not is_meaningless(text):
        return None
    return "objection.not_understood"


def _store_first_answer(ctx: Context, value: Any) -> None:
    _forget_identification(ctx)
    text = str(value)
    if text in ctx.playbooks.objections:
        ctx.data["type"] = text
    else:
        _read_words(ctx, text)


def _begin(ctx: Context, args: str) -> list[Outgoing]:
    """`/objection <words>` classifies the words at once (a type's name picks it)."""
    text = args.strip()
    if not text or is_meaningless(text):
        return []
    if len(text) > MAX_WORDS:
        raise StopDialog([Outgoing(ctx.t("errors.too_long", limit=MAX_WORDS))])
    ctx.data["from_args"] = True
    option = match_option(text, type_options(ctx), ctx.t)
    _store_first_answer(ctx, option.key if option else text)
    return []


def _candidate_options(ctx: Context) -> list[Option]:
    objections = ctx.playbooks.objections
    options = [
        Option(type_id, ctx.local(objections[type_id].label), literal=True)
        for type_id in ctx.data.get("candidates", [])
        if type_id in objections
    ]
    return [*options, Option(NONE_OF_THESE, "objection.none_of_these")]


def _candidate_values(ctx: Context) -> dict[str, Any]:
    objections = ctx.playbooks.objections
    chosen = [objections[t] for t in ctx.data.get("candidates", []) if t in objections]
    return {"candidates": chosen, "words": _shorten(str(ctx.data.get("words") or ""))}


def _store_candidate(ctx: Context, value: Any) -> None:
    ctx.data["chosen_by_rep"] = True
    if value == NONE_OF_THESE:
        ctx.data.pop("type", None)
    else:
        ctx.data["type"] = value


def _store_any_type(ctx: Context, value: Any) -> None:
    ctx.data["chosen_by_rep"] = True
    ctx.data["type"] = value


def _record_pick(ctx: Context) -> None:
    """A type the rep picked for typed words is a labelled line for the next training."""
    words = ctx.data.get("words")
    if not ctx.data.get("chosen_by_rep") or not words:
        return
    record_label(
        ctx.session,
        ctx.user.id or 0,
        str(words),
        str(ctx.data["type"]),
        predicted=ctx.data.get("predicted"),
        confidence=ctx.data.get("confidence"),
    )


def _type_is_open(ctx: Context) -> bool:
    return not ctx.data.get("type")


# ----- the coaching ---------------------------------------------------------------------


def _shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def coaching(ctx: Context, type_id: str) -> list[Outgoing]:
    """One short message: a sentence to say now and the four steps in a line each.

    The full four-step coaching is one button away (`on_coaching_button`).
    """
    objection: Objection = ctx.playbooks.objections[type_id]
    words = ctx.data.get("words")
    best = best_responses(ctx.session, ctx.user.id or 0, type_id, 1)
    text = ctx.t(
        "objection.coach_short",
        objection=objection,
        say_now=objection.probing[0],
        strategy=objection.strategies[0],
        team=(
            {"response": _shorten(best[0].response, SHORT_QUOTE), "author": best[0].author}
            if best
            else None
        ),
        words=_shorten(words) if words else None,
        guessed=bool(words) and not ctx.data.get("chosen_by_rep"),
        evidence=_evidence(ctx, str(words or "")),
        secondary=_secondary(ctx),
    )
    index = list(ctx.playbooks.objections).index(type_id)
    button = Button(ctx.t("objection.button_full"), encode_action(COACHING_BUTTON, index, FULL))
    return [Outgoing(text, buttons=[[button]])]


def full_coaching(ctx: Context, type_id: str) -> list[Outgoing]:
    """The four steps for this objection type in full, one message each."""
    objection: Objection = ctx.playbooks.objections[type_id]
    team = [
        {"response": _shorten(best.response), "author": best.author}
        for best in best_responses(ctx.session, ctx.user.id or 0, type_id, TEAM_EXAMPLES)
    ]
    return [
        Outgoing(ctx.t("objection.coach_type", objection=objection)),
        Outgoing(ctx.t("objection.coach_probe", objection=objection)),
        Outgoing(ctx.t("objection.coach_respond", objection=objection, team=team)),
        Outgoing(ctx.t("objection.coach_confirm", objection=objection)),
    ]


def on_coaching_button(turn: Turn, action: ActionData) -> list[Outgoing]:
    """The full four steps, from the button under the short coaching (any dialog stays open)."""
    ctx = turn.ctx
    types = list(ctx.playbooks.objections)
    if action.verb != FULL or not 0 <= action.target_id < len(types):
        notice = ctx.t("common.stale_button")
        return [Outgoing(notice, notice=notice)]
    return full_coaching(ctx, types[action.target_id])


def _evidence(ctx: Context, words: str) -> str | None:
    """The span that decided, when it is only part of what the customer said."""
    evidence = ctx.data.get("evidence")
    if not evidence or ctx.data.get("chosen_by_rep"):
        return None
    return None if " ".join(words.split()) == evidence else _shorten(str(evidence))


def _secondary(ctx: Context) -> Objection | None:
    secondary = ctx.data.get("secondary")
    if not secondary or secondary == ctx.data.get("type"):
        return None
    return ctx.playbooks.objections.get(str(secondary))


def _finish_identify(ctx: Context) -> list[Outgoing]:
    _record_pick(ctx)
    type_id = str(ctx.data["type"])
    logged = {
        "type": type_id,
        "words": ctx.data.get("words"),
        "confidence": ctx.data.get("confidence"),
    }
    ctx.data["_then"] = {"dialog": LOG, "args": json.dumps(logged, ensure_ascii=False)}
    return coaching(ctx, type_id)


# ----- logging the answer ---------------------------------------------------------------


def _begin_log(ctx: Context, args: str) -> list[Outgoing]:
    """Seeded by `objection` with the identified type; anything else does not start."""
    try:
        seed = json.loads(args)
    except ValueError:
        raise StopDialog([]) from None
    if not isinstance(seed, dict) or seed.get("type") not in ctx.playbooks.objections:
        raise StopDialog([])
    ctx.data.update(type=seed["type"], words=seed.get("words"), confidence=seed.get("confidence"))
    return []


def _objection_values(ctx: Context) -> dict[str, Any]:
    return {"objection": ctx.playbooks.objections[ctx.data["type"]]}


def _outcome_options(_ctx: Context) -> list[Option]:
    return [Option(outcome, f"objection.outcome_{outcome}") for outcome in OUTCOMES]


def _store_response(ctx: Context, value: Any) -> None:
    ctx.data["response"] = value
    if value is None:
        ctx.data.pop("outcome", None)  # answered before going back and skipping


def _store_account(ctx: Context, value: Any) -> None:
    """Skipping leaves the log without an account; otherwise the shared picker decides."""
    ctx.data["account_skipped"] = value is None
    if value is None:
        ctx.data["account_id"] = None
        ctx.data.pop("new_account_name", None)
        return
    store_picked_account(ctx, value)


def _linking_new_account(ctx: Context) -> bool:
    return not ctx.data.get("account_skipped") and is_new_account(ctx)


def _account_steps() -> tuple[Step, ...]:
    """The optional account link, creating the account inline when a new name is typed."""
    pick = Step(
        id="account",
        prompt="objection.ask_account",
        kind=AnswerKind.CHOICE,
        options=account_options,
        accepts_text=True,
        optional=True,
        max_length=MAX_NAME,
        validate=validate_picked_account,
        store=_store_account,
    )
    name, industry = new_account_steps()
    original_name_condition = name.when
    assert original_name_condition is not None
    return (
        pick,
        replace(
            name,
            when=lambda ctx: _linking_new_account(ctx) and original_name_condition(ctx),
        ),
        replace(industry, when=_linking_new_account),
    )


def _finish_log(ctx: Context) -> list[Outgoing]:
    account = None if ctx.data.get("account_skipped") else ensure_account(ctx)
    response = ctx.data.get("response")
    entry = log_objection(
        ctx.session,
        ctx.user.id or 0,
        str(ctx.data["type"]),
        customer_words=ctx.data.get("words"),
        confidence=ctx.data.get("confidence"),
        response=response,
        outcome=ctx.data.get("outcome") if response else None,
        account_id=account.id if account else None,
    )
    return [
        Outgoing(
            ctx.t(
                "objection.logged",
                objection=ctx.playbooks.objections[entry.objection_type],
                shared=bool(response) and entry.outcome == WORKED,
                account=account.name if account else None,
            )
        )
    ]


OBJECTION = Dialog(
    id=IDENTIFY,
    begin=_begin,
    finish=_finish_identify,
    steps=(
        Step(
            id="first",
            prompt="objection.ask",
            kind=AnswerKind.CHOICE,
            options=type_options,
            accepts_text=True,
            columns=2,
            max_length=MAX_WORDS,
            validate=_validate_first,
            store=_store_first_answer,
            when=lambda ctx: not ctx.data.get("from_args"),
        ),
        Step(
            id="candidate",
            prompt="objection.pick",
            kind=AnswerKind.CHOICE,
            options=_candidate_options,
            prompt_values=_candidate_values,
            store=_store_candidate,
            when=lambda ctx: bool(ctx.data.get("candidates")) and _type_is_open(ctx),
        ),
        Step(
            id="any_type",
            prompt="objection.pick_any",
            kind=AnswerKind.CHOICE,
            options=type_options,
            columns=2,
            when=_type_is_open,
            store=_store_any_type,
        ),
    ),
)

OBJECTION_LOG = Dialog(
    id=LOG,
    begin=_begin_log,
    finish=_finish_log,
    steps=(
        Step(
            id="response",
            prompt="objection.ask_response",
            optional=True,
            max_length=MAX_RESPONSE,
            store=_store_response,
            prompt_values=_objection_values,
        ),
        Step(
            id="outcome",
            prompt="objection.ask_outcome",
            kind=AnswerKind.CHOICE,
            options=_outcome_options,
            columns=3,
            # Without an answer there is nothing to have worked: no outcome is asked or stored.
            when=lambda ctx: bool(ctx.data.get("response")),
        ),
        *_account_steps(),
    ),
)

DIALOGS = (OBJECTION, OBJECTION_LOG)
COMMANDS = (Command("objection", "commands.objection", dialog=IDENTIFY),)
ACTIONS = {COACHING_BUTTON: on_coaching_button}
