"""What a due reminder says, and its buttons: Done, Snooze 1 h, Tomorrow 09:00, Pick a time…"""

from __future__ import annotations

from datetime import timedelta

from markupsafe import Markup

from dialogs.core.callbacks import encode_action
from dialogs.core.io import Button, Outgoing
from dialogs.core.steps import Context
from dialogs.field.visit_brief import brief_of_visit
from dialogs.manager.team_dialog import comment_message
from dialogs.practice.practice_dialog import drill_reminder
from dialogs.users.teams import member_left_message
from storage.models import Account, FollowUp, Reminder, Visit

REMINDER = "r"  # action-button prefix for reminders
LATE_AFTER = timedelta(minutes=10)
MAX_LATER = 2  # "How did it go?" may be put off this many times


def follow_up_buttons(ctx: Context, reminder_id: int) -> list[list[Button]]:
    """The four buttons every follow-up reminder carries."""
    t = ctx.t
    return [
        [
            Button(t("reminders.button_done"), encode_action(REMINDER, reminder_id, "done")),
            Button(t("reminders.button_snooze"), encode_action(REMINDER, reminder_id, "snooze")),
        ],
        [
            Button(
                t("reminders.button_tomorrow"), encode_action(REMINDER, reminder_id, "tomorrow")
            ),
            Button(t("reminders.button_pick"), encode_action(REMINDER, reminder_id, "pick")),
        ],
    ]


def compose(ctx: Context, reminder: Reminder) -> Outgoing | None:
    """The message for a due reminder, or None when what it was about is gone or done."""
    assert reminder.id is not None
    # Late means delivered well after it should have gone out; a reminder held
    # back by quiet hours is on time for its new slot and says so instead.
    late = ctx.now - reminder.due_at > LATE_AFTER
    original = ctx.format_when(reminder.original_due_at)
    moved = reminder.due_at != reminder.original_due_at  # held back by quiet hours
    common = {"late": late, "original": original, "moved": moved or late}
    if reminder.kind == "follow_up":
        return _follow_up(ctx, reminder, common)
    if reminder.kind in ("visit_brief", "visit_debrief"):
        return _visit(ctx, reminder, common)
    if reminder.kind == "comment":  # a manager's coaching comment on a debrief
        return comment_message(ctx, reminder)
    if reminder.kind == "member_left":  # a rep left the manager's team for another one
        return member_left_message(ctx, reminder)
    if reminder.kind == "drill":  # a role-play assignment, its due-date reminder, an override
        return drill_reminder(ctx, reminder)
    return None


def _follow_up(ctx: Context, reminder: Reminder, common: dict[str, object]) -> Outgoing | None:
    follow_up = ctx.session.get(FollowUp, reminder.follow_up_id or 0)
    if follow_up is None or follow_up.status != "open":
        return None
    account = ctx.session.get(Account, follow_up.account_id or 0)
    text = ctx.t("reminders.follow_up", text=follow_up.text, account=account, **common)
    return Outgoing(text, buttons=follow_up_buttons(ctx, reminder.id or 0))


def _visit(ctx: Context, reminder: Reminder, common: dict[str, object]) -> Outgoing | None:
    visit = ctx.session.get(Visit, reminder.visit_id or 0)
    if visit is None or visit.status != "planned":
        return None
    account = ctx.session.get(Account, visit.account_id)
    values = {"account": account, "visit": visit, "when": ctx.format_when(visit.planned_at)}
    rid = reminder.id or 0
    if reminder.kind == "visit_brief":
        # The visit area renders the brief from our own templates: already safe HTML.
        body = Markup(brief_of_visit(ctx, visit))
        buttons = [
            Button(ctx.t("reminders.button_open_checklist"), encode_action(REMINDER, rid, "brief")),
            Button(ctx.t("reminders.button_postpone"), encode_action(REMINDER, rid, "postpone")),
        ]
        text = ctx.t("reminders.visit_brief", brief=body, **values, **common)
        return Outgoing(text, buttons=[buttons])
    buttons = [Button(ctx.t("reminders.button_debrief"), encode_action(REMINDER, rid, "debrief"))]
    if reminder.asked_count < MAX_LATER:
        buttons.append(
            Button(ctx.t("reminders.button_later"), encode_action(REMINDER, rid, "later"))
        )
    return Outgoing(ctx.t("reminders.visit_debrief", **values, **common), buttons=[buttons])
