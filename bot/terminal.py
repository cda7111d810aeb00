"""`salescoach chat`: the same conversations in a terminal, on the local database."""

from __future__ import annotations

import asyncio
import getpass
import html
import os
import re
import sys
from pathlib import Path
from typing import TextIO

from bot.reminders import DispatchConfig, Dispatcher
from bot.runtime import build_engine
from bot.settings import Settings
from dialogs.core import callbacks
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, Outgoing, Sender
from dialogs.core.steps import Services
from storage.models import User

PLATFORM = "terminal"
_TAG = re.compile(r"<[^>]+>")
QUIT_WORDS = {"/quit", "/exit"}
CONTROL_KEYS = {"~back", "~skip", "~cancel"}


def plain(text: str) -> str:
    """Telegram-style HTML as plain terminal text."""
    return html.unescape(_TAG.sub("", text))


def render(outgoing: Outgoing) -> str:
    """A reply as terminal lines: its text, then numbered options and control hints."""
    lines = [plain(outgoing.text)]
    number = 0
    controls: list[str] = []
    for row in outgoing.buttons:
        for button in row:
            pressed = callbacks.decode(button.data)
            key = pressed.key if pressed else ""
            if key in CONTROL_KEYS:
                controls.append(f"/{key[1:]}")
                continue
            if key.startswith("~") or pressed is None:  # Done, Yes/No, reminder buttons
                lines.append(f"  [{button.label}]")
                continue
            number += 1
            lines.append(f"  {number}. {button.label}")
    if controls:
        lines.append(f"  ({' '.join(controls)})")
    for name in outgoing.attachments:
        lines.append(f"  📎 {save_attachment(name, outgoing.attachments[name])}")
    return "\n".join(lines)


def save_attachment(name: str, content: bytes) -> Path:
    """Charts and exports land in ./salescoach-files, since a terminal cannot show them."""
    folder = Path("salescoach-files")
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def terminal_language() -> str | None:
    """The language code of the terminal's locale, e.g. zh_CN from LANG."""
    for variable in ("SALESCOACH_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return value.split(".", 1)[0].replace("_", "-")
    return None


def due_reminders(engine: Engine) -> list[Outgoing]:
    """Reminders that fell due for terminal users, delivered into this session."""
    delivered: list[Outgoing] = []

    async def deliver(_user: User, outgoing: Outgoing) -> None:
        delivered.append(outgoing)

    dispatcher = Dispatcher(engine, PLATFORM, deliver, DispatchConfig(per_chat_interval=0.0))
    asyncio.run(dispatcher.run_once())
    return delivered


def chat(engine: Engine, sender: Sender, stdin: TextIO, stdout: TextIO) -> None:
    """Read lines, answer them, until end of input or /quit."""
    replies = engine.handle(sender, None)
    while True:
        replies = [*due_reminders(engine), *replies]
        for outgoing in replies:
            print(render(outgoing), file=stdout)
            print(file=stdout)
        stdout.write("> ")
        stdout.flush()
        line = stdin.readline()
        if not line or line.strip().lower() in QUIT_WORDS:
            print(file=stdout)
            return
        text = line.rstrip("\n")
        incoming = _button_by_word(replies, text) or Incoming.typed(text)
        replies = engine.handle(sender, incoming)


def _words_of(label: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in label.casefold()).split())


def _button_by_word(replies: list[Outgoing], text: str) -> Incoming | None:
    # Buttons without a number (Done, Yes/No, a reminder's Snooze) are pressed by
    # typing their label; emoji and punctuation may be left out.
    wanted = _words_of(text)
    if not wanted or wanted.isdigit():
        return None
    for outgoing in replies:
        for row in outgoing.buttons:
            for button in row:
                if _words_of(button.label) == wanted:
                    return Incoming.pressed(button.data)
    return None


def run_chat(settings: Settings, *, name: str | None = None) -> None:
    """Open the terminal chat for the person at this keyboard."""
    engine = build_engine(settings, Services(invite_link=lambda code: f"/join {code}"))
    user = name or getpass.getuser()
    sender = Sender(
        platform=PLATFORM,
        user_id=user,
        display_name=user,
        language_code=terminal_language(),
    )
    try:
        chat(engine, sender, sys.stdin, sys.stdout)
    except KeyboardInterrupt:
        print()
