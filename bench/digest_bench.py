"""Weekly digests at scale: build time per team, SQL queries per digest, and peak RSS.

Seeds a week of activity (and the week before, for the comparison) for
1,000 teams of 20 reps plus a few teams of 5, then builds every team's
digest as the scheduler would: its own session, the database reads, the
view model and the HTML in the manager's language. The PNG chart is timed
separately on a sample, since matplotlib's drawing dominates otherwise.

    .venv/bin/python -m bench.digest_bench [--teams 1000] [--reps 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as Database
from sqlalchemy import event, insert

from dialogs.core.texts import Texts
from dialogs.core.timezones import zone_for
from dialogs.manager.digest import Digest, build_digest, digest_chart, digest_messages
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
        for model in (*order, AccountChange, Drill):
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


def build_one(database: Database, team_id: int, texts: Texts, playbooks: Any) -> Digest:
    """What the scheduler does for one team, less sending: read, build, render."""
    with transaction(database) as session:
        digest = build_digest(
            session, team_id, WEEK, zone=zone_for(ZONE), now=NOW, playbooks=playbooks
        )
    assert digest is not None
    digest_messages(digest, texts, playbooks, chart=False)
    return digest


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(database_url: str, teams: int, reps: int, small_teams: int, charts: int) -> None:
    started = time.perf_counter()
    counts = seed_in_child(database_url, teams, reps, small_teams)
    print(f"seeded in {time.perf_counter() - started:.1f} s: " + ", ".join(
        f"{count:,} {table}" for table, count in counts.items()
    ))  # fmt: skip
    database = make_engine(database_url)
    playbooks, texts = load_playbooks(), Texts("en")
    build_one(database, 1, texts, playbooks)  # warm caches: templates, playbooks, connections
    times: list[float] = []
    cpu_times: list[float] = []
    queries: dict[int, set[int]] = {}
    digests: list[Digest] = []
    total_started = time.perf_counter()
    for team_id in range(1, teams + small_teams + 1):
        size = reps if team_id <= teams else 5
        with counting(database) as counter:
            began, began_cpu = time.perf_counter(), time.process_time()
            digest = build_one(database, team_id, texts, playbooks)
            times.append((time.perf_counter() - began) * 1000)
            cpu_times.append((time.process_time() - began_cpu) * 1000)
        queries.setdefault(size, set()).add(counter[0])
        if len(digests) < charts:
            digests.append(digest)
    total = time.perf_counter() - total_started
    report(times[:teams], cpu_times[:teams], total, queries)
    chart_times = []
    for digest in digests:
        began = time.perf_counter()
        digest_chart(digest, texts)
        chart_times.append((time.perf_counter() - began) * 1000)
    if chart_times:
        print(
            f"chart PNG (matplotlib, {len(chart_times)} teams): "
            f"mean {statistics.mean(chart_times):.1f} ms, max {max(chart_times):.1f} ms per team"
        )
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    database.dispose()


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
    parser.add_argument("--charts", type=int, default=20, help="how many charts to time")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = arguments.database_url or f"sqlite:///{Path(folder) / 'digest-bench.db'}"
        run(url, arguments.teams, arguments.reps, arguments.small_teams, arguments.charts)


if __name__ == "__main__":
    main()
