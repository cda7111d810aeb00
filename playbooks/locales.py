"""The interface strings: `locales/<language>/*.yaml`, merged and flattened to dotted keys.

Each file holds one area's strings (core, account, visit…) under its own
top-level keys, so areas can be edited independently.
"""

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
    strings: dict[str, Any] = {}
    for path in sorted((LOCALES_DIR / language).glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            tree = yaml.safe_load(handle) or {}
        for key, value in _flatten(tree, ""):
            if key in strings:
                raise ValueError(f"{path}: text {key!r} is defined twice")
            strings[key] = value
    return strings


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
