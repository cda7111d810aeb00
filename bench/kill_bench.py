"""Kill points at scale: 100 SIGKILLs over a rep's week of dialogs, and the one window that
can still repeat a message.

Runs the real bot as a subprocess against the fake Bot API server
(tests/kill_points.py): first the week uninterrupted, then the same week in
passes of --per-pass kills (before fetch, just after fetch, mid-turn,
between replies, after the reply; seeded), restarting the bot after each.
Prints, per database, the inputs lost, the messages never sent, the
duplicates, and whether the stored rows and every message match the
uninterrupted run. Then --window kills just after Telegram accepted a reply
and before the bot recorded it: each is expected to send that one message
again after the restart, which is the window the README describes. Asserts
nothing.

    .venv/bin/python -m bench.kill_bench [--kills 100] [--per-pass 20] [--window 10]
        [--database postgresql://postgres@127.0.0.1:5432/kills]  (default: a SQLite file)
        [--webhook]  (two webhook processes; needs a PostgreSQL --database)
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import normalise_url
from tests.kill_points import (
    TIMINGS,
    WINDOW,
    Comparison,
    Kill,
    KillingTelegram,
    Run,
    Week,
    compare,
    plan_kills,
)


def fresh_database(base: str | None, workdir: Path) -> str:
    """A new empty database: a SQLite file, or a new database on the PostgreSQL server."""
    if base is None:
        return f"sqlite:///{workdir / f'{uuid.uuid4().hex[:8]}.db'}"
    server = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    name = f"kill_bench_{uuid.uuid4().hex[:10]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return make_url(normalise_url(base)).set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def drop_database(base: str | None, url: str) -> None:
    if base is None:
        return
    server = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def one_week(database: str | None, workdir: Path, kills: list[Kill], webhook: bool) -> Run:
    workdir.mkdir(parents=True)
    ports = [free_port(), free_port()] if webhook else None
    url = fresh_database(database, workdir)
    try:
        with KillingTelegram() as fake:
            return Week(fake, url, workdir, webhook_ports=ports).run(kills)
    finally:
        drop_database(database, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--per-pass", type=int, default=20)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--database", default=None)
    parser.add_argument("--webhook", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kill_bench_"))
    started = time.monotonic()
    reference = one_week(None, workdir / "reference", [], webhook=False)
    steps = len(reference.per_step)
    multi = [index for index, messages in enumerate(reference.per_step) if len(messages) >= 2]
    kind = ("webhook, 2 processes, " if args.webhook else "polling, ") + (
        "PostgreSQL" if args.database else "SQLite"
    )
    print(f"week: {steps} inputs, {sum(map(len, reference.per_step))} messages; {kind}")

    totals = Comparison(0, 0, 0, 0, True, True)
    done = 0
    per_timing = dict.fromkeys(TIMINGS, 0)
    for index in range(0, args.kills, args.per_pass):
        count = min(args.per_pass, args.kills - index)
        kills = plan_kills(count, args.seed + index, steps, multi)
        run = one_week(args.database, workdir / f"pass{index}", kills, args.webhook)
        outcome = compare(reference, run, window_steps=set())
        done += run.kills
        for kill in kills:
            per_timing[kill.timing] += 1
        totals = Comparison(
            totals.lost_inputs + outcome.lost_inputs,
            totals.unsent + outcome.unsent,
            totals.duplicates + outcome.duplicates,
            totals.other + outcome.other,
            totals.rows_equal and outcome.rows_equal,
            totals.final_equal and outcome.final_equal,
        )
        print(
            f"  pass {index // args.per_pass + 1}: {run.kills} kills, lost {outcome.lost_inputs}, "
            f"unsent {outcome.unsent}, duplicates {outcome.duplicates}, other {outcome.other}, "
            f"rows equal {outcome.rows_equal}, messages equal {outcome.final_equal}",
            flush=True,
        )
    print(f"kills: {done} ({', '.join(f'{t} {n}' for t, n in per_timing.items())})")
    print(
        f"inputs lost: {totals.lost_inputs}; questions/messages unsent: {totals.unsent}; "
        f"duplicate replies: {totals.duplicates}; other differences: {totals.other}; "
        f"stored rows identical: {totals.rows_equal}; every message identical: {totals.final_equal}"
    )
    if args.window:
        kills = plan_kills(args.window, args.seed, steps, multi, timings=(WINDOW,))
        run = one_week(args.database, workdir / "window", kills, args.webhook)
        outcome = compare(reference, run, window_steps={kill.step for kill in kills})
        print(
            f"window (killed after Telegram accepted a message, before it was recorded): "
            f"{run.kills} kills, {outcome.window_duplicates} message(s) sent twice; lost "
            f"{outcome.lost_inputs}, unsent {outcome.unsent}, other duplicates {outcome.duplicates}"
        )
    print(f"took {time.monotonic() - started:.0f} s; logs in {workdir}")


if __name__ == "__main__":
    main()
