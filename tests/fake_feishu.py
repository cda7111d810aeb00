"""A fake Feishu / Lark Open Platform on 127.0.0.1 for end-to-end tests.

The bot side talks to it through the real SDK (lark-oapi) as it would to
https://open.feishu.cn:

* ``POST /open-apis/auth/v3/tenant_access_token/internal``: app id and secret in,
  a tenant access token out; every other call must carry it.
* ``POST /open-apis/im/v1/messages`` (``receive_id_type`` open_id or chat_id),
  ``.../messages/:id/reply`` and ``PATCH .../messages/:id`` (cards only, and only
  shared ones: ``config.update_multi``), with Feishu's envelope ``{"code", "msg",
  "data"}``, content checked as JSON of the right shape and below 30 KB
  (150 KB for text).
* ``POST /open-apis/im/v1/images`` and ``/files``: multipart uploads; an image
  must be an image.
* Errors as Feishu gives them: 429 with code 99991400 and ``x-ogw-ratelimit-reset``
  (``fail_next``), code 230013 for a person the bot can't reach (``remove_bot``).

The user side sends events as Feishu does, in either receive mode:

* callback: posted to the bot's URL encrypted (AES-256-CBC, key = SHA-256 of the
  Encrypt Key, base64 of IV + ciphertext) and signed (``X-Lark-Signature``);
* long connection: ``POST /callback/ws/endpoint`` hands out a WebSocket URL on
  which events go out as the SDK's own protobuf ``Frame`` (lark_oapi.ws.pb), and
  the client's acknowledgement frames come back.

Events are kept, so a test can deliver one again (a re-delivery).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import hashlib
import html
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx
from Crypto.Cipher import AES
from lark_oapi.ws.pb.pbbp2_pb2 import Frame

MAX_CARD_BYTES = 30 * 1024
MAX_POST_BYTES = 30 * 1024
MAX_TEXT_BYTES = 150 * 1024
RATE_LIMITED = 99991400
NO_AVAILABILITY = 230013
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class FeishuUser:
    """A person on the fake Feishu: their open_id, name and client language."""

    open_id: str
    name: str
    locale: str = "en_US"

    @property
    def user_agent(self) -> str:
        return f"Mozilla/5.0 (Macintosh) Lark/7.1.8 LarkLocale/{self.locale} ttnet"


@dataclass
class SentMessage:
    """A message the bot sent, as the fake stored it (patches update `content`)."""

    message_id: str
    receive_id: str
    msg_type: str
    content: dict[str, Any]
    patches: int = 0
    upload: bytes | None = None  # the image or file behind an image / file message

    @property
    def text(self) -> str:
        """What the person reads: a post's runs, a card's markdown, or a text."""
        if self.msg_type == "post":
            inner = next(iter(self.content.values()))
            return "\n".join(
                "".join(str(element.get("text", "")) for element in paragraph)
                for paragraph in inner["content"]
            )
        if self.msg_type == "interactive":
            return "\n".join(
                str(element.get("content", ""))
                for element in self.content.get("elements", [])
                if element.get("tag") == "markdown"
            )
        return str(self.content.get("text", ""))

    @property
    def plain(self) -> str:
        """The text as shown: card markdown's markup dropped and its entities decoded."""
        text = self.text
        if self.msg_type == "interactive":
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
            text = text.replace("**", "").replace("~~", "").replace("`", "").replace("*", "")
            text = html.unescape(text)
        return text

    def buttons(self) -> list[dict[str, Any]]:
        """A card's buttons, row after row."""
        return [
            button
            for element in self.content.get("elements", [])
            if element.get("tag") == "action"
            for button in element.get("actions", [])
        ]

    def labels(self) -> list[str]:
        return [str(button["text"]["content"]) for button in self.buttons()]

    def button(self, label_contains: str) -> dict[str, Any]:
        for button in self.buttons():
            if label_contains in button["text"]["content"]:
                return button
        raise AssertionError(f"no button containing {label_contains!r}: {self.labels()}")


class ApiError(Exception):
    """An Open API error answer."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}


@dataclass
class _Fault:
    status: int
    code: int
    reset: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeFeishu) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            status, payload, extra = (
                200,
                self.server.fake.handle(method, parts.path, query, headers, body),
                {},
            )
        except ApiError as error:
            status, payload, extra = (
                error.status,
                {"code": error.code, "msg": error.msg},
                error.headers,
            )
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def encrypt(encrypt_key: str, plaintext: bytes) -> str:
    """Feishu's event encryption: AES-256-CBC, key SHA-256(Encrypt Key), base64(IV + data)."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    pad = 16 - len(plaintext) % 16
    cipher = AES.new(key, AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(plaintext + bytes([pad]) * pad)).decode()


def sign(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """Feishu's X-Lark-Signature of a post."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


class FakeFeishu:
    """The fake Open Platform: tokens, messages, uploads, and event delivery both ways."""

    def __init__(self, encrypt_key: str = "test-encrypt-key", token: str = "test-verify") -> None:
        self.app_id = f"cli_{uuid.uuid4().hex[:16]}"  # the SDK caches tokens per app id
        self.app_secret = uuid.uuid4().hex
        self.encrypt_key = encrypt_key
        self.verification_token = token
        self.tenant_token = f"t-{uuid.uuid4().hex}"
        self.sent: list[SentMessage] = []
        self.calls: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.uploads: dict[str, bytes] = {}
        self.removed: set[str] = set()
        self.callback_url: str | None = None
        self.acks: list[dict[str, Any]] = []  # long-connection answers to event frames
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._ws_loop: asyncio.AbstractEventLoop | None = None
        self._ws_thread: threading.Thread | None = None
        self._ws_port = 0
        self._ws_clients: list[Any] = []
        self._ws_ready = threading.Event()
        self._ws_stopped: asyncio.Future[None] | None = None
        # One client for every post: a new one per post costs an SSL context (~30 ms).
        self._http = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=64))

    # ----- lifecycle ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.close()
        self._server.shutdown()
        self._server.server_close()
        if self._ws_loop is not None and self._ws_stopped is not None:
            self._ws_loop.call_soon_threadsafe(self._ws_stopped.set_result, None)
            if self._ws_thread is not None:
                self._ws_thread.join(timeout=10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ----- test controls -----------------------------------------------------------

    def fail_next(self, count: int = 1, *, status: int = 429, reset: int = 1) -> None:
        """The next `count` message sends are refused as rate limited."""
        with self._lock:
            self._faults.extend(_Fault(status, RATE_LIMITED, reset) for _ in range(count))

    def remove_bot(self, user: FeishuUser) -> None:
        """The person can no longer be reached by the bot (code 230013)."""
        self.removed.add(user.open_id)

    def messages_to(self, open_id: str) -> list[SentMessage]:
        with self._lock:
            return [message for message in self.sent if message.receive_id == open_id]

    def message(self, message_id: str) -> SentMessage:
        with self._lock:
            return next(message for message in self.sent if message.message_id == message_id)

    def wait_for_messages(self, open_id: str, count: int, timeout: float = 20.0) -> None:
        """Block until `open_id` has received at least `count` messages in all."""
        deadline = time.monotonic() + timeout
        while len(self.messages_to(open_id)) < count:
            if time.monotonic() > deadline:
                got = [m.text[:60] for m in self.messages_to(open_id)]
                raise AssertionError(f"{open_id} got {len(got)} of {count} messages: {got}")
            time.sleep(0.02)

    # ----- the Open API --------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        with self._lock:
            self.calls.append((method, path))
        if path == "/open-apis/auth/v3/tenant_access_token/internal":
            return self._token(body)
        if path == "/callback/ws/endpoint":
            return self._ws_endpoint(body)
        if headers.get("authorization") != f"Bearer {self.tenant_token}":
            raise ApiError(401, 99991663, "Invalid access token for authorization.")
        if path == "/open-apis/im/v1/messages" and method == "POST":
            request = self._json(body)
            receiver = str(request.get("receive_id", ""))
            return self._create(receiver, query.get("receive_id_type", ""), request)
        if path.startswith("/open-apis/im/v1/messages/"):
            message_id, _, action = path.removeprefix("/open-apis/im/v1/messages/").partition("/")
            if method == "PATCH" and not action:
                return self._patch(message_id, self._json(body))
            if method == "POST" and action == "reply":
                original = self.message(message_id)
                return self._create(original.receive_id, "open_id", self._json(body))
        if path == "/open-apis/im/v1/images" and method == "POST":
            return self._upload(headers, body, "image")
        if path == "/open-apis/im/v1/files" and method == "POST":
            return self._upload(headers, body, "file")
        raise ApiError(404, 404, f"no such API: {method} {path}")

    def _token(self, body: bytes) -> dict[str, Any]:
        request = self._json(body)
        if request.get("app_id") != self.app_id or request.get("app_secret") != self.app_secret:
            raise ApiError(400, 10014, "app secret invalid")
        return {"code": 0, "msg": "ok", "tenant_access_token": self.tenant_token, "expire": 7200}

    def _json(self, body: bytes) -> dict[str, Any]:
        try:
            value = json.loads(body or b"{}")
        except ValueError as error:
            raise ApiError(400, 9499, "Bad Request: body is not JSON") from error
        if not isinstance(value, dict):
            raise ApiError(400, 9499, "Bad Request: body is not an object")
        return value

    def _create(self, receiver: str, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        if kind not in ("open_id", "chat_id", ""):
            raise ApiError(400, 99992402, f"field validation failed: receive_id_type {kind}")
        with self._lock:
            if self._faults:
                fault = self._faults.pop(0)
                headers = {"x-ogw-ratelimit-limit": "5", "x-ogw-ratelimit-reset": str(fault.reset)}
                raise ApiError(fault.status, fault.code, "request trigger frequency limit", headers)
        if receiver in self.removed:
            raise ApiError(400, NO_AVAILABILITY, "Bot has NO availability to this user.")
        msg_type = str(request.get("msg_type", ""))
        content = self._content(msg_type, request.get("content"))
        upload = None
        if msg_type in ("image", "file"):
            key = str(content.get("image_key") or content.get("file_key") or "")
            if key not in self.uploads:
                raise ApiError(400, 230001, f"invalid {msg_type} key")
            upload = self.uploads[key]
        message = SentMessage(f"om_{uuid.uuid4().hex}", receiver, msg_type, content, upload=upload)
        with self._lock:
            self.sent.append(message)
        return {"code": 0, "msg": "success", "data": {"message_id": message.message_id,
                                                       "chat_id": f"oc_{receiver}"}}  # fmt: skip

    def _content(self, msg_type: str, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, str):
            raise ApiError(400, 230001, "content must be a JSON string")
        size = len(raw.encode())
        limit = MAX_TEXT_BYTES if msg_type == "text" else MAX_CARD_BYTES
        if size > limit:
            raise ApiError(400, 230025, f"message content is {size} bytes, over {limit}")
        try:
            content = json.loads(raw)
        except ValueError as error:
            raise ApiError(400, 230001, "content is not valid JSON") from error
        if msg_type == "post":
            inner = next(iter(content.values()), None) if isinstance(content, dict) else None
            paragraphs = inner.get("content") if isinstance(inner, dict) else None
            if not isinstance(paragraphs, list) or not all(
                isinstance(p, list) and all(isinstance(e, dict) and "tag" in e for e in p)
                for p in paragraphs
            ):
                raise ApiError(400, 230001, "post content is malformed")
        elif msg_type == "interactive":
            self._check_card(content)
        elif msg_type == "text":
            if not str(content.get("text", "")).strip():
                raise ApiError(400, 230001, "text is empty")
        elif msg_type not in ("image", "file"):
            raise ApiError(400, 230001, f"unknown msg_type {msg_type!r}")
        return dict(content)

    def _check_card(self, content: Any) -> None:
        elements = content.get("elements") if isinstance(content, dict) else None
        if not isinstance(elements, list) or not elements:
            raise ApiError(400, 230099, "card has no elements")
        for element in elements:
            if element.get("tag") == "markdown" and not str(element.get("content", "")):
                raise ApiError(400, 230099, "markdown element is empty")
            for button in element.get("actions", []) if element.get("tag") == "action" else []:
                label = button.get("text", {}).get("content")
                if button.get("tag") != "button" or not label:
                    raise ApiError(400, 230099, "button without text")
                if not isinstance(button.get("value"), dict):
                    raise ApiError(400, 230099, "button value must be an object")

    def _patch(self, message_id: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            message = self.message(message_id)
        except StopIteration as error:
            raise ApiError(400, 230011, "message not found") from error
        if message.msg_type != "interactive":
            raise ApiError(400, 230001, "only cards can be updated")
        if not message.content.get("config", {}).get("update_multi"):
            raise ApiError(400, 230099, "only shared cards (update_multi) can be updated")
        content = self._content("interactive", request.get("content"))
        with self._lock:
            message.content = content
            message.patches += 1
        return {"code": 0, "msg": "success", "data": {}}

    def _upload(self, headers: dict[str, str], body: bytes, kind: str) -> dict[str, Any]:
        content_type = headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise ApiError(400, 234001, "upload must be multipart/form-data")
        parsed = email.message_from_bytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
        )
        fields: dict[str, bytes] = {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload
        data = fields.get(kind)
        if data is None:
            raise ApiError(400, 234001, f"no {kind} part")
        wrong_image = fields.get("image_type") != b"message" or not data.startswith(PNG)
        if kind == "image" and wrong_image:
            raise ApiError(400, 234011, "not a message image")
        key = f"{'img' if kind == 'image' else 'file'}_{uuid.uuid4().hex}"
        with self._lock:
            self.uploads[key] = data
        return {"code": 0, "msg": "success", "data": {f"{kind}_key": key}}

    # ----- events: building them --------------------------------------------------

    def _header(self, event_type: str) -> dict[str, Any]:
        return {
            "event_id": uuid.uuid4().hex,
            "event_type": event_type,
            "create_time": str(int(time.time() * 1000)),
            "token": self.verification_token,
            "app_id": self.app_id,
            "tenant_key": "tenant-1",
        }

    def text_event(self, user: FeishuUser, text: str, *, chat_type: str = "p2p") -> dict[str, Any]:
        """im.message.receive_v1 for a text the person typed."""
        return self.message_event(user, "text", {"text": text}, chat_type=chat_type)

    def message_event(
        self, user: FeishuUser, message_type: str, content: dict[str, Any], *, chat_type: str
    ) -> dict[str, Any]:
        return {
            "schema": "2.0",
            "header": self._header("im.message.receive_v1"),
            "event": {
                "sender": {
                    "sender_id": {"open_id": user.open_id, "union_id": f"on_{user.open_id}"},
                    "sender_type": "user",
                    "tenant_key": "tenant-1",
                },
                "message": {
                    "message_id": f"om_{uuid.uuid4().hex}",
                    "create_time": str(int(time.time() * 1000)),
                    "chat_id": f"oc_{user.open_id}" if chat_type == "p2p" else "oc_group",
                    "chat_type": chat_type,
                    "message_type": message_type,
                    "content": json.dumps(content, ensure_ascii=False),
                    "user_agent": user.user_agent,
                },
            },
        }

    def press_event(
        self, user: FeishuUser, message: SentMessage, value: dict[str, Any]
    ) -> dict[str, Any]:
        """card.action.trigger: `user` pressed a button whose value is `value` on `message`."""
        return {
            "schema": "2.0",
            "header": self._header("card.action.trigger"),
            "event": {
                "operator": {"open_id": user.open_id, "tenant_key": "tenant-1"},
                "token": uuid.uuid4().hex,
                "action": {"tag": "button", "value": value},
                "host": "im_message",
                "context": {
                    "open_message_id": message.message_id,
                    "open_chat_id": f"oc_{message.receive_id}",
                },
            },
        }

    # ----- events: delivering them ------------------------------------------------

    def post_event(self, event: dict[str, Any], *, signature: str | None = None) -> httpx.Response:
        """POST the event to the callback URL, encrypted and signed as Feishu does."""
        assert self.callback_url is not None, "set callback_url first"
        body = json.dumps({"encrypt": encrypt(self.encrypt_key, json.dumps(event).encode())})
        data = body.encode()
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:16]
        headers = {
            "Content-Type": "application/json",
            "X-Lark-Request-Timestamp": timestamp,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature or sign(timestamp, nonce, self.encrypt_key, data),
        }
        return self._http.post(self.callback_url, content=data, headers=headers)

    def challenge(self, challenge: str, token: str | None = None) -> httpx.Response:
        """The URL-verification post the console sends when the callback URL is saved."""
        assert self.callback_url is not None
        event = {
            "challenge": challenge,
            "token": token or self.verification_token,
            "type": "url_verification",
        }
        body = json.dumps({"encrypt": encrypt(self.encrypt_key, json.dumps(event).encode())})
        return self._http.post(self.callback_url, content=body.encode())

    # ----- the long connection ----------------------------------------------------

    def _ws_endpoint(self, body: bytes) -> dict[str, Any]:
        request = self._json(body)
        if request.get("AppID") != self.app_id or request.get("AppSecret") != self.app_secret:
            return {"code": 514, "msg": "auth failed"}
        self._start_ws()
        device = uuid.uuid4().hex[:8]
        return {
            "code": 0,
            "msg": "ok",
            "data": {
                "URL": f"ws://127.0.0.1:{self._ws_port}/ws?device_id={device}&service_id=7",
                "ClientConfig": {
                    "ReconnectCount": -1,
                    "ReconnectInterval": 1,
                    "ReconnectNonce": 0,
                    "PingInterval": 120,
                },
            },
        }

    def _start_ws(self) -> None:
        if self._ws_thread is not None:
            return
        self._ws_thread = threading.Thread(target=self._run_ws, daemon=True)
        self._ws_thread.start()
        self._ws_ready.wait(timeout=10)

    def _run_ws(self) -> None:
        from websockets.asyncio.server import serve

        loop = asyncio.new_event_loop()
        self._ws_loop = loop

        async def connection(websocket: Any) -> None:
            self._ws_clients.append(websocket)
            try:
                async for raw in websocket:
                    frame = Frame()
                    frame.ParseFromString(raw)
                    if frame.method == 1:  # a data frame coming back: the acknowledgement
                        with self._lock:
                            self.acks.append(json.loads(frame.payload))
            except Exception:  # a client that went away
                pass
            finally:
                self._ws_clients.remove(websocket)

        async def main() -> None:
            server = await serve(connection, "127.0.0.1", 0)
            self._ws_port = next(iter(server.sockets)).getsockname()[1]
            self._ws_stopped = loop.create_future()
            self._ws_ready.set()
            await self._ws_stopped
            server.close()  # and its connections
            await server.wait_closed()

        with contextlib.suppress(RuntimeError, asyncio.CancelledError):  # stop() ended main()
            loop.run_until_complete(main())
        loop.close()

    def ws_connected(self) -> int:
        """How many long connections are open."""
        return len(self._ws_clients)

    def push_event(self, event: dict[str, Any]) -> None:
        """Send the event down one long connection as a data frame (Feishu picks one)."""
        assert self._ws_loop is not None and self._ws_clients, "no long connection"
        frame = Frame()
        frame.SeqID = 1
        frame.LogID = 1
        frame.service = 7
        frame.method = 1  # data
        for key, value in (
            ("type", "event"),
            ("message_id", uuid.uuid4().hex),
            ("trace_id", uuid.uuid4().hex),
            ("sum", "1"),
            ("seq", "0"),
        ):
            header = frame.headers.add()
            header.key, header.value = key, value
        frame.payload = json.dumps(event).encode()
        client = self._ws_clients[0]
        future = asyncio.run_coroutine_threadsafe(
            client.send(frame.SerializeToString()), self._ws_loop
        )
        future.result(timeout=5)


@dataclass
class Person:
    """A person writing to the bot through the fake, in one receive mode."""

    fake: FakeFeishu
    user: FeishuUser
    mode: str = "callback"  # or "long"
    seen: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    def deliver(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self.mode == "long":
            self.fake.push_event(event)
            return
        response = self.fake.post_event(event)
        assert response.status_code == 200, response.text

    def say(self, text: str, replies: int = 1) -> list[SentMessage]:
        self.deliver(self.fake.text_event(self.user, text))
        return self.read(replies)

    def press(self, label: str, replies: int = 1) -> list[SentMessage]:
        message = self.card_with(label)
        value = message.button(label)["value"]
        self.deliver(self.fake.press_event(self.user, message, value))
        return self.read(replies)

    def read(self, count: int) -> list[SentMessage]:
        self.fake.wait_for_messages(self.user.open_id, self.seen + count)
        messages = self.fake.messages_to(self.user.open_id)[self.seen : self.seen + count]
        self.seen += count
        return messages

    def settle(self, pause: float = 0.3) -> list[SentMessage]:
        """Whatever else arrived after a short pause."""
        time.sleep(pause)
        messages = self.fake.messages_to(self.user.open_id)[self.seen :]
        self.seen += len(messages)
        return messages

    def card_with(self, label: str) -> SentMessage:
        for message in reversed(self.fake.messages_to(self.user.open_id)):
            if any(label in text for text in message.labels()):
                return message
        sent = self.fake.messages_to(self.user.open_id)
        got = [(message.msg_type, message.plain[:40], message.labels()) for message in sent]
        raise AssertionError(f"no card to {self.user.name} has a {label!r} button: {got}")


# ----- the bot, running in this process ------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def feishu_settings(fake: FakeFeishu, database_url: str, models: str, port: int) -> Any:
    """Settings that point the bot at the fake and a test database."""
    from bot.settings import Settings

    return Settings(
        SALESCOACH_FEISHU_APP_ID=fake.app_id,
        SALESCOACH_FEISHU_APP_SECRET=fake.app_secret,
        SALESCOACH_FEISHU_ENCRYPT_KEY=fake.encrypt_key,
        SALESCOACH_FEISHU_VERIFICATION_TOKEN=fake.verification_token,
        SALESCOACH_FEISHU_DOMAIN=fake.base_url,
        SALESCOACH_FEISHU_CALLBACK_LISTEN=f"127.0.0.1:{port}",
        SALESCOACH_DATABASE_URL=database_url,
        SALESCOACH_MODEL_DIR=models,
        SALESCOACH_DISPATCH_INTERVAL=0.2,
        # Off: scripted people answer faster than anyone types (a test turns it on).
        SALESCOACH_FLOOD_LIMIT=0,
    )


class RunningFeishu:
    """`salescoach run --platform feishu [--webhook]` on a thread of this process."""

    def __init__(self, fake: FakeFeishu, database_url: str, models: str, mode: str) -> None:
        self.fake = fake
        self.mode = mode
        self.port = free_port()
        self.settings = feishu_settings(fake, database_url, models, self.port)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app: Any = None
        self.server: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self.failure: BaseException | None = None

    def start(self) -> None:
        from bot.feishu.run import build_app

        self.app = build_app(self.settings)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise AssertionError("the bot did not start")
        if self.mode == "callback":
            self.fake.callback_url = f"http://127.0.0.1:{self.port}/feishu/events"
            deadline = time.monotonic() + 15
            while not (self.server is not None and self.server.started):
                assert time.monotonic() < deadline, "the callback server did not start"
                time.sleep(0.02)
        else:
            deadline = time.monotonic() + 15
            while self.fake.ws_connected() == 0:
                assert time.monotonic() < deadline, "the long connection did not open"
                time.sleep(0.02)

    def _run(self) -> None:
        from bot.feishu.run import (
            callback_keys,
            callback_server,
            serve_callback,
            serve_long_connection,
        )

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.app.stopping = asyncio.Event()
            if self.mode == "callback":
                keys = callback_keys(self.settings)
                self.server = callback_server(self.app, keys, "127.0.0.1", self.port)
                self._ready.set()
                await serve_callback(self.app, self.server)
            else:
                self._ready.set()
                await serve_long_connection(self.app)

        try:
            asyncio.run(main())
        except BaseException as error:  # shown by the test that stops us
            self.failure = error
            self._ready.set()

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the bot's loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop is not None and self._thread.is_alive():
            if self.server is not None:
                self.server.should_exit = True
            self.loop.call_soon_threadsafe(self.app.stopping.set)
        self._thread.join(timeout=20)
        if self.app is not None:
            self.app.engine.database.dispose()
        if self.failure is not None:
            raise self.failure
