"""Zeek conn.log fields to ECS, shared by the TSV and JSON readers (Elastic's mapping)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from zeek_proxy.formats import values
from zeek_proxy.formats.zeek.mapping import Table, has_fields, mapped, path_names

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
    ("ts", "@timestamp", values.time_to_us),
    ("id.orig_h", "source.ip", values.address),
    ("id.orig_p", "source.port", values.port),
    ("id.resp_h", "destination.ip", values.address),
    ("id.resp_p", "destination.port", values.port),
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
#: Every field `conn_row` reads.
FIELDS = (*(zeek for zeek, _, _ in MAPPING), *DIRECTION)
#: Fields only conn-like logs have; a log without `_path` is judged by them.
CONN_MARKERS = ("conn_state", "orig_pkts", "orig_bytes", "history", "duration")


def is_conn_path(path: str) -> bool:
    """conn, conn_long, open_conn…: any log path with a `conn` word."""
    return path_names(path, "conn")


def looks_like_conn(names: Iterable[str]) -> bool:
    """A log without a path: conn when it has the 4-tuple and a conn-only field."""
    return has_fields(names, REQUIRED, CONN_MARKERS)


def conn_row(get: Callable[[str], Any]) -> dict[str, Any]:
    """One conn record as an ECS row; `get(name)` gives the value or None when unset."""
    row = mapped(get, REQUIRED, MAPPING)
    row["network.direction"] = values.direction(*(get(name) for name in DIRECTION))
    return row
