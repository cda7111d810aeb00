"""What every chat platform adapter provides, so a new platform touches no dialog.

The dialog engine speaks `Incoming` and `Outgoing` (dialogs/core/io.py). An
adapter turns its platform's events into `Incoming` for the engine, and
implements `Transport` to carry `Outgoing` back: Telegram (bot/telegram_bot.py),
the terminal (bot/terminal.py), Feishu / Lark (bot/feishu/). The reminder
dispatcher, the digest sender and the outbox sender only ever hold a
`Transport`, so WeCom or DingTalk is one more implementation of this class.

Errors are the dispatcher's three kinds (bot/reminders.py): `DeliveryBlocked`
(the user removed the bot), `DeliveryRetry` (rate limit, 5xx, timeout) and
`DeliveryFailed` (anything retrying would not fix).
"""

from __future__ import annotations

from typing import Protocol

from dialogs.core.io import Outgoing


class Transport(Protocol):
    """Sends the engine's messages to one chat platform's users."""

    platform: str  # the `User.platform` this transport reaches ("telegram", "feishu")

    async def send(self, chat_id: str, outgoing: Outgoing) -> None:
        """Send one message (split at the platform's limit, buttons on the last part)
        and its attachments to a user's private chat."""
        ...

    async def edit(self, chat_id: str, message_id: str, outgoing: Outgoing) -> bool:
        """Replace a message the bot sent (a pressed button's message); False if it can't."""
        ...

    async def send_file(self, chat_id: str, name: str, content: bytes) -> None:
        """Send one file; a `.png` is shown as an image."""
        ...

    async def answer_button(self, press_id: str, notice: str | None) -> None:
        """Acknowledge a button press, with a short notice where the platform shows one."""
        ...
