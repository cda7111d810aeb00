"""Managers: /team (members, removing one, reading debriefs, commenting), /digest, /digestsettings.

Every id that arrives in button data or typed text is checked against the
memberships in the database before anything is shown or changed: a forged
or stale button gets the stale-button message and reveals nothing.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from markupsafe import Markup

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
from dialogs.core.timezones import describe_zone
from dialogs.manager.digest import (
    MEMBER_BUTTON,
    build_digest,
    digest_messages,
    parse_week,
    week_label,
)
from dialogs.users.quiet_hours import held_until, parse_clock
from dialogs.users.teams import JOIN_BUTTON, on_join_button
from storage.comments import (
    account_name,
    add_comment,
    comment_id_of,
    comment_key,
    comments_on,
    get_comment,
    get_debrief,
    is_member,
    manages_team,
    recent_debriefs,
    remove_member,
    team_of_member,
)
from storage.digest_queries import Member, team_roster
from storage.models import Account, Debrief, Reminder, Team, User
from storage.reminders import schedule
from storage.teams import get_team, managed_teams

MANAGERS = frozenset({"manager"})
DEBRIEF_BUTTON = "d"  # action-button prefix: open a debrief
# Room for a long coaching note typed in the terminal (a Telegram message stops at
# 4,096); the Telegram front end splits what is sent on into valid parts.
MAX_COMMENT = 5000
MAX_FIELD = 800  # characters of each debrief answer shown in a card
MAX_BUTTON_ACCOUNT = 24
REMOVE, COMMENT, OTHER, CLOSE = "rm", "comment", "other", "done"
DEBRIEF_FIELDS = (
    "feelings",
    "objective",
    "plan",
    "happened",
    "why_customer",
    "went_best",
    "improve",
    "next_step",
)


# ----- ids from buttons and typed answers, always re-checked ---------------------------


def _stale(ctx: Context) -> list[Outgoing]:
    notice = ctx.t("common.stale_button")
    return [Outgoing(notice, notice=notice)]


def _team(ctx: Context) -> Team | None:
    """The team picked in this conversation, if the user still manages it."""
    team_id = key_number(ctx.data.get("team"), "t")
    if team_id is None or not manages_team(ctx.session, ctx.user.id or 0, team_id):
        return None
    return get_team(ctx.session, team_id)


def _member(ctx: Context, value: Any) -> User | None:
    """The person behind "u<id>", if they are a member of the picked team."""
    team = _team(ctx)
    user_id = key_number(value, "u")
    if team is None or user_id is None or not is_member(ctx.session, team.id or 0, user_id):
        return None
    return ctx.session.get(User, user_id)


def _debrief(ctx: Context, value: Any) -> Debrief | None:
    """The debrief behind "d<id>", if it belongs to the member being read."""
    member = _member(ctx, ctx.data.get("member"))
    debrief_id = key_number(value, "d")
    debrief = get_debrief(ctx.session, debrief_id) if debrief_id is not None else None
    if member is None or debrief is None or debrief.owner_id != member.id:
        return None
    return debrief


def _plain(text: str) -> str:
    """A rendered locale string as plain text for a button label."""
    return html.unescape(text)


# ----- /team ---------------------------------------------------------------------------


def _begin_team(ctx: Context, args: str) -> list[Outgoing]:
    teams = managed_teams(ctx.session, ctx.user.id or 0)
    if not teams:
        raise StopDialog([Outgoing(ctx.t("teams.no_teams"))])
    if args.strip():
        _open_from_button(ctx, args.strip())
    elif len(teams) == 1:
        ctx.data["team"] = f"t{teams[0].id}"
    return []


def _open_from_button(ctx: Context, target: str) -> None:
    """Start at a member ("u<id>") or a debrief ("d<id>") chosen from a digest or a message."""
    debrief_id = key_number(target, "d")
    debrief = get_debrief(ctx.session, debrief_id) if debrief_id is not None else None
    member_id = debrief.owner_id if debrief is not None else key_number(target, "u")
    team = (
        team_of_member(ctx.session, ctx.user.id or 0, member_id) if member_id is not None else None
    )
    if team is None:
        # Typed by hand (/team u123) or a member who left meanwhile: say what is wrong.
        raise StopDialog([Outgoing(ctx.t("team_view.no_such_member"))])
    ctx.data["team"] = f"t{team.id}"
    ctx.data["member"] = f"u{member_id}"
    if debrief is not None:
        ctx.data["debrief"] = f"d{debrief.id}"


def _team_options(ctx: Context) -> list[Option]:
    return [
        Option(f"t{team.id}", team.name, literal=True)
        for team in managed_teams(ctx.session, ctx.user.id or 0)
    ]


def _validate_team(ctx: Context, value: Any) -> str | None:
    team_id = key_number(value, "t")
    allowed = team_id is not None and manages_team(ctx.session, ctx.user.id or 0, team_id)
    return None if allowed else "errors.not_available"


def _members(ctx: Context) -> list[Member]:
    team = _team(ctx)
    if team is None:
        return []
    return [
        person for person in team_roster(ctx.session, team.id or 0) if person.team_role == "member"
    ]


def _member_options(ctx: Context) -> list[Option]:
    people = _members(ctx)
    options = [
        Option(
            f"u{person.user_id}", _plain(ctx.t("team_view.button_member", name=person.name)), True
        )
        for person in people
    ]
    if people:
        options.append(Option(REMOVE, "team_view.button_remove"))
    return options


def _roster_values(ctx: Context) -> dict[str, Any]:
    team = _team(ctx)
    people = team_roster(ctx.session, team.id or 0) if team is not None else []
    return {
        "team": team.name if team is not None else "",
        "count": sum(1 for person in people if person.team_role == "member"),
        "ride_along": ctx.playbooks.manager_coaching.ride_along,
        "people": [
            {
                "name": person.name,
                "team_role": person.team_role,
                "role": ctx.t(f"roles.{person.role}") if person.role else "—",
                "last": ctx.format_when(person.last_activity) if person.last_activity else None,
            }
            for person in people
        ],
    }


def _validate_member(ctx: Context, value: Any) -> str | None:
    if value == REMOVE or _member(ctx, value) is not None:
        return None
    return "team_view.not_member"


def _after_member(_ctx: Context, value: Any) -> str:
    return "remove" if value == REMOVE else "debrief"


def _removing(ctx: Context) -> bool:
    return ctx.data.get("member") == REMOVE


def _removable_options(ctx: Context) -> list[Option]:
    return [
        Option(
            f"u{person.user_id}", _plain(ctx.t("team_view.button_member", name=person.name)), True
        )
        for person in _members(ctx)
    ]


def _validate_removable(ctx: Context, value: Any) -> str | None:
    return None if _member(ctx, value) is not None else "team_view.not_member"


def _team_values(ctx: Context) -> dict[str, Any]:
    team = _team(ctx)
    return {"team": team.name if team is not None else ""}


def _remove_values(ctx: Context) -> dict[str, Any]:
    member = _member(ctx, ctx.data.get("remove"))
    return {**_team_values(ctx), "name": member.display_name if member else ""}


# ----- a member's debriefs -------------------------------------------------------------


def _outcome_label(ctx: Context, outcome: str | None) -> str:
    item = ctx.playbooks.call_outcomes.get(outcome or "")
    return ctx.local(item.label) if item is not None else (outcome or "")


def _judged_outcome(ctx: Context, debrief: Debrief) -> str:
    """The coach's judgement of the outcome, with the rep's claim when the two differ."""
    judged = debrief.judged_outcome or debrief.outcome
    label = _outcome_label(ctx, judged)
    if debrief.outcome and judged != debrief.outcome:
        return ctx.t(
            "team_view.rep_claimed", outcome=label, claim=_outcome_label(ctx, debrief.outcome)
        )
    return label


def _debrief_options(ctx: Context) -> list[Option]:
    member = _member(ctx, ctx.data.get("member"))
    if member is None:
        return []
    options = []
    for number, item in enumerate(recent_debriefs(ctx.session, member.id or 0), start=1):
        account = item.account or ctx.t("team_view.no_account")
        if len(account) > MAX_BUTTON_ACCOUNT:
            account = f"{account[: MAX_BUTTON_ACCOUNT - 1]}…"
        label = _plain(ctx.t("team_view.button_debrief", number=number, account=account))
        options.append(Option(f"d{item.debrief.id}", label, literal=True))
    return options


def _debrief_list_values(ctx: Context) -> dict[str, Any]:
    member = _member(ctx, ctx.data.get("member"))
    if member is None:
        return {"name": "", "items": []}
    items = [
        {
            "when": ctx.format_when(item.debrief.created_at),
            "account": item.account or ctx.t("team_view.no_account"),
            "outcome": _judged_outcome(ctx, item.debrief),
            "comments": item.comments,
        }
        for item in recent_debriefs(ctx.session, member.id or 0)
    ]
    return {"name": member.display_name, "items": items}


def _validate_debrief(ctx: Context, value: Any) -> str | None:
    return None if _debrief(ctx, value) is not None else "errors.not_available"


def _card_values(ctx: Context) -> dict[str, Any]:
    debrief = _debrief(ctx, ctx.data.get("debrief"))
    return {"card": Markup(debrief_card(ctx, debrief)) if debrief is not None else ""}


def _read_options(_ctx: Context) -> list[Option]:
    return [
        Option(COMMENT, "team_view.button_comment"),
        Option(OTHER, "team_view.button_other"),
        Option(CLOSE, "team_view.button_done"),
    ]


def _store_read(ctx: Context, value: Any) -> None:
    ctx.data["read"] = value
    if value == OTHER:
        ctx.data.pop("debrief", None)  # so the list is asked again


def _after_read(_ctx: Context, value: Any) -> str:
    return {COMMENT: "comment", OTHER: "debrief"}.get(str(value), END)


def _comment_values(ctx: Context) -> dict[str, Any]:
    member = _member(ctx, ctx.data.get("member"))
    return {"name": member.display_name if member else "", **_coaching_values(ctx)}


def _coaching_values(ctx: Context) -> dict[str, Any]:
    """How to coach this deal (seed 002): do and check when small, plan-do-check when large."""
    debrief = _debrief(ctx, ctx.data.get("debrief"))
    account_id = debrief.account_id if debrief is not None else None
    account = ctx.session.get(Account, account_id) if account_id is not None else None
    short_term = account.short_term if account is not None else None
    coaching = ctx.playbooks.manager_coaching
    return {"coaching": coaching, "mode": coaching.mode(short_term), "short_term": short_term}


def debrief_card(ctx: Context, debrief: Debrief) -> str:
    """A debrief as its owner wrote it, with the comments on it."""
    owner = ctx.session.get(User, debrief.owner_id)
    fields = [
        {"label": ctx.t(f"debrief_card.{name}"), "text": _cut(getattr(debrief, name))}
        for name in DEBRIEF_FIELDS
        if getattr(debrief, name)
    ]
    comments = [
        {
            "author": view.author,
            "when": ctx.format_when(view.comment.created_at),
            "text": view.comment.text,
        }
        for view in comments_on(ctx.session, debrief.id or 0)
    ]
    return ctx.t(
        "debrief_card.card",
        account=account_name(ctx.session, debrief.account_id) or ctx.t("team_view.no_account"),
        owner=owner.display_name if owner else "",
        when=ctx.format_when(debrief.created_at),
        outcome=_judged_outcome(ctx, debrief),
        fields=fields,
        comments=comments,
    )


def _cut(text: str) -> str:
    return text if len(text) <= MAX_FIELD else f"{text[: MAX_FIELD - 1]}…"


# ----- finishing /team -----------------------------------------------------------------


def _finish_team(ctx: Context) -> list[Outgoing]:
    if _removing(ctx):
        return _finish_remove(ctx)
    if ctx.data.get("read") == COMMENT and ctx.data.get("comment"):
        return _finish_comment(ctx)
    return [Outgoing(ctx.t("team_view.closed"))]


def _finish_remove(ctx: Context) -> list[Outgoing]:
    team = _team(ctx)
    member = _member(ctx, ctx.data.get("remove"))
    if team is None or member is None:
        return [Outgoing(ctx.t("team_view.not_member"))]
    names = {"name": member.display_name, "team": team.name}
    if not ctx.data.get("confirm_remove"):
        return [Outgoing(ctx.t("team_view.kept", **names))]
    remove_member(ctx.session, team.id or 0, member.id or 0)
    return [Outgoing(ctx.t("team_view.removed", **names))]


def _finish_comment(ctx: Context) -> list[Outgoing]:
    debrief = _debrief(ctx, ctx.data.get("debrief"))
    if debrief is None:
        return [Outgoing(ctx.t("team_view.not_member"))]
    text = str(ctx.data["comment"])
    comment = add_comment(ctx.session, ctx.user.id or 0, debrief.id or 0, text, ctx.now)
    # Delivered by the reminder dispatcher: a row, so it survives restarts and goes out once.
    schedule(
        ctx.session,
        user_id=debrief.owner_id,
        kind="comment",
        dedup_key=comment_key(comment.id or 0),
        due_at=ctx.now,
    )
    owner = ctx.session.get(User, debrief.owner_id)
    name = owner.display_name if owner else ""
    # The dispatcher holds it through the rep's quiet hours: say when it will arrive.
    arrives = held_until(owner, ctx.now) if owner is not None else None
    if arrives is not None:
        return [Outgoing(ctx.t("team_view.comment_held", name=name, time=_clock(ctx, arrives)))]
    return [Outgoing(ctx.t("team_view.comment_sent", name=name))]


def _clock(ctx: Context, moment: datetime) -> str:
    """The time of day of `moment` in its own zone, as the reader's language writes it."""
    locale = "zh_CN" if ctx.t.language == "zh" else "en_GB"
    return format_datetime(moment, ctx.t("formats.time"), tzinfo=moment.tzinfo, locale=locale)


TEAM = Dialog(
    id="team",
    begin=_begin_team,
    finish=_finish_team,
    steps=(
        Step(
            id="team",
            prompt="team_view.pick_team",
            kind=AnswerKind.CHOICE,
            options=_team_options,
            validate=_validate_team,
            when=lambda ctx: "team" not in ctx.data,
        ),
        Step(
            id="member",
            prompt="team_view.roster",
            kind=AnswerKind.CHOICE,
            options=_member_options,
            columns=2,
            validate=_validate_member,
            prompt_values=_roster_values,
            next=_after_member,
            when=lambda ctx: "member" not in ctx.data,
        ),
        Step(
            id="remove",
            prompt="team_view.pick_remove",
            kind=AnswerKind.CHOICE,
            options=_removable_options,
            columns=2,
            validate=_validate_removable,
            prompt_values=_team_values,
            when=_removing,
        ),
        Step(
            id="confirm_remove",
            prompt="team_view.confirm_remove",
            kind=AnswerKind.YES_NO,
            prompt_values=_remove_values,
            when=_removing,
            next=END,
        ),
        Step(
            id="debrief",
            prompt="team_view.debriefs",
            kind=AnswerKind.CHOICE,
            options=_debrief_options,
            columns=2,
            validate=_validate_debrief,
            prompt_values=_debrief_list_values,
            when=lambda ctx: "debrief" not in ctx.data,
        ),
        Step(
            id="read",
            prompt="team_view.read",
            kind=AnswerKind.CHOICE,
            options=_read_options,
            prompt_values=_card_values,
            store=_store_read,
            next=_after_read,
        ),
        Step(
            id="comment",
            prompt="team_view.ask_comment",
            max_length=MAX_COMMENT,
            prompt_values=_comment_values,
        ),
    ),
)


# ----- buttons outside the dialog: from the digest, and the rep's way back -------------


def on_member_button(turn: Turn, action: ActionData) -> list[Outgoing]:
    """A member's button in the digest: their recent debriefs, if they are in your team."""
    ctx = turn.ctx
    allowed = team_of_member(ctx.session, ctx.user.id or 0, action.target_id) is not None
    if action.verb != "debriefs" or not allowed:
        return _stale(ctx)
    return turn.start_dialog("team", f"u{action.target_id}")


def on_debrief_button(turn: Turn, action: ActionData) -> list[Outgoing]:
    """Open a debrief: its owner reads it with its comments; their manager can also reply."""
    ctx = turn.ctx
    debrief = get_debrief(ctx.session, action.target_id)
    if action.verb != "view" or debrief is None:
        return _stale(ctx)
    if debrief.owner_id == ctx.user.id:
        return [Outgoing(debrief_card(ctx, debrief))]
    if team_of_member(ctx.session, ctx.user.id or 0, debrief.owner_id) is not None:
        return turn.start_dialog("team", f"d{debrief.id}")
    return _stale(ctx)


def comment_message(ctx: Context, reminder: Reminder) -> Outgoing | None:
    """The message that brings a manager's comment to the rep; None if it is gone."""
    comment_id = comment_id_of(reminder.dedup_key)
    comment = get_comment(ctx.session, comment_id) if comment_id is not None else None
    debrief = get_debrief(ctx.session, comment.debrief_id or 0) if comment is not None else None
    if comment is None or debrief is None or debrief.owner_id != reminder.user_id:
        return None
    author = ctx.session.get(User, comment.author_id)
    text = ctx.t(
        "debrief_card.comment_arrived",
        author=author.display_name if author else "",
        account=account_name(ctx.session, debrief.account_id) or ctx.t("team_view.no_account"),
        when=ctx.format_when(debrief.created_at),
        text=comment.text,
    )
    button = Button(
        _plain(ctx.t("debrief_card.button_open")),
        encode_action(DEBRIEF_BUTTON, debrief.id or 0, "view"),
    )
    return Outgoing(text, buttons=[[button]])


# ----- /digest -------------------------------------------------------------------------


def show_digest(ctx: Context, args: str) -> list[Outgoing]:
    """/digest [2026-W47]: each of your teams' digest for this week (or the week given)."""
    teams = managed_teams(ctx.session, ctx.user.id or 0)
    if not teams:
        return [Outgoing(ctx.t("teams.no_teams"))]
    week = args.strip().upper() or week_label(ctx.now, ctx.zone)
    if parse_week(week) is None:
        return [Outgoing(ctx.t("digest.bad_week"))]
    replies: list[Outgoing] = []
    for team in teams:
        digest = build_digest(
            ctx.session, team.id or 0, week, zone=ctx.zone, now=ctx.now, playbooks=ctx.playbooks
        )
        if digest is not None:
            replies.extend(digest_messages(digest, ctx.t, ctx.playbooks))
    return replies


# ----- /digestsettings -----------------------------------------------------------------


def _settings_values(ctx: Context) -> dict[str, Any]:
    user = ctx.user
    return {
        "enabled": user.digest_enabled,
        "day": ctx.t(f"digest_settings.day_{user.digest_weekday}"),
        "time": user.digest_time,
        "zone": describe_zone(user.timezone),
    }


def _settings_options(ctx: Context) -> list[Option]:
    toggle = "off" if ctx.user.digest_enabled else "on"
    return [
        Option("day", "digest_settings.option_day"),
        Option("time", "digest_settings.option_time"),
        Option(toggle, f"digest_settings.option_{toggle}"),
    ]


def _day_options(_ctx: Context) -> list[Option]:
    return [Option(f"wd{day}", f"digest_settings.day_{day}") for day in range(1, 8)]


def _valid_time(_ctx: Context, value: Any) -> str | None:
    return None if parse_clock(str(value)) else "digest_settings.bad_time"


def _chosen(choice: str) -> Callable[[Context], bool]:
    return lambda ctx: ctx.data.get("what") == choice


def _finish_settings(ctx: Context) -> list[Outgoing]:
    user, data = ctx.user, ctx.data
    choice = data.get("what")
    if choice == "day":
        user.digest_weekday = int(str(data["day"])[2:])
    elif choice == "time":
        moment = parse_clock(str(data["time"]))
        assert moment is not None
        user.digest_time = moment.strftime("%H:%M")
    user.digest_enabled = choice != "off"
    ctx.session.add(user)
    # The bot re-reads these settings every minute and moves the digest's cron job.
    if not user.digest_enabled:
        return [Outgoing(ctx.t("digest_settings.saved_off"))]
    return [Outgoing(ctx.t("digest_settings.saved", **_settings_values(ctx)))]


DIGEST_SETTINGS = Dialog(
    id="digest_settings",
    finish=_finish_settings,
    steps=(
        Step(
            id="what",
            prompt="digest_settings.ask_what",
            kind=AnswerKind.CHOICE,
            options=_settings_options,
            prompt_values=_settings_values,
        ),
        Step(
            id="day",
            prompt="digest_settings.ask_day",
            kind=AnswerKind.CHOICE,
            options=_day_options,
            columns=2,
            when=_chosen("day"),
            next=END,
        ),
        Step(
            id="time",
            prompt="digest_settings.ask_time",
            max_length=5,
            validate=_valid_time,
            when=_chosen("time"),
        ),
    ),
)


DIALOGS = (TEAM, DIGEST_SETTINGS)
COMMANDS = (
    Command("team", "commands.team", dialog="team", roles=MANAGERS),
    Command("digest", "commands.digest", run=show_digest, roles=MANAGERS),
    Command("digestsettings", "commands.digestsettings", dialog="digest_settings", roles=MANAGERS),
)
ACTIONS = {
    MEMBER_BUTTON: on_member_button,
    DEBRIEF_BUTTON: on_debrief_button,
    # The rep's "Join West instead?" answer; registered here, the team area catalog.py collects.
    JOIN_BUTTON: on_join_button,
}
