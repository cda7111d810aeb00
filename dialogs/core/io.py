"""What a dialog receives and what it answers, in terms any chat platform can carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class InputKind(StrEnum):
    """The kinds of thing a user can send."""

    TEXT = "text"
    BUTTON = "button"
    COMMAND = "command"
    UNSUPPORTED = "unsupported"  # a photo, sticker, voice note, file, location…


@dataclass(frozen=True)
class Sender:
    """Who sent an input, as the platform describes them."""

    platform: str
    user_id: str
    display_name: str = ""
    language_code: str | None = None
    private_chat: bool = True


@dataclass(frozen=True)
class Incoming:
    """One input from a user."""

    kind: InputKind
    text: str = ""  # typed text, or a command's arguments
    command: str | None = None  # without the slash, lower case
    payload: str | None = None  # a pressed button's data
    media: str | None = None  # what was sent instead of text

    @classmethod
    def typed(cls, text: str) -> Incoming:
        """Text typed by the user; a leading /word makes it a command."""
        stripped = text.strip()
        if stripped.startswith("/") and len(stripped) > 1:
            head, _, rest = stripped[1:].partition(" ")
            name = head.split("@", 1)[0].lower()
            return cls(kind=InputKind.COMMAND, command=name, text=rest.strip())
        return cls(kind=InputKind.TEXT, text=text)

    @classmethod
    def pressed(cls, payload: str) -> Incoming:
        """A button press carrying `payload`."""
        return cls(kind=InputKind.BUTTON, payload=payload)

    @classmethod
    def unsupported(cls, media: str) -> Incoming:
        """Something that is not text, such as a photo or sticker."""
        return cls(kind=InputKind.UNSUPPORTED, media=media)


@dataclass(frozen=True)
class Button:
    """A button: what it says and the data it sends back when pressed."""

    label: str
    data: str


@dataclass
class Outgoing:
    """One message to show: HTML text and optional rows of buttons."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    # Replace the message whose button was pressed (multi-choice toggles)
    # instead of sending a new one.
    replace: bool = False
    # A short notice for platforms that show one on a button press.
    notice: str | None = None
    # Binary attachments (PNG charts) keyed by file name.
    attachments: dict[str, bytes] = field(default_factory=dict)
