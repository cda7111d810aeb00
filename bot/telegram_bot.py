"""The Telegram front end: turns updates into engine inputs and replies into Bot API calls.

Handlers are thin and registered in `build_application`; behaviour lives in
the dialog engine. Every update comes from the inbox (bot/updates.py stores it
before Telegram is told it arrived); a turn marks it handled and queues its
replies in the outbox in its own transaction, and the outbox sender
(bot/outbox.py) sends them. So a crash at any point loses no input and leaves
no reply unsent; see the README's "Crashes" section for the one repeat left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine as Database
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from telegram import Bot, BotCommand, CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.digests import start_digest_jobs
from bot.flood import FLOOD_GROUP, FLOOD_KEY, FloodControl, FloodGate
from bot.http_client import AiohttpRequest
from bot.outbox import OutboxSender, queue_message, worker_name
from bot.reminders import Dispatcher
from bot.runtime import build_engine, freeze_startup_objects
from bot.sending import LaneRateLimiter
from bot.settings import Settings
from bot.telegram_transport import PLATFORM, TelegramTransport, keyboard, send_to_chat
from bot.updates import InboxQueue, PerUserUpdateProcessor
from dialogs.core.engine import Engine, Within
from dialogs.core.io import Incoming, Outgoing, Sender
from dialogs.core.steps import Services
from dialogs.core.texts import Texts
from dialogs.users.profile import visible_commands
from playbooks.locales import LANGUAGES, language_for
from storage.db import run_transaction
from storage.inbox import claim_turn, prune_handled
from storage.models import User, utcnow
from storage.outbox import prune_sent
from storage.users import find_user

__all__ = ["PLATFORM", "build_application", "keyboard", "run_polling", "send_to_chat"]

log = logging.getLogger(__name__)
ENGINE_KEY = "engine"
DISPATCHER_KEY = "dispatcher"
INTERVAL_KEY = "dispatch_interval"
INTAKE_KEY = "intake"
# The catch-all's group: after the dialog handlers (group 0).
REST_GROUP = 1
# Telegram re-delivers an update for less than a day; handled ones can go after that.
KEEP_DELIVERED = timedelta(days=1)
# Media kinds we name when a user sends something other than text.
_MEDIA = ("photo", "sticker", "voice", "video", "video_note", "audio", "document", "animation",
          "location", "contact", "poll", "venue", "dice")  # fmt: skip


def sender_of(update: Update) -> Sender | None:
    """Who sent the update, or None for updates without a person behind them."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or user.is_bot:
        return None
    return Sender(
        platform=PLATFORM,
        user_id=str(user.id),
        display_name=user.full_name,
        language_code=user.language_code,
        private_chat=chat is None or chat.type == ChatType.PRIVATE,
    )


# A reply to queue: (chat id, message, id of the message it replaces).
Queued = tuple[str, Outgoing, str | None]


class AlreadyHandled(Exception):
    """Another turn handled this update first (a re-delivery, or a second process)."""


class Intake:
    """The inbox and outbox of one application: a turn's replies are queued in the turn's
    transaction, with the update marked handled, and sent after the commit."""

    def __init__(self, database: Database, outbox: OutboxSender) -> None:
        self.database = database
        self.outbox = outbox
        # Updates this process finished; the catch-all handler skips them (see finish_rest).
        self.finished: set[int] = set()

    def within(
        self, update: Update, replies_for: Callable[[list[Outgoing]], list[Queued]]
    ) -> Within:
        """The hook a turn runs before its commit: claim the update, queue the replies."""

        def hook(session: Session, replies: list[Outgoing]) -> None:
            if not claim_turn(session, PLATFORM, str(update.update_id)):
                raise AlreadyHandled(update.update_id)
            for chat_id, outgoing, edit in replies_for(replies):
                queue_message(session, PLATFORM, chat_id, outgoing, edit_message_id=edit)

        return hook

    async def run(
        self,
        update: Update,
        work: Callable[[Session], list[Outgoing]],
        replies_for: Callable[[list[Outgoing]], list[Queued]] | None = None,
    ) -> list[Outgoing] | None:
        """Run `work` and the hook in one transaction; None when the update was handled before."""
        hook = self.within(update, replies_for or self.to_chat(update))

        def transaction(session: Session) -> list[Outgoing]:
            replies = work(session)
            hook(session, replies)
            return replies

        try:
            replies = await asyncio.to_thread(run_transaction, self.database, transaction)
        except AlreadyHandled:
            replies = None
        self.finished.add(update.update_id)
        return replies

    def to_chat(self, update: Update) -> Callable[[list[Outgoing]], list[Queued]]:
        """Replies as plain messages to the update's chat."""
        chat = update.effective_chat
        chat_id = str(chat.id) if chat is not None else ""
        return lambda replies: [(chat_id, reply, None) for reply in replies] if chat_id else []

    async def deliver(self, update: Update) -> None:
        """Send what the update's chat has queued."""
        chat = update.effective_chat
        if chat is not None:
            await self.outbox.flush(str(chat.id))


def replies_to_press(update: Update) -> Callable[[list[Outgoing]], list[Queued]]:
    """A button press's replies: a notice is its pop-up, repeated as a message only when
    nothing else (such as the current question) follows it; a replacing reply edits the
    pressed message."""
    chat = update.effective_chat
    query = update.callback_query
    pressed = query.message if query is not None else None
    pressed_id = str(pressed.message_id) if isinstance(pressed, Message) else None

    def replies_for(replies: list[Outgoing]) -> list[Queued]:
        if chat is None:
            return []
        rest = [reply for reply in replies if reply.notice is None] or replies
        return [(str(chat.id), reply, pressed_id if reply.replace else None) for reply in rest]

    return replies_for


async def _run_engine(
    update: Update,
    incoming: Incoming,
    context: ContextTypes.DEFAULT_TYPE,
    replies_for: Callable[[list[Outgoing]], list[Queued]] | None = None,
) -> list[Outgoing] | None:
    """One turn: the engine's answer, the update marked handled and the replies queued, in one
    transaction. None when the update was handled before (nothing to send)."""
    sender = sender_of(update)
    if sender is None:
        return []
    engine: Engine = context.bot_data[ENGINE_KEY]
    intake: Intake = context.bot_data[INTAKE_KEY]
    # Ids and the input's kind only: message text never goes to the logs.
    log.debug("update %s from user %s: %s", update.update_id, sender.user_id, incoming.kind)
    hook = intake.within(update, replies_for or intake.to_chat(update))
    try:
        # The engine does blocking database work; a worker thread keeps other users moving.
        replies = await asyncio.to_thread(engine.handle, sender, incoming, within=hook)
    except AlreadyHandled:
        log.info("update %s was handled before; not again", update.update_id)
        replies = None
    intake.finished.add(update.update_id)
    return replies


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE, incoming: Incoming) -> None:
    await _run_engine(update, incoming, context)
    intake: Intake = context.bot_data[INTAKE_KEY]
    # Also after a re-delivery: whatever the chat still has queued goes now.
    await intake.deliver(update)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Typed text and commands in a private chat."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    await _answer(update, context, Incoming.typed(message.text))


async def on_other_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Photos, stickers, voice notes, files… where the bot expects text."""
    message = update.effective_message
    if message is None:
        return
    media = next((kind for kind in _MEDIA if getattr(message, kind, None)), "other")
    await _answer(update, context, Incoming.unsupported(media))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A pressed inline button."""
    query = update.callback_query
    if query is None:
        return
    incoming = Incoming.pressed(query.data or "")
    replies = await _run_engine(update, incoming, context, replies_to_press(update))
    if replies is None:  # handled before: only stop the button spinning
        with contextlib.suppress(TelegramError):
            await query.answer()
        return
    notice = next((reply.notice for reply in replies if reply.notice), None)
    intake: Intake = context.bot_data[INTAKE_KEY]
    # Together: one Bot API round trip before the reply shows, not two.
    await asyncio.gather(_answer_press(query, notice), intake.deliver(update))
    # The answer first, then the spent buttons: removing them first would put a
    # rate-limiter slot (1/30 s) and a round trip between the press and its answer.
    if notice is None and not any(reply.replace for reply in replies):
        await _drop_buttons(query.message)


async def _answer_press(query: CallbackQuery, notice: str | None) -> None:
    # Not through the outbox: a press is answered at once or not at all (it expires).
    try:
        await query.answer(notice[:200] if notice else None)
    except TelegramError as error:
        log.warning("could not answer a button press: %s", type(error).__name__)


async def _drop_buttons(message: object) -> None:
    # The answered question's buttons are spent; removing them avoids confusion.
    if isinstance(message, Message) and message.reply_markup is not None:
        with contextlib.suppress(BadRequest):
            await message.edit_reply_markup(reply_markup=None)


async def on_edited_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message changes nothing: an answer counts as it was first sent.

    Edits of old messages would otherwise come back as new answers ("1" picking
    option 1 of whatever question is open now, "/visit" starting a visit).
    """
    sender = sender_of(update)
    chat = update.effective_chat
    if sender is None or chat is None:
        return
    intake: Intake = context.bot_data[INTAKE_KEY]
    log.debug("update %s from user %s: edit ignored", update.update_id, sender.user_id)

    def note(session: Session) -> list[Outgoing]:
        return [Outgoing(Texts(_language_of(session, sender))("common.edit_ignored"))]

    if await intake.run(update, note) is not None:
        await intake.deliver(update)


def _language_of(session: Session, sender: Sender) -> str:
    """The language the user chose, or their platform's for someone still unknown."""
    user = find_user(session, sender.platform, sender.user_id)
    return user.language if user is not None else language_for(sender.language_code)


async def on_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups the bot only asks to be messaged privately (the engine says so)."""
    message = update.effective_message
    await _answer(update, context, Incoming.typed(message.text or "" if message else ""))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure without message text, tell the user, and keep running."""
    update_id = update.update_id if isinstance(update, Update) else None
    user = update.effective_user if isinstance(update, Update) else None
    log.error(
        "error handling update %s for user %s: %s",
        update_id,
        user.id if user else None,
        type(context.error).__name__,
        exc_info=context.error,
    )
    if isinstance(context.error, Forbidden):
        return  # the user blocked us; telling them is impossible
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    language = language_for(user.language_code if user else None)
    sorry = [Outgoing(Texts(language)("common.error"))]
    intake: Intake | None = context.bot_data.get(INTAKE_KEY)
    if intake is not None:
        # Marked handled with the apology queued: an update that fails every time must not
        # be handled again at every restart.
        try:
            if await intake.run(update, lambda _session: sorry) is not None:
                await intake.deliver(update)
            return
        except SQLAlchemyError:
            log.warning("could not record the failure of update %s", update_id)
    try:
        await context.bot.send_message(update.effective_chat.id, sorry[0].text)
    except TelegramError:
        log.warning("could not tell user %s about the error", user.id if user else None)


async def finish_rest(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """After the dialog handlers: an update none of them took (a member change, a channel
    post) is marked handled too, or a restart would take it up again."""
    intake: Intake | None = context.bot_data.get(INTAKE_KEY)
    if intake is None or not isinstance(update, Update):
        return
    if update.update_id in intake.finished:
        intake.finished.discard(update.update_id)
        return
    await intake.run(update, lambda _session: [], lambda _replies: [])
    intake.finished.discard(update.update_id)


def telegram_delivery(bot: Bot) -> Callable[[User, Outgoing], Awaitable[None]]:
    """Deliver a message to a user straight away, translating Telegram's errors for the
    dispatcher (`salescoach digest --team`: no outbox sender runs there)."""
    transport = TelegramTransport(bot)

    async def deliver(user: User, outgoing: Outgoing) -> None:
        await transport.send(user.platform_user_id, outgoing)

    return deliver


async def dispatch_reminders(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The JobQueue (APScheduler) tick: deliver whatever is due."""
    dispatcher: Dispatcher = context.bot_data[DISPATCHER_KEY]
    await dispatcher.run_once()


async def send_waiting(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The outbox sweep: what a crash left unsent, and messages whose retry is due."""
    intake: Intake = context.bot_data[INTAKE_KEY]
    await intake.outbox.flush_all()


async def forget_delivered(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Once an hour: handled updates and sent messages older than a day go."""
    intake: Intake = context.bot_data[INTAKE_KEY]
    before = utcnow() - KEEP_DELIVERED

    def prune(session: Session) -> tuple[int, int]:
        return prune_handled(session, before), prune_sent(session, before)

    updates, messages = await asyncio.to_thread(run_transaction, intake.database, prune)
    if updates or messages:
        log.info("forgot %s handled updates and %s sent messages", updates, messages)


async def start_background_jobs(application: Application) -> None:  # type: ignore[type-arg]
    """Updates a crash left unhandled, command menus, then the outbox sweep and the reminder
    dispatcher ticking every few seconds."""
    queue = application.update_queue
    if isinstance(queue, InboxQueue):
        # Queued before polling starts, so they go ahead of anything fetched now.
        await queue.requeue_pending(application.bot)
    await set_command_menus(application)
    engine: Engine = application.bot_data[ENGINE_KEY]
    intake: Intake = application.bot_data[INTAKE_KEY]
    deliver = telegram_delivery(application.bot)
    application.bot_data[DISPATCHER_KEY] = Dispatcher(
        engine, PLATFORM, deliver, outbox=intake.outbox
    )
    assert application.job_queue is not None
    interval = application.bot_data[INTERVAL_KEY]
    every = {"max_instances": 2, "coalesce": True, "misfire_grace_time": None}
    application.job_queue.run_repeating(
        send_waiting, interval=interval, first=0, name="outbox", job_kwargs=every
    )
    application.job_queue.run_repeating(
        dispatch_reminders, interval=interval, first=0, name="reminders", job_kwargs=every
    )
    application.job_queue.run_repeating(
        forget_delivered, interval=3600, first=60, name="forget-delivered", job_kwargs=every
    )
    start_digest_jobs(application, engine, deliver, outbox=intake.outbox)


async def set_command_menus(application: Application) -> None:  # type: ignore[type-arg]
    """The command menu, once per language plus a default."""
    engine: Engine = application.bot_data[ENGINE_KEY]
    commands = visible_commands(engine.services.commands, None)
    for language in LANGUAGES:
        t = Texts(language)
        menu = [BotCommand(command.name, t(command.help)) for command in commands]
        await application.bot.set_my_commands(menu, language_code=language)
        if language == "en":
            await application.bot.set_my_commands(menu)


def build_application(settings: Settings, worker: str = "polling") -> Application:  # type: ignore[type-arg]
    """The PTB application with every handler registered.

    `worker` names this process's claims on the outbox; it must differ between
    processes running at once (webhook mode names it after the listening address).
    """
    token = settings.token()
    assert token is not None
    services = Services()
    engine = build_engine(settings, services)
    builder = (
        ApplicationBuilder()
        .token(token)
        .update_queue(InboxQueue(engine.database, PLATFORM))
        .concurrent_updates(PerUserUpdateProcessor())
        .request(AiohttpRequest(settings.telegram_connections))
        .get_updates_request(AiohttpRequest(1))
        .rate_limiter(
            # Telegram's ~30 messages/s, replies to people before broadcasts (bot/sending.py).
            LaneRateLimiter(rate=settings.send_rate, max_retries=3)
        )
        .post_init(start_background_jobs)
    )
    if settings.telegram_api_url:
        builder = builder.base_url(settings.telegram_api_url)
    if settings.telegram_file_url:
        builder = builder.base_file_url(settings.telegram_file_url)
    application = builder.build()
    services.invite_link = lambda code: _invite_link(application, code)
    application.bot_data[ENGINE_KEY] = engine
    outbox = OutboxSender(engine.database, TelegramTransport(application.bot), worker_name(worker))
    application.bot_data[INTAKE_KEY] = Intake(engine.database, outbox)
    application.bot_data[INTERVAL_KEY] = settings.dispatch_interval
    if settings.flood_limit:
        application.bot_data[FLOOD_KEY] = FloodGate(settings.flood_limit, settings.flood_window)
    register_handlers(application)
    return application


def _invite_link(application: Application, code: str) -> str:  # type: ignore[type-arg]
    return f"https://t.me/{application.bot.username}?start=join_{code}"


def register_handlers(application: Application) -> None:  # type: ignore[type-arg]
    """Every handler, in one place."""
    # New messages only: an edit is not a new answer (edits get their own handler).
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    groups = filters.ChatType.GROUPS & filters.UpdateType.MESSAGE
    edited = filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE
    gate: FloodGate | None = application.bot_data.get(FLOOD_KEY)
    if gate is not None:  # first, before any dialog: a flooding user's extra updates stop here
        application.add_handler(
            TypeHandler(Update, dropping(FloodControl(gate))), group=FLOOD_GROUP
        )
    application.add_handler(
        MessageHandler(groups & (filters.COMMAND | filters.Entity("mention")), on_group_message)
    )
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(edited, on_edited_message))
    application.add_handler(MessageHandler(private & filters.TEXT, on_text))
    application.add_handler(
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, on_other_message)
    )
    application.add_handler(TypeHandler(Update, finish_rest), group=REST_GROUP)
    application.add_error_handler(on_error)


def dropping(
    control: FloodControl,
) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    """The flood gate, marking the updates it drops handled (a restart must not replay them)."""

    async def check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await control(update, context)
        except ApplicationHandlerStop:
            intake: Intake = context.bot_data[INTAKE_KEY]
            await intake.run(update, lambda _session: [], lambda _replies: [])
            intake.finished.discard(update.update_id)
            raise

    return check


def run_polling(settings: Settings) -> None:
    """Run the bot with long polling until interrupted."""
    application = build_application(settings)
    freeze_startup_objects()
    application.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
