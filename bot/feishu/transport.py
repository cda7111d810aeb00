"""`FeishuTransport`: the engine's messages through Feishu's im/v1 API, on the official SDK.

Sends are paced to Feishu's limits for a self-built app (settings: per minute
and per second for the app, per second to one user). Broadcasts (reminders,
digests: sends inside `broadcast_lane()`) get at most four fifths of the app's
budget, so a Monday burst leaves room for replies to people's input. A 429, or code 99991400
on older answers, is waited out (the `x-ogw-ratelimit-reset` header says how
long) and retried a few times before the dispatcher is told to retry later.
Errors come out as the dispatcher's three kinds (bot/reminders.py).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx
import lark_oapi as lark
from aiolimiter import AsyncLimiter
from lark_oapi.api.im.v1 import (
    CreateFileRequest,
    CreateFileRequestBody,
    CreateImageRequest,
    CreateImageRequestBody,
    CreateMessageRequest,
    CreateMessageRequestBody,
    PatchMessageRequest,
    PatchMessageRequestBody,
)
from lark_oapi.core.token import TokenManager

from bot.feishu.cards import (
    TEXT_LIMIT,
    FeishuMessage,
    chosen_card,
    file_message,
    image_message,
    message_for,
    replacement_card,
)
from bot.feishu.markup import to_card_markdown
from bot.reminders import DeliveryBlocked, DeliveryFailed, DeliveryRetry
from bot.sending import BROADCAST, current_lane
from dialogs.core.io import Outgoing
from dialogs.core.texts import split_message

log = logging.getLogger(__name__)
PLATFORM = "feishu"
RATE_LIMITED = 99991400  # "request trigger frequency limit"
# The person can't be reached by the bot: they left the app's availability range,
# or the app was stopped for them ("Bot has NO availability to this user").
BLOCKED_CODES = frozenset({230013})
RETRY_CODES = frozenset({RATE_LIMITED, 230020})  # 230020: "triggers the frequency limit"
MAX_RETRIES = 3
MAX_WAIT = 30.0  # seconds: a longer wait goes back to the dispatcher instead
TIMEOUT = 10.0  # seconds for one Open API call (the SDK waits 30); a stalled one is retried
_REMEMBERED_CARDS = 2048
BROADCAST_SHARE = 0.8  # of the app's sending budget, at most, for what the bot sends unasked


@dataclass(frozen=True)
class Limits:
    """Feishu's sending limits for one app."""

    per_minute: int = 1000
    per_second: float = 50.0
    per_user_second: float = 5.0


class FeishuError(Exception):
    """An Open API call that failed; `code` is Feishu's, `status` the HTTP status."""

    def __init__(self, code: int | None, status: int, message: str, wait: float | None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.status = status
        self.wait = wait


class FeishuTransport:
    """Sends, edits and uploads for one Feishu / Lark app."""

    platform = PLATFORM

    def __init__(self, client: lark.Client, limits: Limits | None = None) -> None:
        self.client = client
        self.limits = limits or Limits()
        self._minute = AsyncLimiter(self.limits.per_minute, 60)
        self._second = AsyncLimiter(self.limits.per_second, 1)
        self._broadcast_minute = AsyncLimiter(max(1, self.limits.per_minute * BROADCAST_SHARE), 60)
        self._broadcast_second = AsyncLimiter(max(1, self.limits.per_second * BROADCAST_SHARE), 1)
        self._users: OrderedDict[str, AsyncLimiter] = OrderedDict()
        # A sent card's question, so that a press can show the choice under it.
        self._cards: OrderedDict[str, str] = OrderedDict()

    # ----- the Transport interface -------------------------------------------------

    async def send(self, chat_id: str, outgoing: Outgoing) -> None:
        """Send one reply (split below Feishu's limit, buttons on the last part) and files."""
        await self.send_reply(chat_id, outgoing)

    async def edit(self, chat_id: str, message_id: str, outgoing: Outgoing) -> bool:
        """Replace a card the bot sent with this reply; False if Feishu refuses."""
        content = replacement_card(outgoing, chat_id)
        try:
            await self._patch(chat_id, message_id, content)
        except (DeliveryFailed, DeliveryRetry, DeliveryBlocked) as error:
            log.info("could not update card %s: %s", message_id, error)
            return False
        if outgoing.buttons:
            self._remember(message_id, to_card_markdown(outgoing.text))
        return True

    async def send_file(self, chat_id: str, name: str, content: bytes) -> None:
        """Upload a file and send it; a `.png` is uploaded and shown as an image."""
        if name.lower().endswith(".png"):
            image_key = await self._upload_image(chat_id, content)
            await self._create(chat_id, image_message(image_key))
        else:
            file_key = await self._upload_file(chat_id, name, content)
            await self._create(chat_id, file_message(file_key))

    async def answer_button(self, press_id: str, notice: str | None) -> None:
        """Nothing to do: Feishu takes a press's answer in the callback's own response.

        The event handler answers every press at once (within Feishu's 3 s) and
        sends a notice as a message, since the turn runs after the answer.
        """

    # ----- beyond the interface ----------------------------------------------------

    def warm_token(self) -> None:
        """Fetch the tenant access token now, blocking: run it on a worker thread.

        The SDK's async calls fetch an expired token with a blocking request on the
        event loop, which would hold up every turn and acknowledgement meanwhile.
        Fetched here ahead of time (every minute), it is in the SDK's cache when a
        send needs it.
        """
        config = self.client.config
        if config is None:
            return
        try:
            TokenManager.get_self_tenant_token(config)
        except Exception as error:  # the next send tries again, and says why
            log.warning("could not fetch the tenant access token: %s", type(error).__name__)

    async def send_reply(self, open_id: str, outgoing: Outgoing) -> list[str]:
        """Send one reply; returns the ids of the messages sent."""
        parts = split_message(outgoing.text, TEXT_LIMIT) or ([""] if outgoing.buttons else [])
        ids = []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            message = message_for(part, outgoing, open_id, buttons=last)
            message_id = await self._create(open_id, message)
            ids.append(message_id)
            if last and outgoing.buttons:
                self._remember(message_id, to_card_markdown(part))
        for name, content in outgoing.attachments.items():
            await self.send_file(open_id, name, content)
        return ids

    async def show_choice(self, open_id: str, message_id: str, label: str) -> None:
        """A pressed card loses its buttons and shows the choice, as spent buttons do."""
        question = self._cards.pop(message_id, None)
        try:
            await self._patch(open_id, message_id, chosen_card(question, label))
        except (DeliveryFailed, DeliveryRetry, DeliveryBlocked) as error:
            log.info("could not mark card %s as answered: %s", message_id, error)

    def _remember(self, message_id: str, question: str) -> None:
        self._cards[message_id] = question
        while len(self._cards) > _REMEMBERED_CARDS:
            self._cards.popitem(last=False)

    # ----- Open API calls ----------------------------------------------------------

    async def _create(self, open_id: str, message: FeishuMessage) -> str:
        body = (
            CreateMessageRequestBody.builder()
            .receive_id(open_id)
            .msg_type(message.msg_type)
            .content(message.content)
            .build()
        )
        # Group chats' ids start "oc_"; everything else we write to is a person's open_id.
        kind = "chat_id" if open_id.startswith("oc_") else "open_id"
        request = CreateMessageRequest.builder().receive_id_type(kind).request_body(body)
        response = await self._call(open_id, self.client.im.v1.message.acreate, request.build())
        return str(response.data.message_id)

    async def _patch(self, open_id: str, message_id: str, content: str) -> None:
        body = PatchMessageRequestBody.builder().content(content).build()
        request = PatchMessageRequest.builder().message_id(message_id).request_body(body).build()
        await self._call(open_id, self.client.im.v1.message.apatch, request)

    async def _upload_image(self, open_id: str, content: bytes) -> str:
        body = CreateImageRequestBody.builder().image_type("message").image(io.BytesIO(content))
        request = CreateImageRequest.builder().request_body(body.build()).build()
        response = await self._call(open_id, self.client.im.v1.image.acreate, request)
        return str(response.data.image_key)

    async def _upload_file(self, open_id: str, name: str, content: bytes) -> str:
        body = (
            CreateFileRequestBody.builder()
            .file_type("stream")
            .file_name(name)
            .file(io.BytesIO(content))
            .build()
        )
        request = CreateFileRequest.builder().request_body(body).build()
        response = await self._call(open_id, self.client.im.v1.file.acreate, request)
        return str(response.data.file_key)

    async def _call(self, open_id: str, method: Any, request: Any) -> Any:
        """One paced Open API call, 429s waited out; errors as the dispatcher's kinds."""
        for attempt in range(MAX_RETRIES + 1):
            await self._pace(open_id)
            try:
                return await self._once(method, request)
            except FeishuError as error:
                if error.code in BLOCKED_CODES:
                    raise DeliveryBlocked(str(error)) from error
                limited = error.status == 429 or error.code in RETRY_CODES
                if limited:
                    wait = error.wait if error.wait is not None else 1.0
                    if attempt < MAX_RETRIES and wait <= MAX_WAIT:
                        log.warning("Feishu rate limit: waiting %.1f s", wait)
                        await asyncio.sleep(wait)
                        continue
                    raise DeliveryRetry("rate limited", wait) from error
                if error.status >= 500:
                    raise DeliveryRetry(str(error)) from error
                raise DeliveryFailed(str(error)) from error
            except (httpx.HTTPError, OSError) as error:  # timeouts, refused connections
                raise DeliveryRetry(type(error).__name__) from error
        raise AssertionError("unreachable")

    async def _once(self, method: Any, request: Any) -> Any:
        try:
            response = await method(request)
        except (ValueError, TypeError) as error:  # an answer that isn't JSON (a proxy's 502)
            raise FeishuError(None, 502, type(error).__name__, None) from error
        raw = response.raw
        status = int(raw.status_code) if raw is not None else 0
        if response.success() and status < 400:
            return response
        headers = {key.lower(): value for key, value in (raw.headers or {}).items()} if raw else {}
        raise FeishuError(response.code, status, str(response.msg), _seconds(headers))

    async def _pace(self, open_id: str) -> None:
        limiter = self._users.get(open_id)
        if limiter is None:
            limiter = self._users[open_id] = AsyncLimiter(self.limits.per_user_second, 1)
            while len(self._users) > 4096:  # forget the longest-idle people
                self._users.popitem(last=False)
        self._users.move_to_end(open_id)
        if current_lane() == BROADCAST:
            await self._broadcast_minute.acquire()
            await self._broadcast_second.acquire()
        await limiter.acquire()
        await self._minute.acquire()
        await self._second.acquire()


def _seconds(headers: dict[str, str]) -> float | None:
    value = headers.get("x-ogw-ratelimit-reset")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def build_client(app_id: str, app_secret: str, domain: str) -> lark.Client:
    """The SDK's client for one app; it fetches and refreshes the tenant access token."""
    return (
        lark.Client.builder()
        .app_id(app_id)
        .app_secret(app_secret)
        .domain(domain.rstrip("/"))
        .timeout(TIMEOUT)
        .log_level(lark.LogLevel.WARNING)
        .build()
    )
