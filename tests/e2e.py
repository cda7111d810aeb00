"""An end-to-end harness: the real PTB Application long-polling the fake Bot API server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from telegram.ext import Application

from bot.settings import Settings
from bot.telegram_bot import build_application
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser, SentMessage


def settings_for(fake: FakeTelegram, database_path: Path) -> Settings:
    """Settings that point the bot at the fake server and a test database.

    Flood control is off: scripted users answer faster than any person, and
    tests/test_flood.py covers it with its own limits.
    """
    return Settings(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.base_url,
        TELEGRAM_FILE_URL=fake.base_file_url,
        SALESCOACH_FLOOD_LIMIT=0,
        SALESCOACH_DATABASE_URL=f"sqlite:///{database_path}",
        SALESCOACH_MODEL_DIR=database_path.parent / "models",
    )


@dataclass
class RunningBot:
    """A started application and the fake server it talks to."""

    fake: FakeTelegram
    settings: Settings
    application: Application = field(init=False)  # type: ignore[type-arg]

    async def start(self) -> None:
        """Start as `salescoach run` does: initialise, post-init, poll."""
        self.application = build_application(self.settings)
        await self.application.initialize()
        if self.application.post_init is not None:
            await self.application.post_init(self.application)
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(poll_interval=0.0, timeout=1)

    async def stop(self) -> None:
        """Stop cleanly, confirming the updates handled so far."""
        assert self.application.updater is not None
        await self.application.updater.stop()
        await self.application.stop()
        await self.application.shutdown()


class Person:
    """A Telegram user talking to the bot through the fake server."""

    def __init__(self, fake: FakeTelegram, user: FakeUser) -> None:
        self.fake = fake
        self.user = user
        self.last: SentMessage | None = None

    async def say(self, text: str, *, replies: int = 1) -> list[SentMessage]:
        self.fake.send_text(self.user, text)
        return await self.read(replies)

    async def press(self, label: str, *, replies: int = 1) -> list[SentMessage]:
        message = self._with_button(label)
        self.fake.press(self.user, message, message.button(label))
        return await self.read(replies)

    async def read(self, count: int) -> list[SentMessage]:
        messages = [await self.fake.next_message(self.user.id) for _ in range(count)]
        for message in messages:
            if message.buttons():
                self.last = message
        return messages

    def _with_button(self, label: str) -> SentMessage:
        for message in reversed(self.fake.messages_to(self.user.id)):
            if any(label in text for text, _ in message.buttons()):
                return message
        raise AssertionError(f"no message to {self.user.first_name} has a {label!r} button")


def group_of(chat_id: int = -100500) -> FakeChat:
    return FakeChat(id=chat_id, type="group", title="Sales floor")


class KillableProcess:
    """A `salescoach` command in its own OS process, for kill and scale-out tests."""

    stop_timeout = 15.0

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The command line after `python -m bot.cli`."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """The variables set on top of this process's own."""
        raise NotImplementedError

    def start(self) -> None:
        env = {**os.environ, **self.environment()}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *self.command()], env=env, stdout=log, stderr=log
            )

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, nothing flushed."""
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGINT and wait for a clean exit (killed if it takes too long); the exit code."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class BotProcess(KillableProcess):
    """`salescoach run` against the fake Bot API server."""

    def __init__(self, fake: FakeTelegram, database_url: str, log_path: Path) -> None:
        super().__init__(log_path)
        self.fake = fake
        self.database_url = database_url

    def command(self) -> list[str]:
        return ["run"]

    def environment(self) -> dict[str, str]:
        return {
            "TELEGRAM_BOT_TOKEN": self.fake.token,
            "TELEGRAM_API_URL": self.fake.base_url,
            "TELEGRAM_FILE_URL": self.fake.base_file_url,
            "SALESCOACH_DATABASE_URL": self.database_url,
            "SALESCOACH_DISPATCH_INTERVAL": "0.2",
            "SALESCOACH_LOG_LEVEL": "INFO",
        }
