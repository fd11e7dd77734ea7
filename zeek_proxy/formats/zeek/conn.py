"""Zeek conn.log fields to ECS, shared by the TSV and JSON readers (Elastic's mapping)."""

from __future__ import annotations

from typing import Any

from zeek_proxy.formats import values
from zeek_proxy.formats.zeek.mapping import ENDPOINTS, SENSOR, Get, Table, ZeekLog

REQUIRED = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto")


def _nonempty(value: Any, what: str) -> Any:
    return value or None


def _lower(value: Any, what: str) -> str:
    return str(value).lower()


def _nanoseconds(value: Any, what: str) -> int | None:
    return None if value is None else values.scaled_int(value, 9, what)


#: conn.log field -> ECS field, and how the value is read: Elastic's Zeek integration
#: (`zeek.connection`) as a table. `local_orig`/`local_resp` together give
#: network.direction (see `conn_row`).
MAPPING: Table = (
    *ENDPOINTS,
    *SENSOR,
    ("proto", "network.transport", _lower),
    ("service", "network.protocol", _nonempty),
    ("community_id", "network.community_id", _nonempty),
    ("duration", "event.duration", _nanoseconds),
    ("orig_ip_bytes", "source.bytes", values.count),
    ("resp_ip_bytes", "destination.bytes", values.count),
    ("orig_pkts", "source.packets", values.count),
    ("resp_pkts", "destination.packets", values.count),
    ("uid", "zeek.session_id", values.text),
    ("conn_state", "zeek.connection.state", values.text),
    ("history", "zeek.connection.history", values.text),
)
DIRECTION = ("local_orig", "local_resp")
#: Fields only conn-like logs have; a log without `_path` is judged by them.
CONN_MARKERS = ("conn_state", "orig_pkts", "orig_bytes", "history", "duration")


def _direction(row: dict[str, Any], get: Get) -> None:
    row["network.direction"] = values.direction(*(get(name) for name in DIRECTION))


CONN = ZeekLog("conn", REQUIRED, CONN_MARKERS, MAPPING, DIRECTION, _direction)
#: Every field the conn mapping reads.
FIELDS = CONN.fields
conn_row = CONN.row
