"""The `salescoach` command line."""

from __future__ import annotations

import argparse
import json
import sys

from bot.logs import configure_logging
from bot.settings import Settings
from playbooks.loader import PlaybookError, load_playbooks
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
    playbooks = commands.add_parser("playbooks", help="coaching content")
    playbook_commands = playbooks.add_subparsers(dest="playbooks_command", required=True)
    check = playbook_commands.add_parser("check", help="validate a playbook directory")
    check.add_argument("directory", nargs="?", help="default: the built-in playbooks")
    objections = commands.add_parser("objections", help="the objection classifier")
    objection_commands = objections.add_subparsers(dest="objections_command", required=True)
    classify = objection_commands.add_parser("classify", help="classify a customer's objection")
    classify.add_argument("text", help="what the customer said, in Chinese or English")
    classify.add_argument("--json", action="store_true", help="print JSON")
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
        try:
            run_chat(settings, name=arguments.user)
        except PlaybookError as error:
            print(f"Cannot start: the playbooks have problems.\n{error.report()}", file=sys.stderr)
            return 1
        return 0
    if arguments.command == "db":
        return database_command(settings, arguments.db_command)
    if arguments.command == "playbooks":
        from playbooks.check import main as check_main

        return check_main(["check", *([arguments.directory] if arguments.directory else [])])
    if arguments.command == "objections":
        return classify_command(settings, arguments.text, as_json=arguments.json)
    return 2


def run_bot(settings: Settings) -> int:
    """`salescoach run`: the Telegram bot, or a clear message when no token is set."""
    if settings.token() is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.telegram_bot import run_polling

    try:
        run_polling(settings)
    except PlaybookError as error:
        print(f"Cannot start: the playbooks have problems.\n{error.report()}", file=sys.stderr)
        return 1
    return 0


def classify_command(settings: Settings, text: str, *, as_json: bool) -> int:
    """`salescoach objections classify TEXT [--json]`."""
    from dialogs.objection_classifier import classify_objection

    result = classify_objection(text, load_playbooks(settings.playbook_dir))
    if as_json:
        payload = {
            "type": result.type,
            "confidence": round(result.confidence, 3),
            "candidates": [
                {"type": kind, "score": round(score, 3)} for kind, score in result.candidates
            ],
        }
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(f"{result.type} {result.confidence:.2f}")
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
