"""ZeekTSVFormat: Zeek's ASCII conn.log read the way Zeek's own reader reads it."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from zeek_proxy.formats.zeek import EVIDENCE_LOGS
from zeek_proxy.formats.zeek.conn import FIELDS, conn_row
from zeek_proxy.formats.zeek_tsv import ZeekTSVFormat, unescape
from zeek_proxy.reading.blocks import Block, lines_of
from zeek_proxy.reading.reader import Reader
from zeek_proxy.errors import MalformedRecordError, SourceLocation
from zeek_proxy.schema import empty_frame

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

#: Zeek >= 7.1 conn.log (22 columns, with ip_proto).
ZEEK71 = [
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
    "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
    "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
    "tunnel_parents", "ip_proto",
]
#: Bro 2.x conn.log (20 columns, no local_resp, no ip_proto).
BRO2 = [f for f in ZEEK71 if f not in ("local_resp", "ip_proto")]

VALUES = {
    "_node_name": "worker-1-1", "ts": "1541117137.618695", "uid": "CYtJYz4gNk3t5ZEt2",
    "id.orig_h": "10.0.0.5", "id.orig_p": "49159", "id.resp_h": "203.0.113.7",
    "id.resp_p": "8080", "proto": "tcp", "service": "http", "duration": "0.013561",
    "orig_bytes": "244", "resp_bytes": "292", "conn_state": "SF", "local_orig": "T",
    "local_resp": "F", "missed_bytes": "0", "history": "ShADdFar", "orig_pkts": "4",
    "orig_ip_bytes": "416", "resp_pkts": "5", "resp_ip_bytes": "464",
    "tunnel_parents": "(empty)", "ip_proto": "6", "extra_a": "x", "extra_b": "y",
}


def header(fields: list[str], path: str = "conn", sep: str = "\t",
           separator_line: str = "#separator \\x09", set_sep: str = ",",
           empty: str = "(empty)", unset: str = "-", indent: str = "") -> str:
    """A Zeek ASCII header block; `sep` must match what `separator_line` declares."""
    lines = [
        separator_line,
        f"#set_separator{sep}{set_sep}",
        f"#empty_field{sep}{empty}",
        f"#unset_field{sep}{unset}",
        f"#path{sep}{path}",
        f"#open{sep}2018-11-02-00-05-37",
        f"#fields{sep}{sep.join(fields)}",
        f"#types{sep}{sep.join('string' for _ in fields)}",
    ]
    return "".join(f"{indent}{line}\n" for line in lines)


def record(fields: list[str], sep: str = "\t", end: str = "\n", **over: str) -> str:
    """One data line; keyword names use `_` for `.` (id_resp_p -> id.resp_p)."""
    values = dict(VALUES, **{"id." + k[3:] if k.startswith("id_") else k: v
                             for k, v in over.items()})
    return sep.join(values[f] for f in fields) + end


def read(text: str | bytes, strict: bool = False, path: str = "conn.log",
         chunk_rows: int = 50_000) -> tuple[pd.DataFrame, ZeekTSVFormat]:
    """Run the adapter over `text`; all frames concatenated."""
    data = text.encode() if isinstance(text, str) else text
    adapter = Reader(ZeekTSVFormat(path), strict=strict, chunk_rows=chunk_rows)
    frames = list(adapter.frames(io.BytesIO(data)))
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame()
    return frame, adapter


def warning_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Each warning record once (pytest may see a record through two loggers)."""
    records = {id(r): r for r in caplog.records if r.levelno == logging.WARNING}
    return [r.getMessage() for r in records.values()]


def balanced(adapter: ZeekTSVFormat) -> bool:
    s = adapter.stats
    return s.read == s.evaluated + s.malformed + s.skipped


# -- columns by name --------------------------------------------------------------------

def test_columns_found_by_fields_name_not_position() -> None:
    """`_node_name` first and unknown trailing columns shift nothing."""
    fields = ["_node_name", *ZEEK71, "extra_a", "extra_b"]
    frame, adapter = read(header(fields) + record(fields))
    row = frame.iloc[0]
    assert adapter.stats.evaluated == 1 and adapter.stats.malformed == 0
    assert row["@timestamp"] == pd.Timestamp("2018-11-02T00:05:37.618695Z")
    assert row["zeek.session_id"] == "CYtJYz4gNk3t5ZEt2"
    assert (row["source.ip"], row["source.port"]) == ("10.0.0.5", 49159)
    assert (row["destination.ip"], row["destination.port"]) == ("203.0.113.7", 8080)
    assert row["network.transport"] == "tcp"
    assert row["network.protocol"] == "http"
    assert row["event.duration"] == 13_561_000
    assert (row["source.bytes"], row["destination.bytes"]) == (416, 464)
    assert (row["source.packets"], row["destination.packets"]) == (4, 5)


def test_shuffled_field_order() -> None:
    fields = list(reversed(ZEEK71))
    frame, _ = read(header(fields) + record(fields, id_resp_p="3128", id_orig_h="192.168.1.9"))
    assert frame.loc[0, "destination.port"] == 3128
    assert frame.loc[0, "source.ip"] == "192.168.1.9"


# -- header variants --------------------------------------------------------------------

@pytest.mark.parametrize("separator_line", ["#separator \\x09", "#separator\t\\x09"],
                         ids=["space", "tab"])
def test_separator_line_written_with_space_or_tab(separator_line: str) -> None:
    frame, adapter = read(header(ZEEK71, separator_line=separator_line) + record(ZEEK71))
    assert adapter.stats.evaluated == 1 and adapter.stats.malformed == 0
    assert frame.loc[0, "destination.port"] == 8080


def test_non_tab_separator_is_honoured() -> None:
    text = header(ZEEK71, sep=",", separator_line="#separator \\x2c", set_sep=";")
    frame, adapter = read(text + record(ZEEK71, sep=","))
    assert adapter.stats.evaluated == 1 and adapter.format.separator == ","
    assert frame.loc[0, "source.ip"] == "10.0.0.5"


@pytest.mark.parametrize("indent", ["  ", "\t", " \t "])
def test_header_lines_with_leading_whitespace(indent: str) -> None:
    frame, adapter = read(header(ZEEK71, indent=indent) + record(ZEEK71))
    assert adapter.stats.evaluated == 1 and adapter.stats.malformed == 0
    assert frame.loc[0, "zeek.session_id"] == "CYtJYz4gNk3t5ZEt2"


def test_custom_set_empty_and_unset_markers() -> None:
    """With `NULL`/`EMPTY` markers, `-` and `(empty)` are ordinary values."""
    text = header(ZEEK71, set_sep=";", empty="EMPTY", unset="NULL") + record(
        ZEEK71, service="-", history="EMPTY", conn_state="NULL",
        tunnel_parents="Cx;Cy", uid="(empty)",
    )
    frame, adapter = read(text)
    row = frame.iloc[0]
    assert adapter.format.set_separator == ";"
    assert (adapter.format.empty_field, adapter.format.unset_field) == ("EMPTY", "NULL")
    assert row["network.protocol"] == "-"
    assert row["zeek.connection.history"] == ""
    assert row["zeek.connection.state"] is None
    assert row["zeek.session_id"] == "(empty)"


def test_unset_and_empty_defaults() -> None:
    """`-` is unset (null), `(empty)` the empty string; an escaped `\\x2d` is a dash."""
    text = header(ZEEK71)
    text += record(ZEEK71, history="-", local_orig="-", service="-")
    text += record(ZEEK71, history="(empty)", uid="C2", service="\\x2d")
    frame, _ = read(text)
    assert frame.loc[0, "zeek.connection.history"] is None
    assert pd.isna(frame.loc[0, "network.direction"])
    assert frame.loc[0, "network.protocol"] is None
    assert frame.loc[1, "zeek.connection.history"] == ""
    assert frame.loc[1, "network.protocol"] == "-"


# -- escapes ----------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [
    ("plain", "plain"),
    ("a\\x09b", "a\tb"),
    ("line\\x0abreak", "line\nbreak"),
    ("back\\\\slash", "back\\slash"),
    ("\\\\x41", "\\x41"),          # an escaped backslash, then literal "x41"
    ("\\x5cx41", "\\x41"),         # \x5c is a backslash
    ("\\x2d", "-"),
    ("\\x28empty)", "(empty)"),
    ("\\xc3\\xa9t\\xc3\\xa9", "été"),  # escaped UTF-8 bytes form one character
    ("\\x4A\\x4b", "JK"),          # hex digits in either case
    ("\\xZZ", "\\xZZ"),            # not an escape: left alone
])
def test_unescape(raw: str, value: str) -> None:
    assert unescape(raw) == value


def test_escaped_values_in_records() -> None:
    frame, _ = read(header(ZEEK71) + record(ZEEK71, uid="C\\x09tab\\\\x", history="Sh\\x2cAD"))
    assert frame.loc[0, "zeek.session_id"] == "C\ttab\\x"
    assert frame.loc[0, "zeek.connection.history"] == "Sh,AD"


# -- layouts across versions ------------------------------------------------------------

def test_bro2_layout_without_local_resp() -> None:
    """Bro 2.x: 20 columns, no local_resp, so network.direction stays absent."""
    assert len(BRO2) == 20
    frame, adapter = read(header(BRO2) + record(BRO2))
    assert adapter.stats.evaluated == 1 and adapter.stats.malformed == 0
    assert pd.isna(frame.loc[0, "network.direction"])
    assert frame.loc[0, "destination.port"] == 8080


@pytest.mark.parametrize(("orig", "resp", "direction"), [
    ("T", "T", "internal"), ("T", "F", "outbound"), ("F", "T", "inbound"), ("F", "F", "external"),
])
def test_zeek71_layout_with_ip_proto(orig: str, resp: str, direction: str) -> None:
    assert len(ZEEK71) == 22
    frame, _ = read(header(ZEEK71) + record(ZEEK71, local_orig=orig, local_resp=resp))
    assert frame.loc[0, "network.direction"] == direction
    assert frame.loc[0, "network.transport"] == "tcp"


def test_upper_case_proto_is_lowered() -> None:
    frame, _ = read(header(ZEEK71) + record(ZEEK71, proto="TCP"))
    assert frame.loc[0, "network.transport"] == "tcp"


# -- several blocks, #close ----------------------------------------------------------------

def test_several_header_blocks_with_different_field_order() -> None:
    second = ["_node_name", *reversed(ZEEK71)]
    text = (
        header(ZEEK71) + record(ZEEK71, uid="C1") + "#close\t2018-11-02-01-00-00\n"
        + header(second) + record(second, uid="C2", id_resp_p="1080")
        + "#close\t2018-11-02-02-00-00\n"
    )
    frame, adapter = read(text)
    assert adapter.stats.evaluated == 2 and adapter.stats.malformed == 0
    assert list(frame["zeek.session_id"]) == ["C1", "C2"]
    assert list(frame["destination.port"]) == [8080, 1080]
    assert list(frame["zeek_proxy.line"]) == [9, 19]


def test_file_without_close_line() -> None:
    frame, adapter = read(header(ZEEK71) + record(ZEEK71, uid="C1") + record(ZEEK71, uid="C2"))
    assert list(frame["zeek.session_id"]) == ["C1", "C2"]
    assert adapter.stats.malformed == 0


# -- malformed records ------------------------------------------------------------------

def test_last_row_without_newline_is_malformed() -> None:
    text = header(ZEEK71) + record(ZEEK71, uid="C1") + record(ZEEK71, uid="C2", end="")
    frame, adapter = read(text)
    assert list(frame["zeek.session_id"]) == ["C1"]
    assert adapter.stats.malformed == 1
    assert adapter.stats.first_problem.startswith("line 10:")
    assert balanced(adapter)


def test_wrong_column_count_is_malformed_with_its_line() -> None:
    good = record(ZEEK71)
    short = "\t".join(good.rstrip("\n").split("\t")[:-1]) + "\n"
    long = good.rstrip("\n") + "\textra\n"
    frame, adapter = read(header(ZEEK71) + good + short + long + good)
    assert len(frame) == 2
    assert adapter.stats.malformed == 2
    assert adapter.stats.first_problem.startswith("line 10:")
    assert "21" in adapter.stats.first_problem and "22" in adapter.stats.first_problem
    assert balanced(adapter)


def test_record_before_fields_header_is_malformed() -> None:
    frame, adapter = read(record(ZEEK71) + header(ZEEK71) + record(ZEEK71))
    assert len(frame) == 1
    assert adapter.stats.malformed == 1 and adapter.stats.first_problem.startswith("line 1:")


def test_strict_raises_with_path_and_line() -> None:
    text = header(ZEEK71) + record(ZEEK71) + "1541117137.0\tCshort\n"
    with pytest.raises(MalformedRecordError) as info:
        read(text, strict=True, path="/logs/conn.log")
    assert "/logs/conn.log:10" in str(info.value)
    assert info.value.source == SourceLocation("/logs/conn.log", 10)
    assert info.value.exit_code == 3


# -- other logs -------------------------------------------------------------------------

DNS_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "query"]


def test_non_conn_log_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    dns = "1541117137.1\tCd1\t10.0.0.5\t5353\t8.8.8.8\t8080\ttcp\texample.com\n"
    with caplog.at_level(logging.WARNING):
        frame, adapter = read(header(DNS_FIELDS, path="dns") + dns + dns, path="dns.log")
    assert frame.empty
    assert (adapter.stats.read, adapter.stats.skipped, adapter.stats.evaluated) == (2, 2, 0)
    assert adapter.stats.malformed == 0
    warnings = warning_messages(caplog)
    assert any("dns.log" in m and "#path dns" in m for m in warnings)
    assert len(warnings) == 1  # once per block, not per record


def test_conn_block_after_a_dns_block_is_read() -> None:
    dns = "1541117137.1\tCd1\t10.0.0.5\t5353\t8.8.8.8\t53\tudp\texample.com\n"
    text = header(DNS_FIELDS, path="dns") + dns + header(ZEEK71) + record(ZEEK71, uid="C9")
    frame, adapter = read(text)
    assert list(frame["zeek.session_id"]) == ["C9"]
    assert (adapter.stats.skipped, adapter.stats.evaluated) == (1, 1)


# -- accounting -------------------------------------------------------------------------

def test_read_equals_evaluated_plus_malformed_plus_skipped() -> None:
    dns = "1541117137.1\tCd1\t10.0.0.5\t5353\t8.8.8.8\t53\tudp\texample.com\n"
    text = (
        header(ZEEK71) + record(ZEEK71, uid="C1") + "\n" + record(ZEEK71, uid="C2")
        + "bad\trow\n" + record(ZEEK71, uid="C3", id_resp_p="99999")
        + record(ZEEK71, uid="C4", id_orig_h="-")
        + header(DNS_FIELDS, path="dns") + dns + dns
        + header(ZEEK71) + record(ZEEK71, uid="C5") + record(ZEEK71, uid="C6", end="")
    )
    frame, adapter = read(text, chunk_rows=1)
    s = adapter.stats
    assert list(frame["zeek.session_id"]) == ["C1", "C2", "C5"]
    assert (s.read, s.evaluated, s.malformed, s.skipped) == (9, 3, 4, 2)
    assert balanced(adapter)


# -- an independent reader --------------------------------------------------------------

def test_matches_zat_on_real_zeek71_log() -> None:
    """zat's reader and ours agree row for row on a real 22-column conn.log."""
    path = CORPUS / "zeek-tsv" / "trickbot-playbook__conn.log"
    if not path.is_file():
        pytest.skip("../shared/corpus is not present")
    from zat.log_to_dataframe import LogToDataFrame

    theirs = LogToDataFrame().create_dataframe(str(path), ts_index=False)
    with path.open("rb") as stream:
        ours, adapter = read(stream.read(), path=str(path))
    assert adapter.stats.malformed == 0 and adapter.stats.skipped == 0
    assert len(ours) == len(theirs) > 13_000
    assert list(ours["zeek.session_id"]) == [str(v) for v in theirs["uid"]]
    assert list(ours["source.ip"]) == [str(v) for v in theirs["id.orig_h"]]
    assert list(ours["destination.port"]) == [int(v) for v in theirs["id.resp_p"]]
    assert list(ours["network.transport"]) == [str(v) for v in theirs["proto"]]


def test_conn_fields_name_every_field_the_mapping_reads() -> None:
    """The TSV reader hands the conn mapping only the fields in FIELDS."""
    sample = {"ts": "1.5", "id.orig_h": "10.0.0.1", "id.orig_p": "1", "id.resp_h": "8.8.8.8",
              "id.resp_p": "8080", "proto": "tcp"}
    asked: set[str] = set()

    def get(name: str) -> str | None:
        asked.add(name)
        return sample.get(name)

    conn_row(get)
    assert asked == set(FIELDS)


_HTTP_CELLS = st.sampled_from(["CONNECT", "connect", "CoNnEcT", "CONNECTX", "GET", "-", "", "http://a/b",
                               "HTTPS://a:443", "svn+ssh://x", "/index", "a:443", "1http://x", "x//y", ":://"])


@given(order=st.permutations(["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p",
                              "method", "host", "uri", "referrer"]),
       rows=st.lists(st.lists(_HTTP_CELLS, min_size=10, max_size=10), min_size=1, max_size=12),
       dropped=st.sampled_from([None, "method", "uri"]))
def test_proxy_requests_are_the_lines_whose_method_or_uri_cell_says_so(order: list[str], rows: list[list[str]],
                                                                       dropped: str | None) -> None:
    """Whatever the column order (uri after method, as Zeek writes it, or not; either
    missing), the lines chosen are those whose method cell is CONNECT in any case, or
    whose uri cell is an absolute URI; a referrer holding one does not count."""
    fields = [name for name in order if name != dropped]
    adapter = ZeekTSVFormat("http.log", logs=EVIDENCE_LOGS)
    adapter.parse(1, ("#fields\t" + "\t".join(fields) + "\n").encode(), True)
    lines = ["\t".join(cells[: len(fields)]) + "\n" for cells in rows]
    data = "".join(lines).encode()
    found = adapter._proxy_requests(lines_of(Block(bytearray(data), len(data), 0)))

    def proxy_request(cells: list[str]) -> bool:
        named = dict(zip(fields, cells))
        return named.get("method", "").lower() == "connect" \
            or re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", named.get("uri", "")) is not None

    assert found == [i for i, cells in enumerate(rows) if proxy_request(cells)]
