"""Weekly digests: one APScheduler cron job per manager, each week sent once per manager and team.

The cron jobs live in memory and are rebuilt from the users table by a sync
job every minute, so /digestsettings changes take effect within a minute
and a restart loses nothing. The database decides who sends: a run row is
inserted first (unique manager + team + week) and only the process whose
insert succeeded sends, so two bot processes or a restart never send the
same week twice. A slot missed while the bot was down is caught up, for a
while, by the same sync job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.triggers.cron import CronTrigger
from sqlmodel import Session
from telegram import Bot

from bot.reminders import DeliveryBlocked, DeliveryRetry
from bot.runtime import build_engine
from bot.sending import broadcast_lane
from bot.settings import Settings
from bot.terminal import plain
from dialogs.core.engine import Engine
from dialogs.core.io import Outgoing
from dialogs.core.steps import Services
from dialogs.core.texts import Texts
from dialogs.core.timezones import zone_for
from dialogs.manager.digest import (
    build_digest,
    digest_messages,
    parse_week,
    scheduled_week,
    week_label,
)
from dialogs.users.quiet_hours import parse_clock
from storage.comments import team_managers
from storage.db import transaction
from storage.digest_queries import (
    DigestSubscriber,
    claim_digest,
    digest_runs_for,
    digest_subscribers,
    find_digest_run,
    finish_digest,
    reclaim_digest,
    start_sending_digest,
    take_over_digest,
)
from storage.models import User, as_utc
from storage.outbox import BROADCAST
from storage.teams import get_team, managed_teams

if TYPE_CHECKING:  # bot.outbox imports bot.reminders, which this module imports
    from bot.outbox import OutboxSender

log = logging.getLogger(__name__)

JOB_PREFIX = "digest:"
SYNC_INTERVAL = 60.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Run statuses beyond the model's sending | sent | failed:
RETRY = "retry"  # nothing reached the manager; the sync job tries again for a while
# Claimed and being built: nothing has gone to Telegram yet, so if the builder dies
# (a crash mid-burst: charts take ~0.5 s each) another process may take the run over.
BUILDING = "building"
SKIPPED = "skipped"  # nothing to send (the team has no members yet)

Deliver = Callable[[User, Outgoing], Awaitable[None]]


@dataclass(frozen=True)
class DigestConfig:
    """Pacing and the windows in which missed or failed digests are still sent."""

    per_chat_interval: float = 1.0  # Telegram asks for about one message per second per chat
    concurrency: int = 24  # managers served at once; the rate limiter keeps the total at 30/s
    catch_up: timedelta = timedelta(hours=12)  # a slot missed while down is sent this late
    retry_window: timedelta = timedelta(hours=1)
    # A run still building after this long is taken to be abandoned by a dead process.
    build_lease: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class Claimed:
    """A digest this process won the right to send."""

    run_id: int
    manager_id: int
    team_id: int
    week: str
    # The row's created_at while BUILDING; None for a retry, which is "sending" at once.
    stamp: datetime | None = None


def last_slot(now: datetime, zone: tzinfo, weekday: int, clock: str) -> datetime | None:
    """The latest moment at or before `now` that is `weekday` (ISO) at `clock` in `zone`."""
    moment = parse_clock(clock)
    if moment is None:
        return None
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=(local.isoweekday() - weekday) % 7)
    slot = datetime.combine(day, time(moment.hour, moment.minute), tzinfo=zone)
    if slot > local:
        slot -= timedelta(days=7)
    return slot


def week_for_slot(now: datetime, user: User) -> str:
    """The week a scheduled digest covers, judged at the slot it belongs to."""
    zone = zone_for(user.timezone)
    slot = last_slot(now, zone, user.digest_weekday, user.digest_time) or now
    return scheduled_week(slot, zone)


def split_for_pacing(messages: list[Outgoing]) -> list[Outgoing]:
    """One Telegram message per item: texts with their buttons, and each attachment apart."""
    units: list[Outgoing] = []
    for message in messages:
        if message.text:
            units.append(Outgoing(message.text, buttons=message.buttons))
        units.extend(
            Outgoing("", attachments={name: content})
            for name, content in message.attachments.items()
        )
    return units


class DigestSender:
    """Claims, builds and sends one manager's digests."""

    def __init__(
        self,
        engine: Engine,
        deliver: Deliver,
        config: DigestConfig | None = None,
        *,
        outbox: OutboxSender | None = None,
    ) -> None:
        self.engine = engine
        self.deliver = deliver
        self.config = config or DigestConfig()
        # With an outbox, a digest is queued whole and its run marked sent in one
        # transaction; the outbox sends it, and finishes it after a crash.
        self.outbox = outbox
        self._limit = asyncio.Semaphore(self.config.concurrency)

    async def send_scheduled(self, manager_id: int) -> int:
        """The cron job: claim this week's digest of each of the manager's teams, send those won."""
        async with self._limit:
            claimed = await asyncio.to_thread(self._claim_scheduled, manager_id)
            sent = 0
            for index, run in enumerate(claimed):
                if index:  # the next team's digest goes to the same chat
                    await asyncio.sleep(self.config.per_chat_interval)
                sent += await self._send(run)
            return sent

    async def send_week(self, manager_id: int, team_id: int, week: str) -> bool:
        """Send one given week now (the CLI), unless it already went out."""
        claimed = await asyncio.to_thread(self._claim_one, manager_id, team_id, week)
        return claimed is not None and bool(await self._send(claimed))

    def _claim_scheduled(self, manager_id: int) -> list[Claimed]:
        now = self.engine.clock()
        with transaction(self.engine.database) as session:
            user = session.get(User, manager_id)
            if user is None or not user.active or not user.digest_enabled:
                return []
            week = week_for_slot(now, user)
            claimed = []
            for team in managed_teams(session, manager_id):
                run = self._claim(session, manager_id, team.id or 0, week, now)
                if run is not None:
                    claimed.append(run)
            return claimed  # committed on leaving the block, before anything is sent

    def _claim_one(self, manager_id: int, team_id: int, week: str) -> Claimed | None:
        now = self.engine.clock()
        with transaction(self.engine.database) as session:
            return self._claim(session, manager_id, team_id, week, now)

    def _claim(
        self, session: Session, manager_id: int, team_id: int, week: str, now: datetime
    ) -> Claimed | None:
        """Win the run by inserting it, or take over one left to retry or abandoned mid-build."""
        stamp = now.replace(microsecond=0)  # compared for equality after a database round trip
        run_id = claim_digest(session, manager_id, team_id, week, status=BUILDING, at=stamp)
        if run_id is not None:
            return Claimed(run_id, manager_id, team_id, week, stamp)
        existing = find_digest_run(session, manager_id, team_id, week)
        if existing is None or existing.id is None:
            return None
        age = as_utc(now) - as_utc(existing.created_at)
        retry = existing.status == RETRY and age < self.config.retry_window
        if retry and reclaim_digest(session, existing.id, RETRY):
            return Claimed(existing.id, manager_id, team_id, week)
        abandoned = existing.status == BUILDING and age >= self.config.build_lease
        if abandoned and take_over_digest(
            session, existing.id, BUILDING, existing.created_at, stamp
        ):
            log.warning("digest run %s: taking over an abandoned build", existing.id)
            return Claimed(existing.id, manager_id, team_id, week, stamp)
        return None

    def _build(self, run: Claimed) -> tuple[User, list[Outgoing]] | None:
        now = self.engine.clock()
        with transaction(self.engine.database) as session:
            user = session.get(User, run.manager_id)
            if user is None:
                return None
            digest = build_digest(
                session,
                run.team_id,
                run.week,
                zone=zone_for(user.timezone),
                now=now,
                playbooks=self.engine.services.playbooks,
            )
            if digest is None or not digest.data.members:
                return None
            t = Texts(user.language)
            messages = digest_messages(digest, t, self.engine.services.playbooks)
            session.expunge(user)
            return user, messages

    async def _send(self, run: Claimed) -> int:
        built = await asyncio.to_thread(self._build, run)
        if built is None:
            await asyncio.to_thread(self._record, run.run_id, SKIPPED, None)
            return 0
        user, messages = built
        if self.outbox is not None:
            return await self._queue(run, user, messages, self.outbox)
        if run.stamp is not None and not await asyncio.to_thread(self._start_sending, run):
            return 0  # another process took the run over: it sends, not us
        delivered = 0
        try:
            for index, unit in enumerate(split_for_pacing(messages)):
                if index:
                    await asyncio.sleep(self.config.per_chat_interval)
                with broadcast_lane():  # behind replies to people's input (bot/sending.py)
                    await self.deliver(user, unit)
                delivered += 1
        except DeliveryBlocked:
            await asyncio.to_thread(self._record, run.run_id, "failed", run.manager_id)
            return 0
        except DeliveryRetry as error:
            # Only a digest nobody saw any of may be sent again: never half of one twice.
            status = RETRY if delivered == 0 else "failed"
            log.warning("digest run %s: %s (%s)", run.run_id, error, status)
            await asyncio.to_thread(self._record, run.run_id, status, None)
            return 0
        except Exception:  # a permanent failure (DeliveryFailed) or a bug: never stop the others
            log.exception("digest run %s failed", run.run_id)
            await asyncio.to_thread(self._record, run.run_id, "failed", None)
            return 0
        await asyncio.to_thread(self._record, run.run_id, "sent", None)
        return 1

    async def _queue(
        self, run: Claimed, user: User, messages: list[Outgoing], outbox: OutboxSender
    ) -> int:
        chat_id = user.platform_user_id
        if not await asyncio.to_thread(self._queue_all, run, chat_id, messages, outbox):
            return 0  # another process took the run over: it sends, not us
        await outbox.flush(chat_id, BROADCAST)  # behind replies to people (bot/sending.py)
        return 1

    def _queue_all(
        self, run: Claimed, chat_id: str, messages: list[Outgoing], outbox: OutboxSender
    ) -> bool:
        """The whole digest into the outbox and the run marked sent, together, or neither."""
        with transaction(self.engine.database) as session:
            if run.stamp is not None and not start_sending_digest(
                session, run.run_id, BUILDING, run.stamp
            ):
                return False
            for unit in split_for_pacing(messages):
                outbox.queue(session, chat_id, unit)
            finish_digest(session, run.run_id, "sent", self.engine.clock())
            return True

    def _start_sending(self, run: Claimed) -> bool:
        assert run.stamp is not None
        with transaction(self.engine.database) as session:
            return start_sending_digest(session, run.run_id, BUILDING, run.stamp)

    def _record(self, run_id: int, status: str, blocked_user: int | None) -> None:
        with transaction(self.engine.database) as session:
            finish_digest(session, run_id, status, self.engine.clock())
            user = session.get(User, blocked_user) if blocked_user is not None else None
            if user is not None:
                user.active = False  # they blocked the bot: stop writing to them
                session.add(user)


class DigestScheduler:
    """Keeps one cron job per manager in step with the users table, and catches up missed ones."""

    def __init__(
        self,
        scheduler: Any,
        sender: DigestSender,
        platform: str,
    ) -> None:
        self.scheduler = scheduler
        self.sender = sender
        self.platform = platform
        self._signatures: dict[str, tuple[int, str, str]] = {}

    async def tick(self) -> None:
        """Every minute: re-read settings, move cron jobs, send what a restart made us miss."""
        subscribers, missed = await asyncio.to_thread(self._read)
        self.sync_jobs(subscribers)
        if missed:
            log.info("catching up %d digest(s) missed while the bot was down", len(missed))
            await asyncio.gather(*(self.sender.send_scheduled(manager) for manager in missed))

    def _read(self) -> tuple[list[DigestSubscriber], list[int]]:
        engine = self.sender.engine
        now = engine.clock()
        with transaction(engine.database) as session:
            subscribers = digest_subscribers(session, self.platform)
            due = {s.user_id: self._due_week(s, now) for s in subscribers}
            weeks = sorted({week for week in due.values() if week is not None})
            runs = digest_runs_for(session, weeks)
        missed = [
            s.user_id
            for s in subscribers
            if (week := due[s.user_id]) is not None
            and any(
                self._still_to_send(runs.get((s.user_id, team, week)), now) for team in s.team_ids
            )
        ]
        return subscribers, missed

    def _due_week(self, subscriber: DigestSubscriber, now: datetime) -> str | None:
        """The week whose slot passed within the catch-up window, if any."""
        zone = zone_for(subscriber.timezone)
        slot = last_slot(now, zone, subscriber.weekday, subscriber.time)
        if slot is None or now - slot > self.sender.config.catch_up:
            return None
        return scheduled_week(slot, zone)

    def _still_to_send(self, run: Any, now: datetime) -> bool:
        if run is None:
            return True
        _run_id, status, created_at = run
        age = as_utc(now) - as_utc(created_at)
        if status == BUILDING:
            return bool(age >= self.sender.config.build_lease)
        return bool(status == RETRY and age < self.sender.config.retry_window)

    def sync_jobs(self, subscribers: list[DigestSubscriber]) -> None:
        """Add, move or remove cron jobs so there is one per subscribed manager."""
        wanted = {f"{JOB_PREFIX}{s.user_id}": s for s in subscribers}
        for job_id, subscriber in wanted.items():
            signature = (subscriber.weekday, subscriber.time, subscriber.timezone)
            if self._signatures.get(job_id) == signature:
                continue  # re-adding would reset the job's next run time for nothing
            if self._schedule(job_id, subscriber):
                self._signatures[job_id] = signature
        for job_id in set(self._signatures) - set(wanted):
            self._signatures.pop(job_id)
            with contextlib.suppress(JobLookupError):  # already gone
                self.scheduler.remove_job(job_id)

    def _schedule(self, job_id: str, subscriber: DigestSubscriber) -> bool:
        moment = parse_clock(subscriber.time)
        if moment is None or not 1 <= subscriber.weekday <= 7:
            log.warning("manager %s has unusable digest settings", subscriber.user_id)
            return False
        trigger = CronTrigger(
            day_of_week=DAYS[subscriber.weekday - 1],
            hour=moment.hour,
            minute=moment.minute,
            timezone=zone_for(subscriber.timezone),
        )
        self.scheduler.add_job(
            self.sender.send_scheduled,
            trigger,
            args=[subscriber.user_id],
            id=job_id,
            name=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(self.sender.config.catch_up.total_seconds()),
        )
        return True


def start_digest_jobs(
    application: Any,
    engine: Engine,
    deliver: Deliver,
    platform: str = "telegram",
    *,
    outbox: OutboxSender | None = None,
) -> DigestScheduler:
    """Register the minute-by-minute sync that keeps the per-manager cron jobs up to date."""
    job_queue = application.job_queue
    sender = DigestSender(engine, deliver, outbox=outbox)
    digests = DigestScheduler(job_queue.scheduler, sender, platform)

    async def sync(_context: Any) -> None:
        await digests.tick()

    # An interval job's first run is counted from when the scheduler starts, a
    # minute away; a one-off date job runs as soon as it does, to catch up at once.
    job_queue.run_once(
        sync, when=0, name="digest-sync-start", job_kwargs={"misfire_grace_time": None}
    )
    job_queue.run_repeating(
        sync,
        interval=SYNC_INTERVAL,
        first=SYNC_INTERVAL,
        name="digest-sync",
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    application.bot_data["digests"] = digests
    return digests


# ----- `salescoach digest --team ID [--week 2026-W47] [--dry-run]` --------------------


def print_digest(
    settings: Settings,
    team_id: int,
    week: str | None,
    *,
    language: str | None = None,
    chart_path: Path | None = None,
) -> int:
    """Print a team's digest as plain text, as its first manager would read it."""
    engine = build_engine(settings, Services())
    with transaction(engine.database) as session:
        team = get_team(session, team_id)
        if team is None:
            print(f"There is no team {team_id}.", file=sys.stderr)
            return 1
        managers = team_managers(session, team_id)
        zone = zone_for(managers[0].timezone if managers else "UTC")
        label = (week or week_label(engine.clock(), zone)).upper()
        if parse_week(label) is None:
            print(f"{week!r} is not an ISO week like 2026-W47.", file=sys.stderr)
            return 2
        reader = language or (managers[0].language if managers else "en")
        playbooks = engine.services.playbooks
        digest = build_digest(
            session, team_id, label, zone=zone, now=engine.clock(), playbooks=playbooks
        )
        assert digest is not None
        messages = digest_messages(digest, Texts(reader), playbooks, chart=chart_path is not None)
    for message in messages:
        print(plain(message.text))
        print()
        for content in message.attachments.values():
            if chart_path is not None:
                chart_path.write_bytes(content)
                print(f"Chart written to {chart_path}")
    return 0


def send_digest_now(settings: Settings, team_id: int, week: str | None) -> int:
    """Send a team's digest to its managers through Telegram, once per manager and week."""
    from bot.telegram_bot import telegram_delivery  # that module starts our jobs: import late

    token = settings.token()
    if token is None:
        print("TELEGRAM_BOT_TOKEN is not set; use --dry-run to print the digest.", file=sys.stderr)
        return 2
    engine = build_engine(settings, Services())
    with transaction(engine.database) as session:
        managers = [(m.id or 0, m.timezone) for m in team_managers(session, team_id)]
    if not managers:
        print(f"Team {team_id} has no manager to send to.", file=sys.stderr)
        return 1
    if week is not None and parse_week(week) is None:
        print(f"{week!r} is not an ISO week like 2026-W47.", file=sys.stderr)
        return 2

    async def send() -> None:
        bot = Bot(token, base_url=settings.telegram_api_url or "https://api.telegram.org/bot")
        async with bot:
            sender = DigestSender(engine, telegram_delivery(bot))
            for manager_id, zone in managers:
                label = (week or week_label(engine.clock(), zone_for(zone))).upper()
                sent = await sender.send_week(manager_id, team_id, label)
                outcome = "sent" if sent else "not sent (already sent, or nothing to send)"
                print(f"manager {manager_id}, {label}: {outcome}")

    asyncio.run(send())
    return 0
