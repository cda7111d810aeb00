"""First contact: name, role, time zone and, optionally, a team."""

from __future__ import annotations

from typing import Any

from dialogs.core.answers import has_letter, trim_invisible, whole_number
from dialogs.core.io import Outgoing
from dialogs.core.steps import AnswerKind, Context, Dialog, Option, Step, StopDialog
from dialogs.practice.trio_dialog import DEEP_LINK, join_trio
from dialogs.users.profile import help_text, timezone_options, timezone_store, timezone_validate
from dialogs.users.teams import extract_code, invite_error, join_by_code, resolve_invite
from storage.models import utcnow

ROLES = ("rep", "manager", "trainee")


def begin(ctx: Context, args: str) -> list[Outgoing]:
    """Handle /start's deep-link argument; an onboarded user is welcomed back instead."""
    code = args[len("join_") :] if args.startswith("join_") else None
    trio = args[len(DEEP_LINK) :] if args.startswith(DEEP_LINK) else None
    if ctx.user.onboarded_at is not None:
        if code is not None:
            raise StopDialog(join_by_code(ctx, code))
        if trio:  # a role-play-in-threes link
            raise StopDialog(join_trio(ctx, trio))
        raise StopDialog([Outgoing(ctx.t("onboarding.welcome_back", user=ctx.user))])
    notes: list[Outgoing] = []
    if trio:
        notes.append(Outgoing(ctx.t("trio.after_start", code=trio)))
    if code is not None:
        invite = resolve_invite(ctx, code)
        if invite is None:
            notes.append(Outgoing(ctx.t(invite_error(ctx))))
        else:
            ctx.data["join_team_id"], ctx.data["join_team_name"] = invite
            ctx.data["join_code"] = code
    return notes


def _suggested_name(ctx: Context) -> str:
    # A platform name of fillers or zero-width characters ("ㅤ") is no name to offer.
    name = trim_invisible(ctx.user.display_name)
    return name if has_letter(name) else ""


# The suggested name's button. The name step is a text step, so a typed name is kept
# exactly as typed ("Emma", never the platform's "emma" or a longer name containing
# it); typing "1", its number in the terminal's list, picks the suggestion too.
KEEP_NAME = "keep"


def _name_options(ctx: Context) -> list[Option]:
    name = _suggested_name(ctx)
    return [Option(KEEP_NAME, name[:60], literal=True)] if name else []


def _name_values(ctx: Context) -> dict[str, Any]:
    return {"suggested": _suggested_name(ctx)}


def _chosen_name(ctx: Context, value: Any) -> str:
    if value == KEEP_NAME or whole_number(str(value).strip()) == 1:
        return _suggested_name(ctx)
    return trim_invisible(str(value))


def _validate_name(ctx: Context, value: Any) -> str | None:
    return None if has_letter(_chosen_name(ctx, value)) else "onboarding.name_needs_letter"


def _store_name(ctx: Context, value: Any) -> None:
    ctx.data["name"] = _chosen_name(ctx, value)


def _role_options(_ctx: Context) -> list[Option]:
    return [Option(role, f"roles.{role}") for role in ROLES]


def _validate_team_code(ctx: Context, value: Any) -> str | None:
    return None if resolve_invite(ctx, str(value)) else invite_error(ctx)


def _store_team(ctx: Context, value: Any) -> None:
    if value:  # validated just before, so the lookup succeeds
        invite = resolve_invite(ctx, str(value))
        if invite is not None:
            ctx.data["join_team_id"], ctx.data["join_team_name"] = invite
            ctx.data["join_code"] = extract_code(str(value))


def finish(ctx: Context) -> list[Outgoing]:
    """Save the profile and show what the user can do now."""
    user = ctx.user
    user.display_name = str(ctx.data.get("name") or user.display_name)[:64]
    user.role = str(ctx.data["role"])
    user.timezone = str(ctx.data["timezone"])
    user.onboarded_at = utcnow()
    ctx.session.add(user)
    replies = [Outgoing(ctx.t("onboarding.done", user=user))]
    team_id = ctx.data.get("join_team_id")
    if team_id is not None:
        code = ctx.data.get("join_code")
        replies.extend(join_by_code(ctx, str(code) if code else None, team_id=int(team_id)))
    elif user.role == "manager":
        replies.append(Outgoing(ctx.t("onboarding.manager_next")))
    replies.append(Outgoing(help_text(ctx)))
    return replies


ONBOARDING = Dialog(
    id="onboarding",
    begin=begin,
    finish=finish,
    steps=(
        Step(
            id="name",
            prompt="onboarding.ask_name",
            options=_name_options,
            max_length=64,
            prompt_values=_name_values,
            validate=_validate_name,
            store=_store_name,
        ),
        Step(
            id="role", prompt="onboarding.ask_role", kind=AnswerKind.CHOICE, options=_role_options
        ),
        Step(
            id="timezone",
            prompt="onboarding.ask_timezone",
            kind=AnswerKind.CHOICE,
            options=timezone_options,
            accepts_text=True,
            columns=2,
            validate=timezone_validate,
            store=timezone_store,
        ),
        Step(
            id="team",
            prompt="onboarding.ask_team",
            optional=True,
            max_length=200,
            when=lambda ctx: "join_team_id" not in ctx.data,
            validate=_validate_team_code,
            store=_store_team,
        ),
    ),
)
