"""Zeek conn.log fields to ECS, shared by the TSV and JSON readers (Elastic's mapping)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from zeek_proxy.adapters import values

REQUIRED = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto")
#: Every field `conn_row` reads.
FIELDS = (*REQUIRED, "duration", "service", "local_orig", "local_resp", "community_id",
          "orig_ip_bytes", "resp_ip_bytes", "orig_pkts", "resp_pkts", "uid", "conn_state", "history")
#: Fields only conn-like logs have; a log without `_path` is judged by them.
CONN_MARKERS = ("conn_state", "orig_pkts", "orig_bytes", "history", "duration")


def is_conn_path(path: str) -> bool:
    """conn, conn_long, open_conn…: any log path with a `conn` word."""
    return "conn" in path.replace("-", "_").lower().split("_")


def looks_like_conn(names: Iterable[str]) -> bool:
    """A log without a path: conn when it has the 4-tuple and a conn-only field."""
    present = set(names)
    return all(f in present for f in REQUIRED) and any(f in present for f in CONN_MARKERS)


def conn_row(get: Callable[[str], Any]) -> dict[str, Any]:
    """One conn record as an ECS row; `get(name)` gives the value or None when unset."""
    for name in REQUIRED:
        if get(name) is None:
            raise ValueError(f"{name} is unset")
    duration = get("duration")
    service = get("service")
    return {
        "@timestamp": values.time_to_us(get("ts")),
        "source.ip": values.address(get("id.orig_h"), "id.orig_h"),
        "source.port": values.port(get("id.orig_p"), "id.orig_p"),
        "destination.ip": values.address(get("id.resp_h"), "id.resp_h"),
        "destination.port": values.port(get("id.resp_p"), "id.resp_p"),
        "network.transport": str(get("proto")).lower(),
        "network.protocol": service or None,
        "network.direction": values.direction(get("local_orig"), get("local_resp")),
        "network.community_id": get("community_id") or None,
        "event.duration": None if duration is None else values.scaled_int(duration, 9, "duration"),
        "source.bytes": values.count(get("orig_ip_bytes"), "orig_ip_bytes"),
        "destination.bytes": values.count(get("resp_ip_bytes"), "resp_ip_bytes"),
        "source.packets": values.count(get("orig_pkts"), "orig_pkts"),
        "destination.packets": values.count(get("resp_pkts"), "resp_pkts"),
        "zeek.session_id": _text(get("uid")),
        "zeek.connection.state": _text(get("conn_state")),
        "zeek.connection.history": _text(get("history")),
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
