"""The user's own profile: help, who am I, language and time zone."""

from __future__ import annotations

from typing import Any

from dialogs.core.io import Outgoing
from dialogs.core.steps import AnswerKind, Command, Context, Dialog, Option, Step
from dialogs.core.timezones import COMMON_ZONES, describe_zone, normalise_timezone
from playbooks.locales import LANGUAGES
from storage.reminders import shift_for_new_zone
from storage.teams import user_teams


def visible_commands(commands: list[Command], role: str | None) -> list[Command]:
    """The commands a user with `role` may use, in declaration order."""
    return [
        command
        for command in commands
        if command.menu and (command.roles is None or (role is not None and role in command.roles))
    ]


def help_text(ctx: Context) -> str:
    """What the user's role can do, one command a line."""
    user = ctx.user
    commands = visible_commands(ctx.services.commands, user.role)
    lines = [{"name": command.name, "help": ctx.t(command.help)} for command in commands]
    role = ctx.t(f"roles.{user.role}") if user.role else ""
    return ctx.t("help.text", commands=lines, role=role)


def show_help(ctx: Context, _args: str) -> list[Outgoing]:
    """/help."""
    return [Outgoing(help_text(ctx))]


def show_profile(ctx: Context, _args: str) -> list[Outgoing]:
    """/whoami: the stored profile."""
    user = ctx.user
    teams = [
        {"name": team.name, "role": ctx.t(f"team_roles.{role}")}
        for team, role in user_teams(ctx.session, user.id or 0)
    ]
    return [
        Outgoing(
            ctx.t(
                "profile.whoami",
                user=user,
                role=ctx.t(f"roles.{user.role}") if user.role else "—",
                zone=describe_zone(user.timezone),
                language=ctx.t(f"languages.{user.language}"),
                teams=teams,
            )
        )
    ]


# ----- time zone -------------------------------------------------------------


def timezone_options(_ctx: Context) -> list[Option]:
    """The common zones as buttons; their keys are short so button data stays small."""
    return [
        Option(f"tz{index}", f"zones.{name.lower().replace('/', '_')}")
        for index, name in enumerate(COMMON_ZONES)
    ]


def _zone_from_answer(value: Any) -> str | None:
    text = str(value)
    if (
        text.startswith("tz")
        and text[2:].isascii()
        and text[2:].isdigit()
        and int(text[2:]) < len(COMMON_ZONES)
    ):
        return COMMON_ZONES[int(text[2:])]
    return normalise_timezone(text)


def timezone_validate(_ctx: Context, value: Any) -> str | None:
    """A typed zone must be an IANA name, a known city or an offset like UTC+8."""
    return None if _zone_from_answer(value) else "errors.bad_timezone"


def timezone_store(ctx: Context, value: Any) -> None:
    """Keep the canonical zone name."""
    ctx.data["timezone"] = _zone_from_answer(value)


def _finish_timezone(ctx: Context) -> list[Outgoing]:
    old_zone = ctx.zone
    ctx.user.timezone = str(ctx.data["timezone"])
    ctx.session.add(ctx.user)
    shift_for_new_zone(ctx.session, ctx.user.id or 0, old_zone, ctx.zone)
    return [Outgoing(ctx.t("profile.timezone_set", zone=describe_zone(ctx.user.timezone)))]


TIMEZONE = Dialog(
    id="timezone",
    finish=_finish_timezone,
    steps=(
        Step(
            id="timezone",
            prompt="profile.ask_timezone",
            kind=AnswerKind.CHOICE,
            options=timezone_options,
            accepts_text=True,
            columns=2,
            prompt_values=lambda ctx: {"current": describe_zone(ctx.user.timezone)},
            validate=timezone_validate,
            store=timezone_store,
        ),
    ),
)


# ----- language --------------------------------------------------------------


def _finish_language(ctx: Context) -> list[Outgoing]:
    ctx.user.language = str(ctx.data["language"])
    ctx.session.add(ctx.user)
    # Later messages in this same turn must speak the new language too.
    ctx.t = type(ctx.t)(ctx.user.language)
    return [Outgoing(ctx.t("profile.language_set"))]


LANGUAGE = Dialog(
    id="language",
    finish=_finish_language,
    steps=(
        Step(
            id="language",
            prompt="profile.ask_language",
            kind=AnswerKind.CHOICE,
            options=tuple(Option(code, f"languages.{code}") for code in LANGUAGES),
        ),
    ),
)
