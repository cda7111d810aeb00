"""Message splitting, button data, time zones and free-text dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.core import callbacks
from dialogs.core.dates import parse_when
from dialogs.core.texts import Texts, split_message
from dialogs.core.timezones import describe_zone, normalise_timezone, zone_for
from playbooks.locales import load_locale

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


@given(st.text(alphabet=st.sampled_from("ab 中\n"), max_size=3000), st.integers(10, 500))
def test_split_keeps_every_line_and_respects_the_limit(text: str, limit: int) -> None:
    chunks = split_message(text, limit)
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    # Nothing visible is lost; blank chunks are dropped since Telegram refuses them.
    assert "".join("".join(chunks).split()) == "".join(text.split())


def test_split_prefers_line_boundaries() -> None:
    text = "\n".join(f"line {i:04d}" for i in range(1000))
    chunks = split_message(text, 4096)
    assert len(chunks) == 3
    assert all(
        chunk.startswith("line ") and chunk.endswith(tuple("0123456789")) for chunk in chunks
    )


@given(st.integers(0, 10**12 - 1), st.from_regex(r"[A-Za-z0-9_.~+-]{1,40}", fullmatch=True))
def test_button_data_round_trips_within_64_bytes(version: int, key: str) -> None:
    data = callbacks.encode(version, key)
    assert len(data.encode()) <= 64
    assert callbacks.decode(data) == callbacks.ButtonData(version, key)


@given(st.text(max_size=100))
def test_decoding_arbitrary_data_never_raises(payload: str) -> None:
    decoded = callbacks.decode(payload)
    assert decoded is None or payload == callbacks.encode(decoded.version, decoded.key)


def test_non_ascii_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        callbacks.encode(1, "客户")


@pytest.mark.parametrize(
    ("typed", "zone", "shown"),
    [
        ("UTC+8", "Etc/GMT-8", "UTC+8"),
        ("gmt-5", "Etc/GMT+5", "UTC-5"),
        ("UTC+5:30", "UTC+05:30", "UTC+05:30"),
        ("shanghai", "Asia/Shanghai", "Asia/Shanghai"),
        ("Hong Kong", "Asia/Hong_Kong", "Asia/Hong_Kong"),
        ("europe/london", "Europe/London", "Europe/London"),
        ("utc", "UTC", "UTC"),
    ],
)
def test_timezones_as_users_type_them(typed: str, zone: str, shown: str) -> None:
    assert normalise_timezone(typed) == zone
    assert describe_zone(zone) == shown
    assert zone_for(zone).utcoffset(NOW) is not None


@pytest.mark.parametrize("typed", ["", "Mars/Olympus", "UTC+15", "x" * 100, "+25:00"])
def test_unknown_timezones(typed: str) -> None:
    assert normalise_timezone(typed) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("明天下午三点", "2026-11-24T15:00:00+08:00"),
        ("明天上午9点", "2026-11-24T09:00:00+08:00"),
        ("下周二上午十点半", "2026-12-01T10:30:00+08:00"),
        ("12月1日下午2点15分", "2026-12-01T14:15:00+08:00"),
        ("后天早上8点半", "2026-11-25T08:30:00+08:00"),
        ("2小时后", "2026-11-23T19:00:00+08:00"),
        ("tomorrow 3pm", "2026-11-24T15:00:00+08:00"),
        ("Friday 3pm", "2026-11-27T15:00:00+08:00"),
        ("in 10 minutes", "2026-11-23T17:10:00+08:00"),
        ("2026-12-01 10:00", "2026-12-01T10:00:00+08:00"),
    ],
)
def test_dates_in_both_languages(typed: str, expected: str) -> None:
    parsed = parse_when(typed, zone_for("Asia/Shanghai"), now=NOW, language="zh")
    assert parsed is not None and parsed.isoformat() == expected


@pytest.mark.parametrize("typed", ["31/02", "下下下周八", "", "whenever", "x" * 5000, "32/13/2026"])
def test_nonsense_dates(typed: str) -> None:
    assert parse_when(typed, zone_for("Asia/Shanghai"), now=NOW, language="en") is None


def test_dates_are_read_in_the_users_zone() -> None:
    new_york = parse_when("tomorrow 9am", zone_for("America/New_York"), now=NOW, language="en")
    assert new_york is not None and new_york.astimezone(UTC).hour == 14


def test_both_languages_have_the_same_keys() -> None:
    assert set(load_locale("en")) == set(load_locale("zh"))


def test_every_template_renders_and_escapes_user_input() -> None:
    hostile = "<b>&"
    for language in ("en", "zh"):
        t = Texts(language)
        rendered = t("teams.created", team=hostile)
        assert "&lt;b&gt;&amp;" in rendered
