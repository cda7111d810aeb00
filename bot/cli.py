"""The `salescoach` command line."""

from __future__ import annotations

import argparse
import sys

from bot.logs import configure_logging
from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import current_revision, upgrade

NO_TOKEN = """\
TELEGRAM_BOT_TOKEN is not set, so the Telegram bot cannot start.

  • Get a token from @BotFather and run:  TELEGRAM_BOT_TOKEN=123456:ABC… salescoach run
    (or put TELEGRAM_BOT_TOKEN=… in a .env file in this folder)
  • Or try every conversation right here in the terminal, no token needed:  salescoach chat
"""


def parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    root = argparse.ArgumentParser(
        prog="salescoach", description="SalesCoach, a sales-coaching assistant."
    )
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the Telegram bot (long polling)")
    chat = commands.add_parser("chat", help="talk to SalesCoach in this terminal")
    chat.add_argument("--user", help="who you are in the local database (default: your login)")
    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    database_commands.add_parser("upgrade", help="apply pending migrations")
    database_commands.add_parser("current", help="print the schema revision")
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `salescoach` console script."""
    arguments = parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, [settings.token() or ""])
    if arguments.command == "run":
        return run_bot(settings)
    if arguments.command == "chat":
        from bot.terminal import run_chat

        configure_logging("WARNING", [])
        run_chat(settings, name=arguments.user)
        return 0
    if arguments.command == "db":
        return database_command(settings, arguments.db_command)
    return 2


def run_bot(settings: Settings) -> int:
    """`salescoach run`: the Telegram bot, or a clear message when no token is set."""
    if settings.token() is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.telegram_bot import run_polling

    run_polling(settings)
    return 0


def database_command(settings: Settings, command: str) -> int:
    """`salescoach db upgrade|current`."""
    engine = make_engine(settings.database_url)
    if command == "upgrade":
        upgrade(engine)
    print(current_revision(engine) or "empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
