"""Zeek socks.log fields to ECS, as Elastic's Zeek integration maps them (`zeek.socks`):
source and destination are the client and the SOCKS server; the target the client
asked for is `zeek.socks.request.host` (its address or its name) and `.port`. The
password Zeek may capture is never read."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from zeek_proxy.formats import values
from zeek_proxy.formats.zeek.mapping import Table, has_fields, mapped, path_names

DATASET = "zeek.socks"
REQUIRED = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")
#: socks.log field -> ECS field, and how the value is read.
MAPPING: Table = (
    ("ts", "@timestamp", values.time_to_us),
    ("id.orig_h", "source.ip", values.address),
    ("id.orig_p", "source.port", values.port),
    ("id.resp_h", "destination.ip", values.address),
    ("id.resp_p", "destination.port", values.port),
    ("uid", "zeek.session_id", values.text),
    ("request_p", "zeek.socks.request.port", values.count),
)
TARGET = ("request.host", "request.name")  # either names the target: the address first
FIELDS = (*(zeek for zeek, _, _ in MAPPING), *TARGET)
#: Fields only socks logs have; a log without `_path` is judged by them.
MARKERS = ("request_p", "bound_p")


def is_socks_path(path: str) -> bool:
    return path_names(path, "socks")


def looks_like_socks(names: Iterable[str]) -> bool:
    return has_fields(names, REQUIRED, MARKERS)


def socks_row(get: Callable[[str], Any]) -> dict[str, Any]:
    """One socks record as an ECS row; `get(name)` gives the value or None when unset."""
    row = mapped(get, REQUIRED, MAPPING)
    target = next((get(name) for name in TARGET if get(name)), None)
    row["zeek.socks.request.host"] = None if target is None else str(target)
    row["network.transport"] = "tcp"  # SOCKS runs over TCP; socks.log has no proto column
    row["network.protocol"] = "socks"
    row["event.dataset"] = DATASET
    return row
