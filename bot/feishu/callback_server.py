"""HTTP event-callback mode: Feishu posts events and card presses to our URL.

For deployments behind a proxy, where a long connection is not wanted. Every
post is checked before anything is done with it: decrypted with the Encrypt
Key, its signature (`X-Lark-Signature`: SHA-256 of timestamp, nonce, key and
body) and its Verification Token compared in constant time. The URL-verification
challenge is answered; everything else goes to the SDK's dispatcher, whose
handlers (bot/feishu/events.py) answer at once and run the turn afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import lark_oapi as lark
import uvicorn
from lark_oapi.core.const import (
    LARK_REQUEST_NONCE,
    LARK_REQUEST_SIGNATURE,
    LARK_REQUEST_TIMESTAMP,
    URL_VERIFICATION,
)
from lark_oapi.core.model import RawRequest
from lark_oapi.core.utils import AESCipher
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)
EVENT_PATH = "/feishu/events"
HEALTH_PATH = "/healthz"
INTAKE_THREADS = 4
HANDLED_EVENTS = frozenset({"im.message.receive_v1", "card.action.trigger"})
MAX_AGE = 3600  # seconds between a post's signing and its arrival, either way


class Refused(Exception):
    """A post that is not from Feishu (or not for us): answered with `status`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Keys:
    """The app's event-subscription keys from the developer console."""

    encrypt_key: str
    verification_token: str


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """Feishu's signature of a post: hex SHA-256 of timestamp + nonce + key + body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def check(
    body: bytes, headers: dict[str, str], keys: Keys, now: float | None = None
) -> dict[str, Any]:
    """The decrypted event of a genuine post; raises Refused otherwise.

    A signed post older than an hour is refused too: a recorded post played back
    later would otherwise be taken for new once its event id is forgotten.
    """
    try:
        envelope = json.loads(body)
        encrypted = envelope.get("encrypt") if isinstance(envelope, dict) else None
    except ValueError as error:
        raise Refused(400, "not JSON") from error
    if not isinstance(encrypted, str):
        raise Refused(401, "not encrypted")  # Feishu encrypts every post once a key is set
    try:
        event: Any = json.loads(AESCipher(keys.encrypt_key).decrypt_str(encrypted))
    except (ValueError, UnicodeDecodeError) as error:
        raise Refused(401, "cannot be decrypted with our key") from error
    if not isinstance(event, dict):
        raise Refused(400, "not an event")
    token = event.get("token") or (event.get("header") or {}).get("token") or ""
    if not hmac.compare_digest(str(token).encode(), keys.verification_token.encode()):
        raise Refused(401, "wrong verification token")
    if event.get("type") == URL_VERIFICATION:
        return event  # the challenge carries no signature headers
    given = headers.get(LARK_REQUEST_SIGNATURE.lower(), "")
    timestamp = headers.get(LARK_REQUEST_TIMESTAMP.lower(), "")
    expected = signature(
        timestamp, headers.get(LARK_REQUEST_NONCE.lower(), ""), keys.encrypt_key, body
    )
    if not hmac.compare_digest(given.encode("latin-1"), expected.encode()):
        raise Refused(401, "wrong signature")
    moment = now if now is not None else time.time()
    if not timestamp.isdigit() or abs(moment - int(timestamp)) > MAX_AGE:
        raise Refused(401, "signed too long ago (or in the future)")
    return event


class CallbackEndpoints:
    """The event route and the health check."""

    def __init__(self, handler: lark.EventDispatcherHandler, keys: Keys) -> None:
        self.handler = handler
        self.keys = keys
        # Taking events in has threads of its own: in the default pool it would queue
        # behind turns (which run there too) and miss Feishu's 3 seconds under load.
        self.intake = ThreadPoolExecutor(INTAKE_THREADS, thread_name_prefix="feishu-intake")

    async def receive(self, request: Request) -> Response:
        """Check the post; answer the challenge, or hand the event to the SDK's dispatcher."""
        body = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            event = check(body, headers, self.keys)
        except Refused as refused:
            client = request.client.host if request.client else None
            log.warning("refused an event post from %s: %s", client, refused)
            return JSONResponse({"msg": "refused"}, status_code=refused.status)
        if event.get("type") == URL_VERIFICATION:
            return JSONResponse({"challenge": event.get("challenge", "")})
        event_type = (event.get("header") or {}).get("event_type")
        if event_type not in HANDLED_EVENTS:
            # Subscribed in the console but not ours to handle: taken, so not sent again.
            log.info("ignored a %s event", event_type)
            return JSONResponse({"msg": "ignored"})
        raw = RawRequest()
        raw.uri = request.url.path
        raw.body = body
        raw.headers = {
            name: headers.get(name.lower(), "")
            for name in (LARK_REQUEST_TIMESTAMP, LARK_REQUEST_NONCE, LARK_REQUEST_SIGNATURE)
        }
        # The handlers touch the database (to take the event in) and return at once.
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(self.intake, self.handler.do, raw)
        return Response(
            answer.content or b"{}",
            status_code=int(answer.status_code or 200),
            media_type="application/json",
        )

    async def health(self, _request: Request) -> JSONResponse:
        """Liveness for the proxy in front of us."""
        return JSONResponse({"mode": "feishu-callback"})


def create_app(endpoints: CallbackEndpoints, path: str = EVENT_PATH) -> Starlette:
    """The Starlette app: events (and card presses) at `path`, the health check."""
    return Starlette(
        routes=[
            Route(path, endpoints.receive, methods=["POST"]),
            Route(HEALTH_PATH, endpoints.health, methods=["GET"]),
        ]
    )


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the caller stops it with `should_exit`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
