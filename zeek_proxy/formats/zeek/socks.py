"""Zeek socks.log fields to ECS, as Elastic's Zeek integration maps them (`zeek.socks`):
source and destination are the client and the SOCKS server; the target the client
asked for is `zeek.socks.request.host` (its address or its name) and `.port`. The
password Zeek may capture is never read."""

from __future__ import annotations

from typing import Any

from zeek_proxy.formats import values
from zeek_proxy.schema import SOCKS as EVIDENCE
from zeek_proxy.formats.zeek.mapping import ENDPOINTS, REQUIRED, SENSOR, Get, Table, ZeekLog

DATASET = "zeek.socks"
#: socks.log field -> ECS field, and how the value is read.
MAPPING: Table = (
    *ENDPOINTS,
    *SENSOR,
    ("uid", "zeek.session_id", values.text),
    ("request_p", "zeek.socks.request.port", values.count),
    ("version", "zeek.socks.version", values.count),
)
TARGET = ("request.host", "request.name")  # either names the target: the address first
#: Fields only socks logs have; a log without `_path` is judged by them.
MARKERS = ("request_p", "bound_p")


def _target(row: dict[str, Any], get: Get) -> None:
    target = next((get(name) for name in TARGET if get(name)), None)
    row["zeek.socks.request.host"] = None if target is None else str(target)
    name = get("request.name")
    row["destination.domain"] = str(name) if name else None
    row["zeek_proxy.evidence"] = EVIDENCE
    row["network.transport"] = "tcp"  # SOCKS runs over TCP; socks.log has no proto column
    row["network.protocol"] = "socks"
    row["event.dataset"] = DATASET


SOCKS = ZeekLog("socks", REQUIRED, MARKERS, MAPPING, TARGET, _target)
