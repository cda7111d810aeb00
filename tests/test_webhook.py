"""Webhook mode: the real server on loopback, posting updates as Telegram would.

The bot's replies go to the fake Bot API server; updates are taken from the fake's queue
(it builds them exactly as Telegram does) and posted to our server with httpx.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from bot.cli import main
from bot.settings import Settings
from bot.telegram_bot import build_application
from bot.webhook import (
    SECRET_HEADER,
    WebhookConfigError,
    WebhookEndpoints,
    WebhookServer,
    create_app,
    prune_processed_updates,
    webhook_config,
)
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import InboxEvent, ProcessedUpdate, utcnow
from tests.fake_telegram import FakeTelegram, FakeUser

SECRET = "s3cret-token_for-tests"
PUBLIC_URL = "https://bot.example.com/tg/hook"
GREETING = "SalesCoach"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_settings(fake: FakeTelegram, database_url: str, port: int) -> Settings:
    return Settings(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.base_url,
        TELEGRAM_FILE_URL=fake.base_file_url,
        SALESCOACH_DATABASE_URL=database_url,
        SALESCOACH_WEBHOOK_URL=PUBLIC_URL,
        SALESCOACH_WEBHOOK_SECRET=SECRET,
        SALESCOACH_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
    )


def queued_update(fake: FakeTelegram, update_id: int) -> dict[str, Any]:
    """The update the fake built for a user's action, as Telegram would post it."""
    return next(update for update in fake.pending_updates if update["update_id"] == update_id)


def user_says(fake: FakeTelegram, user: FakeUser, text: str) -> dict[str, Any]:
    return queued_update(fake, fake.send_text(user, text))


def processed_ids(database_url: str) -> list[int]:
    """The update ids taken into the inbox."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return [int(row.event_id) for row in session.exec(select(InboxEvent))]
    finally:
        engine.dispose()


@dataclass
class Webhook:
    """A running in-process webhook server and a client for it."""

    server: WebhookServer
    settings: Settings
    client: httpx.AsyncClient

    async def post(
        self, update: dict[str, Any] | bytes, secret: str | None = SECRET
    ) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        if isinstance(update, bytes):
            headers["Content-Type"] = "application/json"
            return await self.client.post("/tg/hook", content=update, headers=headers)
        return await self.client.post("/tg/hook", json=update, headers=headers)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def webhook(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[Webhook]:
    port = free_port()
    settings = webhook_settings(fake, f"sqlite:///{tmp_path / 'webhook.db'}", port)
    server = WebhookServer(build_application(settings), webhook_config(settings))
    task = asyncio.create_task(server.run())
    deadline = time.monotonic() + 15
    while not server.started:
        if task.done():
            task.result()  # raises what went wrong
        assert time.monotonic() < deadline, "the webhook server did not start"
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        yield Webhook(server, settings, client)
    server.stop()
    await asyncio.wait_for(task, timeout=15)
    assert fake.errors == [], f"the bot made invalid API calls: {fake.errors}"


# -- configuration -----------------------------------------------------------------------


def test_the_webhook_is_registered_with_the_secret(webhook: Webhook, fake: FakeTelegram) -> None:
    [call] = fake.calls_of("setWebhook")
    assert call["url"] == PUBLIC_URL
    assert call["secret_token"] == SECRET
    assert "callback_query" in call["allowed_updates"]
    assert fake.webhook_url == PUBLIC_URL


def test_a_url_without_a_path_is_served_at_telegram() -> None:
    settings = Settings(
        SALESCOACH_WEBHOOK_URL="https://bot.example.com", SALESCOACH_WEBHOOK_SECRET="x"
    )
    config = webhook_config(settings)
    assert (config.url, config.path) == ("https://bot.example.com/telegram", "/telegram")
    assert (config.host, config.port) == ("127.0.0.1", 8080)


def test_listen_addresses_are_parsed() -> None:
    def listen(value: str) -> tuple[str, int]:
        settings = Settings(
            SALESCOACH_WEBHOOK_URL=PUBLIC_URL,
            SALESCOACH_WEBHOOK_SECRET=SECRET,
            SALESCOACH_WEBHOOK_LISTEN=value,
        )
        config = webhook_config(settings)
        return config.host, config.port

    assert listen("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert listen("[::1]:8443") == ("::1", 8443)
    for bad in ("8080", "host:", "host:http", "host:70000"):
        with pytest.raises(WebhookConfigError, match="SALESCOACH_WEBHOOK_LISTEN"):
            listen(bad)


@pytest.mark.parametrize(
    ("environment", "missing"),
    [
        ({"SALESCOACH_WEBHOOK_URL": PUBLIC_URL}, "SALESCOACH_WEBHOOK_SECRET is not set"),
        ({"SALESCOACH_WEBHOOK_SECRET": SECRET}, "SALESCOACH_WEBHOOK_URL is not set"),
        (
            {"SALESCOACH_WEBHOOK_URL": PUBLIC_URL, "SALESCOACH_WEBHOOK_SECRET": "has spaces"},
            "SALESCOACH_WEBHOOK_SECRET is not valid",
        ),
    ],
)
def test_run_webhook_explains_missing_settings(
    environment: dict[str, str],
    missing: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file
    for name in ("SALESCOACH_WEBHOOK_URL", "SALESCOACH_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["run", "--webhook"]) == 2
    assert missing in capsys.readouterr().err
    assert not (tmp_path / "salescoach.db").exists()  # refused before touching the database


# -- the HTTP interface ------------------------------------------------------------------


async def test_a_valid_update_is_answered_through_the_bot_api(
    webhook: Webhook, fake: FakeTelegram
) -> None:
    anna = FakeUser(501, "Anna", "en")
    response = await webhook.post(user_says(fake, anna, "/start"))
    assert response.status_code == 200
    greeting = await fake.next_message(anna.id)
    assert GREETING in (greeting.plain_text or "")


async def test_button_presses_arrive_through_the_webhook(
    webhook: Webhook, fake: FakeTelegram
) -> None:
    anna = FakeUser(502, "Anna", "en")
    await webhook.post(user_says(fake, anna, "/start"))
    greeting = await fake.next_message(anna.id)
    press = fake.press(anna, greeting, greeting.button("Anna"))
    assert (await webhook.post(queued_update(fake, press))).status_code == 200
    await fake.wait_until(lambda: len(fake.callback_answers) == 1)
    question = await fake.next_message(anna.id)
    assert "Sales rep" in [label for label, _ in question.buttons()]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_a_missing_or_wrong_secret_is_refused_and_nothing_happens(
    webhook: Webhook, fake: FakeTelegram, secret: str | None
) -> None:
    lee = FakeUser(601, "Lee", "en")
    update = user_says(fake, lee, "/start")
    response = await webhook.post(update, secret=secret)
    assert response.status_code == 403
    await asyncio.sleep(0.3)
    assert fake.messages_to(lee.id) == []
    assert processed_ids(webhook.settings.database_url) == []
    # Not recorded as taken in: Telegram's retry with the right secret is handled.
    assert (await webhook.post(update)).status_code == 200
    assert GREETING in ((await fake.next_message(lee.id)).plain_text or "")


async def test_a_redelivered_update_is_handled_once(webhook: Webhook, fake: FakeTelegram) -> None:
    kim = FakeUser(701, "Kim", "en")
    update = user_says(fake, kim, "/start")
    first = await webhook.post(update)
    again = await asyncio.gather(*(webhook.post(update) for _ in range(3)))
    assert [first.status_code, *(r.status_code for r in again)] == [200] * 4
    await fake.next_message(kim.id)
    await asyncio.sleep(0.5)  # room for a duplicate reply, were there one
    assert len(fake.messages_to(kim.id)) == 1
    assert processed_ids(webhook.settings.database_url) == [update["update_id"]]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[1, 2]", b'"text"', b'{"message": {}}', b'{"update_id": "7"}', b"\xff"],
)
async def test_a_malformed_body_is_refused(
    webhook: Webhook, fake: FakeTelegram, body: bytes
) -> None:
    response = await webhook.post(body)
    assert response.status_code == 400
    assert processed_ids(webhook.settings.database_url) == []


async def test_only_post_on_the_webhook_path(webhook: Webhook) -> None:
    assert (await webhook.client.get("/tg/hook")).status_code == 405
    other = await webhook.client.post("/telegram", json={"update_id": 1})
    assert other.status_code == 404


async def test_health_reports_database_and_scheduler(webhook: Webhook) -> None:
    response = await webhook.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "scheduler": "running", "mode": "webhook"}


async def test_health_is_503_when_the_database_or_scheduler_is_down(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    settings = webhook_settings(fake, f"sqlite:///{tmp_path / 'h.db'}", free_port())
    application = build_application(settings)  # never started: its scheduler is not running
    unreachable = create_engine(f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    app = create_app(WebhookEndpoints(application, SECRET, unreachable), "/tg/hook")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "error", "scheduler": "stopped", "mode": "webhook"}


def test_old_update_ids_are_pruned(tmp_path: Path) -> None:
    database = make_engine(f"sqlite:///{tmp_path / 'prune.db'}")
    upgrade(database)
    now = utcnow()
    with Session(database) as session:
        session.add(ProcessedUpdate(update_id=1, received_at=now - timedelta(days=2)))
        session.add(ProcessedUpdate(update_id=2, received_at=now - timedelta(hours=1)))
        session.commit()
    assert prune_processed_updates(database, now - timedelta(days=1)) == 1
    with Session(database) as session:
        assert [row.update_id for row in session.exec(select(ProcessedUpdate))] == [2]
    database.dispose()


# -- two processes on one PostgreSQL -----------------------------------------------------


class WebhookProcess:
    """`salescoach run --webhook` as a separate OS process."""

    def __init__(self, fake: FakeTelegram, database_url: str, port: int, log_path: Path) -> None:
        self.fake = fake
        self.database_url = database_url
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": self.fake.token,
            "TELEGRAM_API_URL": self.fake.base_url,
            "TELEGRAM_FILE_URL": self.fake.base_file_url,
            "SALESCOACH_DATABASE_URL": self.database_url,
            "SALESCOACH_WEBHOOK_URL": PUBLIC_URL,
            "SALESCOACH_WEBHOOK_SECRET": SECRET,
            "SALESCOACH_WEBHOOK_LISTEN": f"127.0.0.1:{self.port}",
            "SALESCOACH_LOG_LEVEL": "INFO",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--webhook"],
                env=env,
                stdout=log,
                stderr=log,
            )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, signum: int = signal.SIGINT) -> int | None:
        """Ctrl-C (SIGINT) or systemd's SIGTERM; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


async def wait_healthy(client: httpx.AsyncClient, process: WebhookProcess) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.process is not None and process.process.poll() is None, (
            f"the bot exited: {process.log_path.read_text(errors='replace')[-2000:]}"
        )
        try:
            response = await client.get(f"{process.base_url}/healthz")
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the webhook process did not become healthy"
        await asyncio.sleep(0.2)


async def test_two_webhook_processes_on_postgres_handle_each_update_once(
    fake: FakeTelegram, postgres_database: str, tmp_path: Path
) -> None:
    # Migrate first, so the two processes don't race to create the same tables.
    database = make_engine(postgres_database)
    upgrade(database)
    database.dispose()
    processes = [
        WebhookProcess(fake, postgres_database, free_port(), tmp_path / f"bot{i}.log")
        for i in range(2)
    ]
    users = [FakeUser(7000 + i, f"Rep {i}", "en") for i in range(30)]
    updates = [user_says(fake, user, "/start") for user in users]
    try:
        for process in processes:
            process.start()
        async with httpx.AsyncClient(timeout=15) as client:
            for process in processes:
                await wait_healthy(client, process)

            async def post(process: WebhookProcess, update: dict[str, Any]) -> int:
                response = await client.post(
                    f"{process.base_url}/tg/hook", json=update, headers={SECRET_HEADER: SECRET}
                )
                return response.status_code

            posts = []
            for index, update in enumerate(updates):
                first, second = processes if index % 2 == 0 else processes[::-1]
                posts += [post(first, update), post(second, update)]
            assert await asyncio.gather(*posts) == [200] * 60

        def replies() -> Counter[int]:
            return Counter(message.chat_id for message in fake.sent)

        await fake.wait_until(lambda: len(replies()) == 30, timeout=30)
        await asyncio.sleep(1.5)  # give a duplicate, if any, the chance to show up
    finally:
        exit_codes = [processes[0].stop(signal.SIGINT), processes[1].stop(signal.SIGTERM)]
    assert replies() == Counter({user.id: 1 for user in users})
    assert all(
        GREETING in (message.plain_text or "") for message in fake.sent if message.chat_id > 0
    )
    assert sorted(processed_ids(postgres_database)) == sorted(u["update_id"] for u in updates)
    assert exit_codes == [0, 0]  # a clean shutdown on SIGINT and on SIGTERM
    assert fake.errors == []
