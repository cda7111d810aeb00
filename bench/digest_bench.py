"""Weekly digests at scale: build time per team, SQL queries per digest, charts, and peak RSS.

Seeds a week of activity (and the week before, for the comparison), with a
deal on every account, for 1,000 teams of 20 reps plus a few teams of 5, then
builds every team's digest as the scheduler would: its own session, the
database reads, the view model and the HTML in the manager's language.

Then every team's chart is drawn, as the sender does, in a ChartPool of
worker processes: the time each chart takes in its worker (p50, target
< 100 ms) and the wall time for all of them, against the time Telegram needs
to send every digest's messages at 30 messages/s. A sample is also drawn in
this process alone, for comparison.

    .venv/bin/python -m bench.digest_bench [--teams 1000] [--reps 20] [--chart-workers N]
        [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as Database
from sqlalchemy import event, insert

from bot.digests import split_for_pacing
from dialogs.core.texts import Texts
from dialogs.core.timezones import zone_for
from dialogs.manager.digest import Digest, build_digest, chart_input, digest_messages
from dialogs.manager.digest_chart import ChartLabels, ChartPool, ChartRow, render_chart
from playbooks.loader import load_playbooks
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.models import (
    Account,
    AccountChange,
    Debrief,
    Drill,
    FollowUp,
    Membership,
    ObjectionLog,
    Opportunity,
    OpportunityChange,
    Team,
    User,
    Visit,
)

NOW = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # Friday 12:00 in Shanghai
WEEK = "2026-W48"
ZONE = "Asia/Shanghai"
WEEK_START = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai
OUTCOMES = ("order", "advance", "advance", "continuation", "continuation", "no_sale")
OBJECTIONS = ("price", "no_budget", "no_need", "has_supplier", "too_busy", "no_trust")
RATINGS = ("worked", "partly", "failed", None)
STAGES = ("target_market", "potential", "target", "signed")
DEAL_STAGES = ("potential", "potential", "target", "target", "target_market")
CLOSE_MONTHS = (date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1))
TELEGRAM_PER_SECOND = 30


@dataclass
class Rows:
    """Rows to bulk-insert, table by table, with ids assigned here."""

    tables: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)
    next_ids: dict[Any, int] = field(default_factory=dict)

    def add(self, model: Any, **values: Any) -> int:
        row_id = self.next_ids.get(model, 1)
        self.next_ids[model] = row_id + 1
        self.tables.setdefault(model, []).append({"id": row_id, **values})
        return row_id


def _moment(rng: random.Random, week_offset: int) -> datetime:
    """A random working-hours moment in this week (0) or the one before (-1), not after NOW."""
    start = WEEK_START + timedelta(weeks=week_offset)
    latest = min(start + timedelta(days=7), NOW) - start
    return start + timedelta(seconds=rng.uniform(3600, latest.total_seconds() - 3600))


def seed_rep(rows: Rows, rng: random.Random, rep: int) -> None:
    """One rep's accounts, two weeks of visits, debriefs, follow-ups, objections, a drill."""
    accounts = [
        rows.add(
            Account,
            owner_id=rep,
            name=f"Account {rep}-{index}",
            stage=rng.choice(STAGES),
            opening=rng.choice("ABCDEFGHI"),
            value_class=rng.randint(1, 4),
            customer_type="potential",
            created_at=NOW - timedelta(days=90),
            updated_at=_moment(rng, 0),
        )
        for index in range(3)
    ]
    for week, visits in ((0, 5), (-1, 4)):
        for _ in range(visits):
            seed_visit(rows, rng, rep, rng.choice(accounts), week)
    for index in range(4):
        done = index < 2
        due = _moment(rng, 0) + (timedelta(days=3) if index == 3 else timedelta())
        rows.add(
            FollowUp,
            owner_id=rep,
            text="call back",
            due_at=due,
            status="done" if done else "open",
            done_at=due if done else None,
            created_at=due - timedelta(days=1),
        )
    for week, count in ((0, 3), (-1, 2)):
        for _ in range(count):
            rows.add(
                ObjectionLog,
                owner_id=rep,
                objection_type=rng.choice(OBJECTIONS),
                response=f"A response from rep {rep}",
                outcome=rng.choice(RATINGS),
                created_at=_moment(rng, week),
            )
    for account in accounts:
        seed_deal(rows, rng, rep, account)
    rows.add(
        AccountChange,
        account_id=accounts[0],
        changed_by=rep,
        field_name="stage",
        old_value="potential",
        new_value="target",
        changed_at=_moment(rng, 0),
    )
    finished = _moment(rng, 0)
    rows.add(
        Drill,
        user_id=rep,
        scenario_id="phone-appointment",
        language="en",
        status="finished",
        turn=6,
        transcript=[],
        scores={},
        overrides={},
        total=rng.randint(42, 90),
        started_at=finished - timedelta(minutes=20),
        finished_at=finished,
    )


def seed_deal(rows: Rows, rng: random.Random, rep: int, account: int) -> None:
    """An open deal on the account, created weeks ago; some moved stage this week."""
    created = NOW - timedelta(days=rng.randint(20, 80))
    stage = rng.choice(DEAL_STAGES)
    deal = rows.add(
        Opportunity,
        account_id=account,
        owner_id=rep,
        value_minor=rng.randint(5, 500) * 1_000_000,
        currency="CNY",
        close_month=rng.choice(CLOSE_MONTHS),
        stage=stage,
        stage_entered_at=created,
        status="open",
        created_at=created,
        updated_at=created,
    )
    rows.add(
        OpportunityChange,
        opportunity_id=deal,
        changed_by=rep,
        field_name="created",
        old_value=None,  # every row of a bulk insert needs the same keys
        new_value=stage,
        changed_at=created,
    )
    if stage == "target" and rng.random() < 0.3:
        rows.add(
            OpportunityChange,
            opportunity_id=deal,
            changed_by=rep,
            field_name="stage",
            old_value="potential",
            new_value="target",
            changed_at=_moment(rng, 0),
        )


def seed_visit(rows: Rows, rng: random.Random, rep: int, account: int, week: int) -> None:
    """A visit; most are done and debriefed, some took place without a debrief."""
    at = _moment(rng, week)
    done = rng.random() < 0.8
    visit = rows.add(
        Visit,
        owner_id=rep,
        account_id=account,
        planned_at=at,
        status="done" if done else "planned",
        questions=[],
        objections=[],
        proof=[],
        created_at=at - timedelta(days=2),
        done_at=at if done else None,
    )
    if done and rng.random() < 0.85:
        rows.add(
            Debrief,
            owner_id=rep,
            visit_id=visit,
            account_id=account,
            outcome=rng.choice(OUTCOMES),
            happened="The customer listened and asked for a quote.",
            ratings={},
            created_at=at + timedelta(hours=2),
        )


def seed_team(rows: Rows, rng: random.Random, team_index: int, reps: int) -> None:
    """A manager, a team, its reps and their week."""
    manager = _user(rows, f"Manager {team_index}", "manager")
    team = rows.add(Team, name=f"Team {team_index}", created_by=manager, created_at=NOW)
    rows.add(Membership, team_id=team, user_id=manager, role="manager", joined_at=NOW)
    for index in range(reps):
        rep = _user(rows, f"Rep {team_index}-{index}", "rep")
        rows.add(Membership, team_id=team, user_id=rep, role="member", joined_at=NOW)
        seed_rep(rows, rng, rep)


def _user(rows: Rows, name: str, role: str) -> int:
    number = rows.next_ids.get(User, 1)
    return rows.add(
        User,
        platform="telegram",
        platform_user_id=str(900_000 + number),
        display_name=name,
        role=role,
        language="en",
        timezone=ZONE,
        active=True,
        quiet_start="21:00",
        quiet_end="08:00",
        brief_lead_minutes=60,
        debrief_after_minutes=90,
        digest_enabled=True,
        digest_weekday=1,
        digest_time="08:30",
        onboarded_at=NOW,
        created_at=NOW,
    )


def seed(database_url: str, teams: int, reps: int, small_teams: int) -> dict[str, int]:
    """Bulk-insert everything; returns rows per table."""
    engine = make_engine(database_url)
    upgrade(engine)
    rng = random.Random(47)
    rows = Rows()
    for index in range(teams):
        seed_team(rows, rng, index, reps)
    for index in range(small_teams):
        seed_team(rows, rng, teams + index, 5)
    order = (User, Team, Membership, Account, Visit, Debrief, FollowUp, ObjectionLog)
    with engine.begin() as connection:
        for model in (*order, AccountChange, Drill, Opportunity, OpportunityChange):
            batch = rows.tables.get(model, [])
            for start in range(0, len(batch), 20_000):
                connection.execute(insert(model), batch[start : start + 20_000])
    engine.dispose()
    return {model.__tablename__: len(batch) for model, batch in rows.tables.items()}


def seed_in_child(database_url: str, teams: int, reps: int, small_teams: int) -> dict[str, int]:
    """Seed in a child process, so peak memory below is the digests', not the seeder's."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        return pool.submit(seed, database_url, teams, reps, small_teams).result()


@contextmanager
def counting(database: Database) -> Iterator[list[int]]:
    """Count the SQL statements sent while the block runs."""
    counter = [0]

    def count(*_args: Any) -> None:
        counter[0] += 1

    event.listen(database, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(database, "before_cursor_execute", count)


def build_one(database: Database, team_id: int, texts: Texts, playbooks: Any) -> tuple[Digest, int]:
    """What the scheduler does for one team, less the chart and sending: read, build, render.

    Returns the digest and how many Telegram messages it makes, its chart included.
    """
    with transaction(database) as session:
        digest = build_digest(
            session, team_id, WEEK, zone=zone_for(ZONE), now=NOW, playbooks=playbooks
        )
    assert digest is not None
    messages = digest_messages(digest, texts, playbooks, chart=False)
    return digest, len(split_for_pacing(messages)) + 1


def timed_render(rows: list[ChartRow], labels: ChartLabels) -> tuple[int, float, float]:
    """Draw one chart in a worker: the PNG's size, and the wall and CPU milliseconds there."""
    began, began_cpu = time.perf_counter(), time.process_time()
    png = render_chart(rows, labels)
    return len(png), (time.perf_counter() - began) * 1000, (time.process_time() - began_cpu) * 1000


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(
    database_url: str, teams: int, reps: int, small_teams: int, charts: int, chart_workers: int
) -> None:
    started = time.perf_counter()
    counts = seed_in_child(database_url, teams, reps, small_teams)
    print(f"seeded in {time.perf_counter() - started:.1f} s: " + ", ".join(
        f"{count:,} {table}" for table, count in counts.items()
    ))  # fmt: skip
    database = make_engine(database_url)
    playbooks, texts = load_playbooks(), Texts("en")
    build_one(database, 1, texts, playbooks)  # warm caches: templates, playbooks, connections
    pool = ChartPool(chart_workers)
    pool.warm()  # the workers start while nothing is timed, as they do when the bot starts
    times: list[float] = []
    cpu_times: list[float] = []
    queries: dict[int, set[int]] = {}
    chart_inputs: list[tuple[list[ChartRow], ChartLabels]] = []
    charts_drawn: list[Future[tuple[int, float, float]]] = []
    messages = 0
    total_started = time.perf_counter()
    for team_id in range(1, teams + small_teams + 1):
        size = reps if team_id <= teams else 5
        with counting(database) as counter:
            began, began_cpu = time.perf_counter(), time.process_time()
            digest, sent = build_one(database, team_id, texts, playbooks)
            times.append((time.perf_counter() - began) * 1000)
            cpu_times.append((time.process_time() - began_cpu) * 1000)
        queries.setdefault(size, set()).add(counter[0])
        # As the sender does: the chart goes to a worker while the next digest is read.
        chart_inputs.append(chart_input(digest, texts))
        charts_drawn.append(pool.call(timed_render, *chart_inputs[-1]))
        messages += sent
    total = time.perf_counter() - total_started
    results = [future.result() for future in charts_drawn]
    ready = time.perf_counter() - total_started
    report(times[:teams], cpu_times[:teams], total, queries)
    print(f"peak RSS {peak_rss_mb():.0f} MB (this process: digests, not the chart workers)")
    chart_report(pool.workers, results, messages, ready)
    render_here(chart_inputs[:charts])
    pool.close()
    database.dispose()


def chart_report(
    workers: int, results: list[tuple[int, float, float]], messages: int, ready: float
) -> None:
    """Every chart as drawn in a worker, and everything ready against Telegram's pace."""
    wall = [elapsed for _size, elapsed, _cpu in results]
    cpu = [spent for _size, _elapsed, spent in results]
    sizes = [size for size, _elapsed, _cpu in results]
    print(
        f"charts: {len(results)} drawn by {workers} worker process(es); per chart in its "
        f"worker p50 {percentile(wall, 0.5):.0f} ms, p95 {percentile(wall, 0.95):.0f} ms "
        f"(CPU p50 {percentile(cpu, 0.5):.0f} ms; target: p50 < 100 ms); "
        f"PNG mean {statistics.mean(sizes) / 1024:.0f} KiB"
    )
    sending = messages / TELEGRAM_PER_SECOND
    verdict = "faster than" if ready < sending else "SLOWER than"
    print(
        f"all {len(results)} digests built and charted in {ready:.1f} s; Telegram needs "
        f"{sending:.1f} s to send their {messages:,} messages at {TELEGRAM_PER_SECOND}/s: "
        f"built {verdict} Telegram sends them"
    )


def render_here(inputs: list[tuple[list[ChartRow], ChartLabels]]) -> None:
    """A sample drawn in this process alone, the pool idle, for comparison."""
    alone = []
    for rows, labels in inputs:
        start = time.perf_counter()
        render_chart(rows, labels)
        alone.append((time.perf_counter() - start) * 1000)
    if alone:
        print(
            f"chart in this process alone ({len(alone)} teams, the first builds the figure): "
            f"p50 {percentile(alone, 0.5):.0f} ms, max {max(alone):.0f} ms"
        )


def report(
    times: list[float], cpu_times: list[float], total: float, queries: dict[int, set[int]]
) -> None:
    print(f"built {len(times)} digests of teams of the main size")
    print(
        f"build time per team: mean {statistics.mean(times):.2f} ms, "
        f"p50 {percentile(times, 0.5):.2f} ms, p95 {percentile(times, 0.95):.2f} ms, "
        f"max {max(times):.2f} ms (target: mean < 10 ms)"
    )
    # CPU time of this process (SQLite runs in it too): steadier on a shared machine.
    print(f"CPU time per team: mean {statistics.mean(cpu_times):.2f} ms")
    print(f"total build time for every team: {total:.2f} s")
    for size, counts in sorted(queries.items()):
        shown = ", ".join(str(count) for count in sorted(counts))
        print(f"SQL queries per digest, teams of {size}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--small-teams", type=int, default=20, help="extra teams of 5 reps")
    parser.add_argument(
        "--charts", type=int, default=20, help="how many charts to also draw in this process"
    )
    parser.add_argument(
        "--chart-workers", type=int, default=None, help="worker processes (default: cores - 1)"
    )
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = arguments.database_url or f"sqlite:///{Path(folder) / 'digest-bench.db'}"
        run(
            url,
            arguments.teams,
            arguments.reps,
            arguments.small_teams,
            arguments.charts,
            arguments.chart_workers,
        )


if __name__ == "__main__":
    main()
