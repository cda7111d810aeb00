"""Teams from the user's side: creating one, inviting, revoking, joining, switching.

A rep or trainee is in one team at a time: joining another asks first, and the
old team's managers are told (a "member_left" reminder row, sent by the dispatcher).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from datetime import timedelta
from typing import Any

from dialogs.core.callbacks import ActionData, encode_action
from dialogs.core.io import Button, Outgoing
from dialogs.core.steps import AnswerKind, Context, Dialog, Option, Step, StopDialog, Turn
from storage.comments import is_member, manages_team, team_managers
from storage.models import InviteCode, Reminder, Team, User
from storage.reminders import schedule
from storage.teams import (
    active_invites,
    create_invite,
    create_team,
    find_active_invite,
    get_team,
    invite_failures_since,
    join_team,
    left_key,
    left_of,
    managed_teams,
    member_teams,
    record_invite_failure,
    revoke_invites,
    user_teams,
)

MAX_TEAM_NAME = 64
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=10)
_CODE = re.compile(r"(?:join_)?([A-Za-z0-9_-]{16,64})\s*$")


def extract_code(text: str) -> str | None:
    """The invite code inside a pasted link, `/start join_…` or the bare code."""
    match = _CODE.search(text.strip())
    return match.group(1) if match else None


def invite_attempts_blocked(ctx: Context) -> bool:
    """After 5 wrong codes in 10 minutes, further attempts wait: codes can't be guessed."""
    since = ctx.now - FAILURE_WINDOW
    return invite_failures_since(ctx.session, ctx.user.id or 0, since) >= MAX_FAILURES


def _active_invite(ctx: Context, text: str) -> InviteCode | None:
    """The working invite behind a code or link; a wrong one is recorded as a failure."""
    if invite_attempts_blocked(ctx):
        return None
    code = extract_code(text)
    invite = find_active_invite(ctx.session, code) if code else None
    team = get_team(ctx.session, invite.team_id) if invite else None
    if invite is None or team is None or team.id is None:
        record_invite_failure(ctx.session, ctx.user.id or 0)
        return None
    return invite


def resolve_invite(ctx: Context, text: str) -> tuple[int, str] | None:
    """(team id, team name) for a working invite code or link, else None.

    A wrong code is recorded; while attempts are blocked nothing is looked up.
    """
    invite = _active_invite(ctx, text)
    team = get_team(ctx.session, invite.team_id) if invite else None
    if team is None or team.id is None:
        return None
    return team.id, team.name


def invite_error(ctx: Context) -> str:
    """The locale key explaining why an invite did not work."""
    return "teams.too_many_attempts" if invite_attempts_blocked(ctx) else "errors.bad_invite"


# ----- joining, and switching from one team to another ---------------------------------

JOIN_BUTTON = "j"  # action-button prefix: the answer to "Join West instead?"
STAY = "stay"  # that button's verb for "No, stay"; "Yes" carries the invite's token


def _names(teams: list[Team]) -> str:
    return ", ".join(team.name for team in teams)


def _switch_token(invite: InviteCode) -> str:
    """What the "Yes" button carries to prove the user had the invite's code.

    80 bits of a hash of the code: a forged button (any invite id) cannot guess it,
    and it keeps working only while the invite does.
    """
    return hashlib.sha256(invite.code.encode()).hexdigest()[:20]


def _invite_for(ctx: Context, code: str | None, team_id: int) -> InviteCode | None:
    """The working invite of `team_id` the user came with (or the team's newest one)."""
    found = extract_code(code) if code else None
    invite = find_active_invite(ctx.session, found) if found else None
    if invite is not None and invite.team_id == team_id:
        return invite
    invites = active_invites(ctx.session, team_id)
    return invites[0] if invites else None


def _ask_to_switch(ctx: Context, invite: InviteCode, team: Team, old: list[Team]) -> Outgoing:
    names = {"team": team.name, "old": _names(old)}
    invite_id = invite.id or 0
    buttons = [
        Button(
            html.unescape(ctx.t("teams.button_switch", **names)),
            encode_action(JOIN_BUTTON, invite_id, _switch_token(invite)),
        ),
        Button(
            html.unescape(ctx.t("teams.button_stay", **names)),
            encode_action(JOIN_BUTTON, invite_id, STAY),
        ),
    ]
    return Outgoing(ctx.t("teams.confirm_switch", **names), buttons=[buttons])


def join_by_code(
    ctx: Context, code: str | None, *, team_id: int | None = None, confirmed: bool = False
) -> list[Outgoing]:
    """Join the team behind `code` (or `team_id`, already checked) and say so.

    A member of another team is asked first, since a rep or trainee is in one
    team at a time; once `confirmed`, they leave it and its managers are told.
    """
    invite: InviteCode | None = None
    if team_id is None:
        invite = _active_invite(ctx, code or "")
        if invite is None:
            return [Outgoing(ctx.t(invite_error(ctx)))]
        team_id = invite.team_id
    team = get_team(ctx.session, team_id)
    assert team is not None
    user_id = ctx.user.id or 0
    if any(joined.id == team_id for joined, _role in user_teams(ctx.session, user_id)):
        return [Outgoing(ctx.t("teams.already_member", team=team.name))]
    leaving = member_teams(ctx.session, user_id)
    if leaving and not confirmed:
        invite = invite or _invite_for(ctx, code, team_id)
        if invite is None:  # revoked meanwhile
            return [Outgoing(ctx.t("errors.bad_invite"))]
        return [_ask_to_switch(ctx, invite, team, leaving)]
    join_team(ctx.session, ctx.user, team_id)
    if not leaving:
        return [Outgoing(ctx.t("teams.joined", team=team.name))]
    for old in leaving:
        _tell_managers_of_leaving(ctx, old)
    return [Outgoing(ctx.t("teams.switched", team=team.name, old=_names(leaving)))]


def _tell_managers_of_leaving(ctx: Context, team: Team) -> None:
    """A reminder row per manager of `team`, sent by the dispatcher like a comment."""
    member_id = ctx.user.id or 0
    for manager in team_managers(ctx.session, team.id or 0):
        if manager.id is None or manager.id == member_id:
            continue
        schedule(
            ctx.session,
            user_id=manager.id,
            kind="member_left",
            dedup_key=left_key(team.id or 0, member_id, manager.id),
            due_at=ctx.now,
        )


def on_join_button(turn: Turn, action: ActionData) -> list[Outgoing]:
    """The answer to "Join West instead? You'll leave East.": switch, or stay."""
    ctx = turn.ctx
    invite = ctx.session.get(InviteCode, action.target_id)
    stale = ctx.t("common.stale_button")
    if invite is None:
        return [Outgoing(stale, notice=stale)]
    if action.verb == STAY:
        staying = member_teams(ctx.session, ctx.user.id or 0)
        return [Outgoing(ctx.t("teams.stayed", team=_names(staying)))]
    if not hmac.compare_digest(action.verb, _switch_token(invite)):
        return [Outgoing(stale, notice=stale)]
    if invite.revoked_at is not None:
        return [Outgoing(ctx.t("errors.bad_invite"))]
    return join_by_code(ctx, invite.code, team_id=invite.team_id, confirmed=True)


def member_left_message(ctx: Context, reminder: Reminder) -> Outgoing | None:
    """Tells a manager that a member left their team; None if it no longer holds."""
    found = left_of(reminder.dedup_key)
    if found is None:
        return None
    team_id, member_id = found
    team = get_team(ctx.session, team_id)
    member = ctx.session.get(User, member_id)
    if (
        team is None
        or member is None
        or not manages_team(ctx.session, reminder.user_id, team_id)
        or is_member(ctx.session, team_id, member_id)  # back in the team meanwhile
    ):
        return None
    return Outgoing(ctx.t("teams.member_left", name=member.display_name, team=team.name))


def join_command(ctx: Context, args: str) -> list[Outgoing]:
    """/join <code or link>."""
    if not args.strip():
        return [Outgoing(ctx.t("teams.join_usage"))]
    return join_by_code(ctx, args)


def _invite_message(ctx: Context, team_id: int) -> Outgoing:
    team = get_team(ctx.session, team_id)
    assert team is not None
    invite = create_invite(ctx.session, team, ctx.user)
    link = ctx.services.invite_link(invite.code)
    return Outgoing(ctx.t("teams.invite", team=team.name, link=link))


# ----- /newteam ----------------------------------------------------------------


def _create(ctx: Context, name: str) -> list[Outgoing]:
    team = create_team(ctx.session, ctx.user, name)
    assert team.id is not None
    return [Outgoing(ctx.t("teams.created", team=team.name)), _invite_message(ctx, team.id)]


def _begin_new_team(ctx: Context, args: str) -> list[Outgoing]:
    name = args.strip()
    if name:
        if len(name) > MAX_TEAM_NAME:
            return [Outgoing(ctx.t("errors.too_long", limit=MAX_TEAM_NAME))]
        raise StopDialog(_create(ctx, name))
    return []


NEW_TEAM = Dialog(
    id="new_team",
    begin=_begin_new_team,
    finish=lambda ctx: _create(ctx, str(ctx.data["name"])),
    steps=(Step(id="name", prompt="teams.ask_name", max_length=MAX_TEAM_NAME),),
)


# ----- /invite and /revoke: pick a team when the manager runs several ---------


def _team_options(ctx: Context) -> list[Option]:
    return [
        Option(f"t{team.id}", team.name, literal=True)
        for team in managed_teams(ctx.session, ctx.user.id or 0)
    ]


def _team_id(value: Any) -> int:
    return int(str(value)[1:])


def _begin_for_team(action: str) -> Any:
    def begin(ctx: Context, _args: str) -> list[Outgoing]:
        teams = managed_teams(ctx.session, ctx.user.id or 0)
        if not teams:
            raise StopDialog([Outgoing(ctx.t("teams.no_teams"))])
        if len(teams) == 1 and teams[0].id is not None:
            raise StopDialog(_TEAM_ACTIONS[action](ctx, teams[0].id))
        return []

    return begin


def _invite(ctx: Context, team_id: int) -> list[Outgoing]:
    return [_invite_message(ctx, team_id)]


def _revoke(ctx: Context, team_id: int) -> list[Outgoing]:
    team = get_team(ctx.session, team_id)
    assert team is not None
    count = revoke_invites(ctx.session, team_id)
    return [Outgoing(ctx.t("teams.revoked", team=team.name, count=count))]


_TEAM_ACTIONS = {"invite": _invite, "revoke": _revoke}


def _team_dialog(action: str) -> Dialog:
    return Dialog(
        id=action,
        begin=_begin_for_team(action),
        finish=lambda ctx: _TEAM_ACTIONS[action](ctx, _team_id(ctx.data["team"])),
        steps=(
            Step(
                id="team",
                prompt=f"teams.pick_for_{action}",
                kind=AnswerKind.CHOICE,
                options=_team_options,
            ),
        ),
    )


INVITE = _team_dialog("invite")
REVOKE = _team_dialog("revoke")
