"""Tests for the fake Telegram Bot API server, driven by the real python-telegram-bot Bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import struct
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes

from tests.fake_telegram import (
    FakeChat,
    FakeTelegram,
    FakeUser,
    decode_form_value,
    parse_html,
)

ALICE = FakeUser(id=1001, first_name="Alice", username="alice", language_code="en")
WEI = FakeUser(id=1002, first_name="伟", language_code="zh-hans")

# 21 CJK characters are 63 UTF-8 bytes: well under 64 *characters* either way.
CJK_64_BYTES = "选" * 21 + "a"
CJK_65_BYTES = "选" * 21 + "ab"
CJK_22_CHARS = "选" * 22  # 66 bytes


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


@pytest.fixture
def alice(fake: FakeTelegram) -> FakeUser:
    """Alice has started the bot, so her private chat exists."""
    fake.add_chat(FakeChat.private(ALICE), ALICE)
    return ALICE


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in buttons])


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def raw_post(fake: FakeTelegram, method: str, body: bytes, content_type: str) -> tuple[int, Any]:
    """POST without PTB, to check the wire format itself."""
    request = urllib.request.Request(
        f"{fake.base_url}{fake.token}/{method}",
        data=body,
        headers={"Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ---------------------------------------------------------------------------------------------
# Basics
# ---------------------------------------------------------------------------------------------


async def test_get_me_returns_the_bot_user(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "salescoach_test_bot")
    assert fake.calls[0][0] == "getMe"  # Bot.initialize asked first


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=fake.base_url, base_file_url=fake.base_file_url):
            pass
    assert fake.errors[-1][2] == "Unauthorized"


async def test_unknown_method_is_404(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": 1})
    assert fake.errors[-1] == ("sendTelepathy", {"chat_id": 1}, "Not Found: method not found")


async def test_unknown_chat_is_chat_not_found(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hello?")
    assert fake.sent == []


# ---------------------------------------------------------------------------------------------
# Sending and validation
# ---------------------------------------------------------------------------------------------


async def test_send_message_with_html_and_inline_keyboard(
    fake: FakeTelegram, bot: Bot, alice: FakeUser
) -> None:
    markup = keyboard(("▶️ Start drill", "drill:start"), ("练习", "drill:zh"))
    message = await bot.send_message(
        alice.id, "😀 <b>Hi</b> &amp; welcome", parse_mode=ParseMode.HTML, reply_markup=markup
    )

    # PTB parsed Telegram's answer: visible text, UTF-16 entity offsets, the keyboard.
    assert message.text == "😀 Hi & welcome"
    assert message.entities == (MessageEntity(MessageEntity.BOLD, offset=3, length=2),)
    assert message.parse_entity(message.entities[0]) == "Hi"
    assert message.reply_markup == markup
    assert message.from_user is not None and message.from_user.is_bot

    sent = fake.sent[-1]
    assert sent.text == "😀 <b>Hi</b> &amp; welcome"
    assert sent.plain_text == "😀 Hi & welcome"
    assert (sent.chat_id, sent.message_id, sent.kind) == (alice.id, message.message_id, "text")
    assert sent.buttons() == [("▶️ Start drill", "drill:start"), ("练习", "drill:zh")]
    assert sent.button("练") == "drill:zh"
    with pytest.raises(AssertionError, match="drill:start"):
        sent.button("Stop")


@pytest.mark.parametrize(
    ("text", "description"),
    [
        (
            "<b>bold</i>",
            "Bad Request: can't parse entities: Unmatched end tag at byte offset 7, "
            'expected "</b>", found "</i>"',
        ),
        (
            "<p>para</p>",
            'Bad Request: can\'t parse entities: Unsupported start tag "p" at byte offset 0',
        ),
        (
            "价格 < 100",
            'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 7',
        ),
        (
            "<b>never closed",
            "Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        ("a</b>", "Bad Request: can't parse entities: Unexpected end tag at byte offset 1"),
        (
            '<span class="x">s</span>',
            'Bad Request: can\'t parse entities: Tag "span" must have class "tg-spoiler" '
            "at byte offset 0",
        ),
        ("Q&A", 'Bad Request: can\'t parse entities: Unescaped "&" at byte offset 1'),
        ("", "Bad Request: message text is empty"),
        ("<b> </b>\n", "Bad Request: message must be non-empty"),
        ("<i>" + "x" * 4097 + "</i>", "Bad Request: message is too long"),
    ],
)
async def test_invalid_text_is_a_bad_request(
    fake: FakeTelegram, bot: Bot, alice: FakeUser, text: str, description: str
) -> None:
    with pytest.raises(BadRequest) as raised:
        await bot.send_message(alice.id, text, parse_mode=ParseMode.HTML)
    # PTB strips "Bad Request: " and re-capitalizes; fake.errors keeps Telegram's wording.
    assert raised.value.message.lower() == description.removeprefix("Bad Request: ").lower()
    assert fake.errors[-1][0] == "sendMessage"
    assert fake.errors[-1][2] == description
    assert fake.sent == []


async def test_length_limit_counts_visible_characters(
    fake: FakeTelegram, bot: Bot, alice: FakeUser
) -> None:
    # 4096 visible characters, far more than 4096 in the source: accepted.
    exactly = "<b>" + "&amp;" * 4000 + "</b>" + "字" * 96
    message = await bot.send_message(alice.id, exactly, parse_mode=ParseMode.HTML)
    assert message.text is not None and len(message.text) == 4096

    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice.id, exactly + "!", parse_mode=ParseMode.HTML)


@pytest.mark.parametrize("data", [CJK_65_BYTES, CJK_22_CHARS])
async def test_callback_data_is_limited_in_bytes(
    fake: FakeTelegram, bot: Bot, alice: FakeUser, data: str
) -> None:
    assert len(data) <= 23 and len(data.encode()) > 64
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(alice.id, "Pick one", reply_markup=keyboard(("选择", data)))
    assert fake.errors[-1][2] == "Bad Request: BUTTON_DATA_INVALID"


async def test_callback_data_of_exactly_64_bytes_is_fine(
    fake: FakeTelegram, bot: Bot, alice: FakeUser
) -> None:
    await bot.send_message(alice.id, "Pick one", reply_markup=keyboard(("选择", CJK_64_BYTES)))
    assert fake.sent[-1].button("选择") == CJK_64_BYTES


async def test_button_without_action_is_rejected(
    fake: FakeTelegram, bot: Bot, alice: FakeUser
) -> None:
    # An empty callback_data counts as no action at all, as on Telegram.
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed"):
        await bot.send_message(alice.id, "x", reply_markup=keyboard(("dead button", "")))
    assert fake.sent == []


# ---------------------------------------------------------------------------------------------
# Receiving updates
# ---------------------------------------------------------------------------------------------


async def test_long_poll_returns_as_soon_as_an_update_arrives(fake: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await fake.wait_until(lambda: any(method == "getUpdates" for method, _ in fake.calls))
    await asyncio.sleep(0.1)
    assert not poll.done()  # really waiting

    started = time.monotonic()
    update_id = fake.send_text(ALICE, "/start@salescoach_test_bot ref-42")
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 2

    assert [u.update_id for u in updates] == [update_id]
    message = updates[0].message
    assert message is not None and message.from_user is not None
    assert message.text == "/start@salescoach_test_bot ref-42"
    assert message.from_user.language_code == "en"
    assert message.chat.id == ALICE.id and message.chat.type == "private"
    assert message.entities == (MessageEntity(MessageEntity.BOT_COMMAND, offset=0, length=26),)
    assert message.parse_entities([MessageEntity.BOT_COMMAND]) == {
        message.entities[0]: "/start@salescoach_test_bot"
    }


async def test_offset_confirms_updates_and_limit_caps_them(fake: FakeTelegram, bot: Bot) -> None:
    first = fake.send_text(ALICE, "one")
    fake.send_text(WEI, "二")
    fake.send_location(ALICE)

    assert [u.update_id for u in await bot.get_updates(limit=2)] == [first, first + 1]
    # Not confirmed yet: asking again returns the same updates.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [first, first + 1, first + 2]
    assert again[2].message is not None and again[2].message.location is not None

    assert await bot.get_updates(offset=first + 3, timeout=0) == ()
    assert fake.pending_updates == []


async def test_empty_long_poll_waits_for_the_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 3


async def test_user_media_updates_parse_and_files_download(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # durations as timedelta, no deprecation
    fake.send_photo(ALICE, caption="my pipeline")
    fake.send_sticker(ALICE)
    fake.send_voice(WEI, duration=7)
    fake.send_document(ALICE, file_name="q3.pdf", data=b"%PDF quarterly numbers")
    photo, sticker, voice, document = [u.message for u in await bot.get_updates()]
    assert photo is not None and photo.photo and photo.caption == "my pipeline"
    assert sticker is not None and sticker.sticker is not None and sticker.sticker.emoji == "👍"
    assert (
        voice is not None
        and voice.voice is not None
        and voice.voice.duration == dtm.timedelta(seconds=7)
    )
    assert voice.chat.id == WEI.id
    assert document is not None and document.document is not None

    file = await bot.get_file(document.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"%PDF quarterly numbers"


async def test_group_chat_messages(fake: FakeTelegram, bot: Bot) -> None:
    team = FakeChat(id=-100500, type="supergroup", title="KA team")
    fake.send_text(WEI, "/report", chat=team)
    (update,) = await bot.get_updates()
    assert update.effective_chat is not None and update.effective_chat.title == "KA team"
    await bot.send_message(team.id, "Report for the team")
    assert [m.plain_text for m in fake.messages_to(team.id)] == ["Report for the team"]


async def test_callback_query_update_and_answer(
    fake: FakeTelegram, bot: Bot, alice: FakeUser
) -> None:
    await bot.send_message(alice.id, "Ready?", reply_markup=keyboard(("Yes", "ready:yes")))
    sent = fake.sent[-1]
    update_id = fake.press(alice, sent, sent.button("Yes"))

    (update,) = await bot.get_updates()
    query = update.callback_query
    assert update.update_id == update_id and query is not None
    assert query.data == "ready:yes" and query.from_user.id == alice.id
    assert isinstance(query.message, Message) and query.message.message_id == sent.message_id
    assert query.message.reply_markup == keyboard(("Yes", "ready:yes"))

    with pytest.raises(BadRequest, match="Message_too_long"):
        await bot.answer_callback_query(query.id, text="x" * 201)
    assert await bot.answer_callback_query(query.id, text="Let's go")
    assert fake.callback_answers == [{"callback_query_id": query.id, "text": "Let's go"}]

    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)  # already answered


def test_press_checks_the_button_exists(fake: FakeTelegram, alice: FakeUser) -> None:
    status, body = raw_post(
        fake,
        "sendMessage",
        json.dumps(
            {"chat_id": alice.id, "text": "Go", "reply_markup": {"inline_keyboard": [[]]}}
        ).encode(),
        "application/json",
    )
    assert status == 200 and body["ok"] is True
    with pytest.raises(AssertionError, match="no button"):
        fake.press(alice, fake.sent[-1], "nope")


# ---------------------------------------------------------------------------------------------
# Editing and deleting
# ---------------------------------------------------------------------------------------------


async def test_edit_message_text(fake: FakeTelegram, bot: Bot, alice: FakeUser) -> None:
    original = await bot.send_message(alice.id, "Step 1", reply_markup=keyboard(("Next", "step:2")))
    edited = await bot.edit_message_text(
        "<b>Step 2</b>", chat_id=alice.id, message_id=original.message_id, parse_mode="HTML"
    )
    assert not isinstance(edited, bool)
    assert edited.text == "Step 2" and edited.edit_date is not None
    # No reply_markup in the edit: Telegram drops the keyboard.
    assert edited.reply_markup is None

    sent = fake.sent[-1]
    assert (sent.text, sent.plain_text, sent.reply_markup) == ("<b>Step 2</b>", "Step 2", None)
    assert len(sent.edits) == 1 and sent.edits[0]["before"]["plain_text"] == "Step 1"

    # Same visible text and entities, different spelling of the markup: not modified.
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<strong>Step 2</strong>",
            chat_id=alice.id,
            message_id=original.message_id,
            parse_mode="HTML",
        )
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=alice.id, message_id=9999)
    assert len(sent.edits) == 1


async def test_edit_reply_markup_and_delete(fake: FakeTelegram, bot: Bot, alice: FakeUser) -> None:
    message = await bot.send_message(alice.id, "Menu", reply_markup=keyboard(("A", "a")))
    await bot.edit_message_reply_markup(
        alice.id, message.message_id, reply_markup=keyboard(("B", "b"))
    )
    assert fake.sent[-1].buttons() == [("B", "b")]
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(
            alice.id, message.message_id, reply_markup=keyboard(("B", "b"))
        )

    assert await bot.delete_message(alice.id, message.message_id)
    assert fake.sent[-1].deleted
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(alice.id, message.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("gone", chat_id=alice.id, message_id=message.message_id)


# ---------------------------------------------------------------------------------------------
# Commands, media, chat actions
# ---------------------------------------------------------------------------------------------


async def test_set_my_commands_per_language(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_my_commands([BotCommand("start", "Start coaching")])
    assert await bot.set_my_commands([BotCommand("start", "开始辅导")], language_code="zh")
    assert fake.commands[("default", "zh")] == [{"command": "start", "description": "开始辅导"}]
    assert fake.commands[("default", "")][0]["description"] == "Start coaching"

    (command,) = await bot.get_my_commands(language_code="zh")
    assert command == BotCommand("start", "开始辅导")
    assert await bot.delete_my_commands(language_code="zh")
    assert await bot.get_my_commands(language_code="zh") == ()

    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "capital letters are invalid")])


async def test_send_photo_and_document_bytes(fake: FakeTelegram, bot: Bot, alice: FakeUser) -> None:
    image = png(3, 2)
    message = await bot.send_photo(
        alice.id, image, caption="<i>Weekly</i> funnel", parse_mode="HTML", filename="f.png"
    )
    assert message.caption == "Weekly funnel"
    assert message.caption_entities == (MessageEntity(MessageEntity.ITALIC, 0, 6),)
    assert (message.photo[-1].width, message.photo[-1].height) == (3, 2)
    assert message.photo[-1].file_size == len(image)

    photo = fake.sent[-1]
    assert (photo.kind, photo.file_size, photo.caption) == (
        "photo",
        len(image),
        "<i>Weekly</i> funnel",
    )
    assert photo.file_data == image

    document = await bot.send_document(alice.id, b"a,b\n1,2\n", filename="deals.csv")
    assert document.document is not None and document.document.file_name == "deals.csv"
    assert (fake.sent[-1].kind, fake.sent[-1].file_size) == ("document", 8)

    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(alice.id, b"not an image")


async def test_send_chat_action(fake: FakeTelegram, bot: Bot, alice: FakeUser) -> None:
    assert await bot.send_chat_action(alice.id, "typing")
    assert fake.chat_actions == [(alice.id, "typing")]
    assert fake.calls_of("sendchataction") == [{"chat_id": alice.id, "action": "typing"}]
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(alice.id, "dancing")


async def test_blocked_user_is_forbidden(fake: FakeTelegram, bot: Bot, alice: FakeUser) -> None:
    from telegram.error import Forbidden

    fake.block(alice)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(alice.id, "Reminder")


# ---------------------------------------------------------------------------------------------
# Fault injection
# ---------------------------------------------------------------------------------------------


async def test_429_surfaces_as_retry_after(
    fake: FakeTelegram, bot: Bot, alice: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # retry_after as timedelta, no deprecation
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(alice.id, "first")
    assert raised.value.retry_after == dtm.timedelta(seconds=7)
    assert fake.sent == []  # the rejected call did nothing

    await bot.send_message(alice.id, "second")  # only the next call fails
    assert [m.plain_text for m in fake.sent] == ["second"]


async def test_dropped_connection_after_the_call_was_performed(
    fake: FakeTelegram, bot: Bot, alice: FakeUser
) -> None:
    fake.fail_next("sendMessage", 200, "", drop_connection=True)
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "did it arrive?")
    assert [m.plain_text for m in fake.sent] == ["did it arrive?"]


async def test_latency_delays_the_answer_not_the_call(
    fake: FakeTelegram, bot: Bot, alice: FakeUser
) -> None:
    fake.set_latency("sendMessage", 30.0)
    call = asyncio.create_task(bot.send_message(alice.id, "slow link"))
    await fake.wait_until(lambda: len(fake.sent) == 1)
    assert not call.done()  # there already, and the bot still waiting for the answer
    fake.set_latency("sendMessage", 0)
    body = f"chat_id={alice.id}&text=fast+again".encode()
    status, _ = await asyncio.to_thread(
        raw_post, fake, "sendMessage", body, "application/x-www-form-urlencoded"
    )
    assert status == 200 and not call.done()  # a new call is answered at once
    call.cancel()
    assert [m.plain_text for m in fake.sent] == ["slow link", "fast again"]


async def test_server_errors_repeat_for_times(
    fake: FakeTelegram, bot: Bot, alice: FakeUser
) -> None:
    fake.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(alice.id, "hello")
    await bot.send_message(alice.id, "hello")
    assert len(fake.sent) == 1 and fake.errors == []  # 5xx are not 4xx errors


async def test_stop_releases_a_pending_long_poll() -> None:
    fake = FakeTelegram()
    fake.start()
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await fake.wait_until(lambda: any(method == "getUpdates" for method, _ in fake.calls))
        started = time.monotonic()
        await asyncio.to_thread(fake.stop)
        assert await asyncio.wait_for(poll, 5) == ()
        assert time.monotonic() - started < 3


# ---------------------------------------------------------------------------------------------
# Test helpers and the whole PTB Application
# ---------------------------------------------------------------------------------------------


async def test_next_message_returns_each_message_once(
    fake: FakeTelegram, bot: Bot, alice: FakeUser
) -> None:
    await bot.send_message(alice.id, "one")
    await bot.send_message(alice.id, "two")
    assert (await fake.next_message(alice.id)).plain_text == "one"
    assert [m.plain_text for m in fake.unread(alice.id)] == ["two"]
    assert (await fake.next_message(alice.id)).plain_text == "two"
    with pytest.raises(AssertionError, match=r"no new bot message to chat 1001.*'two'"):
        await fake.next_message(alice.id, timeout=0.1)


async def test_application_polls_and_replies_end_to_end(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.effective_user is not None
        await update.message.reply_html(f"<b>Welcome</b>, {update.effective_user.first_name}")

    app = (
        Application.builder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        fake.send_text(WEI, "/start")
        reply = await fake.next_message(WEI.id)
        await app.updater.stop()
        await app.stop()

    assert reply.plain_text == "Welcome, 伟"
    assert reply.entities == [{"type": "bold", "offset": 0, "length": 7}]
    methods = [method for method, _ in fake.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert fake.pending_updates == []  # PTB confirmed the update on shutdown


# ---------------------------------------------------------------------------------------------
# Request decoding and the HTML parser, directly
# ---------------------------------------------------------------------------------------------


def test_form_values_decode_json_but_keep_free_text() -> None:
    assert decode_form_value("chat_id", "-100123") == -100123
    assert decode_form_value("reply_markup", '{"inline_keyboard": []}') == {"inline_keyboard": []}
    assert decode_form_value("disable_notification", "true") is True
    assert decode_form_value("text", "42") == "42"
    assert decode_form_value("parse_mode", "HTML") == "HTML"


def test_json_and_multipart_bodies(fake: FakeTelegram, alice: FakeUser) -> None:
    status, body = raw_post(
        fake,
        "sendMessage",
        json.dumps({"chat_id": alice.id, "text": "7"}).encode(),
        "application/json",
    )
    assert status == 200 and body["result"]["text"] == "7"

    boundary = "XyZ"
    image = png(1, 1)
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n{alice.id}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\n100\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, body = raw_post(
        fake, "sendPhoto", multipart, f"multipart/form-data; boundary={boundary}"
    )
    assert status == 200 and body["result"]["caption"] == "100"
    assert fake.sent[-1].file_data == image

    status, body = raw_post(
        fake, "sendMessage", b"chat_id=1001&text=", "application/x-www-form-urlencoded"
    )
    assert (status, body) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"},
    )


def test_html_parser_entities() -> None:
    parsed = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert parsed.entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]

    parsed = parse_html('<a href="https://crm.test/?a=1&b=2">deal</a> &lt3 &#128512;')
    assert parsed.text == "deal <3 😀"
    assert parsed.entities[0] == {
        "type": "text_link",
        "offset": 0,
        "length": 4,
        "url": "https://crm.test/?a=1&b=2",
    }

    parsed = parse_html(
        "<blockquote expandable>q</blockquote><tg-spoiler>s</tg-spoiler><u></u>"
        '<span class="tg-spoiler">t</span>'
    )
    assert [e["type"] for e in parsed.entities] == ["expandable_blockquote", "spoiler", "spoiler"]

    assert parse_html("Q&A", strict_ampersand=False).text == "Q&A"
