"""`check [DIR]`: validate the playbooks (defaults, or DIR over them) and print every problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playbooks.corpus import check_corpora, count_lines
from playbooks.loader import DEFAULT_DIR, inspect_playbooks


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salescoach playbooks check",
        description="Check the default playbooks, or a company directory merged over them.",
    )
    parser.add_argument("dir", nargs="?", type=Path, help="extra playbook directory to check")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print each problem on its own line, or "OK: N files, M items"; 0 when OK, else 1."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "check":
        args = args[1:]
    options = _parser().parse_args(args)
    report = inspect_playbooks(options.dir)
    problems: list[object] = list(report.problems)
    directories = [DEFAULT_DIR] if options.dir is None else [DEFAULT_DIR, options.dir]
    if report.playbooks is not None:
        problems += check_corpora(directories, report.playbooks.objections)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    lines = count_lines(directories)
    print(f"OK: {report.files} files, {report.items} items, {lines} labelled corpus lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
