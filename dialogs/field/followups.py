"""Follow-ups and reminders from the user's side: /remind, /followups, and reminder buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from dialogs.core.callbacks import ActionData, encode_action
from dialogs.core.dates import DEFAULT_HOUR, HORIZON_YEARS, Outcome, Reason, When, read_when
from dialogs.core.io import Button, Outgoing
from dialogs.core.steps import AnswerKind, Command, Context, Dialog, Step, StopDialog, Turn
from dialogs.field.reminder_messages import MAX_LATER, REMINDER, follow_up_buttons
from dialogs.field.visit_brief import brief_of_visit
from storage.models import FollowUp, Reminder, Visit
from storage.reminders import (
    FAILED,
    complete_follow_up,
    get_reminder,
    open_follow_ups,
    schedule_follow_up,
    schedule_visit_reminders,
    snooze,
)

MAX_FOLLOW_UP_TEXT = 500
MAX_LISTED = 20


def _future(ctx: Context, value: Any) -> str | None:
    moment = datetime.fromisoformat(str(value))
    return "reminders.in_the_past" if moment <= ctx.now else None


# ----- /remind ------------------------------------------------------------------------


def _strip_fillers(ctx: Context, text: str) -> str:
    """Drop "remind me (to)" / "提醒我" so the follow-up reads as the task itself.

    A filler is a whole word: "to" comes off "to send the quote", never off "touch base".
    """
    cleaned = text.strip(" ,，。.")
    fillers = sorted(ctx.t.words("words.remind_fillers"), key=len, reverse=True)
    while filler := next((f for f in fillers if _starts_with_word(cleaned, f)), None):
        cleaned = cleaned[len(filler) :].strip(" ,，。.")
    return cleaned


def _starts_with_word(text: str, word: str) -> bool:
    """`text` begins with `word`, and not with a longer Latin word ("touch" for "to")."""
    if not word or not text.casefold().startswith(word.casefold()):
        return False
    return not (_latin(word[-1]) and _latin(text[len(word) : len(word) + 1]))


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def create_follow_up(ctx: Context, text: str, due: datetime) -> list[Outgoing]:
    """Store a follow-up with its reminder and confirm it, with an Undo button."""
    follow_up = FollowUp(owner_id=ctx.user.id or 0, text=text[:MAX_FOLLOW_UP_TEXT], due_at=due)
    ctx.session.add(follow_up)
    ctx.session.flush()
    reminder = schedule_follow_up(ctx.session, follow_up)
    undo = Button(ctx.t("reminders.button_undo"), encode_action(REMINDER, reminder.id or 0, "undo"))
    confirmation = ctx.t("reminders.confirmed", text=follow_up.text, when=ctx.format_when(due))
    return [Outgoing(confirmation, buttons=[[undo]])]


def read_user_when(ctx: Context, text: str) -> When:
    """`text` read in the user's zone and habits, with the default hour and horizon.

    The default hour (09:00) and the horizon (two years) are the module constants of
    dialogs.core.dates for everyone; there is no per-user setting for them yet.
    """
    return read_when(
        text,
        ctx.zone,
        now=ctx.now,
        language=ctx.user.language,
        month_first=ctx.user.timezone.startswith("America/"),
        default_hour=DEFAULT_HOUR,
        horizon_years=HORIZON_YEARS,
    )


def when_problem(ctx: Context, found: When) -> str | None:
    """Why `found` gives no usable time, in the user's language and with an example.

    None when there is nothing to explain: the time is usable, or none was given at all.
    """
    values = {"phrase": found.phrase, "years": HORIZON_YEARS}
    if found.reason is Reason.PAST and found.moment is not None:
        return ctx.t("reminders.refused_past", when=ctx.format_when(found.moment), **values)
    keys = {
        Reason.VAGUE: "reminders.when_vague",
        Reason.HOUR: "reminders.when_which_hour",
        Reason.PAST: "reminders.refused_past",
        Reason.HORIZON: "reminders.refused_horizon",
        Reason.INVALID: "reminders.refused_invalid",
        Reason.AMBIGUOUS: "reminders.refused_ambiguous",
    }
    key = keys.get(found.reason) if found.reason is not None else None
    return ctx.t(key, when="", **values) if key else None


def _begin_remind(ctx: Context, args: str) -> list[Outgoing]:
    """/remind <when> <what>, in either order; whatever is missing or unusable is asked for."""
    if len(args) > MAX_FOLLOW_UP_TEXT:
        raise StopDialog([Outgoing(ctx.t("errors.too_long", limit=MAX_FOLLOW_UP_TEXT))])
    if not args.strip():
        return []
    found = read_user_when(ctx, args)
    task = _strip_fillers(ctx, found.rest)
    if task:
        ctx.data["what"] = task
    if found.outcome is Outcome.OK and found.moment is not None:
        if task:
            raise StopDialog(create_follow_up(ctx, task, found.moment))
        ctx.data["when"] = found.moment.isoformat()  # a time but no task: ask only what
        return []
    problem = when_problem(ctx, found)
    return [Outgoing(problem)] if problem else []


def _finish_remind(ctx: Context) -> list[Outgoing]:
    return create_follow_up(ctx, str(ctx.data["what"]), datetime.fromisoformat(ctx.data["when"]))


REMIND = Dialog(
    id="remind",
    begin=_begin_remind,
    finish=_finish_remind,
    steps=(
        Step(
            id="what",
            prompt="reminders.ask_what",
            max_length=MAX_FOLLOW_UP_TEXT,
            when=lambda ctx: not ctx.data.get("what"),
        ),
        Step(
            id="when",
            prompt="reminders.ask_when",
            kind=AnswerKind.DATETIME,
            validate=_future,
            when=lambda ctx: not ctx.data.get("when"),
        ),
    ),
)


# ----- /followups ---------------------------------------------------------------------


def list_follow_ups(ctx: Context, _args: str) -> list[Outgoing]:
    """Open follow-ups, overdue first, each with its buttons."""
    items = open_follow_ups(ctx.session, ctx.user.id or 0)
    if not items:
        return [Outgoing(ctx.t("reminders.no_follow_ups"))]
    replies = [Outgoing(ctx.t("reminders.follow_ups_header", count=len(items)))]
    for follow_up, reminder in items[:MAX_LISTED]:
        if reminder is None:
            reminder = schedule_follow_up(ctx.session, follow_up)
        text = ctx.t(
            "reminders.follow_up_line",
            text=follow_up.text,
            when=ctx.format_when(follow_up.due_at),
            overdue=follow_up.due_at < ctx.now,
            failed=reminder.status == FAILED,
        )
        replies.append(Outgoing(text, buttons=follow_up_buttons(ctx, reminder.id or 0)))
    return replies


# ----- reminder buttons ---------------------------------------------------------------


def on_reminder_button(turn: Turn, action: ActionData) -> list[Outgoing]:
    """Done / Snooze / Tomorrow / Pick / Later / Debrief / Postpone / Brief / Undo."""
    ctx = turn.ctx
    reminder = get_reminder(ctx.session, ctx.user.id or 0, action.target_id)
    handler = _VERBS.get(action.verb)
    if reminder is None or handler is None:
        notice = ctx.t("common.stale_button")
        return [Outgoing(notice, notice=notice)]
    return handler(turn, reminder)


def _follow_up_of(ctx: Context, reminder: Reminder) -> FollowUp | None:
    follow_up = ctx.session.get(FollowUp, reminder.follow_up_id or 0)
    return follow_up if follow_up is not None and follow_up.status == "open" else None


def _done(turn: Turn, reminder: Reminder) -> list[Outgoing]:
    ctx = turn.ctx
    follow_up = _follow_up_of(ctx, reminder)
    if follow_up is None:
        return _gone(ctx)
    complete_follow_up(ctx.session, follow_up, ctx.now)
    return [Outgoing(ctx.t("reminders.marked_done", text=follow_up.text), replace=True)]


def _snooze_to(turn: Turn, reminder: Reminder, until: datetime) -> list[Outgoing]:
    ctx = turn.ctx
    follow_up = _follow_up_of(ctx, reminder)
    if follow_up is None:
        return _gone(ctx)
    snooze(ctx.session, reminder, until)
    follow_up.due_at = until
    ctx.session.add(follow_up)
    text = ctx.t("reminders.snoozed", text=follow_up.text, when=ctx.format_when(until))
    return [Outgoing(text, replace=True)]


def tomorrow_morning(ctx: Context) -> datetime:
    """09:00 tomorrow in the user's zone."""
    local_day = ctx.now.astimezone(ctx.zone).date() + timedelta(days=1)
    return datetime.combine(local_day, time(9, 0), tzinfo=ctx.zone)


def _later(turn: Turn, reminder: Reminder) -> list[Outgoing]:
    ctx = turn.ctx
    if reminder.kind != "visit_debrief" or reminder.asked_count >= MAX_LATER:
        return _gone(ctx)
    snooze(ctx.session, reminder, ctx.now + timedelta(hours=2))
    reminder.asked_count += 1
    when = ctx.format_when(reminder.due_at)
    return [Outgoing(ctx.t("reminders.ask_again", when=when), replace=True)]


def _undo(turn: Turn, reminder: Reminder) -> list[Outgoing]:
    ctx = turn.ctx
    follow_up = _follow_up_of(ctx, reminder)
    if follow_up is None:
        return _gone(ctx)
    complete_follow_up(ctx.session, follow_up, ctx.now)
    follow_up.status = "cancelled"
    return [Outgoing(ctx.t("reminders.undone", text=follow_up.text), replace=True)]


def _start(dialog_id: str, args_of: Callable[[Reminder], str]) -> Callable[..., list[Outgoing]]:
    def start(turn: Turn, reminder: Reminder) -> list[Outgoing]:
        return turn.start_dialog(dialog_id, args_of(reminder))

    return start


def _show_brief(turn: Turn, reminder: Reminder) -> list[Outgoing]:
    ctx = turn.ctx
    visit = ctx.session.get(Visit, reminder.visit_id or 0)
    if visit is None:
        return _gone(ctx)
    return [Outgoing(brief_of_visit(ctx, visit))]


def _gone(ctx: Context) -> list[Outgoing]:
    notice = ctx.t("reminders.already_handled")
    return [Outgoing(notice, notice=notice)]


_VERBS: dict[str, Callable[[Turn, Reminder], list[Outgoing]]] = {
    "done": _done,
    "snooze": lambda turn, r: _snooze_to(turn, r, turn.ctx.now + timedelta(hours=1)),
    "tomorrow": lambda turn, r: _snooze_to(turn, r, tomorrow_morning(turn.ctx)),
    "pick": _start("snooze_pick", lambda r: str(r.id)),
    "later": _later,
    "undo": _undo,
    "debrief": _start("debrief", lambda r: f"visit_{r.visit_id}"),
    "postpone": _start("postpone_visit", lambda r: str(r.visit_id)),
    "brief": _show_brief,
}


# ----- picking a time: snooze to it, or postpone a visit ------------------------------


def _begin_snooze_pick(ctx: Context, args: str) -> list[Outgoing]:
    reminder = (
        get_reminder(ctx.session, ctx.user.id or 0, int(args))
        if args.isascii() and args.isdigit()
        else None
    )
    if reminder is None or _follow_up_of(ctx, reminder) is None:
        raise StopDialog(_gone(ctx))
    ctx.data["reminder_id"] = reminder.id
    return []


def _finish_snooze_pick(ctx: Context) -> list[Outgoing]:
    reminder = get_reminder(ctx.session, ctx.user.id or 0, int(ctx.data["reminder_id"]))
    follow_up = _follow_up_of(ctx, reminder) if reminder else None
    if reminder is None or follow_up is None:
        return _gone(ctx)
    until = datetime.fromisoformat(ctx.data["when"])
    snooze(ctx.session, reminder, until)
    follow_up.due_at = until
    ctx.session.add(follow_up)
    return [Outgoing(ctx.t("reminders.snoozed", text=follow_up.text, when=ctx.format_when(until)))]


SNOOZE_PICK = Dialog(
    id="snooze_pick",
    begin=_begin_snooze_pick,
    finish=_finish_snooze_pick,
    steps=(
        Step(
            id="when",
            prompt="reminders.ask_snooze_until",
            kind=AnswerKind.DATETIME,
            validate=_future,
        ),
    ),
)


def _own_planned_visit(ctx: Context, visit_id: int) -> Visit | None:
    visit = ctx.session.get(Visit, visit_id)
    if visit is None or visit.owner_id != ctx.user.id or visit.status != "planned":
        return None
    return visit


def _begin_postpone(ctx: Context, args: str) -> list[Outgoing]:
    visit = _own_planned_visit(ctx, int(args)) if args.isascii() and args.isdigit() else None
    if visit is None:
        raise StopDialog(_gone(ctx))
    ctx.data["visit_id"] = visit.id
    return []


def _finish_postpone(ctx: Context) -> list[Outgoing]:
    visit = _own_planned_visit(ctx, int(ctx.data["visit_id"]))
    if visit is None:
        return _gone(ctx)
    visit.planned_at = datetime.fromisoformat(ctx.data["when"])
    ctx.session.add(visit)
    schedule_visit_reminders(ctx.session, visit, ctx.user, now=ctx.now)
    return [Outgoing(ctx.t("reminders.visit_moved", when=ctx.format_when(visit.planned_at)))]


POSTPONE_VISIT = Dialog(
    id="postpone_visit",
    begin=_begin_postpone,
    finish=_finish_postpone,
    steps=(
        Step(
            id="when",
            prompt="reminders.ask_new_visit_time",
            kind=AnswerKind.DATETIME,
            validate=_future,
        ),
    ),
)


DIALOGS = (REMIND, SNOOZE_PICK, POSTPONE_VISIT)
COMMANDS = (
    Command("remind", "commands.remind", dialog="remind"),
    Command("followups", "commands.followups", run=list_follow_ups),
)
ACTIONS = {REMINDER: on_reminder_button}
