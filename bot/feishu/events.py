"""Feishu events into engine turns: a message or a card press in, the replies out.

Both receive modes (bot/feishu/long_connection.py, bot/feishu/callback_server.py)
hand the SDK's event objects to `FeishuBot`. It takes each event in once (by its
event id, in the database, so a re-delivery or a second process does nothing),
answers at once, well inside Feishu's 3 seconds, and runs the turn afterwards on
the bot's event loop: one person's events in the order they came, other
people's alongside.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import lark_oapi as lark
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)
from sqlmodel import Session

from bot.feishu.cards import DATA, LABEL, OWNER
from bot.feishu.transport import PLATFORM, FeishuTransport
from bot.reminders import DeliveryBlocked, DeliveryFailed, DeliveryRetry
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, Outgoing, Sender
from dialogs.core.texts import Texts
from playbooks.locales import language_for
from storage.feishu_events import claim_event
from storage.users import find_user

log = logging.getLogger(__name__)
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


class FeishuBot:
    """Takes Feishu events in, runs their turns on the engine, sends the replies."""

    def __init__(
        self,
        engine: Engine,
        transport: FeishuTransport,
        default_language: str | None = None,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.default_language = default_language
        self.loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self.turns: set[Future[None]] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the turns run on (events may arrive on other threads)."""
        self.loop = loop

    # ----- SDK handlers: called on the SDK's thread, answer at once -----------------

    def on_message(self, data: P2ImMessageReceiveV1) -> None:
        """im.message.receive_v1: a person wrote to the bot."""
        event = data.event
        if event is None or event.sender is None or event.message is None:
            return
        if event.sender.sender_type not in (None, "user"):
            return  # other apps' messages
        open_id = event.sender.sender_id.open_id if event.sender.sender_id else None
        message = event.message
        if not open_id or not self._first_time(data):
            return
        private = message.chat_type in (None, "p2p")
        sender = Sender(
            platform=PLATFORM,
            user_id=open_id,
            language_code=locale_of(message.user_agent) or self.default_language,
            private_chat=private,
        )
        incoming = message_input(message.message_type or "", message.content or "")
        chat_id = open_id if private else str(message.chat_id)
        self._start(Received(sender, chat_id, incoming))

    def on_card_action(self, data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
        """card.action.trigger: a card's button was pressed. Answered empty, at once."""
        event = data.event
        answer = P2CardActionTriggerResponse({})
        if event is None or event.operator is None or not event.operator.open_id:
            return answer
        if not self._first_time(data):
            return answer
        open_id = str(event.operator.open_id)
        value: dict[str, Any] = (event.action.value if event.action else None) or {}
        owner = value.get(OWNER)
        payload = str(value.get(DATA, ""))
        card_id = event.context.open_message_id if event.context else None
        if owner != open_id:
            # A press on a card sent to someone else (or made up): the engine answers it
            # as a spent button, and nobody's card changes.
            log.warning("card press by %s on a card for %s refused", open_id, owner)
            payload, card_id = "", None
        sender = Sender(platform=PLATFORM, user_id=open_id, language_code=self.default_language)
        label = str(value.get(LABEL, ""))
        self._start(Received(sender, open_id, Incoming.pressed(payload), card_id, label))
        return answer

    def _first_time(self, data: Any) -> bool:
        header = getattr(data, "header", None)
        event_id = getattr(header, "event_id", None)
        if not event_id:
            return True  # nothing to recognise a re-delivery by
        if claim_event(self.engine.database, str(event_id)):
            return True
        log.info("event %s was already taken in; dropped the re-delivery", event_id)
        return False

    def _start(self, received: Received) -> None:
        assert self.loop is not None, "bind() the bot to its event loop first"
        future = asyncio.run_coroutine_threadsafe(self.turn(received), self.loop)
        self.turns.add(future)
        future.add_done_callback(self.turns.discard)

    # ----- the turn, on the bot's loop ---------------------------------------------

    async def turn(self, received: Received) -> None:
        """Run one input through the engine and deliver its replies, in order per person."""
        key = received.sender.user_id
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await self._run(received)
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    async def _run(self, received: Received) -> None:
        sender = received.sender
        log.debug("event from user %s: %s", sender.user_id, received.incoming.kind)
        try:
            replies = await asyncio.to_thread(self.engine.handle, sender, received.incoming)
            await self.deliver_replies(received, replies)
        except (DeliveryBlocked, DeliveryFailed, DeliveryRetry) as error:
            log.warning("could not answer user %s: %s", sender.user_id, error)
        except Exception as error:
            log.error("error handling an event for user %s: %s", sender.user_id,
                      type(error).__name__, exc_info=error)  # fmt: skip
            await self._tell_about_error(received)

    async def deliver_replies(self, received: Received, replies: list[Outgoing]) -> None:
        """Send the replies; a replacing reply updates the pressed card instead."""
        replaced = False
        card_id = received.card_id
        for outgoing in replies:
            # One reply at most replaces the card; if Feishu refuses, it is sent anew.
            if (
                outgoing.replace
                and card_id is not None
                and not replaced
                and await self.transport.edit(received.chat_id, card_id, outgoing)
            ):
                replaced = True
                continue
            await self.transport.send_reply(received.chat_id, outgoing)
        # A notice means the press was refused or spent: the card stays as it was.
        answered = not any(reply.notice for reply in replies)
        if card_id is not None and received.label is not None and answered and not replaced:
            await self.transport.show_choice(received.chat_id, card_id, received.label)

    async def _tell_about_error(self, received: Received) -> None:
        language = await asyncio.to_thread(self._language_of, received.sender)
        try:
            await self.transport.send_reply(
                received.chat_id, Outgoing(Texts(language)("common.error"))
            )
        except (DeliveryBlocked, DeliveryFailed, DeliveryRetry):
            log.warning("could not tell user %s about the error", received.sender.user_id)

    def _language_of(self, sender: Sender) -> str:
        with Session(self.engine.database) as session:
            user = find_user(session, sender.platform, sender.user_id)
            return user.language if user is not None else language_for(sender.language_code)


def event_handler(
    bot: FeishuBot, encrypt_key: str = "", verification_token: str = ""
) -> lark.EventDispatcherHandler:
    """The SDK's dispatcher with our two handlers: messages and card presses."""
    return (
        lark.EventDispatcherHandler.builder(encrypt_key, verification_token)
        .register_p2_im_message_receive_v1(bot.on_message)
        .register_p2_card_action_trigger(bot.on_card_action)
        .build()
    )
