"""The emitter contract, and the column helpers emitters share.

Implementing an emitter:

1. Subclass `Emitter`, set `name` (the `--to` spelling) and `description`.
2. `begin()` writes any header, `write(frame)` one batch of alerts (called any number of
   times, so the same emitter serves one-shot scans and live watching), `end()` any
   footer. Emitters read the alert frame's columns and know nothing about inputs.
"""

from __future__ import annotations

from typing import Any, ClassVar, TextIO

import numpy as np
from zeek_proxy.lazy import pd


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
    values = series.to_numpy(dtype=object, na_value=None, copy=True)
    if series.dtype == object:
        values[pd.isna(values)] = None
    return values.tolist()


def iso_times(series: pd.Series) -> list[str | None]:
    """ISO 8601 UTC with microseconds, e.g. 2018-11-02T00:05:37.618695Z."""
    micros = series.to_numpy(dtype="datetime64[us]")
    text = np.char.add(np.datetime_as_string(micros, unit="us"), "Z")
    return [None if t == "NaTZ" else str(t) for t in text.tolist()]


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
