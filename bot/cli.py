"""The `salescoach` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.logs import configure_logging
from bot.pipeline_cli import add_commands as add_pipeline_commands
from bot.pipeline_cli import pipeline_command
from bot.settings import Settings
from bot.teams_cli import add_commands as add_teams_commands
from bot.teams_cli import teams_command
from bot.understanding_cli import add_commands as add_understanding_commands
from bot.understanding_cli import intents_command, objections_command
from playbooks.loader import PlaybookError, load_playbooks
from playbooks.schema import Playbooks
from storage.db import make_engine
from storage.migrate import current_revision, upgrade
from understanding.llm import ChatEndpoint
from understanding.roleplay_judge import (
    LlmRoleplayJudge,
    Pair,
    format_pairs_report,
    pairs_report,
    read_pairs,
    run_pairs,
)

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
    run = commands.add_parser("run", help="run the Telegram bot (long polling by default)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates on an HTTP server (needs SALESCOACH_WEBHOOK_URL and _SECRET; "
        "with --platform feishu, the event callback: SALESCOACH_FEISHU_ENCRYPT_KEY and "
        "_VERIFICATION_TOKEN)",
    )
    run.add_argument(
        "--platform",
        choices=["telegram", "feishu"],
        default="telegram",
        help="the chat platform (feishu: Feishu or Lark, SALESCOACH_FEISHU_APP_ID and _SECRET)",
    )
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
    add_understanding_commands(commands)
    roleplay = commands.add_parser("roleplay", help="the role-play rubric")
    roleplay_commands = roleplay.add_subparsers(dest="roleplay_command", required=True)
    score = roleplay_commands.add_parser("score", help="score one reply out of context")
    score.add_argument("scenario", help="a scenario id, e.g. objection-no-need")
    score.add_argument("turn", type=int, help="which reply, 1 = the answer to the opening line")
    score.add_argument("text", help="the trainee's reply, in Chinese or English")
    score.add_argument("--json", action="store_true", help="print JSON")
    score.add_argument("--backend", choices=["local", "llm"], default="local")
    evaluate = roleplay_commands.add_parser(
        "eval", help="the share of reply pairs the judge orders strictly (better above worse)"
    )
    evaluate.add_argument(
        "file",
        type=Path,
        help="UTF-8 TSV with a header (scenario, turn, better, worse, any others)",
    )
    evaluate.add_argument("--backend", choices=["local", "llm"], default="local")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    digest = commands.add_parser("digest", help="a team's weekly digest")
    digest.add_argument("--team", type=int, required=True, help="the team's id")
    digest.add_argument("--week", help="an ISO week such as 2026-W47 (default: the current one)")
    digest.add_argument("--dry-run", action="store_true", help="print it here instead of sending")
    digest.add_argument("--language", choices=["en", "zh"], help="with --dry-run: read it in")
    digest.add_argument("--chart", type=Path, help="with --dry-run: write the chart PNG here")
    add_teams_commands(commands)
    add_pipeline_commands(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `salescoach` console script."""
    arguments = parser().parse_args(argv)
    settings = Settings()
    secrets = [
        settings.token(),
        settings.webhook_secret_value(),
        settings.llm_key(),
        settings.feishu_secret(),
        settings.feishu_encrypt(),
        settings.feishu_token(),
    ]
    configure_logging(settings.log_level, [secret or "" for secret in secrets])
    if arguments.command == "run" and arguments.platform == "feishu":
        return run_feishu_mode(settings, callback=arguments.webhook)
    if arguments.command == "run":
        return run_bot(settings, webhook=arguments.webhook)
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
        return objections_command(settings, arguments)
    if arguments.command == "intents":
        return intents_command(settings, arguments)
    if arguments.command == "digest":
        return digest_command(settings, arguments)
    if arguments.command == "teams":
        return teams_command(settings, arguments)
    if arguments.command == "pipeline":
        return pipeline_command(settings, arguments)
    if arguments.command == "roleplay":
        return roleplay_command(settings, arguments)
    return 2


def run_bot(settings: Settings, *, webhook: bool = False) -> int:
    """`salescoach run [--webhook]`: the Telegram bot, or a clear message of what is missing."""
    if settings.token() is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    try:
        if webhook:
            return run_webhook_mode(settings)
        from bot.telegram_bot import run_polling

        run_polling(settings)
    except PlaybookError as error:
        print(f"Cannot start: the playbooks have problems.\n{error.report()}", file=sys.stderr)
        return 1
    return 0


def run_webhook_mode(settings: Settings) -> int:
    """`salescoach run --webhook`, or the missing webhook setting explained."""
    from bot.webhook import WebhookConfigError, run_webhook

    try:
        run_webhook(settings)
    except WebhookConfigError as error:
        print(f"Cannot start in webhook mode: {error}", file=sys.stderr)
        return 2
    return 0


def run_feishu_mode(settings: Settings, *, callback: bool) -> int:
    """`salescoach run --platform feishu [--webhook]`, or what is missing explained."""
    from bot.feishu.run import FeishuConfigError, run_feishu

    try:
        run_feishu(settings, callback=callback)
    except FeishuConfigError as error:
        print(f"Cannot start on Feishu: {error}", file=sys.stderr)
        return 2
    except PlaybookError as error:
        print(f"Cannot start: the playbooks have problems.\n{error.report()}", file=sys.stderr)
        return 1
    return 0


NO_LLM = "--backend llm needs SALESCOACH_LLM_URL and SALESCOACH_LLM_MODEL to be set."


def _llm_judge(settings: Settings, playbooks: Playbooks) -> LlmRoleplayJudge | None:
    if not settings.llm_url or not settings.llm_model:
        return None
    chat = ChatEndpoint(
        settings.llm_url,
        settings.llm_model,
        timeout=settings.llm_timeout,
        api_key=settings.llm_key(),
    )
    return LlmRoleplayJudge(chat, playbooks.rubric_criteria)


def roleplay_command(settings: Settings, arguments: argparse.Namespace) -> int:
    """`salescoach roleplay score SCENARIO TURN TEXT` and `salescoach roleplay eval FILE`."""
    playbooks = load_playbooks(settings.playbook_dir)
    llm = None
    if arguments.backend == "llm":
        llm = _llm_judge(settings, playbooks)
        if llm is None:
            print(NO_LLM, file=sys.stderr)
            return 2
    if arguments.roleplay_command == "eval":
        return roleplay_eval(playbooks, arguments, llm)
    return roleplay_score(playbooks, arguments, llm)


def roleplay_score(
    playbooks: Playbooks, arguments: argparse.Namespace, llm: LlmRoleplayJudge | None
) -> int:
    """`salescoach roleplay score SCENARIO_ID TURN TEXT [--json] [--backend local|llm]`."""
    from dialogs.practice.roleplay_scoring import language_of, report, score_reply

    scenario = playbooks.scenarios.get(arguments.scenario)
    if scenario is None:
        known = ", ".join(playbooks.scenarios)
        print(f"Unknown scenario {arguments.scenario!r}. Known: {known}", file=sys.stderr)
        return 2
    if not 1 <= arguments.turn <= len(scenario.turns):
        print(f"{scenario.id} has turns 1 to {len(scenario.turns)}.", file=sys.stderr)
        return 2
    result = score_reply(arguments.text, scenario, arguments.turn, playbooks, llm=llm)
    scored = report(result, playbooks, language_of(arguments.text))
    if arguments.json:
        print(json.dumps(scored, ensure_ascii=False))
        return 0
    print(f"total {scored['total']}/{scored['maximum']}")
    for criterion, item in scored["criteria"].items():
        seen = ", ".join([*item["moves"], *item["penalties"]]) or "-"
        print(f"{criterion} {item['score']}  [{seen}]  {item['line']}")
    for move in scored["moves"]:
        print(f"  {move['kind']:7} {move['id']}  {move['cue'] or move.get('size', '')}")
    print(f"tip: {scored['tip'] or '-'}")
    unsure = ", ".join(scored["unsure"])
    print(f"unsure: {unsure} (a manager can review this score)" if unsure else "unsure: no")
    if scored.get("fallback"):
        print(f"backend: local (the LLM judge failed: {scored['fallback']})")
    return 0


def roleplay_eval(
    playbooks: Playbooks, arguments: argparse.Namespace, llm: LlmRoleplayJudge | None
) -> int:
    """`salescoach roleplay eval FILE.tsv [--backend local|llm] [--json]`."""
    from dialogs.practice.roleplay_scoring import score_reply

    pairs, problems = read_pairs(arguments.file)
    usable = []
    for pair in pairs:
        scenario = playbooks.scenarios.get(pair.scenario)
        if scenario is None or not 1 <= pair.turn <= len(scenario.turns):
            problems.append(
                f"{arguments.file}: unknown scenario or turn {pair.scenario} {pair.turn}"
            )
            continue
        usable.append(pair)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not usable:
        print(f"{arguments.file}: no pairs to measure", file=sys.stderr)
        return 2

    def rank(pair: Pair, text: str) -> float:
        scenario = playbooks.scenarios[pair.scenario]
        return score_reply(text, scenario, pair.turn, playbooks, llm=llm).rank

    result = pairs_report(run_pairs(usable, rank))
    if arguments.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        backend = "llm" if llm is not None else "local"
        title = f"role-play judge ({backend}) on {arguments.file} ({len(usable)} pairs)"
        print(format_pairs_report(result, title))
    return 0


def digest_command(settings: Settings, arguments: argparse.Namespace) -> int:
    """`salescoach digest --team ID [--week 2026-W47] [--dry-run]`."""
    from bot.digests import print_digest, send_digest_now

    if arguments.dry_run:
        configure_logging("WARNING", [])  # only the digest on the terminal
        return print_digest(
            settings,
            arguments.team,
            arguments.week,
            language=arguments.language,
            chart_path=arguments.chart,
        )
    return send_digest_now(settings, arguments.team, arguments.week)


def database_command(settings: Settings, command: str) -> int:
    """`salescoach db upgrade|current`."""
    engine = make_engine(settings.database_url)
    if command == "upgrade":
        upgrade(engine)
    print(current_revision(engine) or "empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
