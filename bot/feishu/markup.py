"""The engine's Telegram-flavoured HTML as Feishu formatting: card markdown or post rich text.

The engine writes `<b>`, `<i>`, `<code>` and `<a href>` around escaped text. Card
markdown gives `*`, `_`, `~`, brackets and `<` meaning, so every character of
the text that could be read as markup is written as an HTML entity, which the
card renders as the character itself. Post rich text is structured (runs with a
style), so nothing in it needs escaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

# Characters card markdown reads as syntax; shown as themselves through entities.
_MARKDOWN_SPECIAL = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "*": "&#42;",
    "_": "&#95;",
    "~": "&#126;",
    "`": "&#96;",
    "[": "&#91;",
    "]": "&#93;",
    "(": "&#40;",
    ")": "&#41;",
    "#": "&#35;",
    "\\": "&#92;",
    "|": "&#124;",
}
_STYLES = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
           "s": "lineThrough"}  # fmt: skip


def escape_markdown(text: str) -> str:
    """Plain text that card markdown shows exactly as written."""
    return "".join(_MARKDOWN_SPECIAL.get(character, character) for character in text)


@dataclass
class Run:
    """A stretch of text with one style: plain, bold, italic, code, or a link."""

    text: str
    styles: tuple[str, ...] = ()
    code: bool = False
    href: str | None = None


@dataclass
class _Reader(HTMLParser):
    """Reads the engine's HTML into lines of runs."""

    lines: list[list[Run]] = field(default_factory=lambda: [[]])
    styles: list[str] = field(default_factory=list)
    code: int = 0
    href: str | None = None

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _STYLES:
            self.styles.append(_STYLES[tag])
        elif tag in ("code", "pre"):
            self.code += 1
        elif tag == "a":
            self.href = dict(attrs).get("href") or None
        elif tag == "br":
            self.lines.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in _STYLES and _STYLES[tag] in self.styles:
            self.styles.reverse()
            self.styles.remove(_STYLES[tag])  # the innermost one
            self.styles.reverse()
        elif tag in ("code", "pre"):
            self.code = max(0, self.code - 1)
        elif tag == "a":
            self.href = None

    def handle_data(self, data: str) -> None:
        for index, part in enumerate(data.split("\n")):
            if index:
                self.lines.append([])
            if part:
                styles = tuple(dict.fromkeys(self.styles))
                self.lines[-1].append(Run(part, styles, self.code > 0, self.href))


def read_html(text: str) -> list[list[Run]]:
    """The text as lines of styled runs."""
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return reader.lines


def plain_text(text: str) -> str:
    """The text without formatting (for a card's summary or a pressed card's choice)."""
    return "\n".join("".join(run.text for run in line) for line in read_html(text))


def to_card_markdown(text: str) -> str:
    """The text as card markdown, escaped."""
    return "\n".join("".join(_markdown_run(run) for run in line) for line in read_html(text))


def _markdown_run(run: Run) -> str:
    body = escape_markdown(run.text)
    if run.code:
        body = f"`{body}`"
    if "italic" in run.styles:
        body = f"*{body}*"
    if "bold" in run.styles:
        body = f"**{body}**"
    if "lineThrough" in run.styles:
        body = f"~~{body}~~"
    if run.href and run.href.startswith(("https://", "http://")):
        body = f"[{body}]({quote(run.href, safe=':/?&=#%+,;@!$')})"
    return body


def to_post(text: str, language: str = "zh_cn") -> dict[str, Any]:
    """The text as a post (rich text) message's content: paragraphs of styled runs."""
    paragraphs: list[list[dict[str, Any]]] = []
    for line in read_html(text):
        elements: list[dict[str, Any]] = []
        for run in line:
            if run.href and run.href.startswith(("https://", "http://")):
                elements.append({"tag": "a", "text": run.text, "href": run.href})
                continue
            element: dict[str, Any] = {"tag": "text", "text": run.text}
            if run.styles:
                element["style"] = list(run.styles)
            elements.append(element)
        paragraphs.append(elements or [{"tag": "text", "text": ""}])
    return {language: {"title": "", "content": paragraphs}}
