"""Telegram's `Transport`: the Bot API calls that carry the engine's messages, with its errors
translated into the dispatcher's three kinds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.reminders import DeliveryBlocked, DeliveryFailed, DeliveryRetry
from dialogs.core.io import Outgoing
from dialogs.core.texts import split_message

PLATFORM = "telegram"


def keyboard(outgoing: Outgoing) -> InlineKeyboardMarkup | None:
    """Inline buttons for a reply, or None when it has none."""
    if not outgoing.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(button.label, callback_data=button.data) for button in row]
            for row in outgoing.buttons
        ]
    )


async def send_to_chat(bot: Bot, chat_id: int, outgoing: Outgoing) -> None:
    """Send one reply to a chat, split below Telegram's limit, buttons on the last part."""
    chunks = split_message(outgoing.text, MessageLimit.MAX_TEXT_LENGTH) if outgoing.text else []
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        await bot.send_message(
            chat_id,
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(outgoing) if last else None,
        )
    for name, content in outgoing.attachments.items():
        await send_file(bot, chat_id, name, content)


async def send_file(bot: Bot, chat_id: int, name: str, content: bytes) -> None:
    """One file; a PNG is shown as a photo."""
    if name.endswith(".png"):
        await bot.send_photo(chat_id, content, filename=name)
    else:
        await bot.send_document(chat_id, content, filename=name)


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


@asynccontextmanager
async def delivery_errors() -> AsyncIterator[None]:
    """Telegram's errors as DeliveryBlocked / DeliveryRetry / DeliveryFailed."""
    try:
        yield
    except Forbidden as error:
        raise DeliveryBlocked(str(error)) from error
    except RetryAfter as error:
        raise DeliveryRetry("rate limited", _seconds(error.retry_after)) from error
    except BadRequest as error:  # a NetworkError subclass, but permanent
        raise DeliveryFailed(str(error)) from error
    except NetworkError as error:  # timeouts, 5xx, dropped connections
        raise DeliveryRetry(type(error).__name__) from error


class TelegramTransport:
    """Sends through one PTB `Bot` (and so through its rate limiter's lanes)."""

    platform = PLATFORM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: str, outgoing: Outgoing) -> None:
        """Send one message and its attachments to a private chat."""
        async with delivery_errors():
            await send_to_chat(self.bot, int(chat_id), outgoing)

    async def edit(self, chat_id: str, message_id: str, outgoing: Outgoing) -> bool:
        """Replace a message the bot sent; False when it can't (then it is sent anew)."""
        try:
            async with delivery_errors():
                await self.bot.edit_message_text(
                    outgoing.text,
                    chat_id=int(chat_id),
                    message_id=int(message_id),
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard(outgoing),
                )
        except DeliveryFailed as error:
            # "Not modified" means the message already shows this; anything else: send anew.
            return "not modified" in str(error).lower()
        return True

    async def send_file(self, chat_id: str, name: str, content: bytes) -> None:
        """Send one file; a `.png` is shown as an image."""
        async with delivery_errors():
            await send_file(self.bot, int(chat_id), name, content)

    async def answer_button(self, press_id: str, notice: str | None) -> None:
        """Acknowledge a button press, the notice as its pop-up."""
        async with delivery_errors():
            await self.bot.answer_callback_query(press_id, notice[:200] if notice else None)
