"""--since/--until times: ISO 8601, epoch seconds and Elastic date math."""

from __future__ import annotations

import pandas as pd
import pytest

from zeek_proxy.timespec import parse_time

NOW = pd.Timestamp("2026-11-28T04:37:12.5Z")


@pytest.mark.parametrize("text,expected", [
    ("now", "2026-11-28T04:37:12.5Z"),
    ("now-6m", "2026-11-28T04:31:12.5Z"),
    ("now-1h/h", "2026-11-28T03:00:00Z"),
    ("now/d", "2026-11-28T00:00:00Z"),
    ("now-1d+2h", "2026-11-27T06:37:12.5Z"),
    ("now/w", "2026-11-23T00:00:00Z"),
    ("now-1M/M", "2026-10-01T00:00:00Z"),
    ("1795773600", "2026-11-27T10:00:00Z"),
    ("1795773600.25", "2026-11-27T10:00:00.25Z"),
    ("2026-11-27T10:00:00", "2026-11-27T10:00:00Z"),
    ("2026-11-27T10:00:00+01:00", "2026-11-27T09:00:00Z"),
    ("2026-11-27", "2026-11-27T00:00:00Z"),
])
def test_parse_time(text: str, expected: str) -> None:
    assert parse_time(text, NOW) == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["now-6x", "now+", "bogus", "", "2026-13-01"])
def test_bad_times_raise(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text, NOW)
