"""Zeek tunnel.log fields to ECS (`zeek.tunnel`). A record names a tunnel, not a
connection: no uid, originator port 0. Its SOCKS and HTTP (CONNECT) tunnels are proxy
evidence for the connections of the same endpoints (see `core.evidence`)."""

from __future__ import annotations

from typing import Any

from zeek_proxy.formats import values
from zeek_proxy.schema import CONNECT, SOCKS
from zeek_proxy.formats.zeek.mapping import ENDPOINTS, SENSOR, Get, Table, ZeekLog

DATASET = "zeek.tunnel"
REQUIRED = ("ts", "id.orig_h", "id.resp_h", "id.resp_p", "tunnel_type")
MAPPING: Table = (
    *ENDPOINTS,
    *SENSOR,
    ("tunnel_type", "zeek.tunnel.type", values.text),
    ("action", "zeek.tunnel.action", values.text),
)
MARKERS = ("tunnel_type",)
#: Tunnel types that are proxy use, and their evidence kind.
PROXY_TUNNELS = {"Tunnel::SOCKS": SOCKS, "Tunnel::HTTP": CONNECT}


def _tunnel(row: dict[str, Any], get: Get) -> None:
    kind = PROXY_TUNNELS.get(row["zeek.tunnel.type"] or "")
    row["zeek_proxy.evidence"] = kind
    row["network.transport"] = "tcp" if kind else None  # SOCKS and CONNECT run over TCP
    row["event.dataset"] = DATASET


TUNNEL = ZeekLog("tunnel", REQUIRED, MARKERS, MAPPING, (), _tunnel)
