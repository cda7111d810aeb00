"""Feishu events into engine turns: a message or a card press in, the replies out.

Both receive modes (bot/feishu/long_connection.py, bot/feishu/callback_server.py)
hand the SDK's event objects to `FeishuBot`. It stores each event in the inbox
(by its event id, so a re-delivery or a second process does nothing), answers
at once, well inside Feishu's 3 seconds, and runs the turn afterwards on the
bot's event loop: one person's events in the order they came, other people's
alongside. Replies go through the outbox (bot/outbox.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import uuid
from concurrent.futures import Future
from typing import Any

import lark_oapi as lark
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)
from sqlmodel import Session

from bot.feishu.cards import DATA, LABEL, OWNER
from bot.feishu.received import Received, decode, encode, locale_of, message_input
from bot.feishu.transport import PLATFORM, FeishuTransport
from bot.flood import FloodGate, Verdict
from bot.outbox import OutboxSender, queue_message
from bot.reminders import DeliveryBlocked, DeliveryFailed, DeliveryRetry
from dialogs.core.engine import Engine, Within
from dialogs.core.io import Incoming, Outgoing, Sender
from dialogs.core.texts import Texts
from playbooks.locales import language_for
from storage.db import run_transaction, transaction
from storage.inbox import Pending, claim_turn, mark_handled, pending_events, store_event
from storage.users import find_user

log = logging.getLogger(__name__)


class AlreadyHandled(Exception):
    """Another turn handled this event first (a re-delivery, or a second process)."""


class FeishuBot:
    """Takes Feishu events in, runs their turns on the engine, queues and sends the replies.

    An event is stored in the inbox before Feishu is answered; its turn marks it
    handled and queues the replies in the outbox in the turn's own transaction,
    and the outbox sends them. A crash loses nothing: the restart handles what
    the inbox holds, and sends what the outbox holds.
    """

    def __init__(
        self,
        engine: Engine,
        transport: FeishuTransport,
        outbox: OutboxSender,
        default_language: str | None = None,
        flood: FloodGate | None = None,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.outbox = outbox
        self.default_language = default_language
        # Flood control as on Telegram (bot/flood.py): events come in on several threads.
        self.flood = flood
        self._flood_lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}  # turns holding or awaiting each person's lock
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
        if not open_id:
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
        self._take_in(data, Received(sender, chat_id, incoming))

    def on_card_action(self, data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
        """card.action.trigger: a card's button was pressed. Answered empty, at once."""
        event = data.event
        answer = P2CardActionTriggerResponse({})
        if event is None or event.operator is None or not event.operator.open_id:
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
        self._take_in(data, Received(sender, open_id, Incoming.pressed(payload), card_id, label))
        return answer

    def _take_in(self, data: Any, received: Received) -> None:
        """Store the event, then start its turn; a re-delivery is dropped.

        A database error propagates: Feishu is then not told the event arrived, and
        delivers it again.
        """
        if not self._let_through(received):
            return
        header = getattr(data, "header", None)
        event_id = str(getattr(header, "event_id", None) or uuid.uuid4().hex)
        stored = run_transaction(
            self.engine.database,
            lambda session: store_event(
                session, PLATFORM, event_id, received.sender.user_id, encode(received)
            ),
        )
        if not stored:
            log.info("event %s was taken in before; dropped the re-delivery", event_id)
            return
        self._start(event_id, received)

    def _let_through(self, received: Received) -> bool:
        """Flood control: too much too fast from one person is dropped, after one notice."""
        if self.flood is None:
            return True
        key = int.from_bytes(hashlib.sha256(received.sender.user_id.encode()).digest()[:8])
        with self._flood_lock:
            verdict = self.flood.check(key)
        if verdict is Verdict.ALLOW:
            return True
        log.info("flood control: dropping an event from user %s", received.sender.user_id)
        if verdict is Verdict.WARN and self.loop is not None:
            text = Texts(language_for(received.sender.language_code))("common.slow_down")
            asyncio.run_coroutine_threadsafe(self._warn(received.chat_id, text), self.loop)
        return False

    async def _warn(self, chat_id: str, text: str) -> None:
        try:
            await self.transport.send(chat_id, Outgoing(text))
        except (DeliveryBlocked, DeliveryFailed, DeliveryRetry) as error:
            # The event is dropped whether or not the notice got through.
            log.warning("could not send the slow-down notice: %s", error)

    def _start(self, event_id: str, received: Received) -> None:
        assert self.loop is not None, "bind() the bot to its event loop first"
        future = asyncio.run_coroutine_threadsafe(self.turn(event_id, received), self.loop)
        self.turns.add(future)
        future.add_done_callback(self.turns.discard)

    async def handle_pending(self) -> int:
        """Start the turns of events a stopped process stored and never handled, in order."""
        pending = await asyncio.to_thread(self._pending)
        for event in pending:
            try:
                received = decode(event.payload)
            except (ValueError, KeyError, TypeError):
                log.warning("stored event %s could not be read back", event.event_id)
                continue
            self._start(event.event_id, received)
        if pending:
            log.info("handling %d event(s) received before a restart", len(pending))
        return len(pending)

    def _pending(self) -> list[Pending]:
        with Session(self.engine.database) as session:
            return pending_events(session, PLATFORM)

    # ----- the turn, on the bot's loop ---------------------------------------------

    async def turn(self, event_id: str, received: Received) -> None:
        """Run one input through the engine and deliver its replies, in order per person."""
        key = received.sender.user_id
        lock = self._locks.setdefault(key, asyncio.Lock())
        # Counted, not asked with lock.locked(): a turn just woken doesn't hold the lock yet,
        # and dropping it then would let the person's next turn run alongside.
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                await self._run(event_id, received)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._locks[key]

    async def _run(self, event_id: str, received: Received) -> None:
        sender = received.sender
        log.debug("event %s from user %s: %s", event_id, sender.user_id, received.incoming.kind)
        hook = self.within(event_id, received)
        try:
            replies = await asyncio.to_thread(
                self.engine.handle, sender, received.incoming, within=hook
            )
        except AlreadyHandled:
            log.info("event %s was handled before; not again", event_id)
            replies = None
        except Exception as error:
            log.error("error handling event %s for user %s: %s", event_id, sender.user_id,
                      type(error).__name__, exc_info=error)  # fmt: skip
            await asyncio.to_thread(self._give_up, event_id, received)
            replies = None
        # Also after a re-delivery: whatever the chat still has queued goes now.
        await self.outbox.flush(received.chat_id)
        if replies is not None:
            await self._show_choice(received, replies)

    def within(self, event_id: str, received: Received) -> Within:
        """The hook a turn runs before its commit: claim the event, queue the replies.

        One reply at most replaces the pressed card (the outbox sends it anew if
        Feishu refuses the update).
        """

        def hook(session: Session, replies: list[Outgoing]) -> None:
            if not claim_turn(session, PLATFORM, event_id):
                raise AlreadyHandled(event_id)
            card_id = received.card_id
            for outgoing in replies:
                edit = card_id if outgoing.replace else None
                if edit is not None:
                    card_id = None
                queue_message(session, PLATFORM, received.chat_id, outgoing, edit_message_id=edit)

        return hook

    async def _show_choice(self, received: Received, replies: list[Outgoing]) -> None:
        """A pressed card that nothing replaced shows the choice instead of its buttons.

        Not when the press was refused or spent (a notice says so): the card stays.
        """
        if received.card_id is None or received.label is None:
            return
        if any(reply.notice for reply in replies) or any(reply.replace for reply in replies):
            return
        await self.transport.show_choice(received.chat_id, received.card_id, received.label)

    def _give_up(self, event_id: str, received: Received) -> None:
        """A turn that failed on a bug: marked handled (a restart would fail again), and
        the person told, through the outbox."""
        language = self._language_of(received.sender)
        with transaction(self.engine.database) as session:
            mark_handled(session, PLATFORM, event_id)
            error = Outgoing(Texts(language)("common.error"))
            queue_message(session, PLATFORM, received.chat_id, error)

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
