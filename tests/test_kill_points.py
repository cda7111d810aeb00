"""Killed at any point of a rep's week, the bot loses no input, leaves no question unsent and
sends nothing twice: SIGKILL at seeded random points over five timings, each followed by a
restart, against an uninterrupted run of the same week (tests/kill_points.py).

A handful of kills per database keeps this quick; bench/kill_bench.py runs 100.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kill_points import TIMINGS, KillingTelegram, Run, Week, compare, plan_kills

KILLS = 10  # two per timing


@pytest.fixture
def fake() -> Iterator[KillingTelegram]:
    with KillingTelegram() as server:
        yield server


def reference_run(fake: KillingTelegram, database_url: str, workdir: Path) -> Run:
    workdir.mkdir()
    return Week(fake, database_url, workdir).run([])


def multi_reply_steps(run: Run) -> list[int]:
    return [index for index, messages in enumerate(run.per_step) if len(messages) >= 2]


def test_kills_at_every_timing_lose_nothing_and_repeat_nothing(
    tmp_path: Path, any_database: str
) -> None:
    with KillingTelegram() as quiet_fake:
        reference = reference_run(
            quiet_fake, f"sqlite:///{tmp_path / 'reference.db'}", tmp_path / "ref"
        )
    assert sum(len(messages) for messages in reference.per_step) > len(reference.per_step)
    kills = plan_kills(
        KILLS, seed=2026, steps=len(reference.per_step), multi_reply=multi_reply_steps(reference)
    )
    assert {kill.timing for kill in kills} == set(TIMINGS)
    with KillingTelegram() as fake:
        workdir = tmp_path / "killed"
        workdir.mkdir()
        killed = Week(fake, any_database, workdir).run(kills)
    outcome = compare(reference, killed, window_steps=set())
    assert killed.kills == KILLS
    assert (outcome.lost_inputs, outcome.unsent, outcome.duplicates, outcome.other) == (0, 0, 0, 0)
    assert outcome.rows_equal and outcome.final_equal
    assert killed.per_step == reference.per_step


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_webhook_processes_killed_at_every_timing_lose_nothing_and_repeat_nothing(
    tmp_path: Path, postgres_database: str
) -> None:
    with KillingTelegram() as quiet_fake:
        reference = reference_run(
            quiet_fake, f"sqlite:///{tmp_path / 'reference.db'}", tmp_path / "ref"
        )
    kills = plan_kills(
        KILLS, seed=14, steps=len(reference.per_step), multi_reply=multi_reply_steps(reference)
    )
    with KillingTelegram() as fake:
        workdir = tmp_path / "killed"
        workdir.mkdir()
        week = Week(fake, postgres_database, workdir, webhook_ports=[free_port(), free_port()])
        killed = week.run(kills)
    outcome = compare(reference, killed, window_steps=set())
    assert killed.kills == KILLS
    assert (outcome.lost_inputs, outcome.unsent, outcome.duplicates, outcome.other) == (0, 0, 0, 0)
    assert outcome.rows_equal and outcome.final_equal
