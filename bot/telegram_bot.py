"""The Telegram front end: turns updates into engine inputs and replies into Bot API calls.

Handlers are thin and registered in `build_application`; behaviour lives in
the dialog engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlmodel import Session
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.digests import start_digest_jobs
from bot.flood import FLOOD_GROUP, FLOOD_KEY, FloodGate, flood_handler
from bot.http_client import AiohttpRequest
from bot.reminders import (
    DeliveryBlocked,
    DeliveryFailed,
    DeliveryRetry,
    Dispatcher,
)
from bot.runtime import build_engine, freeze_startup_objects
from bot.sending import LaneRateLimiter
from bot.settings import Settings
from bot.updates import PerUserUpdateProcessor
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, Outgoing, Sender
from dialogs.core.steps import Services
from dialogs.core.texts import Texts, split_message
from dialogs.users.profile import visible_commands
from playbooks.locales import LANGUAGES, language_for
from storage.models import User
from storage.users import find_user

log = logging.getLogger(__name__)
ENGINE_KEY = "engine"
DISPATCHER_KEY = "dispatcher"
INTERVAL_KEY = "dispatch_interval"
PLATFORM = "telegram"
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


async def send_replies(
    update: Update, context: ContextTypes.DEFAULT_TYPE, replies: list[Outgoing]
) -> None:
    """Deliver the engine's replies in order, splitting long texts below Telegram's limit."""
    chat = update.effective_chat
    assert chat is not None
    query = update.callback_query
    for outgoing in replies:
        replaceable = query is not None and isinstance(query.message, Message)
        if outgoing.replace and replaceable and await _replace(query.message, outgoing):  # type: ignore[union-attr,arg-type]
            continue
        await send_to_chat(context.bot, chat.id, outgoing)


async def send_to_chat(bot: Bot, chat_id: int, outgoing: Outgoing) -> None:
    """Send one reply to a chat, split below Telegram's limit, buttons on the last part."""
    chunks = split_message(outgoing.text, MessageLimit.MAX_TEXT_LENGTH)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        await bot.send_message(
            chat_id,
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(outgoing) if last else None,
        )
    for name, content in outgoing.attachments.items():
        if name.endswith(".png"):
            await bot.send_photo(chat_id, content, filename=name)
        else:
            await bot.send_document(chat_id, content, filename=name)


async def _replace(message: Message, outgoing: Outgoing) -> bool:
    try:
        await message.edit_text(
            outgoing.text, parse_mode=ParseMode.HTML, reply_markup=keyboard(outgoing)
        )
    except BadRequest as error:
        # "Not modified" means the message already shows this; anything else: send anew.
        return "not modified" in str(error).lower()
    return True


async def _run_engine(
    update: Update, incoming: Incoming, context: ContextTypes.DEFAULT_TYPE
) -> list[Outgoing]:
    sender = sender_of(update)
    if sender is None:
        return []
    engine: Engine = context.bot_data[ENGINE_KEY]
    # Ids and the input's kind only: message text never goes to the logs.
    log.debug("update %s from user %s: %s", update.update_id, sender.user_id, incoming.kind)
    # The engine does blocking database work; a worker thread keeps other users moving.
    return await asyncio.to_thread(engine.handle, sender, incoming)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Typed text and commands in a private chat."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    replies = await _run_engine(update, Incoming.typed(message.text), context)
    await send_replies(update, context, replies)


async def on_other_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Photos, stickers, voice notes, files… where the bot expects text."""
    message = update.effective_message
    if message is None:
        return
    media = next((kind for kind in _MEDIA if getattr(message, kind, None)), "other")
    replies = await _run_engine(update, Incoming.unsupported(media), context)
    await send_replies(update, context, replies)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A pressed inline button."""
    query = update.callback_query
    if query is None:
        return
    replies = await _run_engine(update, Incoming.pressed(query.data or ""), context)
    notice = next((reply.notice for reply in replies if reply.notice), None)
    # A notice shows as the button's pop-up; repeat it as a message only when
    # nothing else (such as the current question) follows it.
    rest = [reply for reply in replies if reply.notice is None]
    # Together: one Bot API round trip before the reply shows, not two.
    await asyncio.gather(
        query.answer(notice[:200] if notice else None),
        send_replies(update, context, rest or replies),
    )
    # The answer first, then the spent buttons: removing them first would put a
    # rate-limiter slot (1/30 s) and a round trip between the press and its answer.
    if notice is None and not any(reply.replace for reply in replies):
        await _drop_buttons(query.message)


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
    engine: Engine = context.bot_data[ENGINE_KEY]
    log.debug("update %s from user %s: edit ignored", update.update_id, sender.user_id)
    language = await asyncio.to_thread(_language_of, engine, sender)
    await send_to_chat(context.bot, chat.id, Outgoing(Texts(language)("common.edit_ignored")))


def _language_of(engine: Engine, sender: Sender) -> str:
    """The language the user chose, or their platform's for someone still unknown."""
    with Session(engine.database) as session:
        user = find_user(session, sender.platform, sender.user_id)
        return user.language if user is not None else language_for(sender.language_code)


async def on_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups the bot only asks to be messaged privately (the engine says so)."""
    message = update.effective_message
    replies = await _run_engine(
        update, Incoming.typed(message.text or "" if message else ""), context
    )
    await send_replies(update, context, replies)


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
    if isinstance(update, Update) and update.effective_chat is not None:
        language = language_for(user.language_code if user else None)
        try:
            await context.bot.send_message(
                update.effective_chat.id, Texts(language)("common.error")
            )
        except TelegramError:
            log.warning("could not tell user %s about the error", user.id if user else None)


def telegram_delivery(bot: Bot) -> Callable[[User, Outgoing], Awaitable[None]]:
    """Deliver a reminder to a user, translating Telegram's errors for the dispatcher."""

    async def deliver(user: User, outgoing: Outgoing) -> None:
        try:
            await send_to_chat(bot, int(user.platform_user_id), outgoing)
        except Forbidden as error:
            raise DeliveryBlocked(str(error)) from error
        except RetryAfter as error:
            raise DeliveryRetry("rate limited", _seconds(error.retry_after)) from error
        except BadRequest as error:  # a NetworkError subclass, but permanent
            raise DeliveryFailed(str(error)) from error
        except NetworkError as error:  # timeouts, 5xx, dropped connections
            raise DeliveryRetry(type(error).__name__) from error

    return deliver


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


async def dispatch_reminders(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The JobQueue (APScheduler) tick: deliver whatever is due."""
    dispatcher: Dispatcher = context.bot_data[DISPATCHER_KEY]
    await dispatcher.run_once()


async def start_background_jobs(application: Application) -> None:  # type: ignore[type-arg]
    """Command menus, then the reminder dispatcher ticking every few seconds."""
    await set_command_menus(application)
    engine: Engine = application.bot_data[ENGINE_KEY]
    application.bot_data[DISPATCHER_KEY] = Dispatcher(
        engine, PLATFORM, telegram_delivery(application.bot)
    )
    assert application.job_queue is not None
    interval = application.bot_data[INTERVAL_KEY]
    application.job_queue.run_repeating(
        dispatch_reminders,
        interval=interval,
        first=0,
        name="reminders",
        job_kwargs={"max_instances": 2, "coalesce": True, "misfire_grace_time": None},
    )
    start_digest_jobs(application, engine, telegram_delivery(application.bot))


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


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    """The PTB application with every handler registered."""
    token = settings.token()
    assert token is not None
    builder = (
        ApplicationBuilder()
        .token(token)
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
    services = Services(invite_link=lambda code: _invite_link(application, code))
    application.bot_data[ENGINE_KEY] = build_engine(settings, services)
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
        application.add_handler(flood_handler(gate), group=FLOOD_GROUP)
    application.add_handler(
        MessageHandler(groups & (filters.COMMAND | filters.Entity("mention")), on_group_message)
    )
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(edited, on_edited_message))
    application.add_handler(MessageHandler(private & filters.TEXT, on_text))
    application.add_handler(
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, on_other_message)
    )
    application.add_error_handler(on_error)


def run_polling(settings: Settings) -> None:
    """Run the bot with long polling until interrupted."""
    application = build_application(settings)
    freeze_startup_objects()
    application.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
