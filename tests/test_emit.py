"""Emitters: ECS documents, Zeek notice.log (TSV and JSON) and CSV, on hand-built alerts."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from zeek_proxy.formats.zeek_tsv import unescape
from zeek_proxy.config import DEFAULT_SETTINGS
from zeek_proxy.core.suppression import Suppression, suppress
from zeek_proxy.core import RULE, collapse, finalize, select
from zeek_proxy.emit import EMITTERS
from zeek_proxy.emit.csv import COLUMNS, CSVEmitter, neutralise
from zeek_proxy.emit.ecs import ECSEmitter, documents, json_lines
from zeek_proxy.emit.notice import (
    ACTION, FIELDS, NOTE, SUPPRESSED_NOTE, NoticeEmitter, NoticeJSONEmitter, escape, notice_records,
)
from zeek_proxy.config import parse_config
from zeek_proxy.pipeline import conclude, with_suppressed
from zeek_proxy.schema import SUPPRESSED_BY, frame_from_rows

ECS_FIELDS_CSV = Path(__file__).resolve().parents[2] / "shared" / "ecs" / "fields.csv"
T0 = 1_541_117_137_618_695  # 2018-11-02T00:05:37.618695Z
ISO_US = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
NAMES = [name for name, _ in FIELDS]


def zeek_row(uid: str = "CYtJYz4gNk3t5ZEt2", i: int = 0, **over: Any) -> dict[str, Any]:
    row = {
        "@timestamp": T0 + i, "event.module": "zeek", "event.dataset": "zeek.connection",
        "source.ip": "10.0.0.5", "source.port": 49159 + i, "destination.ip": "203.0.113.7",
        "destination.port": 8080, "network.transport": "tcp", "network.protocol": "http",
        "network.direction": "outbound", "event.duration": 13_561_000, "source.bytes": 416,
        "destination.bytes": 464, "source.packets": 4, "destination.packets": 5,
        "zeek.session_id": uid, "zeek.connection.state": "SF",
        "zeek.connection.history": "ShADdFar", "log.file.path": "/logs/conn.log",
        "zeek_proxy.line": 9 + i,
    }
    row.update(over)
    return row


def eve_row() -> dict[str, Any]:
    return {
        "@timestamp": T0, "event.start": T0, "event.end": T0 + 1_250_000,
        "event.duration": 1_250_000_000, "event.module": "suricata",
        "event.dataset": "suricata.eve", "source.ip": "192.168.1.9", "source.port": 40000,
        "destination.ip": "2001:db8::7", "destination.port": 3128, "network.transport": "tcp",
        "network.protocol": "tls", "network.community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        "source.bytes": 900, "destination.bytes": 4200, "source.packets": 7,
        "destination.packets": 5, "suricata.eve.flow_id": 1234567890123456,
        "suricata.eve.event_type": "flow", "log.file.path": "eve.json", "zeek_proxy.line": 1,
    }


def alert_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = frame_from_rows(rows)
    out = finalize(collapse(select(frame, DEFAULT_SETTINGS)), DEFAULT_SETTINGS)
    assert len(out) == len(rows), "every hand-built row should be one alert"
    return out


def get(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for part in path.split("."):
        node = node[part]
    return node


def leaves(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaves(value, f"{path}.")
        else:
            yield path, value


# -- ECS --------------------------------------------------------------------------------

ALERT_FIELDS = [
    "@timestamp", "event.kind", "event.category", "event.type", "event.module",
    "event.dataset", "event.id", "event.created", "event.risk_score", "event.severity",
    "event.severity_label", "rule.id", "rule.name", "rule.version", "rule.description",
    "rule.reference", "threat.framework", "threat.tactic.id", "threat.tactic.name",
    "threat.technique.id", "threat.technique.name", "source.ip", "source.port",
    "destination.ip", "destination.port", "network.transport", "network.protocol",
    "network.community_id", "related.ip", "tags", "message", "log.file.path",
]


#: What a zeek alert with every evidence field set carries besides the connection's.
EVIDENCE_FIELDS = {"destination.domain": "c2.example", "zeek_proxy.evidence": "tls",
                   "http.request.method": "CONNECT", "url.original": "c2.example:443",
                   "user_agent.original": "curl/8", "tls.client.server_name": "c2.example"}


@pytest.fixture(params=["zeek", "suricata", "evidence", "suppressed", "sensor"])
def alert_doc(request: pytest.FixtureRequest) -> dict[str, Any]:
    """An alert of each kind: a Zeek or Suricata connection, one with every evidence
    field, one grouped by suppression, one naming the sensor that saw it."""
    rows = [eve_row()] if request.param == "suricata" else [zeek_row()]
    if request.param == "evidence":
        rows = [zeek_row() | EVIDENCE_FIELDS]
    if request.param == "sensor":
        rows = [zeek_row() | {"observer.name": "zeek-worker-3"}]
    frame = alert_frame(rows)
    if request.param == "suppressed":
        frame = suppress(frame, Suppression(3600)).alerts
    docs = documents(frame)
    assert len(docs) == 1
    return docs[0]


def test_ecs_alert_has_every_contract_field(alert_doc: dict[str, Any]) -> None:
    for path in ALERT_FIELDS:
        assert get(alert_doc, path) not in (None, "", []), path
    event = alert_doc["event"]
    zeek = event["module"] == "zeek"
    assert get(alert_doc, "zeek.session_id" if zeek else "suricata.eve.flow_id")
    assert event["kind"] == "alert"
    assert (event["category"], event["type"]) == (["network"], ["connection"])
    assert event["dataset"] == ("zeek.connection" if zeek else "suricata.eve")
    assert event["risk_score"] == 47 and event["severity"] == 2
    assert event["severity_label"] == "medium"
    assert alert_doc["rule"]["id"] == "ad0e5e75-dd89-4875-8d0a-dfdc1828b5f3"
    assert alert_doc["rule"]["version"] == "3" and alert_doc["rule"]["name"] == RULE.name
    assert alert_doc["threat"]["tactic"]["id"] == ["TA0011"]
    assert "alert" in alert_doc["tags"]
    assert alert_doc["related"]["ip"] == [alert_doc["source"]["ip"], alert_doc["destination"]["ip"]]


def test_ecs_documents_are_nested_not_dotted(alert_doc: dict[str, Any]) -> None:
    def keys(node: dict[str, Any]) -> Iterator[str]:
        for key, value in node.items():
            yield key
            if isinstance(value, dict):
                yield from keys(value)

    assert [k for k in keys(alert_doc) if "." in k] == []
    assert alert_doc["source"]["ip"] and alert_doc["threat"]["technique"]["name"] == ["Proxy"]


def test_ecs_time_fields_have_microseconds(alert_doc: dict[str, Any]) -> None:
    assert alert_doc["@timestamp"] == "2018-11-02T00:05:37.618695Z"
    assert ISO_US.match(alert_doc["event"]["created"])
    for name in ("start", "end"):
        if name in alert_doc["event"]:
            assert ISO_US.match(alert_doc["event"][name])


def test_ecs_timestamp_keeps_zero_microseconds() -> None:
    doc = documents(alert_frame([zeek_row() | {"@timestamp": 1_541_117_137_000_000}]))[0]
    assert doc["@timestamp"] == "2018-11-02T00:05:37.000000Z"


_HOSTILE_TEXT = st.text(alphabet=st.sampled_from(['"', "\\", "%", "b", "\n", "\x00", "\x1f", "\u2028", "é", " "]),
                        max_size=6)


@given(cells=st.lists(st.tuples(st.one_of(st.none(), _HOSTILE_TEXT), st.one_of(st.none(), _HOSTILE_TEXT),
                                st.one_of(st.none(), st.integers(0, 2**40))), min_size=1, max_size=6))
def test_ecs_lines_equal_plain_nested_documents(cells: list[tuple[str | None, str | None, int | None]]) -> None:
    """The template writer gives what nesting each row's non-null columns and encoding
    the result gives, whatever the text (quotes, escapes, %) and the nulls."""
    rows = [zeek_row(uid=f"C{i}", i=i) | {"network.protocol": protocol, "zeek.connection.history": history,
                                          "source.bytes": sent}
            for i, (protocol, history, sent) in enumerate(cells)]
    frame = alert_frame(rows)
    lines = json_lines(frame, alert=False)
    for i, line in enumerate(lines):
        expected: dict[str, Any] = {}
        for name in frame.columns:
            value = frame[name].iloc[i]
            if name in ("@timestamp", "_key", "rule.id") or pd.isna(value):  # rule.id picks the rule fields
                continue
            *parents, leaf = name.split(".")
            node = expected
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value.item() if hasattr(value, "item") else value
        doc = json.loads(line)
        got = {k: v for k, v in doc.items() if k not in ("@timestamp", "related")}
        del got["event"]["kind"], got["event"]["category"], got["event"]["type"]
        assert got == expected
        assert doc["related"]["ip"] == [rows[i]["source.ip"], rows[i]["destination.ip"]]


def _ecs_types() -> dict[str, str]:
    if not ECS_FIELDS_CSV.is_file():
        pytest.skip("../shared/ecs/fields.csv is not present")
    with ECS_FIELDS_CSV.open(newline="", encoding="utf-8") as stream:
        return {row["Field"]: row["Type"] for row in csv.DictReader(stream)}


def _compatible(ecs_type: str, value: Any) -> bool:
    if isinstance(value, list):
        return all(_compatible(ecs_type, v) for v in value)
    if ecs_type == "long":
        return isinstance(value, int) and not isinstance(value, bool)
    if ecs_type in ("float", "scaled_float", "half_float", "double"):
        return isinstance(value, float)
    if ecs_type == "ip":
        return isinstance(value, str) and bool(ipaddress.ip_address(value))
    if ecs_type == "date":
        return isinstance(value, str) and bool(ISO_US.match(value))
    if ecs_type in ("keyword", "constant_keyword", "wildcard", "match_only_text", "text"):
        return isinstance(value, str)
    return False


CUSTOM = ("zeek.", "suricata.", "zeek_proxy.")


def test_ecs_fields_exist_with_their_type(alert_doc: dict[str, Any]) -> None:
    types = _ecs_types()
    checked = 0
    for path, value in leaves(alert_doc):
        # Security Onion's severity label, and Elastic's own alert fields for suppression.
        if path == "event.severity_label" or path.startswith(CUSTOM) or path.startswith("kibana.alert."):
            continue
        assert path in types, f"{path} is not an ECS field"
        assert _compatible(types[path], value), f"{path}={value!r} is not an ECS {types[path]}"
        checked += 1
    assert checked >= 30


def test_ecs_sensor_is_observer_name() -> None:
    [doc] = documents(alert_frame([zeek_row() | {"observer.name": "zeek-worker-3"}]))
    assert doc["observer"] == {"name": "zeek-worker-3"}
    [record] = notice_records(alert_frame([zeek_row() | {"observer.name": "zeek-worker-3"}]))
    assert record["peer_descr"] == "zeek-worker-3"


def _shown_with_suppressed() -> pd.DataFrame:
    """An alert and a hit the allow entry "vendor-proxy" suppressed, as --show-suppressed
    writes them."""
    settings = parse_config('[[allow]]\nname = "vendor-proxy"\ndestination = ["198.51.100.0/24"]\n')
    hits = frame_from_rows([zeek_row(), zeek_row("C2", i=1) | {"destination.ip": "198.51.100.9"}])
    both = with_suppressed(conclude([hits], [], [], settings))
    assert both[SUPPRESSED_BY].tolist() == [None, "vendor-proxy"]
    return both


def test_shown_suppressed_hits_are_events_not_alerts() -> None:
    alert, shown = documents(_shown_with_suppressed())
    assert alert["event"]["kind"] == "alert" and "alert" in alert["tags"] and "suppressed" not in alert["tags"]
    assert alert["message"].startswith(RULE.name)
    assert shown["event"]["kind"] == "event"
    assert "suppressed" in shown["tags"] and "alert" not in shown["tags"]
    assert shown["message"].startswith(f"Suppressed by vendor-proxy: {RULE.name}: 10.0.0.5 ")
    assert shown["zeek_proxy"]["suppressed_by"] == "vendor-proxy" and shown["rule"]["id"] == RULE.id
    types = _ecs_types()
    for path, value in leaves(shown):
        if path != "event.severity_label" and not path.startswith(CUSTOM):
            assert path in types and _compatible(types[path], value), path


def test_shown_suppressed_hits_have_their_own_notice() -> None:
    alert, shown = notice_records(_shown_with_suppressed())
    assert alert["note"] == NOTE and shown["note"] == SUPPRESSED_NOTE == "ProxyPort::Suppressed_Activity"
    assert shown["msg"].startswith("Suppressed by vendor-proxy: ") and "suppressed_by=vendor-proxy" in shown["sub"]


def test_ecs_emitter_writes_one_json_object_a_line() -> None:
    frame = alert_frame([zeek_row(i=0), zeek_row("C2", i=1), eve_row()])
    out = io.StringIO()
    emitter = EMITTERS["ecs"](out)
    assert isinstance(emitter, ECSEmitter)
    emitter.begin()
    emitter.write(frame)
    emitter.end()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    docs = [json.loads(line) for line in lines]
    assert [d["event"]["id"] for d in docs] == list(frame["event.id"])


# -- notice.log TSV -----------------------------------------------------------------------

NASTY = ["tab\there", "new\nline", "cr\rx", "back\\slash", "-", "(empty)", "#close",
         "\\x41 literal", "été", "", "a,b", "C\x00\x7f"]


def nasty_alerts(values: list[str]) -> pd.DataFrame:
    """Alerts whose uid and message are the given strings."""
    frame = alert_frame([zeek_row(v, i=i) for i, v in enumerate(values)])
    frame = frame.sort_values("zeek_proxy.line").reset_index(drop=True)
    frame["message"] = pd.Series(values, dtype=object)
    assert list(frame["zeek.session_id"]) == values
    return frame


def notice_text(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    emitter = NoticeEmitter(out)
    emitter.begin()
    emitter.write(frame)
    emitter.end()
    return out.getvalue()


def zeek_value(cell: str) -> str | None:
    """A string cell as Zeek's reader reads it: markers first, then escapes."""
    return None if cell == "-" else "" if cell == "(empty)" else unescape(cell)


def write_log(tmp_path: Path, text: str) -> str:
    path = tmp_path / "notice.log"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_notice_tsv_layout() -> None:
    text = notice_text(nasty_alerts(NASTY))
    lines = text.split("\n")
    assert lines[-1] == "" and text.count("\n") == len(lines) - 1
    assert lines[:5] == ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)",
                         "#unset_field\t-", "#path\tnotice"]
    assert re.match(r"^#open\t\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}$", lines[5])
    assert lines[6] == "#fields\t" + "\t".join(NAMES)
    assert lines[7] == "#types\t" + "\t".join(t for _, t in FIELDS)
    assert len(NAMES) == 26
    assert re.match(r"^#close\t\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}$", lines[-2])
    records = lines[8:-2]
    assert len(records) == len(NASTY)  # one line per alert, whatever the values hold
    for line in records:
        cells = line.split("\t")
        assert len(cells) == 26 and not line.startswith("#")
        assert all(c.isprintable() and c.isascii() for c in cells)


def test_notice_tsv_values_unescape_to_the_originals() -> None:
    frame = nasty_alerts(NASTY)
    records = notice_text(frame).split("\n")[8:-2]
    for line, value, ts in zip(records, NASTY, frame["@timestamp"]):
        cell = dict(zip(NAMES, line.split("\t")))
        assert zeek_value(cell["uid"]) == value and zeek_value(cell["msg"]) == value
        assert cell["note"] == NOTE and cell["actions"] == ACTION
        assert cell["email_dest"] == "(empty)" and cell["n"] == "-"
        assert (cell["p"], cell["proto"], cell["suppress_for"]) == ("8080", "tcp", "3600.000000")
        assert cell["ts"] == f"{ts.value // 1000 // 10**6}.{ts.value // 1000 % 10**6:06d}"


def test_notice_tsv_read_back_by_zat_dataframe(tmp_path: Path) -> None:
    """zat sees every alert as one row with all 26 columns, whatever the values hold."""
    from zat.log_to_dataframe import LogToDataFrame

    frame = nasty_alerts(NASTY)
    df = LogToDataFrame().create_dataframe(write_log(tmp_path, notice_text(frame)), ts_index=False)
    assert df.shape == (len(NASTY), 26)
    assert list(df.columns) == NAMES


def test_notice_tsv_values_read_back_by_zat_dataframe(tmp_path: Path) -> None:
    from zat.log_to_dataframe import LogToDataFrame

    values = [v for v in NASTY if "#" not in v]
    df = LogToDataFrame().create_dataframe(write_log(tmp_path, notice_text(nasty_alerts(values))),
                                           ts_index=False)
    assert [zeek_value(str(v)) for v in df["uid"]] == values
    assert [zeek_value(str(v)) for v in df["msg"]] == values
    assert list(df["actions"].astype(str)) == [ACTION] * len(values)
    assert list(df["p"]) == [8080] * len(values)


@pytest.mark.parametrize("value", ["#close", "a#b", '"quoted'])
def test_notice_tsv_values_with_hash_or_quote_read_back_by_zat_dataframe(
        tmp_path: Path, value: str) -> None:
    from zat.log_to_dataframe import LogToDataFrame

    frame = alert_frame([zeek_row(value)])
    df = LogToDataFrame().create_dataframe(write_log(tmp_path, notice_text(frame)), ts_index=False)
    assert df.shape == (1, 26)
    assert zeek_value(str(df.loc[0, "uid"])) == value
    assert str(df.loc[0, "actions"]) == ACTION


def test_notice_tsv_read_back_by_zat_log_reader(tmp_path: Path) -> None:
    from zat.zeek_log_reader import ZeekLogReader

    frame = nasty_alerts(NASTY)
    rows = list(ZeekLogReader(write_log(tmp_path, notice_text(frame))).readrows())
    assert len(rows) == len(NASTY)
    for row, value in zip(rows, NASTY):
        assert list(row) == NAMES
        assert zeek_value(row["uid"]) == value and zeek_value(row["msg"]) == value
        assert (row["note"], row["actions"], row["p"]) == (NOTE, ACTION, 8080)
        assert row["id.orig_h"] == "10.0.0.5" and row["id.resp_h"] == "203.0.113.7"


@pytest.mark.parametrize(("value", "escaped"), [
    ("plain", "plain"),
    ("", "(empty)"),
    ("-", "\\x2d"),
    ("(empty)", "\\x28empty)"),
    ("--", "--"),
    ("a\tb", "a\\x09b"),
    ("a\nb\r", "a\\x0ab\\x0d"),
    ("back\\slash", "back\\\\slash"),
    ("\\x41", "\\\\x41"),
    ("é", "\\xc3\\xa9"),
    ("\x7f\x00", "\\x7f\\x00"),
    ("a,b", "a,b"),
])
def test_escape(value: str, escaped: str) -> None:
    assert escape(value) == escaped


def test_escape_set_separator_inside_sets() -> None:
    assert escape("a,b", ("\t", ",")) == "a\\x2cb"


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1))
def test_escape_round_trips_through_zeek_unescape(value: str) -> None:
    escaped = escape(value)
    assert zeek_value(escaped) == value
    assert "\t" not in escaped and "\n" not in escaped and escaped.isascii()


# -- notice-json ------------------------------------------------------------------------

def _typed(cell: str, zeek_type: str) -> Any:
    if zeek_type.startswith("set["):
        return [] if cell == "(empty)" else [unescape(v) for v in cell.split(",")]
    if zeek_type in ("port", "count"):
        return int(cell)
    if zeek_type in ("time", "interval", "double"):
        return float(cell)
    return zeek_value(cell)


def test_notice_json_lines_match_the_tsv() -> None:
    frame = pd.concat([nasty_alerts(NASTY), alert_frame([eve_row()])], ignore_index=True)
    out = io.StringIO()
    NoticeJSONEmitter(out).write(frame)
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    records = notice_text(frame).split("\n")[8:-2]
    assert len(docs) == len(records) == len(frame)
    for doc, line in zip(docs, records):
        assert list(doc) == [n for n in NAMES if n in doc]  # Zeek's field order
        cells = line.split("\t")
        expected = {n: _typed(c, t) for (n, t), c in zip(FIELDS, cells) if c != "-"}
        assert doc == expected
        assert isinstance(doc["ts"], float) and doc["actions"] == [ACTION]
    assert "uid" not in docs[-1] and "flow_id=1234567890123456" in docs[-1]["sub"]


# -- CSV --------------------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "written"), [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
    ("\t=x", "'\t=x"), ("\r=x", "'\r=x"), ("-", "-"), ("plain", "plain"), ("", ""),
    ("a=b", "a=b"), (8080, 8080), (None, None),
])
def test_neutralise(cell: Any, written: Any) -> None:
    assert neutralise(cell) == written


def test_csv_neutralises_formula_cells() -> None:
    uids = ["=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(1)", "-", "CsafeUid"]
    frame = alert_frame([zeek_row(u, i=i) for i, u in enumerate(uids)])
    frame = frame.sort_values("zeek_proxy.line").reset_index(drop=True)
    out = io.StringIO()
    emitter = CSVEmitter(out)
    emitter.begin()
    emitter.write(frame)
    emitter.end()
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == list(COLUMNS) and len(rows) == len(uids) + 1
    column = rows[0].index("zeek.session_id")
    assert [r[column] for r in rows[1:]] == [
        "'=HYPERLINK(\"http://x\")", "'+1", "'-1", "'@SUM(1)", "-", "CsafeUid"]
    timestamp = rows[0].index("@timestamp")
    assert all(ISO_US.match(r[timestamp]) for r in rows[1:])
    assert all(r[rows[0].index("suricata.eve.flow_id")] == "" for r in rows[1:])
