"""Zeek ssl.log fields to ECS (`zeek.ssl`): the server name a TLS client asked for.
ssl.log also holds DTLS over UDP, so it sets no transport: the connection's own
record says that."""

from __future__ import annotations

from typing import Any

from zeek_proxy.formats import values
from zeek_proxy.schema import TLS
from zeek_proxy.formats.zeek.mapping import ENDPOINTS, REQUIRED, SENSOR, Get, Table, ZeekLog

DATASET = "zeek.ssl"
MAPPING: Table = (
    *ENDPOINTS,
    *SENSOR,
    ("uid", "zeek.session_id", values.text),
    ("server_name", "tls.client.server_name", values.text),
)
MARKERS = ("server_name", "cipher", "resumed", "established")


def _server_name(row: dict[str, Any], get: Get) -> None:
    row["destination.domain"] = row["tls.client.server_name"] or None
    row["zeek_proxy.evidence"] = TLS
    row["network.protocol"] = "tls"
    row["event.dataset"] = DATASET


SSL = ZeekLog("ssl", REQUIRED, MARKERS, MAPPING, (), _server_name)
