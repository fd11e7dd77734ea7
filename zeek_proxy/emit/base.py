"""The emitter contract, and the column helpers emitters share.

Implementing an emitter:

1. Subclass `Emitter`, set `name` (the `--to` spelling) and `description`.
2. `begin()` writes any header, `write(frame)` one batch of alerts (called any number of
   times, so the same emitter serves one-shot scans and live watching), `end()` any
   footer. Emitters read the alert frame's columns and know nothing about inputs.
"""

from __future__ import annotations

from typing import Any, ClassVar, TextIO

import pandas as pd


class Emitter:
    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def begin(self) -> None:
        """Write what comes before the first record."""

    def write(self, alerts: pd.DataFrame) -> None:
        raise NotImplementedError

    def end(self) -> None:
        """Write what comes after the last record."""


def python_values(series: pd.Series) -> list[Any]:
    """A column as plain Python values, nulls as None (json and csv can take these)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return [None if pd.isna(v) else v for v in series]
    if isinstance(series.dtype, pd.Int64Dtype):
        return [None if v is pd.NA else int(v) for v in series]
    return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v for v in series]


def iso_times(series: pd.Series) -> list[str | None]:
    """ISO 8601 UTC with microseconds, e.g. 2018-11-02T00:05:37.618695Z."""
    text = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [None if pd.isna(v) else v for v in text]


def epoch_seconds(series: pd.Series) -> list[str | None]:
    """Zeek `time` values: epoch seconds with six decimals, exactly."""
    out: list[str | None] = []
    for value in series:
        if pd.isna(value):
            out.append(None)
            continue
        us = value.value // 1000  # Timestamp.value is nanoseconds
        whole, frac = divmod(abs(us), 1_000_000)
        out.append(f"{'-' if us < 0 else ''}{whole}.{frac:06d}")
    return out
