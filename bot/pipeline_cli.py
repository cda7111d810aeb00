"""`salescoach pipeline --team ID [--csv]`: the team's pipeline, forecast and deals at risk.

The same figures as the weekly digest, as plain text for a terminal, or one
row per deal as CSV for a spreadsheet.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import UTC, datetime

from sqlalchemy import Engine as Database

from bot.logs import configure_logging
from bot.settings import Settings
from bot.terminal import plain
from dialogs.core.money import to_major
from dialogs.core.texts import Texts, format_when
from dialogs.core.timezones import zone_for
from dialogs.manager.pipeline import PipelineView, forecast_of, pipeline_view, reason_for
from dialogs.manager.pipeline_digest import at_risk_section, forecast_section
from playbooks.loader import PlaybookError, load_playbooks
from playbooks.schema import Playbooks
from storage.comments import team_managers
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.opportunities import month_text
from storage.teams import get_team

CSV_HEADER = (
    "rep",
    "account",
    "stage",
    "probability_percent",
    "status",
    "currency",
    "value",
    "weighted_value",
    "close_month",
    "forecast_this_month",
    "forecast_next_month",
    "change_since_last_week",
    "at_risk",
)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `pipeline` on the CLI's subcommands."""
    pipeline = commands.add_parser("pipeline", help="a team's pipeline, forecast and deals at risk")
    pipeline.add_argument("--team", type=int, required=True, help="the team's id")
    pipeline.add_argument("--csv", action="store_true", help="one row per deal, for a spreadsheet")
    pipeline.add_argument("--language", choices=["en", "zh"], help="default: the manager's")


def pipeline_command(settings: Settings, arguments: argparse.Namespace) -> int:
    """`salescoach pipeline --team ID [--csv] [--language en|zh]`."""
    configure_logging("WARNING", [])  # only the figures on the terminal
    try:
        playbooks = load_playbooks(settings.playbook_dir)
    except PlaybookError as error:
        print(f"The playbooks have problems.\n{error.report()}", file=sys.stderr)
        return 1
    database = make_engine(settings.database_url)
    try:
        upgrade(database)
        code, output = pipeline_report(
            database,
            arguments.team,
            playbooks,
            now=datetime.now(UTC),
            language=arguments.language,
            as_csv=arguments.csv,
        )
    finally:
        database.dispose()
    print(output, end="" if arguments.csv else "\n", file=sys.stdout if code == 0 else sys.stderr)
    return code


def pipeline_report(
    database: Database,
    team_id: int,
    playbooks: Playbooks,
    *,
    now: datetime,
    language: str | None = None,
    as_csv: bool = False,
) -> tuple[int, str]:
    """The exit code and what to print: the figures as text, or CSV."""
    with transaction(database) as session:
        team = get_team(session, team_id)
        if team is None:
            return 1, Texts(language or "en")("pipeline.cli_no_team", team=team_id)
        managers = team_managers(session, team_id)
        zone = zone_for(managers[0].timezone if managers else "UTC")
        reader = language or (managers[0].language if managers else "en")
        view = pipeline_view(session, team_id, as_of=now, zone=zone, playbooks=playbooks)
        name = team.name
    t = Texts(reader)
    if as_csv:
        return 0, pipeline_csv(view, playbooks)
    title = t("pipeline.cli_title", team=name, when=format_when(now.astimezone(zone), t))
    sections = [title, forecast_section(view, t, playbooks), at_risk_section(view, t, playbooks)]
    return 0, "\n\n".join(plain(section) for section in sections if section)


def pipeline_csv(view: PipelineView, playbooks: Playbooks) -> str:
    """One row per deal: plain numbers in major units and ids, as a spreadsheet reads them."""
    pipeline = playbooks.pipeline
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for deal in view.rows:
        state, currency = deal.now, deal.now.currency
        probability = pipeline.probability(state.stage)
        months = (view.this_month, view.next_month)
        forecasts = [round(forecast_of(state, month, pipeline)) for month in months]
        writer.writerow(
            (
                deal.owner,
                deal.account,
                state.stage,
                probability,
                state.status,
                currency,
                to_major(state.value_minor, currency),
                to_major(round(state.value_minor * probability / 100), currency),
                month_text(state.close_month),
                to_major(forecasts[0], currency),
                to_major(forecasts[1], currency),
                reason_for(deal) if deal.changed or deal.before is None else "",
                ";".join(view.risks(deal.id)),
            )
        )
    return buffer.getvalue()
