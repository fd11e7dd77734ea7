"""EveFormat: every eve event with addresses is a connection row, initiator first."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
import pytest

from zeek_proxy.formats.eve import EveFormat
from zeek_proxy.reading.reader import Reader
from zeek_proxy.errors import MalformedRecordError
from zeek_proxy.schema import empty_frame

FLOW = {
    "pkts_toserver": 7, "pkts_toclient": 5, "bytes_toserver": 900, "bytes_toclient": 4200,
    "start": "2022-02-23T18:22:20.100000+0000", "end": "2022-02-23T18:22:21.350000+0000",
}
#: What each event type carries besides the 5-tuple (abridged from real eve.json).
EXTRA: dict[str, dict[str, Any]] = {
    "flow": {"app_proto": "http", "flow": dict(FLOW, state="closed", reason="timeout")},
    "alert": {"alert": {"signature_id": 2013028, "signature": "ET POLICY curl UA"},
              "flow": dict(FLOW, end=None)},
    "tls": {"tls": {"sni": "example.com", "version": "TLS 1.2"}},
    "http": {"http": {"hostname": "example.com", "url": "/", "http_method": "GET"}},
    "dns": {"dns": {"type": "query", "rrname": "example.com"}},
    "fileinfo": {"fileinfo": {"filename": "/", "size": 12}},
}


def event(event_type: str = "flow", **over: Any) -> dict[str, Any]:
    """An eve event from 10.0.0.5:49159 to 203.0.113.7:8080; None values are dropped."""
    record: dict[str, Any] = {
        "timestamp": "2022-02-23T18:22:24.500000+0000", "flow_id": 1234567890123456,
        "in_iface": "eth0", "event_type": event_type, "src_ip": "10.0.0.5", "src_port": 49159,
        "dest_ip": "203.0.113.7", "dest_port": 8080, "proto": "TCP",
    }
    record.update(EXTRA.get(event_type, {}))
    record.update(over)
    if isinstance(record.get("flow"), dict):
        record["flow"] = {k: v for k, v in record["flow"].items() if v is not None}
    return {k: v for k, v in record.items() if v is not None}


def read(events: list[dict[str, Any] | str],
         strict: bool = False) -> tuple[pd.DataFrame, EveFormat]:
    text = "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)
    adapter = Reader(EveFormat("eve.json"), strict=strict)
    frames = list(adapter.frames(io.BytesIO(text.encode())))
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame()
    return frame, adapter


def iso(frame: pd.DataFrame, column: str = "@timestamp", i: int = 0) -> str:
    return frame[column].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").iloc[i]


# -- event types ------------------------------------------------------------------------

@pytest.mark.parametrize("event_type", list(EXTRA))
def test_event_types_with_addresses_give_rows(event_type: str) -> None:
    frame, adapter = read([event(event_type)])
    assert adapter.stats.evaluated == 1 and adapter.stats.skipped == 0
    row = frame.iloc[0]
    assert row["suricata.eve.event_type"] == event_type
    assert row["suricata.eve.flow_id"] == 1234567890123456
    assert (row["source.ip"], row["source.port"]) == ("10.0.0.5", 49159)
    assert (row["destination.ip"], row["destination.port"]) == ("203.0.113.7", 8080)
    assert row["event.module"] == "suricata" and row["event.dataset"] == "suricata.eve"


def test_stats_events_are_skipped_and_counted() -> None:
    stats = {"timestamp": "2022-02-23T18:22:24.5+0000", "event_type": "stats",
             "stats": {"uptime": 10, "capture": {"kernel_packets": 5}}}
    frame, adapter = read([stats, event("flow"), stats])
    s = adapter.stats
    assert len(frame) == 1
    assert (s.read, s.evaluated, s.skipped, s.malformed) == (3, 1, 2, 0)


def test_app_proto_and_community_id() -> None:
    frame, _ = read([event("flow", app_proto="tls", community_id="1:LQU9qZlK+B5F3KDmev6m5PMibrg=")])
    assert frame.loc[0, "network.protocol"] == "tls"
    assert frame.loc[0, "network.community_id"] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


# -- normalisation ----------------------------------------------------------------------

@pytest.mark.parametrize(("proto", "transport"), [
    ("TCP", "tcp"), ("UDP", "udp"), ("tcp", "tcp"), ("IPv6-ICMP", "ipv6-icmp"), (6, "tcp"),
    ("17", "udp"),
])
def test_proto_lower_cased(proto: Any, transport: str) -> None:
    frame, _ = read([event("dns", proto=proto)])
    assert frame.loc[0, "network.transport"] == transport


@pytest.mark.parametrize(("written", "canonical"), [
    ("0000:0000:0000:0000:0000:0000:0000:0001", "::1"),
    ("fe80:0000:0000:0000:0250:56ff:fe8b:0001", "fe80::250:56ff:fe8b:1"),
    ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
])
def test_expanded_ipv6_made_canonical(written: str, canonical: str) -> None:
    frame, _ = read([event("alert", src_ip=written, dest_ip=written, flow=None)])
    assert frame.loc[0, "source.ip"] == canonical
    assert frame.loc[0, "destination.ip"] == canonical


@pytest.mark.parametrize(("timestamp", "utc"), [
    ("2016-06-08T20:01:52.123456+0000", "2016-06-08T20:01:52.123456Z"),
    ("2022-02-23T18:22:24.000001-0600", "2022-02-24T00:22:24.000001Z"),
    ("2022-02-23T19:22:24.500000+0100", "2022-02-23T18:22:24.500000Z"),
    ("2022-02-23T19:22:24.500000+01:00", "2022-02-23T18:22:24.500000Z"),
])
def test_offsets_converted_to_utc(timestamp: str, utc: str) -> None:
    frame, _ = read([event("dns", timestamp=timestamp)])
    assert iso(frame) == utc


# -- initiator and time -----------------------------------------------------------------

def test_suricata7_flow_endpoints_override_reversed_event() -> None:
    """An alert logged in the reply direction: flow.src_ip & co. name the initiator."""
    reversed_alert = event(
        "alert", src_ip="203.0.113.7", src_port=8080, dest_ip="10.0.0.5", dest_port=49159,
        flow=dict(FLOW, src_ip="10.0.0.5", dest_ip="203.0.113.7", src_port=49159, dest_port=8080),
    )
    frame, _ = read([reversed_alert])
    row = frame.iloc[0]
    assert (row["source.ip"], row["source.port"]) == ("10.0.0.5", 49159)
    assert (row["destination.ip"], row["destination.port"]) == ("203.0.113.7", 8080)


def test_event_endpoints_used_without_flow_endpoints() -> None:
    frame, _ = read([event("alert", src_ip="203.0.113.7", src_port=8080, dest_ip="10.0.0.5",
                           dest_port=49159)])
    assert (frame.loc[0, "source.ip"], frame.loc[0, "destination.port"]) == ("203.0.113.7", 49159)


def test_timestamp_is_flow_start_when_present_else_event_time() -> None:
    with_start = event("flow", timestamp="2022-02-23T18:22:30.000000+0000")
    without = event("tls", timestamp="2022-02-23T18:22:31.000000+0000")
    frame, _ = read([with_start, without])
    assert iso(frame, i=0) == "2022-02-23T18:22:20.100000Z"
    assert iso(frame, "event.start", 0) == "2022-02-23T18:22:20.100000Z"
    assert iso(frame, i=1) == "2022-02-23T18:22:31.000000Z"
    assert pd.isna(frame.loc[1, "event.start"])


def test_bytes_packets_and_duration_from_flow() -> None:
    frame, _ = read([event("flow"), event("http")])
    flow, http = frame.iloc[0], frame.iloc[1]
    assert (flow["source.bytes"], flow["destination.bytes"]) == (900, 4200)
    assert (flow["source.packets"], flow["destination.packets"]) == (7, 5)
    assert iso(frame, "event.end", 0) == "2022-02-23T18:22:21.350000Z"
    assert flow["event.duration"] == 1_250_000_000  # nanoseconds
    assert pd.isna(http["source.bytes"]) and pd.isna(http["event.duration"])


# -- malformed --------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    "{not json",
    json.dumps(event("flow", timestamp=None)),
    json.dumps(event("flow", src_ip="10.0.0.999")),
    json.dumps(event("flow", dest_port=70000)),
    json.dumps(event("flow", flow_id="12")),
])
def test_malformed_events(bad: str) -> None:
    frame, adapter = read([event("flow"), bad, event("dns")])
    assert len(frame) == 2
    assert adapter.stats.malformed == 1 and adapter.stats.first_problem.startswith("line 2:")
    s = adapter.stats
    assert s.read == s.evaluated + s.malformed + s.skipped


def test_strict_names_file_and_line() -> None:
    with pytest.raises(MalformedRecordError, match=r"^eve\.json:2: "):
        read([event("flow"), "{not json"], strict=True)


# -- pre-filter ---------------------------------------------------------------------------

_REVERSED_FLOW = dict(FLOW, src_ip="10.0.0.5", dest_ip="203.0.113.7", src_port=49159, dest_port=8080)


@pytest.mark.parametrize("line", [
    json.dumps(event()),
    json.dumps(event(proto=6)),
    json.dumps(event(proto="6")),
    json.dumps(event(dest_port="8080")),
    json.dumps(event("alert", src_ip="203.0.113.7", src_port=8080, dest_ip="10.0.0.5", dest_port=49159,
                     flow=_REVERSED_FLOW)),
    json.dumps(event("alert", dest_ip="10.0.0.9", flow=_REVERSED_FLOW)),
    json.dumps(event(dest_ip="10.0.0.9"))[:-1] + ', "dest_ip": "203.0.113.7"}',  # the last copy counts
    json.dumps(event()).replace("203.0.113.7", "\\u0032\\u00303.0.113.7"),
    json.dumps(event(dest_ip="10.0.0.9", dest_port=8080)),
])
def test_prefilter_keeps_what_the_rule_alerts_on(line: str) -> None:
    """Stage one decodes a candidate's 4-tuple the parser's way (Suricata 7's flow
    endpoints, duplicate keys, escapes, numeric proto), so it keeps exactly the events
    the rule matches once parsed, and lets the parser judge what it cannot."""
    from zeek_proxy.config import DEFAULT_SETTINGS
    from zeek_proxy.core import match
    from zeek_proxy.pipeline import rule_prefilter

    first = json.dumps(event(dest_port=443))  # a file's first line is always parsed
    hits = int(match(read([line])[0], DEFAULT_SETTINGS).sum())
    adapter = Reader(EveFormat("eve.json"))
    text = f"{first}\n{line}\n".encode()
    frames = list(adapter.frames(io.BytesIO(text), rule_prefilter(DEFAULT_SETTINGS)))
    assert sum(len(f) for f in frames) == 1 + hits
    assert adapter.stats.read == 2 and adapter.stats.filtered == 1 - hits
