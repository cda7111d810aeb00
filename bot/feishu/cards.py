"""Outgoing messages as Feishu messages: post rich text, or an interactive card with buttons.

A button's value carries the engine's button data, the open_id of the person
the card was sent to (a press by anyone else is refused before the engine
sees it), and its label (so a pressed card can show what was chosen).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.feishu.markup import escape_markdown, to_card_markdown, to_post
from dialogs.core.io import Button, Outgoing

DATA, OWNER, LABEL = "data", "open_id", "label"
# A card's request body may be 30 KB and a post's 30 KB too (im/v1/messages create).
# Split texts below this many characters: at most 3 bytes each in UTF-8, 5 for an
# escaped markdown character, so a part stays inside the limit with room for buttons.
TEXT_LIMIT = 4000
MAX_LABEL = 60  # characters of a label kept in a button's value


@dataclass(frozen=True)
class FeishuMessage:
    """What im/v1/messages takes: the message type and its JSON content."""

    msg_type: str
    content: str


def button_value(button: Button, open_id: str) -> dict[str, str]:
    """What a pressed button sends back in the card action."""
    return {DATA: button.data, OWNER: open_id, LABEL: button.label[:MAX_LABEL]}


def card(markdown: str, rows: list[list[Button]], open_id: str) -> dict[str, Any]:
    """An interactive card: the text, then one row of buttons per row of the reply."""
    elements: list[dict[str, Any]] = [{"tag": "markdown", "content": markdown or " "}]
    for row in rows:
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": button.label},
                        "type": "default",
                        "value": button_value(button, open_id),
                    }
                    for button in row
                ],
            }
        )
    # update_multi: a card is shared, which is what PATCH im/v1/messages can update.
    return {"config": {"wide_screen_mode": True, "update_multi": True}, "elements": elements}


def message_for(text: str, outgoing: Outgoing, open_id: str, buttons: bool) -> FeishuMessage:
    """One part of a reply: a card when it carries buttons, a post otherwise."""
    if buttons and outgoing.buttons:
        body = card(to_card_markdown(text), outgoing.buttons, open_id)
        return FeishuMessage("interactive", _json(body))
    return FeishuMessage("post", _json(to_post(text)))


def replacement_card(outgoing: Outgoing, open_id: str) -> str:
    """A pressed card's new content: the reply that replaces it (its text and buttons)."""
    return _json(card(to_card_markdown(outgoing.text), outgoing.buttons, open_id))


def chosen_card(question: str | None, label: str) -> str:
    """A pressed card without its buttons, showing the choice under the question."""
    choice = f"→ **{escape_markdown(label)}**"
    markdown = f"{question}\n{choice}" if question else choice
    return _json(card(markdown, [], ""))


def image_message(image_key: str) -> FeishuMessage:
    """An uploaded image as a message."""
    return FeishuMessage("image", _json({"image_key": image_key}))


def file_message(file_key: str) -> FeishuMessage:
    """An uploaded file as a message."""
    return FeishuMessage("file", _json({"file_key": file_key}))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
