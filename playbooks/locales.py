"""The interface strings, one YAML file per language, flattened to dotted keys."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"


@cache
def load_locale(language: str) -> dict[str, Any]:
    """Every string of `language` keyed by its dotted path, e.g. `onboarding.ask_role`."""
    path = LOCALES_DIR / f"{language}.yaml"
    with path.open(encoding="utf-8") as handle:
        tree = yaml.safe_load(handle) or {}
    return dict(_flatten(tree, ""))


def _flatten(node: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        items: list[tuple[str, Any]] = []
        for key, value in node.items():
            items.extend(_flatten(value, f"{prefix}{key}."))
        return items
    return [(prefix.rstrip("."), node)]


def language_for(language_code: str | None) -> str:
    """Map a platform language code to ours: zh* is Chinese, anything else English."""
    if language_code and language_code.lower().startswith("zh"):
        return "zh"
    return DEFAULT_LANGUAGE
