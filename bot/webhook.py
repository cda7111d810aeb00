"""Webhook mode: Telegram posts updates to our HTTP server instead of us long-polling.

Why: only one process may long-poll a bot (a second `getUpdates` gets 409 Conflict), so
running several processes behind a load balancer needs webhooks. Each update is stored in
the inbox (keyed by update_id) before the 200, and handled from there: a crash after the
200 loses nothing (the restart handles what the inbox holds), and a re-delivery, which
behind a load balancer can reach another process, is recognised and answered 200. The
turn marks the update handled in its own transaction, so it is handled exactly once.

The shape follows python-telegram-bot's "customwebhookbot" example: register the webhook
with a secret token, start PTB's Application inside `async with application`, and serve a
Starlette app with uvicorn in the same event loop, feeding `application.update_queue`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import signal
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from sqlalchemy import Engine as Database
from sqlalchemy import delete, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.runtime import freeze_startup_objects
from bot.settings import Settings
from bot.telegram_bot import ENGINE_KEY, build_application
from bot.updates import InboxQueue
from dialogs.core.engine import Engine
from storage.db import transaction
from storage.models import ProcessedUpdate, utcnow

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_PATH = "/telegram"
HEALTH_PATH = "/healthz"
# Telegram gives up re-delivering long before a day has passed, so older ids can go.
KEEP_PROCESSED = timedelta(days=1)
PRUNE_INTERVAL = 3600.0
PRUNE_FIRST = 60.0
# A health check must answer even when the database hangs (an unreachable host).
HEALTH_DATABASE_TIMEOUT = 5.0
# What Telegram accepts as secret_token in setWebhook.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_HELP_SECRET = (
    "Use 1–256 characters from A–Z, a–z, 0–9, _ and -, for example the output of\n"
    "  python -c 'import secrets; print(secrets.token_urlsafe(32))'"
)


class WebhookConfigError(ValueError):
    """The webhook settings are missing or invalid; the message says what to set."""


@dataclass(frozen=True)
class WebhookConfig:
    """Where Telegram posts, what it must send along, and where we listen."""

    url: str  # the public URL Telegram is told to post to
    path: str  # the route on our server that receives those posts
    secret: str
    host: str
    port: int


def webhook_config(settings: Settings) -> WebhookConfig:
    """The webhook configuration, or WebhookConfigError explaining what is missing."""
    url = (settings.webhook_url or "").strip()
    if not url:
        raise WebhookConfigError(
            "SALESCOACH_WEBHOOK_URL is not set. Webhook mode needs the public HTTPS URL "
            "Telegram posts updates to, e.g. https://bot.example.com/telegram"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookConfigError(f"SALESCOACH_WEBHOOK_URL must be an https:// URL, not {url!r}")
    secret = settings.webhook_secret_value()
    if secret is None:
        raise WebhookConfigError(
            "SALESCOACH_WEBHOOK_SECRET is not set. Webhook mode needs it: Telegram sends it "
            "with every update, and posts without it are refused.\n" + _HELP_SECRET
        )
    if not _SECRET.fullmatch(secret):
        raise WebhookConfigError("SALESCOACH_WEBHOOK_SECRET is not valid. " + _HELP_SECRET)
    host, port = parse_listen(settings.webhook_listen)
    path = parts.path.rstrip("/")
    if not path:
        # A bare host gets a path of its own, and Telegram is told the full URL.
        path = DEFAULT_PATH
        url = urlunsplit(parts._replace(path=DEFAULT_PATH))
    return WebhookConfig(url=url, path=path, secret=secret, host=host, port=port)


def webhook_worker(config: WebhookConfig) -> str:
    """This process's role on the outbox: webhook mode at its listening address."""
    return f"webhook:{config.host}:{config.port}"


def parse_listen(value: str) -> tuple[str, int]:
    """Split `host:port` (IPv6 as `[::1]:8080`) into its parts."""
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WebhookConfigError(
            f"SALESCOACH_WEBHOOK_LISTEN must be host:port, e.g. 127.0.0.1:8080, not {value!r}"
        )
    return host, int(port)


# -- the database side -------------------------------------------------------------------


def prune_processed_updates(database: Database, before: datetime) -> int:
    """Forget the update ids earlier versions recorded before `before`; how many went.

    (The inbox and outbox are pruned in every mode: bot/telegram_bot.py.)
    """
    with transaction(database) as session:
        result = session.exec(
            delete(ProcessedUpdate).where(col(ProcessedUpdate.received_at) < before)
        )
        return int(result.rowcount or 0)


def database_ok(database: Database) -> bool:
    """Whether the database answers a trivial query."""
    try:
        with database.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def schedule_pruning(application: Application, database: Database) -> None:  # type: ignore[type-arg]
    """A periodic JobQueue job that forgets update ids older than a day."""

    async def prune(_context: ContextTypes.DEFAULT_TYPE) -> None:
        cutoff = utcnow() - KEEP_PROCESSED
        removed = await asyncio.to_thread(prune_processed_updates, database, cutoff)
        if removed:
            log.info("forgot %s processed update ids older than %s", removed, KEEP_PROCESSED)

    assert application.job_queue is not None
    application.job_queue.run_repeating(
        prune, interval=PRUNE_INTERVAL, first=PRUNE_FIRST, name="prune-processed-updates"
    )


# -- the HTTP side -----------------------------------------------------------------------


class WebhookEndpoints:
    """The two routes: Telegram's posts and the health check."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        secret: str,
        database: Database,
    ) -> None:
        self.application = application
        self.secret = secret.encode()
        self.database = database

    async def receive(self, request: Request) -> Response:
        """Check the secret, parse, store the update in the inbox and queue it; answer fast."""
        if not self._authorised(request):
            client = request.client.host if request.client else None
            log.warning("refused a webhook post from %s: missing or wrong secret token", client)
            return PlainTextResponse("forbidden", status_code=403)
        update = self._parse(await request.body())
        if update is None:
            return PlainTextResponse("malformed update", status_code=400)
        queue = self.application.update_queue
        assert isinstance(queue, InboxQueue)
        try:
            stored = await queue.take_in(update)
        except SQLAlchemyError as error:
            # Not 200: Telegram will deliver the update again once the database is back.
            log.error("could not record update %s: %s", update.update_id, type(error).__name__)
            return PlainTextResponse("database unavailable", status_code=503)
        if not stored:
            log.info("update %s was already taken in; dropped the re-delivery", update.update_id)
        return Response(status_code=200)

    async def health(self, _request: Request) -> JSONResponse:
        """Database and scheduler state; 200 when both are fine, else 503."""
        database = "ok" if await self._database_ok() else "error"
        scheduler = "running" if self._scheduler_running() else "stopped"
        healthy = database == "ok" and scheduler == "running"
        return JSONResponse(
            {"database": database, "scheduler": scheduler, "mode": "webhook"},
            status_code=200 if healthy else 503,
        )

    def _authorised(self, request: Request) -> bool:
        # Headers arrive decoded as Latin-1, so encoding back gives the exact bytes sent;
        # compare_digest keeps the comparison time independent of where they differ.
        given = request.headers.get(SECRET_HEADER, "").encode("latin-1")
        return hmac.compare_digest(given, self.secret)

    def _parse(self, body: bytes) -> Update | None:
        try:
            data: Any = json.loads(body)
        except ValueError:  # invalid JSON or invalid UTF-8
            return None
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return None
        try:
            return Update.de_json(data, self.application.bot)
        except (TypeError, ValueError, KeyError, AttributeError):
            log.warning("update %s could not be parsed", update_id)
            return None

    async def _database_ok(self) -> bool:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(database_ok, self.database), HEALTH_DATABASE_TIMEOUT
            )
        except TimeoutError:
            return False

    def _scheduler_running(self) -> bool:
        job_queue = self.application.job_queue
        return job_queue is not None and bool(job_queue.scheduler.running)


def create_app(endpoints: WebhookEndpoints, path: str) -> Starlette:
    """The Starlette app serving Telegram's posts at `path` and the health check."""
    return Starlette(
        routes=[
            Route(path, endpoints.receive, methods=["POST"]),
            Route(HEALTH_PATH, endpoints.health, methods=["GET"]),
        ]
    )


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling.

    uvicorn re-raises a captured SIGINT/SIGTERM once its server has shut down, which
    would end the process before PTB's Application has stopped; `run_webhook` installs
    handlers that call `WebhookServer.stop` instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebhookServer:
    """The Application and the HTTP server that feeds it, run together in one event loop."""

    def __init__(self, application: Application, config: WebhookConfig) -> None:  # type: ignore[type-arg]
        self.application = application
        self.config = config
        engine: Engine = application.bot_data[ENGINE_KEY]
        self.database = engine.database
        endpoints = WebhookEndpoints(application, config.secret, self.database)
        self.server = _Server(
            uvicorn.Config(
                create_app(endpoints, config.path),
                host=config.host,
                port=config.port,
                log_config=None,  # keep our logging set-up (and its token redaction)
                access_log=False,  # one line per update is noise; we log what matters
                lifespan="off",  # the Application's lifecycle is managed in `run`
            )
        )

    @property
    def started(self) -> bool:
        """Whether the HTTP server is accepting connections."""
        return self.server.started

    async def run(self) -> None:
        """Register the webhook, start the Application, serve until `stop` is called."""
        application = self.application
        async with application:
            if application.post_init is not None:
                # `async with` does not run post_init (only run_polling/run_webhook do).
                await application.post_init(application)
            await application.bot.set_webhook(
                self.config.url, secret_token=self.config.secret, allowed_updates=Update.ALL_TYPES
            )
            schedule_pruning(application, self.database)
            await application.start()
            log.info("webhook mode: listening on %s:%s", self.config.host, self.config.port)
            try:
                await self.server.serve()
            finally:
                # Updates already answered with 200 are handled before the Application stops.
                await application.stop()

    def stop(self) -> None:
        """Finish open requests and stop; called again, stop without waiting for them."""
        if self.server.should_exit:
            self.server.force_exit = True
        self.server.should_exit = True


def run_webhook(settings: Settings) -> None:
    """`salescoach run --webhook`: serve until SIGINT or SIGTERM.

    Raises WebhookConfigError before touching the database when settings are missing.
    """
    config = webhook_config(settings)
    server = WebhookServer(build_application(settings, webhook_worker(config)), config)
    freeze_startup_objects()
    asyncio.run(_serve_until_signalled(server))


async def _serve_until_signalled(server: WebhookServer) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop)
    await server.run()
