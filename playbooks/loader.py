"""Load the default playbooks plus an optional company directory, or report every problem."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from playbooks.schema import ANY_INDUSTRY, COLLECTIONS, SINGLETONS, Item, Playbooks

DEFAULT_DIR = Path(__file__).parent / "data"
YAML_SUFFIXES = (".yaml", ".yml")
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the playbooks, located by file and YAML line (1-based)."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class PlaybookError(Exception):
    """The playbooks could not be loaded; `problems` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        """Every problem, one per line."""
        return "\n".join(str(problem) for problem in self.problems)


@dataclass(frozen=True)
class LoadReport:
    """What one load found: the playbooks (only when there is no problem) and the counts."""

    playbooks: Playbooks | None
    problems: list[Problem]
    files: int
    items: int


# --- locating things in the YAML ------------------------------------------


@dataclass(frozen=True)
class _Origin:
    """Where an item or section came from: a file, its node tree, and the path to it."""

    file: str
    root: yaml.Node
    loc: Loc


def _child(node: yaml.Node, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                return value_node  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]  # type: ignore[no-any-return]
    return None


def _resolve(root: yaml.Node, loc: Loc) -> tuple[Loc, yaml.Node]:
    """Walk `loc` as far as the YAML goes, skipping segments that name no node."""
    node, found = root, []
    for key in loc:
        child = _child(node, key)
        if child is not None:
            node = child
            found.append(key)
    return tuple(found), node


def _format_loc(loc: Loc) -> str:
    text = ""
    for key in loc:
        text += f"[{key}]" if isinstance(key, int) else f".{key}"
    return text.lstrip(".")


def _problem_at(origin: _Origin, suffix: Loc, message: str) -> Problem:
    loc, node = _resolve(origin.root, origin.loc + suffix)
    prefix = f"{_format_loc(loc)}: " if loc else ""
    return Problem(origin.file, node.start_mark.line + 1, prefix + message)


# --- reading one file -------------------------------------------------------


@dataclass
class _Source:
    """One parsed file: its valid items and sections, and the ids of items that failed."""

    file: str
    root: yaml.Node | None = None
    items: dict[str, list[tuple[int, Item]]] = field(default_factory=dict)
    singletons: dict[str, BaseModel] = field(default_factory=dict)
    broken: dict[str, set[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    detail = getattr(exc, "problem", None) or str(exc)
    return Problem(file, line, f"invalid YAML: {detail}")


def _duplicate_keys(file: str, node: yaml.Node) -> Iterator[Problem]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    line = key_node.start_mark.line + 1
                    yield Problem(file, line, f"invalid YAML: duplicate key '{key_node.value}'")
                seen.add(key_node.value)
            yield from _duplicate_keys(file, value_node)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            yield from _duplicate_keys(file, child)


def _error_message(error: ErrorDetails, loc: Loc) -> str:
    kind, name = error["type"], loc[-1] if loc else ""
    if kind == "missing":
        return f"missing field '{name}'"
    if kind == "extra_forbidden":
        return f"unknown field '{name}'"
    return error["msg"].removeprefix("Value error, ")


def _validation_problems(origin: _Origin, exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        # A missing field has no node of its own: point at the mapping that lacks it.
        where = loc[:-1] if error["type"] == "missing" else loc
        problem = _problem_at(origin, where, _error_message(error, loc))
        if problem not in problems:
            problems.append(problem)
    return problems


def _validate(source: _Source, model: type[BaseModel], raw: Any, loc: Loc) -> BaseModel | None:
    assert source.root is not None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        source.problems.extend(_validation_problems(_Origin(source.file, source.root, loc), exc))
        return None


def _read_collection(source: _Source, section: str, raw: Any) -> None:
    if not isinstance(raw, list):
        assert source.root is not None
        origin = _Origin(source.file, source.root, (section,))
        source.problems.append(_problem_at(origin, (), "expected a list of items"))
        return
    valid, broken = source.items.setdefault(section, []), source.broken.setdefault(section, set())
    for index, raw_item in enumerate(raw):
        item = _validate(source, COLLECTIONS[section], raw_item, (section, index))
        if isinstance(item, Item):
            valid.append((index, item))
        elif isinstance(raw_item, dict) and isinstance(raw_item.get("id"), str):
            broken.add(raw_item["id"])


def _read_sections(source: _Source, data: dict[Any, Any]) -> None:
    assert source.root is not None
    for section, raw in data.items():
        if section in COLLECTIONS:
            _read_collection(source, section, raw)
        elif section in SINGLETONS:
            value = _validate(source, SINGLETONS[section], raw, (section,))
            if value is None:
                source.broken.setdefault(section, set()).add(section)
            else:
                source.singletons[section] = value
        else:
            origin = _Origin(source.file, source.root, ())
            source.problems.append(_problem_at(origin, (section,), f"unknown section '{section}'"))


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the plain data, from one pass of the parser."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _read(path: Path) -> _Source:
    source = _Source(str(path))
    try:
        source.root, data = _parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        source.problems.append(Problem(source.file, None, f"cannot read file: {exc}"))
        return source
    except yaml.YAMLError as exc:
        source.problems.append(_yaml_problem(source.file, exc))
        return source
    if source.root is None:
        return source
    source.problems.extend(_duplicate_keys(source.file, source.root))
    if not isinstance(data, dict):
        line = source.root.start_mark.line + 1
        source.problems.append(Problem(source.file, line, "expected a mapping of sections"))
        return source
    _read_sections(source, data)
    return source


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES)


# --- merging ----------------------------------------------------------------


@dataclass
class _Layer:
    """The content of one directory: items by section and id, and singleton sections."""

    items: dict[str, dict[str, tuple[Item, _Origin]]] = field(
        default_factory=lambda: {name: {} for name in COLLECTIONS}
    )
    singletons: dict[str, tuple[BaseModel, _Origin]] = field(default_factory=dict)
    broken: dict[str, set[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0

    def known(self, section: str) -> set[str]:
        """Ids of `section`, counting items that failed validation (already reported)."""
        return set(self.items[section]) | self.broken.get(section, set())


def _where(origin: _Origin) -> str:
    _, node = _resolve(origin.root, origin.loc)
    return f"{Path(origin.file).name}:{node.start_mark.line + 1}"


def _add_collection(
    layer: _Layer, source: _Source, section: str, items: list[tuple[int, Item]]
) -> None:
    assert source.root is not None
    entries = layer.items[section]
    for index, item in items:
        origin = _Origin(source.file, source.root, (section, index))
        if item.id in entries:
            first = _where(entries[item.id][1])
            message = f"duplicate id '{item.id}' in {section} (first at {first})"
            layer.problems.append(_problem_at(origin, ("id",), message))
            continue
        entries[item.id] = (item, origin)


def _add_singleton(layer: _Layer, source: _Source, section: str, value: BaseModel) -> None:
    assert source.root is not None
    origin = _Origin(source.file, source.root, (section,))
    if section in layer.singletons:
        first = _where(layer.singletons[section][1])
        message = f"duplicate section '{section}' (first at {first})"
        layer.problems.append(_problem_at(origin, (), message))
        return
    layer.singletons[section] = (value, origin)


def _add_source(layer: _Layer, source: _Source) -> None:
    layer.files += 1
    layer.problems.extend(source.problems)
    for section, items in source.items.items():
        _add_collection(layer, source, section, items)
    for section, value in source.singletons.items():
        _add_singleton(layer, source, section, value)
    for section, ids in source.broken.items():
        layer.broken.setdefault(section, set()).update(ids)


def _read_directory(directory: Path) -> _Layer:
    layer = _Layer()
    if not directory.is_dir():
        layer.problems.append(Problem(str(directory), None, "not a directory"))
        return layer
    for path in _yaml_files(directory):
        _add_source(layer, _read(path))
    return layer


def _merge(base: _Layer, extra: _Layer) -> _Layer:
    """Extra items override base items with the same id (keeping their place) or are appended."""
    merged = _Layer(problems=[*base.problems, *extra.problems], files=base.files + extra.files)
    for section in COLLECTIONS:
        merged.items[section] = {**base.items[section], **extra.items[section]}
    merged.singletons = {**base.singletons, **extra.singletons}
    for section in {*base.broken, *extra.broken}:
        merged.broken[section] = base.broken.get(section, set()) | extra.broken.get(section, set())
    return merged


def _place_after(entries: dict[str, tuple[Item, _Origin]]) -> dict[str, tuple[Item, _Origin]]:
    """Move every entry with an `after` field behind the entry it names."""
    ordered = dict(entries)
    for item_id, (item, _) in entries.items():
        target = getattr(item, "after", None)
        if target in ordered and target != item_id:
            moved = ordered.pop(item_id)
            pairs = list(ordered.items())
            position = list(ordered).index(target) + 1
            ordered = dict([*pairs[:position], (item_id, moved), *pairs[position:]])
    return ordered


# --- cross references -------------------------------------------------------

# (section, field, target section): the field holds an id (or list of ids) of the target.
REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("objections", "drill", "drills"),
    ("drills", "objections", "objections"),
    ("questions", "direction", "directions"),
    ("questions", "industries", "industries"),
    ("pre_visit_checklist", "after", "pre_visit_checklist"),
    ("scenarios", "id", "drills"),
    ("scenarios", "criteria", "rubric_criteria"),
    ("rubric_criteria", "penalties", "moves"),
    ("rubric_criteria", "drills", "drills"),
    ("trio_cards", "id", "scenarios"),
)

_WHAT = {
    "drills": "drill",
    "objections": "objection type",
    "directions": "direction",
    "industries": "industry",
    "pre_visit_checklist": "checklist item",
    "competitive_strategies": "competitive strategy",
    "moves": "move",
    "rubric_criteria": "rubric criterion",
    "scenarios": "role-play scenario",
}


def _referenced(value: Any) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield (), value
    elif isinstance(value, list):
        for index, element in enumerate(value):
            if element != ANY_INDUSTRY:
                yield (index,), element


def _item_references(layer: _Layer) -> Iterator[Problem]:
    for section, field_name, target in REFERENCES:
        known = layer.known(target)
        for item, origin in layer.items[section].values():
            for suffix, ref in _referenced(getattr(item, field_name)):
                if ref not in known:
                    message = f"unknown {_WHAT[target]} '{ref}'"
                    yield _problem_at(origin, (field_name, *suffix), message)


def _choices_references(layer: _Layer) -> Iterator[Problem]:
    for item, origin in layer.items["pre_visit_checklist"].values():
        name = getattr(item, "choices_from", None)
        if name is not None and name not in COLLECTIONS:
            yield _problem_at(origin, ("choices_from",), f"unknown section '{name}'")


def _grid_references(layer: _Layer) -> Iterator[Problem]:
    if "opening_grid" not in layer.singletons:
        return
    grid, origin = layer.singletons["opening_grid"]
    known = layer.known("competitive_strategies")
    for index, cell in enumerate(getattr(grid, "cells", [])):
        if cell.strategy is not None and cell.strategy not in known:
            message = f"unknown competitive strategy '{cell.strategy}'"
            yield _problem_at(origin, ("cells", index, "strategy"), message)


def _reward_references(layer: _Layer) -> Iterator[Problem]:
    known = layer.known("moves")
    for item, origin in layer.items["rubric_criteria"].values():
        for move in getattr(item, "rewards", {}):
            if move not in known:
                yield _problem_at(origin, ("rewards", move), f"unknown move '{move}'")


def _turn_references(layer: _Layer) -> Iterator[Problem]:
    """Every move a scenario's turns name (focus, branch conditions) must exist."""
    known = layer.known("moves")
    for item, origin in layer.items["scenarios"].values():
        for t, turn in enumerate(getattr(item, "turns", [])):
            named: list[tuple[Loc, str]] = [((t, "focus", i), m) for i, m in enumerate(turn.focus)]
            for b, branch in enumerate(turn.branches):
                for field_name in ("if_any", "if_none"):
                    moves = getattr(branch, field_name)
                    named += [((t, "branches", b, field_name, i), m) for i, m in enumerate(moves)]
            for loc, move in named:
                if move not in known:
                    yield _problem_at(origin, ("turns", *loc), f"unknown move '{move}'")


def _unplayed_drills(layer: _Layer) -> Iterator[Problem]:
    """Every drill needs a role-play scenario with the same id."""
    if not layer.items["scenarios"] and not layer.broken.get("scenarios"):
        return  # reported as a missing section
    played = layer.known("scenarios")
    for drill_id, (_, origin) in layer.items["drills"].items():
        if drill_id not in played:
            yield _problem_at(origin, ("id",), f"drill '{drill_id}' has no role-play scenario")


def _pipeline_references(layer: _Layer) -> Iterator[Problem]:
    """Every pipeline stage must be a funnel stage."""
    if "pipeline" not in layer.singletons:
        return
    pipeline, origin = layer.singletons["pipeline"]
    known = layer.known("funnel_stages")
    for index, item in enumerate(getattr(pipeline, "stages", [])):
        if item.stage not in known:
            yield _problem_at(
                origin, ("stages", index, "stage"), f"unknown funnel stage '{item.stage}'"
            )


def _reference_problems(layer: _Layer) -> list[Problem]:
    return [
        *_item_references(layer),
        *_choices_references(layer),
        *_grid_references(layer),
        *_reward_references(layer),
        *_turn_references(layer),
        *_unplayed_drills(layer),
        *_pipeline_references(layer),
    ]


# --- building the result ----------------------------------------------------


def _missing_sections(layer: _Layer, where: str) -> list[Problem]:
    missing = [name for name in SINGLETONS if name not in layer.singletons]
    missing += [name for name in COLLECTIONS if not layer.items[name]]
    missing = [name for name in missing if not layer.broken.get(name)]
    return [Problem(where, None, f"missing section '{name}'") for name in missing]


def _build(layer: _Layer) -> Playbooks:
    data: dict[str, Any] = {
        section: {item_id: item for item_id, (item, _) in entries.items()}
        for section, entries in layer.items.items()
    }
    data.update({name: value for name, (value, _) in layer.singletons.items()})
    return Playbooks.model_validate(data)


def _count_items(layer: _Layer) -> int:
    return sum(len(entries) for entries in layer.items.values()) + len(layer.singletons)


def _same_directory(first: Path, second: Path) -> bool:
    return first.resolve() == second.resolve()


def inspect_playbooks(extra_dir: Path | None = None, default_dir: Path = DEFAULT_DIR) -> LoadReport:
    """Load and check the defaults (plus `extra_dir`), returning what was found."""
    layer = _read_directory(default_dir)
    if extra_dir is not None and not _same_directory(extra_dir, default_dir):
        layer = _merge(layer, _read_directory(extra_dir))
    layer.items["pre_visit_checklist"] = _place_after(layer.items["pre_visit_checklist"])
    problems = [*layer.problems, *_reference_problems(layer)]
    problems += _missing_sections(layer, str(default_dir))
    playbooks = None if problems else _build(layer)
    return LoadReport(playbooks, problems, layer.files, _count_items(layer))


@lru_cache(maxsize=16)
def _load_cached(default_dir: Path, extra_dir: Path | None) -> Playbooks:
    report = inspect_playbooks(extra_dir, default_dir)
    if report.playbooks is None:
        raise PlaybookError(report.problems)
    return report.playbooks


def load_playbooks(extra_dir: Path | None = None) -> Playbooks:
    """The default playbooks, extended and overridden by id from `extra_dir`; cached per path.

    Raises PlaybookError listing every problem; nothing is ever half-loaded.
    """
    default = DEFAULT_DIR.resolve()
    extra = extra_dir.resolve() if extra_dir is not None else None
    return _load_cached(default, None if extra == default else extra)


def clear_cache() -> None:
    """Forget cached loads (after the YAML files were edited)."""
    _load_cached.cache_clear()


def check_directory(path: Path | None = None) -> list[Problem]:
    """Every problem in the defaults (None) or in `path` merged over the defaults."""
    return inspect_playbooks(path).problems
