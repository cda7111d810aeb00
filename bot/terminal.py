"""`salescoach chat`: the same conversations in a terminal, on the local database.

Each session is one person (`--user NAME`, default the login name). It shows
only that person's messages: the reminder dispatcher of a session claims their
due reminders alone (follow-ups, visit briefs, a manager's comment, a drill),
and looks for them while the session waits for input, so they appear without a
key being pressed. Charts and exports land in `salescoach-files/<user>/`.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import html
import os
import queue
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.reminders import DispatchConfig, Dispatcher
from bot.runtime import build_engine
from bot.settings import Settings
from bot.transport import Transport
from dialogs.core import callbacks
from dialogs.core.engine import Engine
from dialogs.core.io import Button, Incoming, Outgoing, Sender
from dialogs.core.steps import Services
from storage.db import transaction
from storage.models import Reminder, User
from storage.reminders import claim_due, expire_stuck

PLATFORM = "terminal"
FILES = Path("salescoach-files")
_TAG = re.compile(r"<[^>]+>")
_CODE = re.compile(r"^\s*(\d{1,3})\s*([a-z])\s*$", re.IGNORECASE)
QUIT_WORDS = {"/quit", "/exit"}
CONTROL_KEYS = {"~back", "~skip", "~cancel"}
LETTERS = "abcdefghijklmnopqrstuvwxyz"
HINT_WIDTH = 60  # characters of an item's text shown when a typed label is ambiguous


def plain(text: str) -> str:
    """Telegram-style HTML as plain terminal text."""
    return html.unescape(_TAG.sub("", text))


@dataclass
class Screen:
    """What the terminal shows since the person last typed, and what they can type to press.

    Options of the open question are numbered ("1. Sales manager") and typed as
    the number, which the dialog reads. Every other button (a reminder's Done and
    Snooze, Yes/No, Done) gets a code per message: its item number and a letter,
    "1a Done ✔   1b Snooze 1 h". With six follow-ups listed, "2a" is the second
    one's Done, and typing "Done" asks which instead of pressing the first.
    """

    files: Path = FILES
    items: int = 0
    codes: dict[str, Button] = field(default_factory=dict)
    item_of: dict[str, str] = field(default_factory=dict)  # code → its item's text, shortened
    buttons: list[tuple[str | None, Button]] = field(default_factory=list)  # (code, button)

    def clear(self) -> None:
        """A new turn: what was shown before can no longer be pressed by its code."""
        self.items = 0
        self.codes.clear()
        self.item_of.clear()
        self.buttons.clear()

    def render(self, outgoing: Outgoing) -> str:
        """A reply as terminal lines: its text, numbered options, coded buttons, controls."""
        text = plain(outgoing.text)
        lines = [text]
        number = 0
        controls: list[str] = []
        coded: list[list[str]] = []
        letters = iter(LETTERS)
        item = self.items + 1
        for row in outgoing.buttons:
            cells: list[str] = []
            for button in row:
                pressed = callbacks.decode(button.data)
                key = pressed.key if pressed else ""
                if key in CONTROL_KEYS:
                    controls.append(f"/{key[1:]}")
                    continue
                if key.startswith("~") or pressed is None:  # Done, Yes/No, reminder buttons
                    code = f"{item}{next(letters, '')}"
                    self.codes[code] = button
                    self.item_of[code] = _summary(text)
                    self.buttons.append((code, button))
                    cells.append(f"{code} {button.label}")
                    continue
                number += 1
                self.buttons.append((None, button))
                lines.append(f"  {number}. {button.label}")
            if cells:
                coded.append(cells)
        if coded:
            self.items = item
            lines.extend(f"  {'   '.join(cells)}" for cells in coded)
        if controls:
            lines.append(f"  ({' '.join(controls)})")
        for name, content in outgoing.attachments.items():
            lines.append(f"  📎 {save_attachment(name, content, self.files)}")
        return "\n".join(lines)

    def choice(self, text: str) -> Incoming | list[str] | None:
        """What typing `text` presses: a button, several candidates to choose from, or nothing.

        A code ("2a") presses its button. A button's label ("Done", "完成"; emoji and
        punctuation may be left out) presses it when one button has that label; when
        several do, the candidates come back as hint lines and nothing is pressed.
        """
        code = _CODE.match(text)
        if code is not None:
            button = self.codes.get(f"{int(code.group(1))}{code.group(2).lower()}")
            if button is not None:
                return Incoming.pressed(button.data)
        wanted = _words_of(text)
        if not wanted or wanted.isdigit():
            return None
        matches = [(c, b) for c, b in self.buttons if _words_of(b.label) == wanted]
        if len({b.data for _, b in matches}) == 1:
            return Incoming.pressed(matches[0][1].data)
        hints = [f"  {c} {b.label} — {self.item_of[c]}" for c, b in matches if c is not None]
        return hints or None


def _summary(text: str) -> str:
    """The message on one short line, to tell apart items whose buttons are the same."""
    line = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= HINT_WIDTH else f"{line[: HINT_WIDTH - 1]}…"


def _words_of(label: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in label.casefold()).split())


class TerminalTransport:
    """The terminal as a chat platform: messages printed, files saved to the person's folder.

    A terminal can't change lines already printed, so `edit` always answers False
    and the caller prints the new version; a button's notice is printed as a line.
    """

    platform = PLATFORM

    def __init__(self, screen: Screen, stdout: TextIO) -> None:
        self.screen = screen
        self.stdout = stdout

    def show(self, outgoing: Outgoing) -> None:
        """Print one reply (its attachments saved and named) and a blank line."""
        print(self.screen.render(outgoing), file=self.stdout)
        print(file=self.stdout)

    async def send(self, chat_id: str, outgoing: Outgoing) -> None:
        """Print the reply; the terminal is one person's chat, so `chat_id` is theirs."""
        self.show(outgoing)

    async def edit(self, chat_id: str, message_id: str, outgoing: Outgoing) -> bool:
        """Printed lines stay as they are."""
        return False

    async def send_file(self, chat_id: str, name: str, content: bytes) -> None:
        """Save the file in the person's folder and print where it is."""
        print(f"  📎 {save_attachment(name, content, self.screen.files)}", file=self.stdout)

    async def answer_button(self, press_id: str, notice: str | None) -> None:
        """A notice is printed as a line of its own."""
        if notice:
            print(plain(notice), file=self.stdout)


def user_folder(user: str, base: Path = FILES) -> Path:
    """The person's own folder under `base`: their name, made safe for a path.

    A name that had to be changed gets a short hash of the original, so "a/b"
    and "a_b" never share a folder.
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in user).strip(".")
    if safe != user or not safe:
        digest = hashlib.sha256(user.encode()).hexdigest()[:8]
        safe = f"{safe}-{digest}" if safe else digest
    return base / safe


def save_attachment(name: str, content: bytes, folder: Path = FILES) -> Path:
    """Charts and exports land in the person's folder, since a terminal cannot show them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(name).name
    path.write_bytes(content)
    return path


def terminal_language() -> str | None:
    """The language code of the terminal's locale, e.g. zh_CN from LANG."""
    for variable in ("SALESCOACH_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return value.split(".", 1)[0].replace("_", "-")
    return None


class SessionDispatcher(Dispatcher):
    """The reminder dispatcher of one terminal session: only its own person's reminders."""

    def __init__(self, engine: Engine, sender: Sender) -> None:
        self.delivered: list[Outgoing] = []

        async def deliver(_user: User, outgoing: Outgoing) -> None:
            self.delivered.append(outgoing)

        super().__init__(engine, sender.platform, deliver, DispatchConfig(per_chat_interval=0.0))
        self.platform_user_id = sender.user_id

    def _claim(self) -> list[tuple[int, int]]:
        now = self.engine.clock()
        with transaction(self.engine.database) as session:
            expire_stuck(session, now, self.config.lease)
            ids = claim_due(session, now, self.config.batch, self.platform, self.platform_user_id)
            reminders = [session.get(Reminder, reminder_id) for reminder_id in ids]
            return [(r.id or 0, r.user_id) for r in reminders if r is not None]

    def due(self) -> list[Outgoing]:
        """This person's reminders that fell due, composed and marked sent."""
        self.delivered = []
        asyncio.run(self.run_once())
        return self.delivered


def due_reminders(engine: Engine, sender: Sender) -> list[Outgoing]:
    """The reminders that fell due for `sender`, and for nobody else."""
    return SessionDispatcher(engine, sender).due()


def _lines(stdin: TextIO) -> queue.Queue[str | None]:
    """Lines typed, read by a background thread so the session can look for reminders.

    None marks the end of input.
    """
    typed: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        try:
            for line in iter(stdin.readline, ""):
                typed.put(line)
        except (OSError, ValueError):  # stdin closed under us
            pass
        typed.put(None)

    threading.Thread(target=read, name="terminal-input", daemon=True).start()
    return typed


def chat(
    engine: Engine,
    sender: Sender,
    stdin: TextIO,
    stdout: TextIO,
    *,
    poll_interval: float = 2.0,
    files: Path | None = None,
) -> None:
    """Read lines and answer them until end of input or /quit; show due reminders meanwhile.

    Everything that touches the database happens on this thread: the reader
    thread only hands over lines.
    """
    screen = Screen(files=files if files is not None else user_folder(sender.user_id))
    terminal: Transport = TerminalTransport(screen, stdout)
    dispatcher = SessionDispatcher(engine, sender)

    def show(replies: list[Outgoing]) -> None:
        for outgoing in replies:
            asyncio.run(terminal.send(sender.user_id, outgoing))

    def prompt() -> None:
        stdout.write("> ")
        stdout.flush()

    replies = engine.handle(sender, None)  # creates the user on a first visit
    show([*dispatcher.due(), *replies])
    typed = _lines(stdin)
    while True:
        prompt()
        while True:
            try:
                line = typed.get(timeout=poll_interval)
                break
            except queue.Empty:
                arrived = dispatcher.due()
                if arrived:  # off the prompt line, the messages, and the prompt again
                    print(file=stdout)
                    show(arrived)
                    prompt()
        if line is None or line.strip().lower() in QUIT_WORDS:
            print(file=stdout)
            return
        text = line.rstrip("\n")
        pressed = screen.choice(text)
        if isinstance(pressed, list):  # several buttons have that label: say which to type
            print("\n".join(pressed), file=stdout)
            print(file=stdout)
            continue
        replies = engine.handle(sender, pressed or Incoming.typed(text))
        screen.clear()
        show([*dispatcher.due(), *replies])


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
        chat(engine, sender, sys.stdin, sys.stdout, poll_interval=settings.dispatch_interval)
    except KeyboardInterrupt:
        print()
