"""`salescoach run --platform feishu [--webhook]`: the bot, its dispatcher and its digests.

Long connection by default; `--webhook` serves the HTTP event callback instead.
Reminders, comments, assignments and digests of users with platform "feishu"
go out through the same dispatcher and digest sender as Telegram's.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from datetime import UTC, timedelta

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.digests import SYNC_INTERVAL, DigestScheduler, DigestSender
from bot.feishu.callback_server import (
    EVENT_PATH,
    CallbackEndpoints,
    Keys,
    QuietServer,
    create_app,
)
from bot.feishu.events import FeishuBot, event_handler
from bot.feishu.long_connection import LongConnection
from bot.feishu.transport import PLATFORM, FeishuTransport, Limits, build_client
from bot.flood import FloodGate
from bot.outbox import OutboxSender, worker_name
from bot.reminders import Deliver, DispatchConfig, Dispatcher
from bot.runtime import build_engine, freeze_startup_objects
from bot.settings import Settings
from bot.transport import Transport
from bot.webhook import parse_listen
from dialogs.core.engine import Engine
from dialogs.core.io import Outgoing
from dialogs.core.steps import Services
from storage.db import transaction
from storage.inbox import prune_handled
from storage.models import User, utcnow
from storage.outbox import prune_sent

log = logging.getLogger(__name__)
# Handled events and sent messages: Feishu re-delivers within hours, not days.
KEEP_EVENTS = timedelta(days=1)
PRUNE_INTERVAL = 3600.0
TOKEN_INTERVAL = 60.0  # seconds between looks at the tenant access token (valid 2 h)
SHUTDOWN_WAIT = 10.0  # seconds for turns and jobs under way when stopping


class FeishuConfigError(Exception):
    """A setting Feishu mode needs is missing; the message says which and where to find it."""


@dataclass
class FeishuApp:
    """Everything one Feishu bot process runs."""

    settings: Settings
    engine: Engine
    transport: FeishuTransport
    bot: FeishuBot
    scheduler: AsyncIOScheduler | None = None
    digests: DigestScheduler | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


def credentials(settings: Settings) -> tuple[str, str]:
    """The app id and secret, or FeishuConfigError naming what is missing."""
    app_id = (settings.feishu_app_id or "").strip()
    secret = settings.feishu_secret()
    if not app_id or secret is None:
        raise FeishuConfigError(
            "SALESCOACH_FEISHU_APP_ID and SALESCOACH_FEISHU_APP_SECRET must be set: the "
            "self-built app's credentials, under Credentials & Basic Info in the developer "
            "console (open.feishu.cn/app, or open.larksuite.com/app for Lark)."
        )
    return app_id, secret


def callback_keys(settings: Settings) -> Keys:
    """The event keys callback mode checks every post with."""
    encrypt_key, token = settings.feishu_encrypt(), settings.feishu_token()
    if encrypt_key is None or token is None:
        raise FeishuConfigError(
            "Callback mode needs SALESCOACH_FEISHU_ENCRYPT_KEY and "
            "SALESCOACH_FEISHU_VERIFICATION_TOKEN (Events & Callbacks → Encryption Strategy "
            "in the developer console): posts are refused unless encrypted and signed."
        )
    return Keys(encrypt_key, token)


def applink(settings: Settings, app_id: str) -> str:
    """A link that opens a chat with the bot in Feishu or Lark."""
    host = "applink.larksuite.com" if "larksuite" in settings.feishu_domain else "applink.feishu.cn"
    return f"https://{host}/client/bot/open?appId={app_id}"


def default_language(settings: Settings) -> str | None:
    """Feishu (mainland China) speaks Chinese unless the client says otherwise; Lark, English."""
    return "zh" if "feishu.cn" in settings.feishu_domain else None


def build_app(settings: Settings) -> FeishuApp:
    """The engine, the transport and the bot for one app; raises FeishuConfigError."""
    app_id, secret = credentials(settings)
    link = applink(settings, app_id)
    # Feishu can't carry a code into the chat a link opens: the invite is the link to
    # the bot and the /join line to paste there.
    services = Services(invite_link=lambda code: f"{link}\n/join {code}")
    engine = build_engine(settings, services)
    limits = Limits(
        per_minute=settings.feishu_sends_per_minute,
        per_second=settings.feishu_sends_per_second,
        per_user_second=settings.feishu_sends_per_user_second,
    )
    transport = FeishuTransport(build_client(app_id, secret, settings.feishu_domain), limits)
    outbox = OutboxSender(engine.database, transport, worker_name(PLATFORM))
    flood = FloodGate(settings.flood_limit, settings.flood_window) if settings.flood_limit else None
    bot = FeishuBot(engine, transport, outbox, default_language(settings), flood)
    return FeishuApp(settings, engine, transport, bot)


def delivery(transport: Transport) -> Deliver:
    """Reminders and digests to a user of the transport's platform (Feishu: the open_id)."""

    async def deliver(user: User, outgoing: Outgoing) -> None:
        await transport.send(user.platform_user_id, outgoing)

    return deliver


def start_jobs(app: FeishuApp) -> AsyncIOScheduler:
    """Events a stopped process left, then the outbox sweep, the reminder dispatcher's tick,
    the digest sync, and forgetting old handled events."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    deliver = delivery(app.transport)
    outbox = app.bot.outbox
    pace = 1.0 / app.transport.limits.per_user_second
    dispatcher = Dispatcher(
        app.engine, PLATFORM, deliver, DispatchConfig(per_chat_interval=pace), outbox=outbox
    )

    async def catch_up() -> None:
        await asyncio.to_thread(app.transport.warm_token)
        await app.bot.handle_pending()
        await outbox.flush_all()

    async def warm_token() -> None:
        await asyncio.to_thread(app.transport.warm_token)

    scheduler.add_job(catch_up, "date", run_date=utcnow(), id="catch-up", misfire_grace_time=None)
    scheduler.add_job(
        outbox.flush_all,  # an overlapping sweep returns at once
        "interval",
        seconds=app.settings.dispatch_interval,
        id="outbox",
        max_instances=2,
        coalesce=True,
        misfire_grace_time=None,
    )
    scheduler.add_job(
        dispatcher.run_once,
        "interval",
        seconds=app.settings.dispatch_interval,
        next_run_time=utcnow(),
        id="reminders",
        max_instances=2,
        coalesce=True,
        misfire_grace_time=None,
    )
    sender = DigestSender(app.engine, deliver, outbox=outbox)
    app.digests = DigestScheduler(scheduler, sender, PLATFORM)
    scheduler.add_job(
        app.digests.tick,
        "interval",
        seconds=SYNC_INTERVAL,
        next_run_time=utcnow(),
        id="digest-sync",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )

    def forget_handled() -> None:
        before = utcnow() - KEEP_EVENTS
        with transaction(app.engine.database) as session:
            prune_handled(session, before)
            prune_sent(session, before)

    async def prune() -> None:
        await asyncio.to_thread(forget_handled)

    scheduler.add_job(prune, "interval", seconds=PRUNE_INTERVAL, id="prune-inbox")
    scheduler.add_job(warm_token, "interval", seconds=TOKEN_INTERVAL, id="tenant-token")
    scheduler.start()
    app.scheduler = scheduler
    return scheduler


async def finish(app: FeishuApp) -> None:
    """Start no more jobs; let the turns already answered and the jobs under way finish."""
    if app.scheduler is not None and app.scheduler.running:
        app.scheduler.shutdown(wait=False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_WAIT
    while (left := deadline - loop.time()) > 0:
        # Again after each wait: a job the scheduler had just started is waited for too.
        current = asyncio.current_task()
        running = {task for task in asyncio.all_tasks() if task is not current}
        if not running:
            return
        await asyncio.wait(running, timeout=left)
    log.warning("stopping with work still under way after %s s", SHUTDOWN_WAIT)


async def serve_long_connection(app: FeishuApp) -> None:
    """Receive over the SDK's long connection until `app.stopping` is set."""
    app.bot.bind(asyncio.get_running_loop())
    start_jobs(app)
    app_id, secret = credentials(app.settings)
    connection = LongConnection(app_id, secret, app.settings.feishu_domain, event_handler(app.bot))
    connection.start()
    log.info("Feishu long connection: started")
    try:
        await app.stopping.wait()
    finally:
        await asyncio.to_thread(connection.stop)
        await finish(app)


def callback_server(app: FeishuApp, keys: Keys, host: str, port: int) -> QuietServer:
    """The HTTP server for callback mode."""
    handler = event_handler(app.bot, keys.encrypt_key, keys.verification_token)
    endpoints = CallbackEndpoints(handler, keys)
    config = uvicorn.Config(
        create_app(endpoints, EVENT_PATH),
        host=host,
        port=port,
        log_config=None,  # keep our logging set-up (and its secret redaction)
        access_log=False,
        lifespan="off",
    )
    return QuietServer(config)


async def serve_callback(app: FeishuApp, server: QuietServer) -> None:
    """Serve Feishu's event posts until the server is told to exit."""
    app.bot.bind(asyncio.get_running_loop())
    start_jobs(app)
    log.info("Feishu callback mode: listening on %s", app.settings.feishu_callback_listen)
    try:
        await server.serve()
    finally:
        await finish(app)


def run_feishu(settings: Settings, *, callback: bool = False) -> None:
    """`salescoach run --platform feishu [--webhook]`: serve until SIGINT or SIGTERM."""
    credentials(settings)
    keys = callback_keys(settings) if callback else None
    app = build_app(settings)
    freeze_startup_objects()
    asyncio.run(_until_signalled(app, keys))


async def _until_signalled(app: FeishuApp, keys: Keys | None) -> None:
    loop = asyncio.get_running_loop()
    app.stopping = asyncio.Event()
    if keys is None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, app.stopping.set)
        await serve_long_connection(app)
        return
    host, port = parse_listen(app.settings.feishu_callback_listen)
    server = callback_server(app, keys, host, port)

    def stop() -> None:
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    await serve_callback(app, server)
