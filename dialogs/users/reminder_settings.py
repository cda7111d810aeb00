"""`/settings`: when visit briefs and debrief prompts arrive, and the quiet hours."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from dialogs.core.io import Outgoing
from dialogs.core.steps import END, AnswerKind, Command, Context, Dialog, Option, Step
from dialogs.users.quiet_hours import parse_clock
from storage.models import Visit
from storage.reminders import schedule_visit_reminders

CHOICES = ("brief", "debrief", "quiet")


def _clock(_ctx: Context, value: Any) -> str | None:
    return None if parse_clock(str(value)) else "settings.bad_clock"


def _store_clock(ctx: Context, value: Any, field: str) -> None:
    moment = parse_clock(str(value))
    assert moment is not None
    ctx.data[field] = moment.strftime("%H:%M")


def _whole_minutes(_ctx: Context, value: Any) -> str | None:
    # "1.5" would otherwise be cut to 1 minute without a word.
    return None if isinstance(value, int) else "settings.whole_minutes"


def _chosen(choice: str) -> Any:
    return lambda ctx: ctx.data.get("what") == choice


def _finish(ctx: Context) -> list[Outgoing]:
    user, data = ctx.user, ctx.data
    if data.get("what") == "brief":
        user.brief_lead_minutes = int(data["brief"])
    elif data.get("what") == "debrief":
        user.debrief_after_minutes = int(data["debrief"])
    else:
        user.quiet_start, user.quiet_end = str(data["quiet_start"]), str(data["quiet_end"])
    ctx.session.add(user)
    _reschedule_planned_visits(ctx)
    return [Outgoing(ctx.t("settings.saved"))]


def _reschedule_planned_visits(ctx: Context) -> None:
    # New lead times apply to visits already planned, not only to future ones.
    visits = ctx.session.exec(
        select(Visit).where(Visit.owner_id == ctx.user.id, Visit.status == "planned")
    )
    for visit in visits:
        if visit.planned_at > ctx.now:
            schedule_visit_reminders(ctx.session, visit, ctx.user, now=ctx.now, rearm_sent=False)


SETTINGS = Dialog(
    id="settings",
    finish=_finish,
    steps=(
        Step(
            id="what",
            prompt="settings.ask_what",
            kind=AnswerKind.CHOICE,
            options=tuple(Option(choice, f"settings.option_{choice}") for choice in CHOICES),
        ),
        Step(
            id="brief",
            prompt="settings.ask_brief",
            kind=AnswerKind.NUMBER,
            minimum=0,
            maximum=1440,
            validate=_whole_minutes,
            when=_chosen("brief"),
            next=END,
        ),
        Step(
            id="debrief",
            prompt="settings.ask_debrief",
            kind=AnswerKind.NUMBER,
            minimum=0,
            maximum=1440,
            validate=_whole_minutes,
            when=_chosen("debrief"),
            next=END,
        ),
        Step(
            id="quiet_start",
            prompt="settings.ask_quiet_start",
            max_length=10,
            when=_chosen("quiet"),
            validate=_clock,
            store=lambda ctx, value: _store_clock(ctx, value, "quiet_start"),
        ),
        Step(
            id="quiet_end",
            prompt="settings.ask_quiet_end",
            max_length=10,
            validate=_clock,
            store=lambda ctx, value: _store_clock(ctx, value, "quiet_end"),
        ),
    ),
)

DIALOGS = (SETTINGS,)
COMMANDS = (Command("settings", "commands.settings", dialog="settings"),)
