"""Render locale strings as Jinja2 templates to HTML, with user input escaped."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from babel.dates import format_datetime
from jinja2 import Environment, StrictUndefined, Template, pass_context
from jinja2.runtime import Context as TemplateContext
from markupsafe import Markup

from playbooks.locales import load_locale

_environment = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=False)


@pass_context
def _local(context: TemplateContext, value: Any) -> Any:
    """`{{ item.label | local }}`: playbook content in the reader's language."""
    getter = getattr(value, "get", None)
    if value is None or not callable(getter) or isinstance(value, dict):
        return value
    return getter(context.get("_language", "en"))


_environment.filters["local"] = _local


@lru_cache(maxsize=4096)
def _template(language: str, key: str) -> Template:
    value = load_locale(language).get(key)
    if not isinstance(value, str):
        raise KeyError(f"missing text {key!r} for language {language!r}")
    return _environment.from_string(value)


class Texts:
    """The strings of one language."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **values: Any) -> str:
        """Render `key` with `values`; anything not marked safe is HTML-escaped."""
        return _template(self.language, key).render(_language=self.language, **values).strip()

    def safe(self, key: str, **values: Any) -> Markup:
        """Render `key` for embedding in another template without re-escaping."""
        return Markup(self(key, **values))

    def words(self, key: str) -> list[str]:
        """A list of words from the locale, e.g. what counts as 'yes'."""
        value = load_locale(self.language).get(key, [])
        return [str(word) for word in value] if isinstance(value, list) else []


def split_message(text: str, limit: int) -> list[str]:
    """Split text into chunks of at most `limit` characters, at line boundaries.

    A single line longer than the limit is cut hard; our templates keep HTML
    tags within a line, so cutting between lines never splits a tag.
    """
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return [chunk for chunk in chunks if chunk.strip()]


def format_when(moment: datetime, t: Texts) -> str:
    """A date and time as the user's language writes it, e.g. "Tue 24 Nov 2026, 15:00"."""
    locale = "zh_CN" if t.language == "zh" else "en_GB"
    return format_datetime(moment, t("formats.datetime"), tzinfo=moment.tzinfo, locale=locale)
