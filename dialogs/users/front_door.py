"""Text typed outside any conversation: understood, then answered or turned into a command.

The intent model reads it. A customer's objection offers /objection with the
words filled in, a dated request offers /remind with it, a visit about to
happen or just over offers /visit or /debrief, a question about a method is
answered from the glossary, and anything else gets the user's help.
"""

from __future__ import annotations

from typing import Any

from dialogs.core.io import Outgoing
from dialogs.core.steps import AnswerKind, Context, Dialog, Option, Step, StopDialog
from dialogs.users.profile import help_text, visible_commands
from understanding.glossary import find_entry
from understanding.reading import NotUnderstood

FRONT_DOOR = "front_door"
# Intents that lead to a command, and whether the typed words go along as its input.
OFFERS: dict[str, tuple[str, bool]] = {
    "objection": ("objection", True),
    "remind": ("remind", True),
    "visit": ("visit", False),
    "debrief": ("debrief", False),
}
GO, NO = "go", "no"
QUOTE_LIMIT = 200


def _help(ctx: Context, note: str | None = None) -> StopDialog:
    replies = [Outgoing(ctx.t(note))] if note else []
    return StopDialog([*replies, Outgoing(help_text(ctx))])


def _answer_method(ctx: Context, text: str) -> StopDialog:
    entry = find_entry(ctx.playbooks.glossary.values(), text)
    if entry is None:
        return _help(ctx, "front_door.no_term")
    allowed = {command.name for command in visible_commands(ctx.services.commands, ctx.user.role)}
    command = entry.command if entry.command in allowed else None
    return StopDialog([Outgoing(ctx.t("front_door.term", entry=entry, command=command))])


def _begin(ctx: Context, text: str) -> list[Outgoing]:
    """Read the text; answer at once, or keep the offer open for a yes or no."""
    try:
        reading = ctx.services.understanding.intent(text)
    except NotUnderstood:
        raise _help(ctx) from None
    if reading.label == "method":
        raise _answer_method(ctx, text)
    offer = OFFERS.get(reading.label)
    allowed = {command.name for command in visible_commands(ctx.services.commands, ctx.user.role)}
    if offer is None or not reading.confident or offer[0] not in allowed:
        raise _help(ctx, "front_door.not_sure")
    ctx.data.update(intent=reading.label, command=offer[0], text=text, with_text=offer[1])
    return []


def _offer_values(ctx: Context) -> dict[str, Any]:
    text = str(ctx.data.get("text", ""))
    short = text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"
    return {"intent": ctx.data.get("intent"), "command": ctx.data.get("command"), "text": short}


def _options(ctx: Context) -> list[Option]:
    return [
        Option(GO, ctx.t("front_door.accept", command=ctx.data.get("command")), literal=True),
        Option(NO, "front_door.decline"),
    ]


def _finish(ctx: Context) -> list[Outgoing]:
    if ctx.data.get("choice") != GO:
        return [Outgoing(ctx.t("front_door.dropped"))]
    args = str(ctx.data["text"]) if ctx.data.get("with_text") else ""
    ctx.data["_then"] = {"dialog": ctx.data["command"], "args": args}
    return []


FRONT_DOOR_DIALOG = Dialog(
    id=FRONT_DOOR,
    begin=_begin,
    finish=_finish,
    steps=(
        Step(
            id="choice",
            prompt="front_door.offer",
            kind=AnswerKind.CHOICE,
            options=_options,
            prompt_values=_offer_values,
        ),
    ),
)

DIALOGS = (FRONT_DOOR_DIALOG,)
COMMANDS = ()
