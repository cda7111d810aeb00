"""`salescoach teams list`: every team's id, name, managers and member count.

For an admin looking for the id to give `salescoach digest --team ID`.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from typing import Any

from sqlalchemy import Engine as Database

from bot.logs import configure_logging
from bot.settings import Settings
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.models import User
from storage.teams import all_teams_with_people

HEADER = ("ID", "TEAM", "MANAGERS", "MEMBERS")
NO_TEAMS = "No teams yet: a manager creates one with /newteam."
DIGEST_HINT = "A team's weekly digest: salescoach digest --team ID --dry-run"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `teams list` on the CLI's subcommands."""
    teams = commands.add_parser("teams", help="the teams in the database")
    teams_commands = teams.add_subparsers(dest="teams_command", required=True)
    listing = teams_commands.add_parser(
        "list", help="every team's id, name, managers and member count"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")


def teams_command(settings: Settings, arguments: argparse.Namespace) -> int:
    """`salescoach teams list [--json]`."""
    configure_logging("WARNING", [])  # only the list on the terminal, no migration notes
    database = make_engine(settings.database_url)
    try:
        upgrade(database)  # a fresh database has its tables, and no teams
        rows = list_teams(database)
    finally:
        database.dispose()
    if arguments.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(format_teams(rows))
    return 0


def list_teams(database: Database) -> list[dict[str, Any]]:
    """Each team as {id, name, managers, members}; managers are not counted as members."""
    with transaction(database) as session:
        return [
            {
                "id": team.id,
                "name": team.name,
                "managers": [_who(user) for user in managers],
                "members": members,
            }
            for team, managers, members in all_teams_with_people(session)
        ]


def format_teams(rows: list[dict[str, Any]]) -> str:
    """An aligned table (Chinese characters count as two columns), or a line saying none."""
    if not rows:
        return NO_TEAMS
    table = [HEADER] + [
        (str(row["id"]), row["name"], ", ".join(row["managers"]) or "-", str(row["members"]))
        for row in rows
    ]
    widths = [max(_width(line[column]) for line in table) for column in range(len(HEADER))]
    lines = [
        "  ".join(_pad(cell, widths[column]) for column, cell in enumerate(line)).rstrip()
        for line in table
    ]
    return "\n".join([*lines, "", DIGEST_HINT])


def _who(user: User) -> str:
    return user.display_name or f"{user.platform}:{user.platform_user_id}"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
