"""`salescoach objections …` and `salescoach intents …`: classify, train and evaluate the models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.runtime import understanding_for
from bot.settings import Settings
from playbooks.corpus import read_tsv
from playbooks.loader import load_playbooks
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.objection_labels import training_lines
from understanding.evaluation import format_report, report, run
from understanding.models import (
    DEFAULT_MODEL_DIR,
    INTENT_MODEL,
    OBJECTION_MODEL,
    OBJECTIVE_MODEL,
    ModelKind,
    build,
)
from understanding.reading import NotUnderstood, Reading

NOT_UNDERSTOOD = (
    "Nothing to classify: give the customer's words, e.g. "
    'salescoach objections classify "we already work with another supplier"'
)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `objections` and `intents` with their subcommands."""
    objections = commands.add_parser("objections", help="the objection model")
    verbs = objections.add_subparsers(dest="objections_command", required=True)
    classify = verbs.add_parser("classify", help="the objection type of a customer's words")
    classify.add_argument("text", help="what the customer said, in Chinese or English")
    classify.add_argument("--json", action="store_true", help="print JSON")
    classify.add_argument("--backend", choices=["local", "llm"], default="local")
    _add_train(verbs, "objections")
    evaluate = _add_eval(verbs, "objections", "columns: type, text, any others")
    evaluate.add_argument("--backend", choices=["local", "llm"], default="local")

    intents = commands.add_parser("intents", help="the visit-objective and free-text models")
    intent_verbs = intents.add_subparsers(dest="intents_command", required=True)
    _add_train(intent_verbs, "intents and objectives")
    evaluate = _add_eval(intent_verbs, "intents", "columns: intent (or label), text, any others")
    evaluate.add_argument("--model", choices=["intents", "objectives"], default="intents")


def _add_train(verbs: argparse._SubParsersAction[argparse.ArgumentParser], what: str) -> None:
    train = verbs.add_parser("train", help=f"rebuild the {what} model(s)")
    train.add_argument(
        "--default",
        action="store_true",
        help="rebuild the models shipped with SalesCoach (default corpus, train split only)",
    )


def _add_eval(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], what: str, columns: str
) -> argparse.ArgumentParser:
    evaluate = verbs.add_parser("eval", help=f"measure the {what} model on a labelled TSV file")
    evaluate.add_argument("file", type=Path, help=f"UTF-8 TSV with a header ({columns})")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    return evaluate


def objections_command(settings: Settings, arguments: argparse.Namespace) -> int:
    """Dispatch `salescoach objections classify|train|eval`."""
    if arguments.objections_command == "classify":
        return _classify(settings, arguments)
    if arguments.objections_command == "train":
        return _train(settings, [OBJECTION_MODEL], default=arguments.default)
    return _evaluate(settings, arguments, OBJECTION_MODEL, "type")


def intents_command(settings: Settings, arguments: argparse.Namespace) -> int:
    """Dispatch `salescoach intents train|eval`."""
    if arguments.intents_command == "train":
        return _train(settings, [INTENT_MODEL, OBJECTIVE_MODEL], default=arguments.default)
    kind = INTENT_MODEL if arguments.model == "intents" else OBJECTIVE_MODEL
    return _evaluate(settings, arguments, kind, kind.corpus.label_column)


NO_LLM = "--backend llm needs SALESCOACH_LLM_URL and SALESCOACH_LLM_MODEL to be set."


def _classify(settings: Settings, arguments: argparse.Namespace) -> int:
    understanding = understanding_for(settings, load_playbooks(settings.playbook_dir))
    if arguments.backend == "llm" and understanding.llm is None:
        print(NO_LLM, file=sys.stderr)
        return 2
    try:
        reading = understanding.objection(arguments.text, backend=arguments.backend)
    except NotUnderstood:
        print(NOT_UNDERSTOOD, file=sys.stderr)
        return 2
    if arguments.json:
        print(json.dumps(reading.as_json("type"), ensure_ascii=False))
        return 0
    sure = "confident" if reading.confident else "unsure"
    print(f"{reading.label} {reading.confidence:.2f} ({sure})")
    if reading.secondary:
        print(f"secondary: {reading.secondary}")
    print(f"evidence: {reading.evidence}")
    runners = ", ".join(f"{label} {p:.2f}" for label, p in reading.candidates[1:3])
    print(f"next: {runners}")
    return 0


def _corrections(settings: Settings) -> list[tuple[str, str]]:
    database = make_engine(settings.database_url)
    upgrade(database)
    with transaction(database) as session:
        return training_lines(session)


def _train(settings: Settings, kinds: list[ModelKind], *, default: bool) -> int:
    corrections = [] if default else _corrections(settings)
    target = DEFAULT_MODEL_DIR if default else settings.model_dir
    for kind in kinds:
        extra = None if default else settings.playbook_dir
        lines = corrections if kind is OBJECTION_MODEL else []
        model = build(kind, extra, lines)
        path = target / kind.file_name
        model.save(path)
        meta = model.meta
        print(
            f"{kind.name}: {meta['lines']} lines ({len(lines)} from reps), "
            f"cross-validated accuracy {meta['oof_accuracy']:.3f}, "
            f"confident from {model.threshold:.3f}, written to {path}"
        )
    return 0


def _evaluate(
    settings: Settings, arguments: argparse.Namespace, kind: ModelKind, label_column: str
) -> int:
    lines, problems = read_tsv(arguments.file, label_column)
    if problems and label_column != "label":
        lines, fallback_problems = read_tsv(arguments.file, "label")
        problems = fallback_problems if lines else problems
    if problems or not lines:
        for problem in problems:
            print(problem, file=sys.stderr)
        if not lines:
            print(f"{arguments.file}: no labelled lines", file=sys.stderr)
        return 2
    understanding = understanding_for(settings, load_playbooks(settings.playbook_dir))
    if getattr(arguments, "backend", "local") == "llm" and understanding.llm is None:
        print(NO_LLM, file=sys.stderr)
        return 2

    def reader(text: str) -> Reading:
        if kind is OBJECTION_MODEL:
            return understanding.objection(text, backend=getattr(arguments, "backend", "local"))
        if kind is INTENT_MODEL:
            return understanding.intent(text)
        return understanding.objective(text)

    result = report(run(lines, reader))
    if arguments.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(format_report(result, f"{kind.name} on {arguments.file} ({len(lines)} lines)"))
    return 0
