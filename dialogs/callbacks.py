"""Button data: short, versioned, and checked before it is trusted."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Telegram allows 1–64 bytes of callback data; we stay well inside it and
# keep it ASCII so a byte is a character.
MAX_CALLBACK_BYTES = 64
_KEY = re.compile(r"^[A-Za-z0-9_.~+-]{1,40}$")
_PAYLOAD = re.compile(r"^v(\d{1,12}):([A-Za-z0-9_.~+-]{1,40})$")


@dataclass(frozen=True)
class ButtonData:
    """A decoded button press: the prompt version it belongs to and the option key."""

    version: int
    key: str


def encode(version: int, key: str) -> str:
    """Data for a button offering `key` on the prompt numbered `version`."""
    if not _KEY.match(key):
        raise ValueError(f"option key {key!r} is not a short ASCII id")
    data = f"v{version}:{key}"
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    return data


def decode(payload: str | None) -> ButtonData | None:
    """Parse button data; None for anything malformed or forged in shape."""
    if not payload or len(payload.encode()) > MAX_CALLBACK_BYTES:
        return None
    match = _PAYLOAD.match(payload)
    if match is None:
        return None
    return ButtonData(version=int(match.group(1)), key=match.group(2))
