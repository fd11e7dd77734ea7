"""Zeek http.log fields to ECS, as Elastic's Zeek integration maps them (`zeek.http`),
and what the request says of proxy use (a CONNECT, an absolute-form request). The
`password` Zeek may capture is never read."""

from __future__ import annotations

from typing import Any

from zeek_proxy.formats import values
from zeek_proxy.formats.http_request import request_domain, request_kind
from zeek_proxy.formats.zeek.mapping import ENDPOINTS, REQUIRED, SENSOR, Get, Table, ZeekLog

DATASET = "zeek.http"
MAPPING: Table = (
    *ENDPOINTS,
    *SENSOR,
    ("uid", "zeek.session_id", values.text),
    ("method", "http.request.method", values.text),
    ("uri", "url.original", values.text),
    ("user_agent", "user_agent.original", values.text),
)
EXTRA = ("host",)
#: Fields only http logs have; a log without `_path` is judged by them.
MARKERS = ("trans_depth", "status_code", "request_body_len")


def _request(row: dict[str, Any], get: Get) -> None:
    kind = request_kind(row["http.request.method"], row["url.original"])
    host = get("host")
    row["destination.domain"] = request_domain(kind, row["url.original"], None if host is None else str(host))
    row["zeek_proxy.evidence"] = kind
    row["network.transport"] = "tcp"  # Zeek's HTTP analyzer runs over TCP only
    row["network.protocol"] = "http"
    row["event.dataset"] = DATASET


HTTP = ZeekLog("http", REQUIRED, MARKERS, MAPPING, EXTRA, _request)
