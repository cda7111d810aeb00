"""Teams from the user's side: creating one, inviting, revoking, joining."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from dialogs.core.io import Outgoing
from dialogs.core.steps import AnswerKind, Context, Dialog, Option, Step, StopDialog
from storage.teams import (
    create_invite,
    create_team,
    find_active_invite,
    get_team,
    invite_failures_since,
    join_team,
    managed_teams,
    record_invite_failure,
    revoke_invites,
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


def resolve_invite(ctx: Context, text: str) -> tuple[int, str] | None:
    """(team id, team name) for a working invite code or link, else None.

    A wrong code is recorded; while attempts are blocked nothing is looked up.
    """
    if invite_attempts_blocked(ctx):
        return None
    code = extract_code(text)
    invite = find_active_invite(ctx.session, code) if code else None
    team = get_team(ctx.session, invite.team_id) if invite else None
    if team is None or team.id is None:
        record_invite_failure(ctx.session, ctx.user.id or 0)
        return None
    return team.id, team.name


def invite_error(ctx: Context) -> str:
    """The locale key explaining why an invite did not work."""
    return "teams.too_many_attempts" if invite_attempts_blocked(ctx) else "errors.bad_invite"


def join_by_code(ctx: Context, code: str | None, *, team_id: int | None = None) -> list[Outgoing]:
    """Join the team behind `code` (or `team_id`, already checked) and say so."""
    if team_id is None:
        invite = resolve_invite(ctx, code or "")
        if invite is None:
            return [Outgoing(ctx.t(invite_error(ctx)))]
        team_id = invite[0]
    team = get_team(ctx.session, team_id)
    assert team is not None
    if not join_team(ctx.session, ctx.user, team_id):
        return [Outgoing(ctx.t("teams.already_member", team=team.name))]
    return [Outgoing(ctx.t("teams.joined", team=team.name))]


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
