"""Render locale strings as Jinja2 templates to HTML, with user input escaped."""

from __future__ import annotations

import re
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


# Telegram HTML, piece by piece: a tag, an entity, a line break, or a run of plain text.
_PIECE = re.compile(r"<[^<>]*>|&#?[0-9A-Za-z]+;|\n|[^<&\n]+|[<&]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
OpenTags = tuple[tuple[str, str], ...]  # (name, opening tag) of each open tag, outermost first


def _is_tag(piece: str) -> bool:
    return len(piece) > 1 and piece[0] == "<" and piece[-1] == ">"


def _is_run(piece: str) -> bool:
    """Plain text, which may be cut anywhere."""
    return piece != "\n" and (piece[0] not in "<&" or len(piece) == 1)


def _shows(piece: str) -> bool:
    """Whether the piece puts something on screen: text or an entity such as `&amp;`."""
    return not _is_tag(piece) and bool(piece.strip())


def _after(stack: OpenTags, piece: str) -> OpenTags:
    """The tags open after `piece`."""
    tag = _TAG.match(piece) if _is_tag(piece) else None
    if tag is None:
        return stack
    closing, name = tag.group(1), tag.group(2).lower()
    if not closing:
        return (*stack, (name, piece))
    for index in range(len(stack) - 1, -1, -1):
        if stack[index][0] == name:
            return stack[:index]
    return stack


def _closers(stack: OpenTags) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


# A tag pair around nothing ("<b></b>" from an empty value) shows nothing and only
# takes room, so it is dropped before splitting.
_EMPTY_TAGS = re.compile(r"<([a-z]+)(?: [^<>]*)?></\1>")


def split_message(text: str, limit: int) -> list[str]:
    """Split HTML text into chunks of at most `limit` characters, at line boundaries.

    A line longer than the limit is cut between pieces, never inside a tag or an
    entity such as `&amp;`, so escaped user text stays valid. A tag open at a cut
    (`<b>` around a long name) is closed at the end of one chunk and opened again
    at the start of the next, so every chunk is valid HTML on its own. Chunks
    that would show nothing are dropped (Telegram refuses empty messages).
    """
    chunks: list[str] = []
    pieces = _PIECE.findall(_EMPTY_TAGS.sub("", text))
    pieces.reverse()  # a stack: the next piece is the last one
    current: list[str] = []
    length = 0
    stack: OpenTags = ()
    newline: tuple[int, OpenTags] | None = None  # the last line break in `current`

    def flush(end: int, open_tags: OpenTags) -> None:
        chunk = "".join(current[:end]) + _closers(open_tags)
        if any(_shows(piece) for piece in current[:end]):
            chunks.append(chunk)

    while pieces:
        piece = pieces.pop()
        after = _after(stack, piece)
        if length + len(piece) + len(_closers(after)) <= limit:
            current.append(piece)
            length += len(piece)
            stack = after
            if piece == "\n":
                newline = (len(current) - 1, stack)
            continue
        showing = any(_shows(item) for item in current)
        room = limit - length - len(_closers(stack))
        if piece == "\n":
            flush(len(current), stack)  # the break falls on a line boundary: drop it
        elif newline is not None and showing:
            # Break at the last line boundary; what followed it goes round again.
            index, stack = newline
            flush(index, stack)
            pieces.append(piece)
            pieces.extend(reversed(current[index + 1 :]))
        elif _is_run(piece) and (room > 0 or not showing):
            # A line too long for one chunk: cut its plain text where the chunk is full.
            take = max(room, 1)
            current.append(piece[:take])
            if piece[take:]:
                pieces.append(piece[take:])
            flush(len(current), stack)
        elif showing:
            flush(len(current), stack)  # a tag or an entity moves whole to the next chunk
            pieces.append(piece)
        else:
            # Not even an empty chunk holds it (a tiny limit): keep it whole all the same.
            current.append(piece)
            stack = after
            flush(len(current), stack)
        opening = "".join(tag for _, tag in stack)
        current = [opening] if opening else []
        length = len(opening)
        newline = None
    flush(len(current), stack)
    return chunks


def format_when(moment: datetime, t: Texts) -> str:
    """A date and time as the user's language writes it, e.g. "Tue 24 Nov 2026, 15:00"."""
    locale = "zh_CN" if t.language == "zh" else "en_GB"
    return format_datetime(moment, t("formats.datetime"), tzinfo=moment.tzinfo, locale=locale)
