"""ZeekJSONFormat: Zeek JSON conn logs, one object a line, in the shapes writers produce."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from zeek_proxy import scan
from zeek_proxy.reading import linescan
from zeek_proxy.formats.zeek_json import ZeekJSONFormat
from zeek_proxy.reading.reader import Reader
from zeek_proxy.errors import MalformedRecordError, SourceLocation
from zeek_proxy.schema import empty_frame

BASE: dict[str, Any] = {
    "ts": 1541117137.618695, "uid": "CYtJYz4gNk3t5ZEt2", "id.orig_h": "10.0.0.5",
    "id.orig_p": 49159, "id.resp_h": "203.0.113.7", "id.resp_p": 8080, "proto": "tcp",
    "service": "http", "duration": 0.013561, "orig_bytes": 244, "resp_bytes": 292,
    "conn_state": "SF", "local_orig": True, "local_resp": False, "missed_bytes": 0,
    "history": "ShADdFar", "orig_pkts": 4, "orig_ip_bytes": 416, "resp_pkts": 5,
    "resp_ip_bytes": 464,
}


def conn(**over: Any) -> dict[str, Any]:
    """A conn record; `id_resp_p=...` sets `id.resp_p`, None values are dropped."""
    record = dict(BASE)
    for key, value in over.items():
        key = "id." + key[3:] if key.startswith("id_") else key
        record[key] = value
    return {k: v for k, v in record.items() if v is not None}


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


def read(lines: list[str], strict: bool = False,
         path: str = "conn.json") -> tuple[pd.DataFrame, ZeekJSONFormat]:
    """Run the adapter over the lines (each newline-terminated)."""
    adapter = Reader(ZeekJSONFormat(path), strict=strict)
    frames = list(adapter.frames(io.BytesIO("".join(f"{line}\n" for line in lines).encode())))
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame()
    return frame, adapter


def stamp(frame: pd.DataFrame, i: int = 0) -> str:
    return frame["@timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").iloc[i]


# -- ts ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("ts", "expected"), [
    (1541117137.618695, "2018-11-02T00:05:37.618695Z"),       # epoch seconds, float
    (1541117137, "2018-11-02T00:05:37.000000Z"),              # epoch seconds, int
    (1541117137618, "2018-11-02T00:05:37.618000Z"),           # epoch milliseconds
    ("2018-11-02T00:05:37.618695Z", "2018-11-02T00:05:37.618695Z"),
    ("2018-11-02T01:05:37.618695+01:00", "2018-11-02T00:05:37.618695Z"),
    ("1541117137.618695", "2018-11-02T00:05:37.618695Z"),     # epoch seconds as text
    (18.25, "1970-01-01T00:00:18.250000Z"),                   # relative pcap time
], ids=["float", "int", "millis", "iso-z", "iso-offset", "text", "near-zero"])
def test_ts_forms(ts: Any, expected: str) -> None:
    frame, adapter = read([dumps(conn(ts=ts))])
    assert adapter.stats.malformed == 0
    assert stamp(frame) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=4_000_000_000 * 10**6 - 1))
def test_ts_is_microsecond_exact(us: int) -> None:
    """Zeek's six-decimal float ts, as JSON text, gives exactly that microsecond."""
    seconds, frac = divmod(us, 10**6)
    line = dumps(conn()).replace('"ts":1541117137.618695', f'"ts":{seconds}.{frac:06d}')
    frame, _ = read([line])
    assert frame["@timestamp"].iloc[0] == pd.Timestamp(us, unit="us", tz="UTC")


# -- record shapes ----------------------------------------------------------------------

def test_unset_fields_omitted_or_null_are_absent() -> None:
    omitted = conn(service=None, local_orig=None, local_resp=None, history=None, duration=None)
    nulls = dict(conn(), service=None, local_orig=None, local_resp=None, history=None,
                 duration=None)
    frame, adapter = read([dumps(omitted), json.dumps(nulls)])
    assert adapter.stats.evaluated == 2 and adapter.stats.malformed == 0
    for i in range(2):
        row = frame.iloc[i]
        assert row["network.protocol"] is None
        assert row["zeek.connection.history"] is None
        assert pd.isna(row["network.direction"])
        assert pd.isna(row["event.duration"])
        assert row["destination.port"] == 8080


@pytest.mark.parametrize("where", ["first", "last"])
def test_path_and_write_ts_first_or_last(where: str) -> None:
    meta = {"_path": "conn", "_write_ts": "2018-11-02T00:06:00.000000Z"}
    record = {**meta, **conn()} if where == "first" else {**conn(), **meta}
    frame, adapter = read([dumps(record)])
    assert adapter.stats.evaluated == 1
    assert frame.loc[0, "zeek.session_id"] == "CYtJYz4gNk3t5ZEt2"
    assert stamp(frame) == "2018-11-02T00:05:37.618695Z"  # ts, not _write_ts


def test_spaces_after_colons_and_commas() -> None:
    line = json.dumps({**conn(), "_path": "conn"}, separators=(", ", ": "))
    assert '"id.resp_p": 8080' in line
    frame, adapter = read([line])
    assert adapter.stats.evaluated == 1
    assert (frame.loc[0, "source.ip"], frame.loc[0, "destination.port"]) == ("10.0.0.5", 8080)


def test_fields_mapped_to_ecs() -> None:
    frame, _ = read([dumps(conn(local_orig=True, local_resp=False, community_id="1:abc="))])
    row = frame.iloc[0]
    assert row["network.direction"] == "outbound"
    assert row["network.community_id"] == "1:abc="
    assert row["event.duration"] == 13_561_000
    assert (row["source.bytes"], row["destination.bytes"]) == (416, 464)
    assert (row["source.packets"], row["destination.packets"]) == (4, 5)
    assert row["event.module"] == "zeek" and row["event.dataset"] == "zeek.connection"


def test_nested_id_object() -> None:
    record = {k: v for k, v in conn().items() if not k.startswith("id.")}
    record["id"] = {"orig_h": "10.0.0.5", "orig_p": 1, "resp_h": "203.0.113.7", "resp_p": 3128}
    frame, _ = read([dumps(record)])
    assert frame.loc[0, "destination.port"] == 3128


@pytest.mark.parametrize("block_scan", [True, False], ids=["hyperscan", "re2"])
def test_nested_id_object_passes_the_prefilter(tmp_path: Path, block_scan: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A nested 4-tuple is found by the pre-filter too, not only by the full reader
    (the file's first line always goes to the full reader, so the hit comes last)."""
    if block_scan and not linescan.BLOCK_SCAN:
        pytest.skip("hyperscan is not installed")
    monkeypatch.setattr(linescan, "BLOCK_SCAN", block_scan)
    nested = {k: v for k, v in conn().items() if not k.startswith("id.")}
    nested["id"] = {"orig_h": "10.0.0.5", "orig_p": 1, "resp_h": "203.0.113.7", "resp_p": 3128}
    path = tmp_path / "conn.json"
    path.write_text("".join(dumps(record) + "\n" for record in (conn(id_resp_p=443), conn(id_resp_p=443), nested)))
    result = scan([str(path)])
    assert result.alerts["destination.port"].tolist() == [3128]
    assert result.inputs[0].filtered == 1  # the second line; the first is always parsed


# -- skipped and malformed --------------------------------------------------------------

def test_non_conn_path_is_skipped_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    dns = {"_path": "dns", **conn(), "query": "example.com"}
    with caplog.at_level(logging.WARNING):
        frame, adapter = read([dumps(dns), dumps({**conn(uid="C2"), "_path": "conn"}), dumps(dns)],
                              path="mixed.json")
    assert list(frame["zeek.session_id"]) == ["C2"]
    s = adapter.stats
    assert (s.read, s.evaluated, s.skipped, s.malformed) == (3, 1, 2, 0)
    records = {id(r): r for r in caplog.records if r.levelno == logging.WARNING}  # each once
    warnings = [r.getMessage() for r in records.values()]
    assert len(warnings) == 1 and "mixed.json:1" in warnings[0] and "dns" in warnings[0]


def test_record_without_path_or_conn_fields_is_skipped() -> None:
    frame, adapter = read([dumps({"ts": 1.0, "uid": "C1", "query": "example.com"})])
    assert frame.empty and adapter.stats.skipped == 1


@pytest.mark.parametrize("bad", [
    '{"ts": 1541117137.6, "uid": "C1",',     # cut short
    "not json at all",
    "[1, 2, 3]",                              # JSON, but not an object
    dumps(conn(id_resp_p=70000)),             # port out of range
    dumps(conn(id_orig_h="10.0.0.300")),      # not an address
    dumps({**conn(proto=None), "_path": "conn"}),  # a conn record missing a required field
])
def test_malformed_lines(bad: str) -> None:
    frame, adapter = read([dumps(conn(uid="C1")), bad, dumps(conn(uid="C3"))])
    assert list(frame["zeek.session_id"]) == ["C1", "C3"]
    assert adapter.stats.malformed == 1
    assert adapter.stats.first_problem.startswith("line 2:")


def test_strict_raises_with_path_and_line() -> None:
    with pytest.raises(MalformedRecordError) as info:
        read([dumps(conn()), "", "{oops"], strict=True, path="/logs/conn.json")
    assert "/logs/conn.json:3" in str(info.value)
    assert info.value.source == SourceLocation("/logs/conn.json", 3)


def test_read_equals_evaluated_plus_malformed_plus_skipped() -> None:
    lines = [dumps(conn()), "", "{bad", dumps({"_path": "http", **conn()}), dumps(conn(ts="x")),
             dumps(conn(uid="C2"))]
    frame, adapter = read(lines)
    s = adapter.stats
    assert len(frame) == s.evaluated == 2
    assert (s.read, s.malformed, s.skipped) == (5, 2, 1)
    assert s.read == s.evaluated + s.malformed + s.skipped
