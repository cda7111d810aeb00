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


# "@r12:done": the "@" keeps action buttons apart from dialog buttons ("v12:key").
_ACTION = re.compile(r"^@([a-z])(\d{1,12}):([a-z0-9_]{1,20})$")


@dataclass(frozen=True)
class ActionData:
    """A button outside any dialog, such as a reminder's Done: what it acts on and how."""

    prefix: str
    target_id: int
    verb: str


def encode_action(prefix: str, target_id: int, verb: str) -> str:
    """Data for a button that acts on object `target_id` of the kind named by `prefix`."""
    data = f"@{prefix}{target_id}:{verb}"
    if not _ACTION.match(data):
        raise ValueError(f"bad action button {data!r}")
    return data


def decode_action(payload: str | None) -> ActionData | None:
    """Parse action button data; None when it is not one."""
    match = _ACTION.match(payload or "")
    if match is None:
        return None
    return ActionData(match.group(1), int(match.group(2)), match.group(3))
