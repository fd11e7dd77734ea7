"""Suricata eve.json: every event type that carries addresses describes a connection.

One flow appears as flow, alert, tls, http… events; each becomes a row here and the core
folds them into one alert per flow. Suricata 7's `flow.src_ip`/`flow.dest_ip`/ports name
the true initiator when an event was logged in the reply direction.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from zeek_proxy.formats import values
from zeek_proxy.formats.base import Format
from zeek_proxy.formats.http_request import request_domain, request_kind
from zeek_proxy.schema import TLS
from zeek_proxy.formats.jsonlines import also_matching, load_object, select_json, select_keyed
from zeek_proxy.reading.prefilter import KeyCell, Prefilter, Selection

#: IANA numbers Suricata may write instead of names.
_PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}
#: An http event that is proxy use on its own: a CONNECT, or a URL in absolute form.
_PROXY_REQUEST = (r'"http_method"\s*:\s*"[Cc][Oo][Nn][Nn][Ee][Cc][Tt]"'
                  r'|"url"\s*:\s*"[A-Za-z][A-Za-z0-9+.-]*:(?:\\?/){2}')
#: Where a line's flow id is: Suricata writes `"flow_id":…`; the pattern reads any spacing.
_FLOW_ID = KeyCell(r'"flow_id"\s*:\s*(?P<key>-?[0-9]+)', '"flow_id":', b',} \t\r\n.eE', '"flow_id"')


class EveFormat(Format):
    name = "suricata-eve"
    module = "suricata"
    dataset = "suricata.eve"

    def select(self, lines: pa.Array, force: list[int], prefilter: Prefilter) -> Selection:
        if prefilter.lookup is not None:
            return select_keyed(lines, force, _FLOW_ID, prefilter.lookup.flow_ids)
        chosen = select_json(lines, force, prefilter, ("dest_ip", "dest_port"), endpoints)
        if prefilter.evidence:  # a proxy request alerts on any port
            chosen = also_matching(chosen, lines, _PROXY_REQUEST)
        return chosen

    def parse(self, lineno: int, line: bytes, terminated: bool) -> dict[str, Any] | None:
        event = load_object(line)
        if event is None:
            return None
        if "src_ip" not in event or "dest_ip" not in event:
            self.skip(lineno, "event without addresses")
            return None
        flow, initiator = _flow_and_initiator(event)
        src_port, dest_port = initiator.get("src_port"), initiator.get("dest_port")
        stamp = event.get("timestamp")
        if not isinstance(stamp, str):
            raise ValueError("timestamp missing")
        start = _time(flow.get("start"), "flow.start")
        end = _time(flow.get("end"), "flow.end")
        flow_id = event.get("flow_id")
        if flow_id is not None and (isinstance(flow_id, bool) or not isinstance(flow_id, int)
                                    or not -(1 << 63) <= flow_id < 1 << 63):
            raise ValueError(f"bad flow_id {str(flow_id)[:40]!r}")
        row = {
            "@timestamp": start if start is not None else values.iso_to_us(stamp),
            "event.start": start,
            "event.end": end,
            "event.duration": None if start is None or end is None
            else values.in_int64((end - start) * 1000, "flow duration"),
            "source.ip": values.address(initiator.get("src_ip"), "src_ip"),
            "source.port": None if src_port is None else values.port(src_port, "src_port"),
            "destination.ip": values.address(initiator.get("dest_ip"), "dest_ip"),
            "destination.port": None if dest_port is None else values.port(dest_port, "dest_port"),
            "network.transport": _transport(event.get("proto")),
            "network.protocol": _text(event.get("app_proto")),
            "network.community_id": _text(event.get("community_id")),
            "source.bytes": values.count(flow.get("bytes_toserver"), "flow.bytes_toserver"),
            "destination.bytes": values.count(flow.get("bytes_toclient"), "flow.bytes_toclient"),
            "source.packets": values.count(flow.get("pkts_toserver"), "flow.pkts_toserver"),
            "destination.packets": values.count(flow.get("pkts_toclient"), "flow.pkts_toclient"),
            "suricata.eve.flow_id": flow_id,
            "suricata.eve.event_type": _text(event.get("event_type")),
            "suricata.eve.tcp.state": _tcp_state(event.get("tcp")),
        }
        if "http" in self.logs:  # --evidence: what the http and tls events say
            _application(event, row)
        return row


def _application(event: dict[str, Any], row: dict[str, Any]) -> None:
    """What an `http` or `tls` event says of the connection: the request (a CONNECT, an
    absolute URL) or the server name asked for. (Alert and fileinfo events may carry
    the same objects; the http or tls event of the flow says it once.)"""
    event_type, http, tls = event.get("event_type"), event.get("http"), event.get("tls")
    if event_type == "http" and isinstance(http, dict):
        method, url = _text(http.get("http_method")), _text(http.get("url"))
        kind = request_kind(method, url)
        row.update({"http.request.method": method, "url.original": url,
                    "user_agent.original": _text(http.get("http_user_agent")),
                    "destination.domain": request_domain(kind, url, _text(http.get("hostname"))),
                    "zeek_proxy.evidence": kind})
    elif event_type == "tls" and isinstance(tls, dict):
        sni = _text(tls.get("sni"))
        row.update({"tls.client.server_name": sni, "destination.domain": sni, "zeek_proxy.evidence": TLS})


def _flow_and_initiator(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event's flow object, and the object naming the connection's initiator: the
    flow's addresses and ports when it has them (Suricata 7), else the event's."""
    flow = event.get("flow")
    flow = flow if isinstance(flow, dict) else {}
    return flow, flow if "src_ip" in flow and "dest_ip" in flow else event


def endpoints(event: dict[str, Any]) -> tuple[str, str, str, int] | None:
    """The 4-tuple the parser reads from `event`, for the pre-filter (None: let the
    parser judge)."""
    _, initiator = _flow_and_initiator(event)
    source, destination, port = initiator.get("src_ip"), initiator.get("dest_ip"), initiator.get("dest_port")
    try:
        transport = _transport(event.get("proto"))
    except ValueError:
        return None
    if transport is None or not isinstance(source, str) or not isinstance(destination, str) \
            or type(port) is not int:
        return None
    return transport, source, destination, port


def _tcp_state(tcp: object) -> str | None:
    """The TCP state a flow event's `tcp` object ends in (established, closed,
    syn_sent...): whether the connection was answered."""
    return _text(tcp.get("state")) if isinstance(tcp, dict) else None


def _time(value: object, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"bad {what} {str(value)[:40]!r}")
    return values.iso_to_us(value, what)


def _transport(proto: object) -> str | None:
    if isinstance(proto, int) and not isinstance(proto, bool):
        return _PROTOCOL_NAMES.get(proto, str(proto))
    if isinstance(proto, str):
        return _PROTOCOL_NAMES.get(int(proto), proto) if proto.isdigit() else proto.lower()
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
