"""The ECS frame: the one table shape every adapter produces and the core consumes.

Columns are ECS field names (or `zeek.*`, `suricata.*`, `zeek_proxy.*` for the rest).
Fixing the schema here is what lets adapters and the core evolve apart.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

TIME = "datetime64[us, UTC]"
INT = "Int64"
STR = "object"

#: column -> dtype, in output order.
ECS_COLUMNS: dict[str, str] = {
    "@timestamp": TIME,
    "event.module": STR,
    "event.dataset": STR,
    "event.start": TIME,
    "event.end": TIME,
    "event.duration": INT,
    "source.ip": STR,
    "source.port": INT,
    "source.bytes": INT,
    "source.packets": INT,
    "destination.ip": STR,
    "destination.port": INT,
    "destination.bytes": INT,
    "destination.packets": INT,
    "network.transport": STR,
    "network.protocol": STR,
    "network.direction": STR,
    "network.community_id": STR,
    "zeek.session_id": STR,
    "zeek.connection.state": STR,
    "zeek.connection.history": STR,
    "suricata.eve.flow_id": INT,
    "suricata.eve.event_type": STR,
    "log.file.path": STR,
    "zeek_proxy.line": INT,
}

TIME_COLUMNS = tuple(c for c, t in ECS_COLUMNS.items() if t == TIME)


def frame_from_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build a typed ECS frame from row dicts (missing keys become nulls).

    Time columns arrive as integer microseconds since the epoch.
    """
    columns: dict[str, Any] = {}
    for name, dtype in ECS_COLUMNS.items():
        values = [row.get(name) for row in rows]
        if dtype == TIME:
            ints = pd.array(values, dtype=INT)
            columns[name] = pd.to_datetime(ints, unit="us", utc=True).astype(TIME)
        elif dtype == INT:
            columns[name] = pd.array(values, dtype=INT)
        else:
            columns[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns).reset_index(drop=True)


def empty_frame() -> pd.DataFrame:
    """A frame with the ECS columns and no rows."""
    return frame_from_rows([])
