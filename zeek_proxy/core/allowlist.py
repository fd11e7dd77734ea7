"""Allow entries: known proxies, NATed servers and the like, that keep the rule quiet.

An entry matches a connection when every key it sets matches; the first matching entry
(in configuration order) is the one named as suppressing it, in alerts, stats and
`explain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import ClassVar

import numpy as np

from zeek_proxy.lazy import pd
from zeek_proxy.core.networks import NetworkSet


@dataclass(frozen=True)
class AllowEntry:
    """One allow entry; unset keys (None) match everything."""

    name: str
    source: NetworkSet | None = None
    destination: NetworkSet | None = None
    ports: tuple[int, ...] | None = None  # destination ports
    source_ports: tuple[int, ...] | None = None
    reason: str = ""
    expires: date | None = None  # applies to connections before this day (UTC)
    origin: str = ""  # where it was defined, e.g. "site.toml:12"

    KEYS: ClassVar[tuple[str, ...]] = ("source", "destination", "ports", "source_ports")

    @property
    def conditions(self) -> dict[str, NetworkSet | tuple[int, ...]]:
        """The keys this entry sets, with their values, in `KEYS` order."""
        return {key: value for key in self.KEYS if (value := getattr(self, key)) is not None}

    @property
    def inert(self) -> bool:
        """True when a key is set to an empty list: the entry matches nothing."""
        return any(not (value.networks if isinstance(value, NetworkSet) else value)
                   for value in self.conditions.values())

    @property
    def expires_at(self) -> pd.Timestamp | None:
        if self.expires is None:
            return None
        return pd.Timestamp(datetime(self.expires.year, self.expires.month, self.expires.day, tzinfo=timezone.utc))

    def expired(self, today: date) -> bool:
        """True when the entry no longer applies to connections happening today."""
        return self.expires is not None and self.expires <= today

    def matches(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: which rows of an ECS frame this entry matches."""
        hit = np.ones(len(frame), dtype=bool)
        if self.source is not None:
            hit &= self.source.contains(frame["source.ip"])
        if self.destination is not None:
            hit &= self.destination.contains(frame["destination.ip"])
        if self.ports is not None:
            hit &= frame["destination.port"].isin(self.ports).fillna(False).to_numpy(dtype=bool)
        if self.source_ports is not None:
            hit &= frame["source.port"].isin(self.source_ports).fillna(False).to_numpy(dtype=bool)
        if self.expires is not None:
            stamps = frame["@timestamp"]
            hit &= (stamps < self.expires_at).fillna(False).to_numpy(dtype=bool)
        return hit

    def describe(self) -> str:
        """The keys this entry sets, for explanations."""
        parts = []
        if self.source is not None:
            parts.append(f"source in {self.source}")
        if self.source_ports is not None:
            parts.append(f"source port in {', '.join(map(str, self.source_ports))}")
        if self.destination is not None:
            parts.append(f"destination in {self.destination}")
        if self.ports is not None:
            parts.append(f"destination port in {', '.join(map(str, self.ports))}")
        if self.expires is not None:
            parts.append(f"connections before {self.expires.isoformat()}")
        return "; ".join(parts)


def suppressing_entry(frame: pd.DataFrame, entries: tuple[AllowEntry, ...]) -> pd.Series:
    """For each row, the name of the first entry that matches it, or None."""
    names = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    open_rows = np.ones(len(frame), dtype=bool)
    for entry in entries:
        if not open_rows.any():
            break
        hit = entry.matches(frame) & open_rows
        names[hit] = entry.name
        open_rows &= ~hit
    return names
