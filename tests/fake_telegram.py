"""A fake Telegram Bot API server for end-to-end tests.

It emulates the HTTP interface of ``https://api.telegram.org/bot<token>/<method>`` closely
enough that the real python-telegram-bot ``Bot``/``Application`` can run against it on
127.0.0.1: long polling with ``getUpdates``, sending and editing messages, inline keyboards
and callback queries, bot commands, photo/document uploads and file downloads.

What it mirrors from Telegram, because these are the mistakes end-to-end tests should catch:

* the exact JSON envelopes (``{"ok": true, "result": ...}`` and
  ``{"ok": false, "error_code": ..., "description": ...}``),
* the HTML entity parser (allowed tags, nesting, entity decoding, byte offsets in errors),
* text, caption and callback-answer length limits, and ``callback_data`` measured in bytes,
* "message is not modified", "message to edit not found", "chat not found" and expired
  callback queries.

Tests drive the *user* side (``send_text``, ``press`` ...) and inspect the *bot* side
(``sent``, ``calls``, ``errors``, ``next_message`` ...). ``fail_next`` injects faults (429s,
5xx, slow or dropped responses) for reliability tests.

Only the standard library is used and the server listens on loopback only.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NoReturn, Self, cast
from urllib.parse import parse_qs, unquote, urlsplit

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
TEXT_BUTTONS_UNALLOWED = (
    "Bad Request: can't parse inline keyboard button: "
    "Text buttons are unallowed in the inline keyboard"
)

# Fields that are free text in the Bot API: a user-visible "42" or "true" must stay a string
# even though it would parse as JSON.
_STRING_PARAMS = frozenset(
    [
        "text",
        "caption",
        "callback_query_id",
        "inline_message_id",
        "description",
        "short_description",
        "name",
        "title",
        "url",
        "query",
        "emoji",
        "file_id",
        "photo",
        "document",
        "secret_token",
        "language_code",
    ]
)

_CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)

_INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

_API_ROUTE = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[^/]+)/?")
_FILE_ROUTE = re.compile(r"/file/bot(?P<token>[^/]+)/(?P<path>.+)")
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


# --------------------------------------------------------------------------------------------
# Test-facing value objects
# --------------------------------------------------------------------------------------------


@dataclass
class FakeUser:
    """A human Telegram user who talks to the bot."""

    id: int
    first_name: str
    language_code: str | None = "en"
    username: str | None = None
    last_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The Bot API ``User`` object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        if self.language_code is not None:
            data["language_code"] = self.language_code
        return data


@dataclass
class FakeChat:
    """A chat the bot can be in; a private chat's id equals the user's id, as in Telegram."""

    id: int
    type: str = "private"
    title: str | None = None

    @classmethod
    def private(cls, user: FakeUser) -> FakeChat:
        return cls(id=user.id, type="private")


@dataclass
class UploadedFile:
    """A file part of a multipart request (what the bot uploaded)."""

    field_name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class SentMessage:
    """A message the bot sent; edits update it in place and are appended to ``edits``."""

    chat_id: int
    message_id: int
    text: str | None  # as sent, i.e. still with HTML markup when parse_mode is HTML
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    caption: str | None  # as sent
    kind: str  # "text" | "photo" | "document"
    edits: list[dict[str, Any]] = field(default_factory=list)
    # What the user sees: markup removed and HTML entities decoded (text or caption).
    plain_text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    date: int = 0
    deleted: bool = False
    file_size: int | None = None
    file_name: str | None = None
    file_data: bytes | None = field(default=None, repr=False)
    media: Any = field(default=None, repr=False)  # Bot API photo array / document object

    def buttons(self) -> list[tuple[str, str]]:
        """Inline buttons as (text, callback_data), row by row; "" for non-callback buttons."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [
            (str(button.get("text", "")), str(button.get("callback_data") or ""))
            for row in rows
            for button in row
        ]

    def button(self, label_contains: str) -> str:
        """callback_data of the first button whose text contains ``label_contains``."""
        for text, data in self.buttons():
            if label_contains in text:
                if not data:
                    raise AssertionError(f"button {text!r} has no callback_data")
                return data
        raise AssertionError(
            f"no button containing {label_contains!r} in message {self.message_id} "
            f"({_shorten(self.plain_text)!r}); buttons: {self.buttons()!r}"
        )


@dataclass(frozen=True)
class FormattedText:
    """Text after entity parsing, as Telegram stores it."""

    text: str
    entities: list[dict[str, Any]]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error response of the Bot API."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            data["parameters"] = {"retry_after": self.retry_after}
        return data


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


class EntityParseError(ValueError):
    """The HTML could not be parsed; the message is Telegram's reason."""


# --------------------------------------------------------------------------------------------
# HTML entity parser (a port of the rules of tdlib's parse_html)
# --------------------------------------------------------------------------------------------

_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
}
_ALLOWED_TAGS = frozenset(_ENTITY_TYPES)  # Telegram accepts exactly the tags it maps to entities
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# tdlib's is_space; "\0" matters because tdlib reads the terminating NUL as a space.
_SPACES = frozenset(" \t\r\n\v\f\0")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def decode_html_entity(source: str, pos: int) -> tuple[str, int] | None:
    """Decode ``&lt;``-style entity at ``pos``: (character, position after it) or None.

    Like Telegram, only lt/gt/amp/quot and numeric references are known and the trailing
    semicolon is optional.
    """
    end = pos + 1
    if source.startswith("&#", pos):
        end += 1
        is_hex = source.startswith("x", end)
        if is_hex:
            end += 1
        digits = "0123456789abcdefABCDEF" if is_hex else "0123456789"
        start = end
        while end < len(source) and source[end] in digits:
            end += 1
        code = int(source[start:end], 16 if is_hex else 10) if end > start else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(code)
    else:
        while end < len(source) and source[end].isascii() and source[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(source[pos + 1 : end])
        if named is None:
            return None
        char = named
    if source.startswith(";", end):
        end += 1
    return char, end


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    text_offset: int  # index into the output characters, to recover an <a> tag's inner text


class _HtmlParser:
    """Single pass over the source, emitting visible text and entities as tags close."""

    def __init__(self, source: str, *, strict_ampersand: bool) -> None:
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []
        self.strict_ampersand = strict_ampersand

    def parse(self) -> FormattedText:
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "&":
                self._ampersand()
            elif char == "<":
                self._tag()
            else:
                self._emit(char)
                self.pos += 1
        if self.stack:
            self._fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        text = "".join(self.out)
        if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
            self._fail(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)  # a language only survives inside <pre>
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return FormattedText(text, self.entities)

    # -- helpers ---------------------------------------------------------------------------

    def _fail(self, reason: str) -> NoReturn:
        raise EntityParseError(reason)

    def _byte_offset(self, pos: int) -> int:
        # Telegram reports positions in bytes of the UTF-8 source.
        return len(self.src[:pos].encode("utf-8", "surrogatepass"))

    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.utf16 += utf16_len(text)

    def _skip_spaces(self, i: int) -> int:
        while i < len(self.src) and self.src[i] in _SPACES:
            i += 1
        return i

    def _ampersand(self) -> None:
        decoded = decode_html_entity(self.src, self.pos)
        if decoded is not None:
            char, self.pos = decoded
            self._emit(char)
            return
        if self.strict_ampersand:
            self._fail(f'Unescaped "&" at byte offset {self._byte_offset(self.pos)}')
        self._emit("&")
        self.pos += 1

    def _tag(self) -> None:
        if self.src.startswith("/", self.pos + 1):
            self._end_tag()
        else:
            self._start_tag()

    # -- start tags ------------------------------------------------------------------------

    def _start_tag(self) -> None:
        begin, src = self.pos, self.src
        i = begin + 1
        while i < len(src) and src[i] not in _SPACES and src[i] != ">":
            i += 1
        if i >= len(src):
            self._fail(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        name = src[begin + 1 : i].lower()
        if name not in _ALLOWED_TAGS:
            self._fail(f'Unsupported start tag "{name}" at byte offset {self._byte_offset(begin)}')
        attributes, i = self._attributes(name, begin, i)
        argument = self._tag_argument(name, attributes, begin)
        self.stack.append(_OpenTag(name, argument, self.utf16, len(self.out)))
        self.pos = i + 1

    def _attributes(self, tag: str, begin: int, i: int) -> tuple[dict[str, str], int]:
        src, offset = self.src, self._byte_offset(begin)
        attributes: dict[str, str] = {}
        while True:
            i = self._skip_spaces(i)
            if i >= len(src):
                self._fail(f'Unclosed start tag "{tag}" at byte offset {offset}')
            if src[i] == ">":
                return attributes, i
            name_begin = i
            while i < len(src) and src[i] not in _SPACES and src[i] not in "=>":
                i += 1
            name = src[name_begin:i].lower()
            if not name:
                self._fail(f'Empty attribute name in the tag "{tag}" at byte offset {offset}')
            i = self._skip_spaces(i)
            if i >= len(src) or src[i] != "=":
                if tag == "blockquote" and name == "expandable":
                    attributes[name] = ""  # the one attribute Telegram accepts without a value
                    continue
                self._fail(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {offset}'
                )
            i = self._skip_spaces(i + 1)
            if i >= len(src):
                self._fail(f'Unclosed start tag "{tag}" at byte offset {offset}')
            attributes[name], i = self._attribute_value(i)
            if i >= len(src):
                self._fail(f"Unclosed start tag at byte offset {offset}")

    def _attribute_value(self, i: int) -> tuple[str, int]:
        src = self.src
        quote = src[i]
        if quote in "'\"":
            i += 1
            value: list[str] = []
            while i < len(src) and src[i] != quote:
                # Inside attributes a stray "&" is always literal (URLs are full of them).
                decoded = decode_html_entity(src, i) if src[i] == "&" else None
                if decoded is not None:
                    value.append(decoded[0])
                    i = decoded[1]
                else:
                    value.append(src[i])
                    i += 1
            return "".join(value), i + 1 if i < len(src) else i
        # An unquoted HTML 4 name token: letters, digits, "." and "-".
        start = i
        while i < len(src) and ((src[i].isascii() and src[i].isalnum()) or src[i] in ".-"):
            i += 1
        if i < len(src) and src[i] not in _SPACES and src[i] != ">":
            self._fail(f"Unexpected end of name token at byte offset {self._byte_offset(start)}")
        return src[start:i].lower(), i

    def _tag_argument(self, name: str, attributes: dict[str, str], begin: int) -> str:
        if name == "a":
            return attributes.get("href", "")
        if name == "code":
            css = attributes.get("class", "")
            return css.removeprefix("language-") if css.startswith("language-") else ""
        if name == "span" and attributes.get("class") != "tg-spoiler":
            self._fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset(begin)}'
            )
        if name == "tg-emoji":
            emoji_id = attributes.get("emoji-id", "")
            if not emoji_id.isdigit():
                self._fail("Invalid custom emoji identifier specified")
            return emoji_id
        if name == "blockquote" and "expandable" in attributes:
            return "expandable"
        return ""

    # -- end tags --------------------------------------------------------------------------

    def _end_tag(self) -> None:
        begin, src = self.pos, self.src
        if not self.stack:
            self._fail(f"Unexpected end tag at byte offset {self._byte_offset(begin)}")
        i = begin + 2
        while i < len(src) and src[i] not in _SPACES and src[i] != ">":
            i += 1
        end_name = src[begin + 2 : i]
        i = self._skip_spaces(i)
        if i >= len(src) or src[i] != ">":
            self._fail(f"Unclosed end tag at byte offset {self._byte_offset(begin)}")
        open_tag = self.stack[-1]
        if end_name and end_name != open_tag.name:
            self._fail(
                f"Unmatched end tag at byte offset {self._byte_offset(begin)}, "
                f'expected "</{open_tag.name}>", found "</{end_name}>"'
            )
        self.stack.pop()
        self._close(open_tag)
        self.pos = i + 1

    def _close(self, tag: _OpenTag) -> None:
        length = self.utf16 - tag.utf16_offset
        if length <= 0:
            return  # Telegram silently drops empty entities
        entity: dict[str, Any] = {
            "type": _ENTITY_TYPES[tag.name],
            "offset": tag.utf16_offset,
            "length": length,
        }
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (
            tag.utf16_offset,
            length,
        )
        if tag.name == "a":
            entity["url"] = tag.argument or "".join(self.out[tag.text_offset :])
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.argument
        elif tag.name == "blockquote" and tag.argument:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "pre" and last is not None and same_span and last.get("language"):
            # <pre><code class="language-x">: one pre entity with a language
            last.update(type="pre", language=last["language"])
            return
        elif tag.name == "code" and tag.argument:
            if last is not None and same_span and last["type"] == "pre":
                last["language"] = tag.argument
                return
            entity["language"] = tag.argument
        self.entities.append(entity)


def parse_html(source: str, *, strict_ampersand: bool = True) -> FormattedText:
    """Parse Telegram-flavoured HTML; raises EntityParseError with Telegram's reason."""
    return _HtmlParser(source, strict_ampersand=strict_ampersand).parse()


def format_text(
    text: str, parse_mode: str | None, *, strict_ampersand: bool = True
) -> FormattedText:
    """Apply ``parse_mode`` like Telegram; raises ApiError for markup Telegram rejects."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            return parse_html(text, strict_ampersand=strict_ampersand)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from exc
    if mode in ("", "markdown", "markdownv2"):
        # Markdown is not validated by this fake; the text is kept verbatim.
        return FormattedText(text, [])
    raise bad_request("unsupported parse_mode")


# --------------------------------------------------------------------------------------------
# Reply markup validation
# --------------------------------------------------------------------------------------------


def validate_reply_markup(markup: Any) -> None:
    """Reject reply markup the way Telegram does (inline keyboards in detail)."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
    elif not ({"keyboard", "remove_keyboard", "force_reply"} & markup.keys()):
        raise bad_request("can't parse reply keyboard markup JSON object")


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            _validate_inline_button(button)


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    data = button.get("callback_data")
    if data is not None and not isinstance(data, str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "callback_data" must be of type String'
        )
    if data and len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
        raise bad_request("BUTTON_DATA_INVALID")
    # An empty callback_data counts as absent, which makes the button a "text button".
    if not any(button.get(action) not in (None, "") for action in _INLINE_BUTTON_ACTIONS):
        raise ApiError(400, TEXT_BUTTONS_UNALLOWED)


# --------------------------------------------------------------------------------------------
# Request decoding
# --------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN/Infinity are not JSON values Telegram would accept


def decode_form_value(key: str, value: str) -> Any:
    """Decode a form value that is JSON (object/array/number/bool); keep other strings."""
    if key in _STRING_PARAMS:
        return value
    try:
        decoded = json.loads(value, parse_constant=_reject_constant)
    except ValueError:
        return value
    return decoded if isinstance(decoded, dict | list | int | float) else value


def _header_param(header_value: str, header_name: str, param: str) -> str | None:
    # email.message handles RFC 2231 and quoting, so we need no hand-written header parser.
    message = Message()
    message[header_name] = header_value
    value = message.get_param(param, header=header_name)
    if isinstance(value, tuple):  # RFC 2231 encoded value
        return str(value[2])
    return None if value is None else str(value)


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    boundary = _header_param(content_type, "content-type", "boundary")
    if not boundary:
        raise bad_request("multipart request without boundary")
    params: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    for chunk in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "content-disposition", "name") or ""
        filename = _header_param(disposition, "content-disposition", "filename")
        # A file part names a file; plain fields may still carry a Content-Type (aiohttp's do).
        if filename is not None:
            files[name] = UploadedFile(name, filename, headers.get("content-type"), data)
        else:
            params[name] = decode_form_value(name, data.decode("utf-8"))
    return params, files


def parse_request_body(
    content_type: str, body: bytes
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Decode a Bot API request body: urlencoded form, multipart or JSON."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}, {}
    if media_type == "multipart/form-data":
        return _parse_multipart(content_type, body)
    if media_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise bad_request("can't parse JSON encoded request body") from exc
        if not isinstance(decoded, dict):
            raise bad_request("JSON request body must be an object")
        return decoded, {}
    return _parse_query(body.decode("utf-8")), {}


def _parse_query(query: str) -> dict[str, Any]:
    pairs = parse_qs(query, keep_blank_values=True)
    return {key: decode_form_value(key, values[-1]) for key, values in pairs.items()}


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


def _looks_like_image(data: bytes) -> bool:
    return data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")) or (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    )


def _shorten(text: str | None, limit: int = 60) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None
    remaining: int
    delay: float
    drop_connection: bool


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    delay: float = 0.0
    drop_connection: bool = False

    @classmethod
    def json(cls, status: int, payload: dict[str, Any], **kwargs: Any) -> _Reply:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), **kwargs)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck handler must never keep the test process alive
    allow_reuse_address = True

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-reply (the bot shutting down) is normal here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.telegram.org
    # Headers and body go out in separate writes; with Nagle on, each call would stall ~40 ms
    # on the client's delayed ACK.
    disable_nagle_algorithm = True

    @property
    def fake(self) -> FakeTelegram:
        return cast(_Server, self.server).fake

    def setup(self) -> None:
        super().setup()
        self.fake._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.fake._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: per-request logging would drown the test output."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        with self.fake._in_flight():
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                reply = self.fake._handle_http(
                    self.path, self.headers.get("Content-Type", ""), body
                )
            except Exception as exc:  # a bug in the fake: make it loud but keep serving
                reply = _Reply.json(500, ApiError(500, f"fake_telegram crashed: {exc!r}").payload())
            if reply.delay > 0:
                self.fake._stopped.wait(reply.delay)  # stop() cuts injected delays short
            if reply.drop_connection:
                self._drop()
                return
            if self.fake._stopped.is_set():
                self.close_connection = True
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

    def _drop(self) -> None:
        # Close without a response, as a network failure or a crashed proxy would.
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


ApiMethod = Callable[[dict[str, Any], dict[str, UploadedFile]], Any]


class FakeTelegram:
    """An in-process Telegram Bot API server plus the user side of the conversation."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "salescoach_test_bot",
        *,
        bot_first_name: str = "SalesCoach",
        strict_ampersand: bool = True,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        # Real Telegram keeps a lone "&" literally; rejecting it by default catches user
        # input that reached HTML unescaped (the same bug lets "<" through).
        self.strict_ampersand = strict_ampersand
        self.base_url = ""
        self.base_file_url = ""

        self.sent: list[SentMessage] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[tuple[str, dict[str, Any], str]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook_url = ""

        # One re-entrant lock guards everything below; HTTP threads and the test's event
        # loop both read and write it. Waiting long-polls sleep on the condition.
        self._cond = threading.Condition(threading.RLock())
        self._stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._requests_in_flight = 0

        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._blocked: set[int] = set()
        self._next_message_id: dict[int, int] = {}
        self._user_messages: set[tuple[int, int]] = set()
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._read: set[tuple[int, int]] = set()
        self._pending: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._open_queries: dict[str, dict[str, Any]] = {}
        self._next_query_id = 1
        self._files: dict[str, bytes] = {}
        self._next_file_id = 1
        self._faults: dict[str, list[_Fault]] = {}
        self._latency: dict[str, float] = {}
        self._methods: dict[str, ApiMethod] = {
            name.removeprefix("_api_").lower(): getattr(self, name)
            for name in dir(self)
            if name.startswith("_api_")
        }

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FakeTelegram is already started")
        self._server = _Server(self)
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so that stop() returns quickly
            name="fake-telegram",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None or self._stopped.is_set():
            return
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()  # wake long-polling getUpdates
            # Let woken requests write their (empty) answers before connections go away.
            self._cond.wait_for(lambda: self._requests_in_flight == 0, timeout=2.0)
            connections = list(self._connections)
        self._server.shutdown()
        self._server.server_close()
        for connection in connections:  # idle keep-alive connections would linger otherwise
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0])

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # -- the user side ---------------------------------------------------------------------

    def add_chat(self, chat: FakeChat, user: FakeUser | None = None) -> None:
        """Make a chat known without sending anything (as if the user had started the bot)."""
        with self._cond:
            self._register(user, chat)

    def block(self, user: FakeUser) -> None:
        """The user blocks the bot: sends to their private chat fail with 403."""
        with self._cond:
            self._blocked.add(user.id)

    def unblock(self, user: FakeUser) -> None:
        with self._cond:
            self._blocked.discard(user.id)

    def send_text(self, user: FakeUser, text: str, chat: FakeChat | None = None) -> int:
        content: dict[str, Any] = {"text": text}
        command = _BOT_COMMAND.match(text)
        if command and (command.end() == len(text) or text[command.end()].isspace()):
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        return self._queue_message(user, chat, content)

    def edit_text(
        self, user: FakeUser, message_id: int, text: str, chat: FakeChat | None = None
    ) -> int:
        """The user edits one of their earlier messages: the bot gets an ``edited_message``."""
        chat = chat or FakeChat.private(user)
        with self._cond:
            if (chat.id, message_id) not in self._user_messages:
                raise AssertionError(f"user message {message_id} in chat {chat.id} does not exist")
            self._register(user, chat)
            content: dict[str, Any] = {"text": text}
            command = _BOT_COMMAND.match(text)
            if command and (command.end() == len(text) or text[command.end()].isspace()):
                content["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
                ]
            now = int(time.time())
            message = {
                "message_id": message_id,
                "from": user.to_dict(),
                "chat": self._chats[chat.id],
                "date": now,
                "edit_date": now,
                **content,
            }
            return self._queue_update("edited_message", message)

    def user_message_ids(self, chat_id: int) -> list[int]:
        """The ids of the messages users sent in ``chat_id``, oldest first."""
        with self._cond:
            return sorted(mid for cid, mid in self._user_messages if cid == chat_id)

    def send_photo(
        self,
        user: FakeUser,
        chat: FakeChat | None = None,
        *,
        caption: str | None = None,
        data: bytes = b"\x89PNG fake photo",
    ) -> int:
        file_id = self._store_file(data)
        sizes = [
            {"width": 90, "height": 90, "file_size": len(data)},
            {"width": 800, "height": 800, "file_size": len(data)},
        ]
        photo: list[dict[str, Any]] = [
            {"file_id": f"{file_id}-{i}", "file_unique_id": f"u{file_id}-{i}", **size}
            for i, size in enumerate(sizes)
        ]
        with self._cond:
            for item in photo:
                self._files[item["file_id"]] = data
        content: dict[str, Any] = {"photo": photo}
        if caption is not None:
            content["caption"] = caption
        return self._queue_message(user, chat, content)

    def send_sticker(
        self, user: FakeUser, chat: FakeChat | None = None, *, emoji: str = "👍"
    ) -> int:
        sticker = {
            "file_id": self._store_file(b"RIFF fake sticker"),
            "file_unique_id": "sticker-unique",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._queue_message(user, chat, {"sticker": sticker})

    def send_voice(
        self,
        user: FakeUser,
        chat: FakeChat | None = None,
        *,
        duration: int = 3,
        data: bytes = b"OggS fake voice",
    ) -> int:
        file_id = self._store_file(data)
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        return self._queue_message(user, chat, {"voice": voice})

    def send_document(
        self,
        user: FakeUser,
        chat: FakeChat | None = None,
        *,
        file_name: str = "notes.pdf",
        mime_type: str = "application/pdf",
        data: bytes = b"%PDF-1.4 fake",
        caption: str | None = None,
    ) -> int:
        file_id = self._store_file(data)
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        content: dict[str, Any] = {"document": document}
        if caption is not None:
            content["caption"] = caption
        return self._queue_message(user, chat, content)

    def send_location(
        self,
        user: FakeUser,
        chat: FakeChat | None = None,
        *,
        latitude: float = 31.2304,
        longitude: float = 121.4737,
    ) -> int:
        location = {"latitude": latitude, "longitude": longitude}
        return self._queue_message(user, chat, {"location": location})

    def press(
        self,
        user: FakeUser,
        message: SentMessage,
        callback_data: str,
        *,
        must_exist: bool = True,
    ) -> int:
        """Press an inline button; with ``must_exist`` the data must be on the message now."""
        with self._cond:
            current = self._messages.get((message.chat_id, message.message_id))
            if current is None or current.deleted:
                raise AssertionError(f"cannot press a button on missing message {message!r}")
            datas = [data for _, data in current.buttons()]
            if must_exist and callback_data not in datas:
                raise AssertionError(
                    f"message {current.message_id} has no button with callback_data "
                    f"{callback_data!r}; buttons: {current.buttons()!r}"
                )
            self._register(user, None)
            query_id = str(self._next_query_id)
            self._next_query_id += 1
            query = {
                "id": query_id,
                "from": user.to_dict(),
                "message": self._message_json(current),
                "chat_instance": str(abs(hash(current.chat_id))),
                "data": callback_data,
            }
            self._open_queries[query_id] = query
            return self._queue_update("callback_query", query)

    # -- the bot side, as seen by tests ----------------------------------------------------

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        with self._cond:
            return [message for message in self.sent if message.chat_id == chat_id]

    def unread(self, chat_id: int) -> list[SentMessage]:
        with self._cond:
            return [
                message
                for message in self.sent
                if message.chat_id == chat_id
                and (message.chat_id, message.message_id) not in self._read
            ]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call of ``method`` (case-insensitive), in order."""
        with self._cond:
            return [params for name, params in self.calls if name.lower() == method.lower()]

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued for the bot and not yet confirmed by a getUpdates offset."""
        with self._cond:
            return list(self._pending)

    async def next_message(self, chat_id: int, timeout: float = 5.0) -> SentMessage:
        """The next bot message to ``chat_id`` not returned before; polls without blocking."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                unread = self.unread(chat_id)
                if unread:
                    self._read.add((chat_id, unread[0].message_id))
                    return unread[0]
                if time.monotonic() >= deadline:
                    raise AssertionError(self._describe_timeout(chat_id, timeout))
            await asyncio.sleep(0.01)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"condition not met within {timeout}s; {self._describe_state()}"
                )
            await asyncio.sleep(0.01)

    def _describe_timeout(self, chat_id: int, timeout: float) -> str:
        return f"no new bot message to chat {chat_id} within {timeout}s; {self._describe_state()}"

    def _describe_state(self) -> str:
        with self._cond:
            recent = [
                f"#{m.message_id} to {m.chat_id} ({m.kind}): {_shorten(m.plain_text)!r}"
                for m in self.sent[-5:]
            ]
            errors = [f"{method}: {description}" for method, _, description in self.errors[-3:]]
            return (
                f"last messages sent: {recent or 'none'}; recent API errors: {errors or 'none'}; "
                f"{len(self._pending)} update(s) not yet confirmed by the bot"
            )

    # -- fault injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
        delay: float = 0.0,
        drop_connection: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        ``status`` >= 300 answers with that error instead of performing the call. ``status``
        200 performs the call and then applies only ``delay``/``drop_connection`` -- the
        "Telegram did it but the answer was lost" case. ``drop_connection`` closes the socket
        without any response (after ``delay``).
        """
        fault = _Fault(status, description, retry_after, times, delay, drop_connection)
        with self._cond:
            self._faults.setdefault(method.lower(), []).append(fault)

    def set_latency(self, method: str, seconds: float) -> None:
        """Answer every later call of ``method`` ``seconds`` late; 0 answers at once again.

        The call takes effect on arrival, as on a slow link: the message is there while the
        bot still waits for the answer. Calls already waiting keep their delay; a fault's own
        ``delay`` replaces it.
        """
        with self._cond:
            if seconds > 0:
                self._latency[method.lower()] = seconds
            else:
                self._latency.pop(method.lower(), None)

    def _take_fault(self, method: str) -> _Fault | None:
        faults = self._faults.get(method.lower())
        if not faults:
            return None
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.pop(0)
        return fault

    # -- HTTP plumbing (called from handler threads) ---------------------------------------

    def _connection_opened(self, connection: socket.socket) -> None:
        with self._cond:
            self._connections.add(connection)

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._cond:
            self._connections.discard(connection)

    @contextmanager
    def _in_flight(self) -> Iterator[None]:
        with self._cond:
            self._requests_in_flight += 1
        try:
            yield
        finally:
            with self._cond:
                self._requests_in_flight -= 1
                self._cond.notify_all()

    def _handle_http(self, raw_path: str, content_type: str, body: bytes) -> _Reply:
        url = urlsplit(raw_path)
        path = unquote(url.path)
        if file_route := _FILE_ROUTE.fullmatch(path):
            return self._serve_file(file_route["token"], file_route["path"])
        route = _API_ROUTE.fullmatch(path)
        if route is None:
            return _Reply.json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        method = route["method"]
        try:
            params, files = parse_request_body(content_type, body)
        except ApiError as exc:
            return self._error_reply(method, {}, exc)
        params = {**_parse_query(url.query), **params}
        with self._cond:
            self.calls.append((method, {**params, **files}))
            if route["token"] != self.token:
                return self._error_reply(method, params, ApiError(401, "Unauthorized"))
            fault = self._take_fault(method)
            if fault is not None and fault.status >= 300:
                error = ApiError(fault.status, fault.description, fault.retry_after)
                return self._error_reply(
                    method, params, error, delay=fault.delay, drop=fault.drop_connection
                )
            reply = self._dispatch(method, params, files)
            # A subclass's _dispatch may already have set a delay (bench/load_bench.py's RTT).
            reply.delay = max(reply.delay, self._latency.get(method.lower(), 0.0))
            if fault is not None:
                reply.delay, reply.drop_connection = fault.delay, fault.drop_connection
            return reply

    def _dispatch(
        self, method: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> _Reply:
        handler = self._methods.get(method.lower())
        if handler is None:
            return self._error_reply(method, params, ApiError(404, "Not Found: method not found"))
        try:
            result = handler(params, files)
        except ApiError as exc:
            return self._error_reply(method, params, exc)
        except (TypeError, ValueError) as exc:  # e.g. offset="abc"
            return self._error_reply(method, params, bad_request(f"wrong parameter: {exc}"))
        return _Reply.json(200, {"ok": True, "result": result})

    def _error_reply(
        self,
        method: str,
        params: dict[str, Any],
        error: ApiError,
        *,
        delay: float = 0.0,
        drop: bool = False,
    ) -> _Reply:
        if 400 <= error.status < 500:
            with self._cond:
                self.errors.append((method, params, error.description))
        return _Reply.json(error.status, error.payload(), delay=delay, drop_connection=drop)

    def _serve_file(self, token: str, file_path: str) -> _Reply:
        with self._cond:
            data = self._files.get(file_path.removeprefix("files/"))
        if token != self.token or data is None:
            return _Reply.json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return _Reply(200, data, content_type="application/octet-stream")

    # -- state helpers (callers hold the lock) ---------------------------------------------

    def _register(self, user: FakeUser | None, chat: FakeChat | None) -> None:
        if user is not None:
            self._users[user.id] = user
        if chat is None:
            return
        if chat.type == "private":
            owner = self._users.get(chat.id) or FakeUser(id=chat.id, first_name=f"User{chat.id}")
            data = {
                k: v for k, v in owner.to_dict().items() if k not in ("is_bot", "language_code")
            }
            self._chats[chat.id] = {**data, "type": "private"}
        else:
            self._chats[chat.id] = {"id": chat.id, "type": chat.type, "title": chat.title or ""}

    def _new_message_id(self, chat_id: int) -> int:
        # Telegram numbers messages per private chat, shared by both sides.
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _queue_update(self, kind: str, payload: dict[str, Any]) -> int:
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._pending.append({"update_id": update_id, kind: payload})
            self._cond.notify_all()
            return update_id

    def _queue_message(self, user: FakeUser, chat: FakeChat | None, content: dict[str, Any]) -> int:
        chat = chat or FakeChat.private(user)
        with self._cond:
            self._register(user, chat)
            message_id = self._new_message_id(chat.id)
            self._user_messages.add((chat.id, message_id))
            message = {
                "message_id": message_id,
                "from": user.to_dict(),
                "chat": self._chats[chat.id],
                "date": int(time.time()),
                **content,
            }
            return self._queue_update("message", message)

    def _store_file(self, data: bytes) -> str:
        with self._cond:
            file_id = f"fakefile{self._next_file_id}"
            self._next_file_id += 1
            self._files[file_id] = data
            return file_id

    def _require_chat(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad_request("chat_id is empty")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            by_name = [c["id"] for c in self._chats.values() if c.get("username") == chat_id[1:]]
            chat_id = by_name[0] if by_name else None
        if not isinstance(chat_id, int) or chat_id not in self._chats:
            raise bad_request("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _format(self, text: Any, parse_mode: Any, *, caption: bool) -> FormattedText:
        """Entity-parse a text or caption and apply Telegram's emptiness and length rules."""
        if caption and text in (None, ""):
            return FormattedText("", [])
        if text in (None, ""):
            raise bad_request("message text is empty")
        formatted = format_text(
            str(text),
            parse_mode if isinstance(parse_mode, str) else None,
            strict_ampersand=self.strict_ampersand,
        )
        if not caption and not formatted.text.strip():
            raise bad_request("message must be non-empty")
        if caption and len(formatted.text) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        if not caption and len(formatted.text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return formatted

    def _reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        validate_reply_markup(markup)
        return cast("dict[str, Any] | None", markup)

    def _check_reply_target(self, chat_id: int, params: dict[str, Any]) -> None:
        reply = params.get("reply_parameters")
        target = reply.get("message_id") if isinstance(reply, dict) else None
        target = target or params.get("reply_to_message_id")
        if not target:
            return
        allow = (
            isinstance(reply, dict) and reply.get("allow_sending_without_reply")
        ) or params.get("allow_sending_without_reply")
        exists = (chat_id, target) in self._user_messages or (
            (chat_id, target) in self._messages and not self._messages[(chat_id, target)].deleted
        )
        if not exists and not allow:
            raise bad_request("message to be replied not found")

    def _record(self, message: SentMessage) -> SentMessage:
        self._messages[(message.chat_id, message.message_id)] = message
        self.sent.append(message)
        self._cond.notify_all()
        return message

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self.bot_user(),
            "chat": self._chats[message.chat_id],
            "date": message.date,
        }
        body_key = "text" if message.kind == "text" else "caption"
        if message.kind != "text":
            data[message.kind] = message.media
        if message.plain_text:
            data[body_key] = message.plain_text
            if message.entities:
                data["entities" if body_key == "text" else "caption_entities"] = message.entities
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup  # Telegram echoes inline keyboards only
        if message.edits:
            data["edit_date"] = message.edits[-1]["date"]
        return data

    def _message_key(self, params: dict[str, Any]) -> tuple[int, int]:
        chat_id = self._require_chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise bad_request("message identifier is not specified")
        return chat_id, message_id

    def _message_to_edit(self, params: dict[str, Any]) -> SentMessage:
        if params.get("inline_message_id"):
            raise bad_request("message to edit not found")
        key = self._message_key(params)
        message = self._messages.get(key)
        if message is None or message.deleted:
            if key in self._user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return message

    def _apply_edit(self, message: SentMessage, method: str, changes: dict[str, Any]) -> None:
        before = {key: getattr(message, key) for key in changes}
        message.edits.append(
            {"method": method, "date": int(time.time()), "before": before, **changes}
        )
        for key, value in changes.items():
            setattr(message, key, value)
        self._cond.notify_all()

    # -- Bot API methods -------------------------------------------------------------------
    # Each takes the decoded parameters and uploaded files and returns the "result" value,
    # or raises ApiError. They run with the lock held.

    def _api_getMe(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_getUpdates(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        self._confirm_updates(offset)
        # Long polling: wait (releasing the lock) until an update arrives or we stop.
        self._cond.wait_for(lambda: bool(self._pending) or self._stopped.is_set(), timeout)
        return list(self._pending[:limit])

    def _confirm_updates(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]  # keep only the last -offset updates

    def _api_deleteWebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self.webhook_url = ""
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        return True

    def _api_setWebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self.webhook_url = str(params.get("url") or "")
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    def _api_sendMessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat_id = self._require_chat(params)
        formatted = self._format(params.get("text"), params.get("parse_mode"), caption=False)
        markup = self._reply_markup(params)
        self._check_reply_target(chat_id, params)
        message = SentMessage(
            chat_id=chat_id,
            message_id=self._new_message_id(chat_id),
            text=str(params["text"]),
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            caption=None,
            kind="text",
            plain_text=formatted.text,
            entities=formatted.entities,
            date=int(time.time()),
        )
        return self._message_json(self._record(message))

    def _api_editMessageText(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        message = self._message_to_edit(params)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        formatted = self._format(params.get("text"), params.get("parse_mode"), caption=False)
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        markup = self._reply_markup(params)
        new = (formatted.text, formatted.entities, markup)
        if new == (message.plain_text, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        changes = {
            "text": str(params["text"]),
            "parse_mode": params.get("parse_mode"),
            "reply_markup": markup,
            "plain_text": formatted.text,
            "entities": formatted.entities,
        }
        self._apply_edit(message, "editMessageText", changes)
        return self._message_json(message)

    def _api_editMessageReplyMarkup(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        message = self._message_to_edit(params)
        markup = self._reply_markup(params)
        if markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        self._apply_edit(message, "editMessageReplyMarkup", {"reply_markup": markup})
        return self._message_json(message)

    def _api_deleteMessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        key = self._message_key(params)
        message = self._messages.get(key)
        if message is not None and not message.deleted:
            message.deleted = True
            return True
        if key in self._user_messages:
            self._user_messages.discard(key)
            return True
        raise bad_request("message to delete not found")

    def _api_answerCallbackQuery(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise bad_request(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        del self._open_queries[query_id]  # a query can be answered once
        self.callback_answers.append(dict(params))
        return True

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or not scope.get("type"):
            raise bad_request("can't parse BotCommandScope JSON object")
        # Chat-specific scopes also carry the chat (and member), or they would overwrite
        # each other.
        parts = [str(scope["type"])] + [
            str(scope[key]) for key in ("chat_id", "user_id") if key in scope
        ]
        return ":".join(parts), str(params.get("language_code") or "")

    def _api_setMyCommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_NAME.fullmatch(
                str(command.get("command", ""))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description") or "")) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [dict(command) for command in commands]
        return True

    def _api_getMyCommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self.commands.get(self._commands_key(params), [])

    def _api_deleteMyCommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _api_sendPhoto(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media(params, files, "photo")

    def _api_sendDocument(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media(params, files, "document")

    def _send_media(self, params: dict[str, Any], files: dict[str, UploadedFile], kind: str) -> Any:
        chat_id = self._require_chat(params)
        data, file_name, mime_type = self._media_content(params, files, kind)
        formatted = self._format(params.get("caption"), params.get("parse_mode"), caption=True)
        markup = self._reply_markup(params)
        self._check_reply_target(chat_id, params)
        file_id = f"fakefile{self._next_file_id}"
        self._next_file_id += 1
        self._files[file_id] = data
        message = SentMessage(
            chat_id=chat_id,
            message_id=self._new_message_id(chat_id),
            text=None,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            caption=params.get("caption"),
            kind=kind,
            plain_text=formatted.text or None,
            entities=formatted.entities,
            date=int(time.time()),
            file_size=len(data),
            file_name=file_name,
            file_data=data,
            media=self._media_json(kind, file_id, data, file_name, mime_type),
        )
        return self._message_json(self._record(message))

    def _media_content(
        self, params: dict[str, Any], files: dict[str, UploadedFile], kind: str
    ) -> tuple[bytes, str | None, str | None]:
        """The bytes being sent: an upload, or a file_id the fake already knows."""
        upload = files.get(kind)
        if upload is not None:
            if not upload.data:
                raise bad_request("file must be non-empty")
            if kind == "photo" and not _looks_like_image(upload.data):
                raise bad_request("IMAGE_PROCESS_FAILED")
            return upload.data, upload.filename, upload.content_type
        reference = params.get(kind)
        if not reference:
            raise bad_request(f"there is no {kind} in the request")
        if str(reference) in self._files:
            return self._files[str(reference)], None, None
        if str(reference).startswith(("http://", "https://")):
            return b"", None, None  # Telegram would download it; we only note the URL
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _media_json(
        self, kind: str, file_id: str, data: bytes, file_name: str | None, mime_type: str | None
    ) -> Any:
        if kind == "photo":
            width, height = _png_size(data) or (100, 100)
            return [
                {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id}",
                    "width": width,
                    "height": height,
                    "file_size": len(data),
                }
            ]
        document: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
        }
        if file_name:
            document["file_name"] = file_name
        if mime_type:
            document["mime_type"] = mime_type
        return document

    def _api_getFile(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        file_id = str(params.get("file_id") or "")
        if file_id not in self._files:
            raise bad_request("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self._files[file_id]),
            "file_path": f"files/{file_id}",
        }

    def _api_sendChatAction(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat_id = self._require_chat(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append((chat_id, str(action)))
        return True

    def _api_close(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True

    def _api_logOut(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True
