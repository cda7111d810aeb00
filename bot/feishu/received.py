"""What a Feishu event says, for the engine: who, where to answer, what they did.

Also how the inbox keeps it (`encode`, `decode`), so an event taken in before a
crash is handled as it came after the restart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.feishu.transport import PLATFORM
from dialogs.core.io import Incoming, InputKind, Sender

# Feishu's clients name their language in the user agent: "… Lark/7.1.8 LarkLocale/zh_CN …".
_LOCALE = re.compile(r"LarkLocale/([A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,4})?)")
_MENTION = re.compile(r"@_user_\d+")  # where a group message @mentions someone (the bot)


@dataclass(frozen=True)
class Received:
    """One event taken in: who, where to answer, what they did."""

    sender: Sender
    chat_id: str  # the person's open_id in a private chat, else the group's chat_id
    incoming: Incoming
    card_id: str | None = None  # the pressed card's message id
    label: str | None = None  # the pressed button's label


def locale_of(user_agent: str | None) -> str | None:
    """The client's language from its user agent, e.g. zh_CN; None when it doesn't say."""
    match = _LOCALE.search(user_agent or "")
    return match.group(1).replace("_", "-") if match else None


def message_input(message_type: str, content: str) -> Incoming:
    """The engine's input for a message: its text, or what was sent instead of text."""
    try:
        body: Any = json.loads(content or "{}")
    except ValueError:
        body = {}
    if message_type == "text" and isinstance(body, dict):
        text = _MENTION.sub("", str(body.get("text", ""))).strip()
        return Incoming.typed(text)
    if message_type == "post" and isinstance(body, dict):
        return Incoming.typed(_post_text(body))
    return Incoming.unsupported(message_type or "other")


def _post_text(body: dict[str, Any]) -> str:
    """The words of a rich-text message, paragraphs as lines."""
    content = body.get("content")
    if content is None:  # {"zh_cn": {"title": …, "content": …}}
        inner = next((value for value in body.values() if isinstance(value, dict)), {})
        content = inner.get("content", [])
    lines = []
    for paragraph in content if isinstance(content, list) else []:
        parts = [
            str(element.get("text", ""))
            for element in (paragraph if isinstance(paragraph, list) else [])
            if isinstance(element, dict) and element.get("tag") in ("text", "a", "md")
        ]
        lines.append("".join(parts))
    return _MENTION.sub("", "\n".join(lines)).strip()


def encode(received: Received) -> str:
    """A received event as the inbox stores it, to be handled after a crash."""
    sender, incoming = received.sender, received.incoming
    return json.dumps(
        {
            "user_id": sender.user_id,
            "language_code": sender.language_code,
            "private_chat": sender.private_chat,
            "chat_id": received.chat_id,
            "kind": incoming.kind.value,
            "text": incoming.text,
            "command": incoming.command,
            "payload": incoming.payload,
            "media": incoming.media,
            "card_id": received.card_id,
            "label": received.label,
        },
        ensure_ascii=False,
    )


def decode(payload: str) -> Received:
    """A stored event back as it was received."""
    data: dict[str, Any] = json.loads(payload)
    sender = Sender(
        platform=PLATFORM,
        user_id=data["user_id"],
        language_code=data["language_code"],
        private_chat=data["private_chat"],
    )
    incoming = Incoming(
        kind=InputKind(data["kind"]),
        text=data["text"],
        command=data["command"],
        payload=data["payload"],
        media=data["media"],
    )
    return Received(sender, data["chat_id"], incoming, data["card_id"], data["label"])
