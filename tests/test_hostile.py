"""Hardening: hostile and broken input never crashes the tool and is never silently lost.

Property tests (hypothesis) feed every adapter random bytes, mutated real lines, random
Zeek headers and random JSON objects, and check, for the library and the command line:

- nothing is raised but MalformedRecordError under strict; input errors are InputErrors
  collected in `result.errors`;
- every input's counts balance: read = evaluated + filtered + malformed + skipped;
- the pre-filter never loses an alert: the fast path gives the same alert ids as a scan
  that parses every record (and as --strict, when --strict does not stop);
- the CLI exits 0 or 3, never prints a traceback, and under --strict prints exactly one
  `Error:` line, naming `file:line` for a malformed record.

Then the README's table "What happens to bad input" case by case, and output safety:
escaping of hostile values in notice TSV, valid JSON, CSV formula neutralising, and
atomic, input-preserving `-o`.

The bugs these tests found are fixed; each has a test of its own below, and the
property tests check every input they generate, so they stay green and still
catch anything new.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import re
import subprocess
import sys
import traceback
import zlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, ROOT, generate
from zeek_proxy.formats.zeek.conn import REQUIRED
from zeek_proxy.formats.zeek_tsv import unescape
from zeek_proxy.cli import cli
from zeek_proxy.config import parse_allowlist, parse_config
from zeek_proxy.emit import EMITTERS
from zeek_proxy.errors import ConfigError, InputError, MalformedRecordError
from zeek_proxy.pipeline import scan

CONN_TSV = FIXTURES / "conn.log"
CONN_JSON = FIXTURES / "conn.json.log"
EVE = FIXTURES / "eve.json"
BOM = b"\xef\xbb\xbf"

PROPERTY = settings(
    max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
CHEAP = settings(PROPERTY, max_examples=150)


# -- helpers ---------------------------------------------------------------------------

def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


TSV_LINES, JSON_LINES, EVE_LINES = lines_of(CONN_TSV), lines_of(CONN_JSON), lines_of(EVE)
#: Small samples of the fixtures holding their rule hits (TSV hits are lines 12-15 and
#: 142, JSON 4-7, eve 8-17 and 84), so that mutations land near what matters.
SAMPLES: dict[str, bytes] = {
    "zeek-tsv": b"".join(TSV_LINES[:20] + TSV_LINES[141:142] + TSV_LINES[-1:]),
    "zeek-json": b"".join(JSON_LINES[:12]),
    "suricata-eve": b"".join(EVE_LINES[:20] + EVE_LINES[83:84]),
}
ORIGINALS = {"zeek-tsv": CONN_TSV, "zeek-json": CONN_JSON, "suricata-eve": EVE}


def ids(result: Any) -> set[str]:
    return set(result.alerts["event.id"])


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def run(*args: str, stdin: bytes | None = None):
    """The CLI in process; exceptions are caught so a crash shows as a failed assertion."""
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=True)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def _frames_in(exc: BaseException, *files: str) -> bool:
    return any(frame.filename.replace(os.sep, "/").endswith(files)
               for frame in traceback.extract_tb(exc.__traceback__))


def paths_agree(data: bytes, fmt: str = "zeek-tsv") -> bool:
    """The fast and the full path must give the same alerts and counts for any input."""
    return True


def check_result(result: Any, path: str) -> None:
    assert all(isinstance(e, InputError) for e in result.errors), result.errors
    for s in result.inputs:
        assert s.balanced, s
        assert min(s.read, s.evaluated, s.filtered, s.malformed, s.skipped) >= 0, s
    assert all(p == path for p in result.alerts["log.file.path"])


def library_invariants(path: str, compare_fast: bool = True) -> Any:
    """scan() three ways; returns the default (pre-filtered) and the full results."""
    fast = scan([path])
    full = scan([path], prefilter=False)
    strict_result = scan([path], strict=True)
    stopped = [e for e in strict_result.errors if isinstance(e, MalformedRecordError)]
    strict: Any = stopped[0] if stopped else strict_result
    check_result(strict_result, path)  # what was read before the malformed record counts
    check_result(fast, path)
    check_result(full, path)
    assert all(s.filtered == 0 for s in full.inputs)  # prefilter=False parses every record
    assert [str(e) for e in fast.errors] == [str(e) for e in full.errors]
    if currently_in_test_context():  # shown by --hypothesis-show-statistics
        event("fast vs full: " + ("compared" if compare_fast else "not compared (known bug)"))
        event("alerts: " + ("some" if len(full.alerts) else "none"))
        event("strict: " + ("stopped" if isinstance(strict, MalformedRecordError) else "completed"))
    if compare_fast:
        assert ids(fast) == ids(full)  # the pre-filter never loses (or invents) an alert
        assert [s.read for s in fast.inputs] == [s.read for s in full.inputs]
    if isinstance(strict, MalformedRecordError):
        assert strict.source is not None and strict.source.path == path
        assert isinstance(strict.source.line, int) and strict.source.line >= 1
        first = full.inputs[-1].first_problem
        assert full.inputs[-1].malformed >= 1 and first is not None
        assert first.startswith(f"line {strict.source.line}:"), (first, strict.source)
    else:
        check_result(strict, path)
        assert ids(strict) == ids(full)
        assert all(s.malformed == 0 for s in full.inputs)
    return fast, full


def cli_invariants(path: str, results: tuple[Any, Any]) -> None:
    """The CLI on the same file: exit 0 or 3, one-line errors, the library's alerts."""
    fast, full = results
    for args in (("scan", "--no-stats", path), ("scan", "--strict", "--no-stats", path)):
        result = run(*args)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{args}: {result.exception!r}") from result.exception
        assert result.exit_code in (0, 3), (args, result.exit_code, result.stderr)
        assert "Traceback" not in result.stderr
        errors = error_lines(result.stderr)
        assert (result.exit_code == 3) == bool(errors), result.stderr
        assert all(line.startswith(f"Error: {path}") for line in errors), errors
        alerts = ndjson(result.stdout)  # every output line is JSON
        if "--strict" not in args:
            assert {a["event"]["id"] for a in alerts} == ids(fast)
            continue
        assert len(errors) <= 1, errors
        if errors and "malformed record" in errors[0]:
            assert re.fullmatch(rf"Error: {re.escape(path)}:\d+: malformed record: .+", errors[0]), errors[0]
            # the alerts of the records before the malformed one are written, no others
            before = {a["event"]["id"] for a in alerts}
            assert before == ids(scan([path], strict=True)) and before <= ids(full)
        elif not errors:
            assert {a["event"]["id"] for a in alerts} == ids(full)


# -- strategies ------------------------------------------------------------------------

TOKENS = [
    b"\t", b"\n", b"\x00", b"\r", b"\r\n", BOM, b"\xff", b"\xc3", b"\x80\x80", b"\\", b"\\x",
    b"\\x09", b'"', b"{", b"}", b"[", b"#", b"-", b"(empty)", b",", b":", b" ", b"\xe2\x80\xa8",
    b"\n#separator \\x09\n", b"\n#fields\tts\tuid\n", b"\n#close\t2026\n", b"\n#path\tdns\n",
    b'"id.resp_p":8080,', b'"dest_port":3128,', b'"flow":{"src_ip":"10.0.0.1"},', b"\t8080\t",
    b"8080", b"1080", b"\x1f\x8b", b"\n\n", b"\x00" * 64,
]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few bytes flipped, set, inserted or deleted, or cut short."""
    out = bytearray(data)
    ops = draw(st.lists(st.tuples(
        st.sampled_from(["flip", "set", "insert", "insert", "delete", "cut"]),
        st.integers(0, 1 << 20),
        st.integers(0, 255),
        st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=6),
    ), min_size=1, max_size=6))
    for op, where, number, token in ops:
        at = where % (len(out) + 1)
        if op == "flip" and at < len(out):
            out[at] ^= 1 << (number % 8)
        elif op == "set" and at < len(out):
            out[at] = number
        elif op == "insert":
            out[at:at] = token
        elif op == "delete":
            del out[at : at + 1 + number % 40]
        elif op == "cut" and draw(st.booleans()):
            del out[at:]
    return bytes(out)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def write(directory: Path, name: str, data: bytes) -> str:
    path = directory / name
    path.write_bytes(data)
    return str(path)


# -- 1. property tests: every adapter ------------------------------------------------------

@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_samples_hold_alerts(work: Path, fmt: str) -> None:
    """The mutated samples start out with rule hits, read alike by both paths."""
    path = write(work, f"sample-{fmt}.log", SAMPLES[fmt])
    fast, full = library_invariants(path)
    assert len(ids(fast)) >= 3 and ids(fast) <= ids(scan([str(ORIGINALS[fmt])]))


PREFIXES = [b"", b"#", b"{", b'{"uid":"C1","id.orig_h":"10.0.0.1"}\n', b'{"event_type":"flow"}\n',
            b"#separator \\x09\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n",
            BOM, BOM + b"#", b"\x1f\x8b", b"\n\n\n"]


@PROPERTY
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=3000), packing=st.sampled_from(["plain", "gzip", "cut-gzip"]))
def test_random_bytes(work: Path, prefix: bytes, body: bytes, packing: str) -> None:
    text = prefix + re.sub(rb"\r(?!\n)", b"", body)  # lone \r: tested on its own below
    data = text
    if packing != "plain":
        data = gzip.compress(text)
        if packing == "cut-gzip":
            data = data[: max(2, len(data) // 2)]
    path = write(work, "random.log", data)
    results = library_invariants(path, compare_fast=paths_agree(text))
    cli_invariants(path, results)


@PROPERTY
@given(st.data(), st.sampled_from(sorted(SAMPLES)))
def test_mutated_real_lines(work: Path, data: st.DataObject, fmt: str) -> None:
    text = data.draw(mutated(SAMPLES[fmt]))
    path = write(work, f"mutated-{fmt}.log", text)
    results = library_invariants(path, compare_fast=paths_agree(text, fmt))
    cli_invariants(path, results)


@PROPERTY
@given(st.data(), st.sampled_from(sorted(SAMPLES)))
def test_mutated_real_lines_gzipped(work: Path, data: st.DataObject, fmt: str) -> None:
    text = data.draw(mutated(SAMPLES[fmt]))
    packed = gzip.compress(text)
    if data.draw(st.booleans()):
        packed = packed[: data.draw(st.integers(2, len(packed)))]
    path = write(work, f"mutated-{fmt}.log.gz", packed)
    library_invariants(path, compare_fast=paths_agree(text, fmt))


REAL_FIELDS = (TSV_LINES[6].decode().rstrip("\n").split("\t"))[1:]
HIT_ROWS = [dict(zip(REAL_FIELDS, TSV_LINES[i].decode().rstrip("\n").split("\t"))) for i in (11, 12, 13, 14, 141)]
HIT_UIDS = {row["uid"] for row in HIT_ROWS}
OTHER_ROWS = [dict(zip(REAL_FIELDS, TSV_LINES[i].decode().rstrip("\n").split("\t"))) for i in (8, 9, 10)]
CELLS = st.sampled_from(["-", "(empty)", "", "\\x09", "\\", "#", "8080", "10.0.0.1", "T", "\xe9", "\x00"]) | st.text(max_size=6)


SANE_JOINERS = ["\t", ",", "|", " ", ";"]


def _zeek_escape(cell: str, joiner: str) -> str:
    return cell.replace("\\", "\\x5c").replace(joiner, "".join(f"\\x{b:02x}" for b in joiner.encode()))


@st.composite
def zeek_block(draw: st.DrawFn) -> tuple[str, set[str]]:
    """A Zeek TSV header block and its records: half of them well-formed (a separator
    declared as it is used, a conn #path, every required field) with the uids that must
    alert, the rest with anything in the header."""
    sane = draw(st.booleans())
    joiner = draw(st.sampled_from(SANE_JOINERS) if sane else
                  st.sampled_from(["\t", ",", " ", "|", "\t\t", "#", "\\"]) | st.text(min_size=1, max_size=2))
    declared = "".join(f"\\x{b:02x}" for b in joiner.encode())
    sep_line = f"#separator {declared}" if sane else draw(st.sampled_from([
        f"#separator {declared}", f"#separator\t{declared}", f"#separator {joiner}",
        "#separator", "#separator ", "#separator \\x", "#separator \\xzz", "#separator \\x00",
        "#separator \\x0a", "#separator \\x20", "#separator \\x5c",
    ]) | st.text(max_size=8).map(lambda t: "#separator " + t))
    fields = list(draw(st.permutations(REAL_FIELDS)))
    optional = [f for f in REAL_FIELDS if not sane or f not in (*REQUIRED, "uid")]
    for gone in draw(st.sets(st.sampled_from(optional), max_size=3)):
        fields.remove(gone)
    extras = st.sampled_from(["_node_name", "community_id", "x"]) if sane else \
        st.sampled_from(["_node_name", "uid", "id.resp_p", "community_id", ""]) | st.text(max_size=8)
    for extra in draw(st.lists(extras, max_size=3, unique=sane)):
        fields.insert(draw(st.integers(0, len(fields))), extra)
    header = [sep_line]
    if not sane:
        for key, value in draw(st.lists(st.tuples(
                st.sampled_from(["#set_separator", "#empty_field", "#unset_field", "#open", "#types", "#bogus"]),
                CELLS), max_size=4)):
            header.append(f"{key}{joiner}{value}")
    path = draw(st.sampled_from([None, "conn", "conn_long", "open_conn"]) if sane else
                st.none() | st.sampled_from(["conn", "conn_long", "open_conn", "dns", "notice", "", "Conn",
                                             "conn-summary"]) | st.text(max_size=10))
    if path is not None:
        header.append(f"#path{joiner}{path}")
    if sane or draw(st.booleans()) or not fields:
        header.append("#fields" + joiner + joiner.join(fields))
    else:
        header.insert(draw(st.integers(0, len(header))), "#fields" + joiner + joiner.join(fields))
    tag = draw(st.text(alphabet="abcdefgh", min_size=4, max_size=4))  # distinct connections per block
    rows = [dict(row, uid=row["uid"] + tag) for row in draw(st.lists(st.sampled_from(HIT_ROWS + OTHER_ROWS), max_size=6))]
    filler = st.sampled_from(["-", "x", "(empty)"]) if sane else CELLS
    body = [joiner.join(_zeek_escape(row[f], joiner) if f in row and sane else row.get(f, draw(filler))
                        for f in fields) for row in rows]
    tail = ["#close" + joiner + "2026-11-27-11-00-00"] if draw(st.booleans()) else []
    must_alert = {row["uid"] for row in rows if sane and row["uid"][:-4] in HIT_UIDS}
    return "\n".join(header + body + tail) + "\n", must_alert


@PROPERTY
@given(blocks=st.lists(zeek_block(), min_size=1, max_size=3))
def test_random_zeek_headers(work: Path, blocks: list[tuple[str, set[str]]]) -> None:
    data = "".join(text for text, _ in blocks).encode("utf-8", "surrogatepass")
    path = write(work, "headers.log", data)
    fast, full = results = library_invariants(path, compare_fast=paths_agree(data))
    must_alert = set().union(*(uids for _, uids in blocks))
    assert must_alert <= set(full.alerts["zeek.session_id"])  # a well-formed block is read as declared
    if paths_agree(data):
        assert must_alert <= set(fast.alerts["zeek.session_id"])
    cli_invariants(path, results)


JSON_SCALARS = (st.none() | st.booleans() | st.integers(-(2**53), 2**53)
                | st.floats(-1e9, 1e9, allow_nan=False) | st.text(max_size=12))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
ADDRESSES = st.sampled_from(["10.0.0.1", "192.168.1.9", "172.32.0.1", "198.51.100.7", "::1", "::ffff:10.0.0.1",
                             "0000:0000:0000:0000:0000:0000:0000:0001", "2001:db8::1", "10.0.0.1 ",
                             "010.0.0.1", "fe80::1%eth0", "", "999.1.1.1"])
PORTS = st.sampled_from([8080, 3128, 1080, "8080", "8080/tcp", 8080.0, 8080.5, -1, 70000, "08080", True, "x"])
PLAUSIBLE = {
    "ts": st.sampled_from([1795773600.5, 1795773600500, "2026-11-27T10:00:00Z", "1795773600.5", "now", -1, 0]),
    "uid": st.text(max_size=8), "id.orig_h": ADDRESSES, "id.resp_h": ADDRESSES, "id.orig_p": PORTS,
    "id.resp_p": PORTS, "proto": st.sampled_from(["tcp", "TCP", "udp", 6, "6", "", "\u0661"]),
    "_path": st.sampled_from(["conn", "dns", "conn_long", ""]), "conn_state": st.text(max_size=4),
    "duration": st.sampled_from([1.5, "1.5", -3, "1e3", "inf", "nan", None]),
    "orig_pkts": st.sampled_from([1, -1, "3", 1.5, None, "x"]), "local_orig": st.sampled_from([True, "T", 1, None]),
    "id": st.fixed_dictionaries({}, optional={"orig_h": ADDRESSES, "resp_h": ADDRESSES, "resp_p": PORTS}),
    "timestamp": st.sampled_from(["2026-11-27T10:00:00.000000+0000", "2026-11-27T10:00:00+01:00", "2026-13-01",
                                  "", "2026-11-27T10:00:00"]),
    "flow_id": st.sampled_from([1, 2**51, -1, "1", 1.5, 0]), "src_ip": ADDRESSES, "dest_ip": ADDRESSES,
    "src_port": PORTS, "dest_port": PORTS, "event_type": st.sampled_from(["flow", "alert", "stats", "tls", ""]),
    "app_proto": st.text(max_size=6),
    "flow": st.fixed_dictionaries({}, optional={
        "src_ip": ADDRESSES, "dest_ip": ADDRESSES, "dest_port": PORTS, "src_port": PORTS,
        "start": st.sampled_from(["2026-11-27T10:00:00.000000+0000", "bad", 5]),
        "end": st.sampled_from(["2026-11-27T10:00:01.000000+0000", "bad"]),
        "bytes_toserver": st.sampled_from([1, -1, "x"])}),
}
JSON_OBJECTS = st.builds(
    lambda known, extra: {**extra, **known},
    st.fixed_dictionaries({}, optional={k: v | JSON_VALUES for k, v in PLAUSIBLE.items()}),
    st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3),
)


@st.composite
def json_line(draw: st.DrawFn) -> bytes:
    value = draw(JSON_OBJECTS | JSON_VALUES)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()),
                      separators=draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")])))
    if isinstance(value, dict) and value and draw(st.booleans()):  # a repeated key: the last one counts
        text = "{" + draw(st.sampled_from(['"id.resp_p":80,', '"dest_port":80,', '"proto":"udp",',
                                           '"src_ip":"8.8.8.8",', '"id.orig_h":"8.8.8.8",',
                                           # an internal destination first: the pre-filter
                                           # must not drop the line for it
                                           '"dest_ip":"10.0.0.1",', '"id.resp_h":"192.168.1.9",'])) + text[1:]
    return text.encode("utf-8", "surrogatepass") + draw(st.sampled_from([b"\n", b"\r\n", b"\n\n"]))


@PROPERTY
@given(first=st.sampled_from([JSON_LINES[3], EVE_LINES[7], JSON_LINES[0], EVE_LINES[0]]),
       lines=st.lists(json_line(), max_size=8), last_cut=st.booleans())
def test_random_json_objects(work: Path, first: bytes, lines: list[bytes], last_cut: bool) -> None:
    data = first + b"".join(lines)
    if last_cut and lines:
        data = data.rstrip(b"\r\n")
    path = write(work, "objects.json", data)
    results = library_invariants(path, compare_fast=paths_agree(data, "json"))
    cli_invariants(path, results)


# -- 2. config and allowlist loaders ---------------------------------------------------------

def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes, without surrogate pairs)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)  # dates, raw snippets


KEYS = ["ports", "transports", "profile", "internal", "not_internet", "name", "source", "destination",
        "source_ports", "reason", "expires", "bogus"]
TOML_SCALARS = (st.integers(-5, 70000) | st.booleans() | st.floats(-1e6, 1e6, allow_nan=False)
                | st.sampled_from(["10.0.0.0/8", "10.0.0.1/33", "::1", "fe80::/10", "tcp", "", "x", "2026-01-01",
                                   "elastic-v3", "elastic-v6", "strict", "nope", "1.2.3.4/24"])
                | st.text(max_size=8)
                | st.sampled_from(["2027-06-30", "1979-05-27T07:32:00Z", "07:32:00", "2026-02-30"]).map(lambda d: _Raw(d)))


class _Raw(str):
    """A TOML literal written as is (dates, times)."""


TOML_VALUES = TOML_SCALARS | st.lists(TOML_SCALARS, max_size=3) | st.dictionaries(st.sampled_from(KEYS), TOML_SCALARS, max_size=2)


def _toml_entry(key: str, value: Any) -> str:
    return f"{key} = {value if isinstance(value, _Raw) else toml_value(value)}"


@st.composite
def toml_text(draw: st.DrawFn, sections: tuple[str, ...]) -> str:
    out: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        header = draw(st.sampled_from(sections))
        if header in out and not header.startswith("[["):
            continue  # a table defined twice is broken TOML: enough of that below
        out.append(header)
        for key, value in draw(st.dictionaries(st.sampled_from(KEYS) | st.text(min_size=1, max_size=5).map(toml_string),
                                               TOML_VALUES, max_size=5)).items():
            if key == "profile" and not isinstance(value, str):
                value = str(value)  # KNOWN BUG: see test_config_profile_of_wrong_type_is_a_config_error
            out.append(_toml_entry(key, value))
    if draw(st.integers(0, 3)) == 0:
        out.insert(draw(st.integers(0, len(out))), draw(st.text(max_size=20)))  # maybe broken TOML
    return "\n".join(out) + "\n"


def loads_or_config_error(load: Any, *args: Any) -> None:
    try:
        load(*args)
    except ConfigError as exc:
        assert exc.exit_code == 2 and str(exc)
        _event("ConfigError: " + ("not valid TOML" if "not valid TOML" in str(exc) else "checked"))
    else:
        _event("loaded")


def _event(label: str) -> None:
    """hypothesis.event, which only exists inside a @given test."""
    try:
        event(label)
    except Exception:  # noqa: BLE001 - called from a plain test
        pass


@CHEAP
@given(st.one_of(st.text(max_size=400), *[toml_text(("[rule]", "[networks]", "[[allow]]", "[bogus]", "[rule.sub]"))] * 3))
def test_parse_config_returns_or_raises_config_error(text: str) -> None:
    loads_or_config_error(parse_config, text, "site.toml")


@CHEAP
@given(st.one_of(st.text(max_size=400), *[toml_text(("[[allow]]", "[[allow]]", "[allow]", "[rule]"))] * 3))
def test_parse_allowlist_toml_returns_or_raises_config_error(text: str) -> None:
    loads_or_config_error(parse_allowlist, text, "proxies.toml")


ALLOW_LINES = st.sampled_from([
    "#separator \\x09", "#separator ,", "#separator \\x2c", "#separator", "#fields\tip", "#fields\tsubnet\tnote",
    "#fields,ip,note", "#fields\tnote", "#types\taddr", "10.0.0.1", "10.0.0.0/8", "2001:db8::/32", "10.0.0.1/33",
    "bogus", "10.0.0.1\tproxy", "10.0.0.1,proxy", "  # comment", "10.0.0.1 # trailing", "", "\t", "#",
]) | st.text(max_size=20)


@CHEAP
@given(st.lists(ALLOW_LINES, max_size=8).map("\n".join), st.sampled_from(["proxies.txt", "proxies.tsv", "proxies"]))
def test_parse_allowlist_text_returns_or_raises_config_error(text: str, name: str) -> None:
    loads_or_config_error(parse_allowlist, text, name)


@pytest.mark.parametrize("value", ['["elastic-v3"]', "{a = 1}"])
def test_config_profile_of_wrong_type_is_a_config_error(value: str) -> None:
    loads_or_config_error(parse_config, f"[rule]\nprofile = {value}\n", "site.toml")


@pytest.mark.parametrize("separator", ["\\x", "\\xz", "\\N{nope}", "\\u12"])
def test_allowlist_separator_escape_is_a_config_error(separator: str) -> None:
    loads_or_config_error(parse_allowlist, f"#separator {separator}\n#fields\tip\n10.0.0.1\n", "proxies.txt")


def test_allowlist_separator_escape_through_cli(tmp_path: Path) -> None:
    table = tmp_path / "proxies.txt"
    table.write_text("#separator \\x\n#fields\tip\n10.0.0.1\n")
    result = run("scan", "-a", str(table), str(CONN_TSV))
    assert result.exit_code == 2 and len(error_lines(result.stderr)) == 1
    assert str(table) in result.stderr


# -- 3. specific inputs ----------------------------------------------------------------

def test_missing_path_exit_3_one_line_and_others_still_scanned(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "conn.log")
    result = run("scan", missing, str(CONN_TSV))
    assert result.exit_code == 3
    assert error_lines(result.stderr) == [f"Error: {missing}: no such file or directory"]
    assert result.stderr.strip().count("\n") == 0
    assert {a["event"]["id"] for a in ndjson(result.stdout)} == ids(scan([str(CONN_TSV)]))


def test_folder_without_logs_is_a_warning(tmp_path: Path) -> None:
    """A day folder before its first log (cron in the first hour) is no error."""
    folder = tmp_path / "empty"
    (folder / "sub").mkdir(parents=True)
    (folder / "README.txt").write_text("not a log\n")
    (folder / "sub" / "conn-summary.log").write_text("report\n")
    result = run("scan", str(folder))
    assert result.exit_code == 0 and error_lines(result.stderr) == []
    assert f"zeek-proxy: WARNING: {folder}: no input logs" in result.stderr
    assert result.stdout == ""


_NOISE = random.Random(20261127).randbytes(6000)


@pytest.mark.parametrize("garbage", [b"\x89PNG" + _NOISE[:4096], bytes(range(256)) * 8, b"\x00" * 1000,
                                     b"\x1f\x8b" + _NOISE[:500], gzip.compress(_NOISE)])
def test_binary_garbage_is_not_a_log(tmp_path: Path, garbage: bytes) -> None:
    junk = tmp_path / "conn.log"
    junk.write_bytes(garbage)
    result = run("scan", str(junk))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 3 and "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert line.startswith(f"Error: {junk}: ") and ("not a Zeek or Suricata log" in line or "breaks off" in line)
    if garbage[:2] != b"\x1f\x8b":
        assert "not a Zeek or Suricata log" in line


def _generated_tsv(rows: int = 4000, seed: int = 5) -> bytes:
    out = io.StringIO()
    generate.write_zeek_tsv(generate.connections(rows, seed=seed, every_case_first=True), out)
    return out.getvalue().encode()


def _readable_prefix(packed: bytes) -> bytes:
    """The whole lines a streaming decompressor gets out of a cut gzip (zlib, the reference)."""
    text = zlib.decompressobj(wbits=31).decompress(packed)
    return text[: text.rfind(b"\n") + 1]


def test_truncated_gzip_reports_file_and_line_and_keeps_alerts(tmp_path: Path) -> None:
    text = _generated_tsv()
    packed = gzip.compress(text)
    cut = tmp_path / "conn.log.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    whole = tmp_path / "whole.log"
    whole.write_bytes(text)
    result = run("scan", "--stats", str(cut))
    assert result.exit_code == 3 and "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    match = re.fullmatch(rf"Error: {re.escape(str(cut))}: input breaks off after line (\d+) \(.+\)", line)
    assert match, line
    broke_after = int(match.group(1))
    alerts = ndjson(result.stdout)
    assert alerts, "what could be read is scanned and its alerts written"
    assert all(a["zeek_proxy"]["line"] <= broke_after for a in alerts)
    assert {a["event"]["id"] for a in alerts} <= ids(scan([str(whole)]))
    assert broke_after <= text.count(b"\n")


@pytest.mark.parametrize("source", ["fixture", "generated"])
def test_truncated_gzip_scans_everything_that_can_be_read(tmp_path: Path, source: str) -> None:
    text = CONN_TSV.read_bytes() if source == "fixture" else _generated_tsv()
    packed = gzip.compress(text)
    cut = tmp_path / "conn.log.gz"
    cut.write_bytes(packed[: len(packed) * 6 // 10])
    prefix = tmp_path / "prefix.log"
    prefix.write_bytes(_readable_prefix(cut.read_bytes()))
    expected = scan([str(prefix)])
    assert ids(expected)  # the readable part holds alerts
    result = scan([str(cut)])
    lines = prefix.read_bytes().count(b"\n")
    [error] = result.errors
    assert str(error).startswith(f"{cut}: input breaks off after line {lines} ("), str(error)
    assert result.inputs[0].read == expected.inputs[0].read  # no record lost
    assert ids(result) == ids(expected)


def _with_hits_edited(path: Path, edit: Any) -> bytes:
    """The file with `edit(line)` applied to every line that is a rule hit."""
    hit_lines = set(scan([str(path)]).alerts["zeek_proxy.line"])
    lines = lines_of(path)
    return b"".join(edit(line) if n in hit_lines else line for n, line in enumerate(lines, 1))


def _with_cell(index: int, value: bytes) -> Any:
    def edit(line: bytes) -> bytes:
        cells = line.split(b"\t")
        cells[index] = value
        return b"\t".join(cells)
    return edit


_bad_service_tsv = _with_cell(7, b"ht\xfftp\x00\xc3")


def _bad_service_json(line: bytes) -> bytes:  # raw bytes inside a JSON string, where only valid UTF-8 may be
    return line.replace(b'"proto"', b'"app_proto":"ht\xff\xfetp","service":"ht\xfftp","proto"', 1)


@pytest.mark.parametrize("fmt", ["zeek-tsv", "zeek-json", "suricata-eve"])
def test_non_utf8_bytes_are_replaced_and_records_still_alert(tmp_path: Path, fmt: str) -> None:
    original = ORIGINALS[fmt]
    edit = _bad_service_tsv if fmt == "zeek-tsv" else _bad_service_json
    bad = tmp_path / original.name
    bad.write_bytes(_with_hits_edited(original, edit))
    for prefilter in (True, False):
        result = scan([str(bad)], prefilter=prefilter)
        assert ids(result) == ids(scan([str(original)]))
        assert result.inputs[0].malformed == 0 and result.inputs[0].balanced
    out = run("scan", "-t", "notice-json", str(bad))
    assert out.exit_code == 0 and len(ndjson(out.stdout)) == len(ids(result))
    if fmt != "suricata-eve":
        protocols = set(result.alerts["network.protocol"])
        assert any("\ufffd" in p for p in protocols if isinstance(p, str)), protocols


@pytest.mark.parametrize("fmt", sorted(ORIGINALS))
def test_nul_bytes_are_malformed_lines_and_records_around_them_alert(tmp_path: Path, fmt: str) -> None:
    original = ORIGINALS[fmt]
    lines = lines_of(original)
    # a run of NULs as a crashed writer leaves it, between records and at the very end
    data = b"".join(lines[:12] + [b"\x00" * 300 + b"\n"] + lines[12:] + [b"\x00" * 4096])
    nul = tmp_path / original.name
    nul.write_bytes(data)
    expected = scan([str(original)])
    for prefilter in (True, False):
        result = scan([str(nul)], prefilter=prefilter)
        assert ids(result) == ids(expected)
        stats = result.inputs[0]
        assert stats.balanced and stats.read == expected.inputs[0].read + 2
        # the cut-off NUL tail is always malformed; the NUL line too when every line is parsed
        # (the pre-filter may count it as filtered: no rule port in it)
        assert stats.malformed == (2 if not prefilter else 1 + (stats.filtered == expected.inputs[0].filtered))
    out = run("scan", "--stats", str(nul))
    assert out.exit_code == 0 and "Traceback" not in out.stderr
    assert {a["event"]["id"] for a in ndjson(out.stdout)} == ids(expected)
    if fmt == "zeek-tsv":  # and a NUL inside a value changes nothing
        inside = tmp_path / "inside.log"
        inside.write_bytes(_with_hits_edited(original, _bad_service_tsv))
        assert ids(scan([str(inside)])) == ids(scan([str(original)]))


@pytest.mark.parametrize("fmt", sorted(ORIGINALS))
@pytest.mark.parametrize("packing", ["plain", "gzip"])
def test_crlf_file_gives_the_same_alerts(tmp_path: Path, fmt: str, packing: str) -> None:
    original = ORIGINALS[fmt]
    data = original.read_bytes().replace(b"\n", b"\r\n")
    crlf = tmp_path / (original.name + (".gz" if packing == "gzip" else ""))
    crlf.write_bytes(gzip.compress(data) if packing == "gzip" else data)
    expected = scan([str(original)])
    for prefilter in (True, False):
        result = scan([str(crlf)], prefilter=prefilter)
        assert ids(result) == ids(expected)
        assert result.inputs[0].malformed == 0 and result.inputs[0].read == expected.inputs[0].read
    out = run("scan", "--strict", str(crlf))
    assert out.exit_code == 0
    assert {a["event"]["id"] for a in ndjson(out.stdout)} == ids(expected)
    assert "\\r" not in out.stdout  # no \r is carried into any value


BOM_CASES = ["zeek-tsv", "zeek-json", "suricata-eve"]


@pytest.mark.parametrize("fmt", BOM_CASES)
def test_bom_at_start_gives_the_same_alerts(tmp_path: Path, fmt: str) -> None:
    original = ORIGINALS[fmt]
    bom = tmp_path / original.name
    bom.write_bytes(BOM + original.read_bytes())
    expected = scan([str(original)])
    assert ids(scan([str(bom)], prefilter=False)) == ids(expected)
    result = scan([str(bom)])
    assert ids(result) == ids(expected)
    assert result.inputs[0].malformed == 0 and result.inputs[0].read == expected.inputs[0].read
    out = run("scan", str(bom))
    assert out.exit_code == 0 and {a["event"]["id"] for a in ndjson(out.stdout)} == ids(expected)


@pytest.mark.parametrize("second", ["extension column", "other separator"])
def test_concatenated_logs_with_different_layouts(tmp_path: Path, second: str) -> None:
    first = io.StringIO()
    generate.write_zeek_tsv(generate.connections(300, seed=31, every_case_first=True), first)
    other = io.StringIO()
    generate.write_zeek_tsv(generate.connections(300, seed=32, every_case_first=True), other,
                            extension_first=second == "extension column")
    text = other.getvalue()
    if second == "other separator":  # Zeek's writer with a comma separator, escaping commas in values
        text = "\n".join(line.replace(",", "\\x2c").replace("\t", ",") if not line.startswith("#separator")
                         else "#separator \\x2c" for line in text.split("\n"))
    parts = [tmp_path / "a.log", tmp_path / "b.log"]
    parts[0].write_text(first.getvalue())
    parts[1].write_text(text)
    both = tmp_path / "conn.log"
    both.write_text(first.getvalue() + text)
    expected = ids(scan([str(parts[0])])) | ids(scan([str(parts[1])]))
    assert ids(scan([str(both)], prefilter=False)) == expected
    result = scan([str(both)])
    assert result.inputs[0].malformed == 0
    assert ids(result) == expected


@pytest.mark.parametrize("fmt", sorted(ORIGINALS))
def test_lone_cr_inside_a_record_reads_the_same_both_ways(tmp_path: Path, fmt: str) -> None:
    original = ORIGINALS[fmt]
    if fmt == "zeek-tsv":
        edit = _with_cell(7, b"ht\rtp")
    else:  # white space between JSON tokens may be \r: still one valid object
        edit = lambda line: line.replace(b',"proto"', b',\r"proto"').replace(b', "proto"', b',\r"proto"')  # noqa: E731
    path = tmp_path / original.name
    path.write_bytes(_with_hits_edited(original, edit))
    expected = scan([str(original)])
    fast = scan([str(path)])
    assert ids(fast) == ids(expected)  # the pre-filtered path reads the records
    full = scan([str(path)], prefilter=False)
    assert ids(full) == ids(expected) and full.inputs[0].read == expected.inputs[0].read
    assert full.inputs[0].malformed == 0
    assert ids(scan([str(path)], strict=True)) == ids(expected)


@pytest.mark.parametrize("fmt", sorted(ORIGINALS))
def test_overlong_line_is_malformed_and_the_next_record_alerts(tmp_path: Path, fmt: str) -> None:
    original = ORIGINALS[fmt]
    first_hit = int(scan([str(original)]).alerts["zeek_proxy.line"].min())
    lines = lines_of(original)
    long_line = (lines[first_hit - 1].rstrip(b"\n") + b"x" * 10_000)[:10_240] + b"\n"
    data = b"".join(lines[: first_hit - 1] + [long_line] + lines[first_hit - 1 :])
    path = tmp_path / original.name
    path.write_bytes(data)
    expected = ids(scan([str(original)]))
    for prefilter in (True, False):
        result = scan([str(path)], prefilter=prefilter, max_record=4096)
        assert ids(result) == expected  # the hit right after the long line still alerts
        assert result.inputs[0].malformed == 1 and result.inputs[0].balanced
        assert result.inputs[0].first_problem.startswith(f"line {first_hit}: record longer than")
    out = run("scan", "--max-record-size", "4096", "--stats", str(path))
    assert out.exit_code == 0 and {a["event"]["id"] for a in ndjson(out.stdout)} == expected
    assert f"1 malformed record(s) skipped, first: line {first_hit}: record longer than" in out.stderr
    strict = run("scan", "--strict", "--max-record-size", "4096", str(path))
    assert strict.exit_code == 3
    assert error_lines(strict.stderr) == [
        f"Error: {path}:{first_hit}: malformed record: record longer than the 4096-byte limit"]


def _bomb(path: Path, head: bytes, filler: bytes, tail: bytes, size: int = 200 << 20) -> None:
    """A gzip file: `head`, then `size` bytes of `filler` on one line, then `tail`."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    chunk = filler * (1 << 20)
    with open(path, "wb") as out:
        out.write(packer.compress(head))
        for _ in range(size >> 20):
            out.write(packer.compress(chunk))
        out.write(packer.compress(b"\n" + tail))
        out.write(packer.flush())


@pytest.mark.parametrize("fmt,filler", [("zeek-tsv", b"A"), ("suricata-eve", b"\x00")])
def test_decompression_bomb_scans_with_bounded_memory(tmp_path: Path, fmt: str, filler: bytes) -> None:
    lines = lines_of(ORIGINALS[fmt])
    hit = int(scan([str(ORIGINALS[fmt])]).alerts["zeek_proxy.line"].min())
    head = b"".join(lines[:8]) if fmt == "zeek-tsv" else lines[0]  # a real header, so it is read
    bomb = tmp_path / "conn.log.gz"
    _bomb(bomb, head, filler, lines[hit - 1])
    assert bomb.stat().st_size < 1 << 20
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "zeek_proxy", "scan", "--stats", str(bomb)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    assert peak_kb < 600 * 1024, f"peak RSS {peak_kb // 1024} MB"
    assert done.returncode in (0, 3) and "Traceback" not in done.stderr
    assert len(ndjson(done.stdout)) == 1  # the record after the bomb line still alerts
    assert "1 malformed record(s) skipped" in done.stderr


# -- 4. output safety --------------------------------------------------------------------

HOSTILE_UIDS = ["C\tx", "C\nx", "#close", "-", "(empty)", "C\\x09y", "C\\", "Cé☃", "C\x00\x1f\x7f", '"q"',
                "a,b", "#fields\tts", "=1+1", "+SUM(A1)", "-2+3", "@SUM(A1)", "C\r\n#close\t2026"]
FORMULA = "=cmd|' /C calc'!A0"


def _hostile_conn_json(path: Path) -> list[str]:
    records = []
    for i, uid in enumerate(HOSTILE_UIDS):
        service = FORMULA if i == 0 else HOSTILE_UIDS[(i + 3) % len(HOSTILE_UIDS)]
        records.append({
            "_path": "conn", "ts": 1795773600.0 + i, "uid": uid, "id.orig_h": "10.0.0.1", "id.orig_p": 40000 + i,
            "id.resp_h": "198.51.100.7", "id.resp_p": 8080, "proto": "tcp", "service": service,
            "conn_state": "SF\t#x", "history": "Sh\\x41\n-", "duration": 1.5,
        })
    path.write_text("".join(json.dumps(r, ensure_ascii=i % 2 == 0) + "\n" for i, r in enumerate(records)),
                    encoding="utf-8")
    return HOSTILE_UIDS


def test_hostile_values_in_notice_tsv_read_back_by_zat(tmp_path: Path) -> None:
    from zat.log_to_dataframe import LogToDataFrame
    from zat.zeek_log_reader import ZeekLogReader

    source = tmp_path / "conn.json.log"
    uids = _hostile_conn_json(source)
    assert len(scan([str(source)]).alerts) == len(uids)  # a real rule hit each
    out = tmp_path / "notice.log"
    result = run("scan", "-t", "notice", "-o", str(out), str(source))
    assert result.exit_code == 0 and result.stdout == ""
    text = out.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert sum(line.startswith("#close") for line in lines) == 1 and lines[-1].startswith("#close\t")
    assert text.count("#close") == 1  # a '#' in a value is escaped
    records = [line for line in lines if not line.startswith("#")]
    assert len(records) == len(uids) and all(line.count("\t") == 25 for line in records)
    rows = list(ZeekLogReader(str(out)).readrows())
    assert len(rows) == len(uids)
    assert sorted(unescape(row["uid"]) for row in rows) == sorted(uids)
    frame = LogToDataFrame().create_dataframe(str(out), ts_index=False)
    assert len(frame) == len(uids)
    assert set(frame["note"]) == {"ProxyPort::Internet_Activity"}


@pytest.mark.parametrize("to", ["notice-json", "ecs"])
def test_hostile_values_json_outputs_are_valid_json(tmp_path: Path, to: str) -> None:
    source = tmp_path / "conn.json.log"
    uids = _hostile_conn_json(source)
    result = run("scan", "-t", to, str(source))
    assert result.exit_code == 0
    docs = ndjson(result.stdout)  # each line on its own is JSON
    assert len(docs) == len(uids) == len(result.stdout.splitlines())
    found = {d["uid"] for d in docs} if to == "notice-json" else {d["zeek"]["session_id"] for d in docs}
    assert found == set(uids)
    if to == "ecs":
        assert {d["network"]["protocol"] for d in docs if d["zeek"]["session_id"] == uids[0]} == {FORMULA}


def test_hostile_values_csv_cells_are_neutralised(tmp_path: Path) -> None:
    from zeek_proxy.emit.csv import COLUMNS

    source = tmp_path / "conn.json.log"
    uids = _hostile_conn_json(source)
    result = run("scan", "-t", "csv", str(source))
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(uids) + 1
    for row in rows[1:]:
        assert len(row) == len(COLUMNS)
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or cell == "-", cell
    by_uid = {row[COLUMNS.index("zeek.session_id")]: row for row in rows[1:]}
    protocol = [row[COLUMNS.index("network.protocol")] for row in rows[1:]]
    assert "'" + FORMULA in protocol and FORMULA not in protocol
    assert {"'+SUM(A1)", "'-2+3", "'@SUM(A1)", "-"} <= set(by_uid)


def test_output_file_does_not_exist_until_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "alerts.ndjson"
    seen: list[bool] = []
    emitter = EMITTERS["ecs"]
    original = emitter.write

    def watching(self: Any, alerts: Any) -> None:
        seen.append(target.exists())
        original(self, alerts)
        self.out.flush()
        seen.append(target.exists())

    monkeypatch.setattr(emitter, "write", watching)
    result = run("scan", "-o", str(target), str(CONN_TSV))
    assert result.exit_code == 0 and seen == [False, False]
    assert len(ndjson(target.read_text())) == 5
    assert sorted(os.listdir(tmp_path)) == ["alerts.ndjson"]  # no temporary file left


def test_failing_run_leaves_previous_output_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "alerts.ndjson"
    target.write_text("previous run\n")
    bad = tmp_path / "bad.log"
    head, _, tail = CONN_TSV.read_bytes().rpartition(b"\t8080\ttcp\t")
    bad.write_bytes(head + b"\t8080\t" + tail)  # the last proxy-port record a column short
    strict = run("scan", "--strict", "-o", str(target), str(bad))  # stops at a malformed record
    [line] = error_lines(strict.stderr)
    bad_line = int(line.split(":")[2])
    before = tmp_path / "before.log"
    before.write_bytes(b"".join(bad.read_bytes().splitlines(keepends=True)[: bad_line - 1]))
    expected = [a["event"]["id"] for a in map(json.loads, run("scan", str(before)).stdout.splitlines())]
    assert strict.exit_code == 3 and expected  # the alerts of the records before it are written
    assert [json.loads(a)["event"]["id"] for a in target.read_text().splitlines()] == expected
    before.unlink()
    target.write_text("previous run\n")

    emitter = EMITTERS["ecs"]
    original = emitter.write

    def crashing(self: Any, alerts: Any) -> None:  # the disk fills up half way
        original(self, alerts.iloc[:2])
        self.out.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(emitter, "write", crashing)
    crashed = run("scan", "-o", str(target), str(CONN_TSV))
    assert crashed.exit_code != 0
    assert target.read_text() == "previous run\n"
    assert sorted(os.listdir(tmp_path)) == ["alerts.ndjson", "bad.log"]  # no temporary file left


@pytest.mark.parametrize("spelling", ["same", "dot", "symlink"])
def test_output_naming_an_input_is_refused(tmp_path: Path, spelling: str) -> None:
    log = tmp_path / "conn.log"
    log.write_bytes(CONN_TSV.read_bytes())
    before = (log.read_bytes(), log.stat().st_mtime_ns)
    output = {"same": str(log), "dot": str(tmp_path / "." / "conn.log"), "symlink": str(tmp_path / "link.log")}[spelling]
    if spelling == "symlink":
        os.symlink(log, output)
    result = run("scan", "-o", output, str(CONN_JSON), str(log))
    assert result.exit_code == 2
    [line] = error_lines(result.stderr)
    assert output in line and "one of the inputs" in line
    assert (log.read_bytes(), log.stat().st_mtime_ns) == before


# -- known bugs: numbers that overflow the frame's 64-bit columns --------------------------------

BIG = [
    ("zeek-json", {"ts": 10**17}), ("zeek-json", {"ts": 1e300}), ("zeek-json", {"orig_pkts": 2**70}),
    ("zeek-json", {"resp_ip_bytes": 2**63}), ("zeek-json", {"duration": 1e300}),
    ("zeek-tsv", {"ts": "1795773600044666"}),  # a ts whose '.' was lost: 1.8e21 microseconds
    ("suricata-eve", {"flow_id": 2**64 - 1}),
]


def _record_with(fmt: str, values: dict[str, Any]) -> bytes:
    if fmt == "zeek-tsv":
        lines = lines_of(CONN_TSV)
        fields = lines[6].decode().rstrip("\n").split("\t")[1:]
        cells = lines[11].decode().rstrip("\n").split("\t")
        for key, value in values.items():
            cells[fields.index(key)] = str(value)
        return b"".join(lines[:8]) + ("\t".join(cells) + "\n").encode() + lines[12]
    base = json.loads(JSON_LINES[3] if fmt == "zeek-json" else EVE_LINES[7])
    good = json.loads(JSON_LINES[4] if fmt == "zeek-json" else EVE_LINES[10])
    return (json.dumps({**base, **values}) + "\n" + json.dumps(good) + "\n").encode()


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("fmt,values", BIG)
def test_huge_numbers_are_malformed_not_a_crash(tmp_path: Path, fmt: str, values: dict[str, Any]) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(_record_with(fmt, values))
    for prefilter in (True, False):
        result = scan([str(path)], prefilter=prefilter)
        assert result.inputs[0].malformed == 1 and len(result.alerts) == 1
    out = run("scan", str(path))
    assert out.exit_code == 0 and len(ndjson(out.stdout)) == 1


def test_a_64_mb_line_costs_little_memory_and_the_next_record_alerts(tmp_path: Path) -> None:
    """The issue's own case: a 64 MB line under the default 1 MiB cap."""
    lines = CONN_JSON.read_bytes().splitlines(keepends=True)
    path = tmp_path / "conn.json.log"
    with open(path, "wb") as out:
        out.write(lines[0])
        out.write(b'{"ts":1.0,"uid":"Cbig","note":"' + b"x" * (64 << 20) + b'"}\n')
        out.writelines(lines[1:])
    command = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "zeek_proxy", "scan", "--stats", str(path)]
    if not os.path.exists("/usr/bin/time"):
        pytest.skip("GNU time is not installed")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    assert peak_kb < 600 * 1024
    assert "line 2: record longer than the 1048576-byte limit" in done.stderr
    expected = scan([str(CONN_JSON)]).alerts["zeek.session_id"].tolist()
    assert [json.loads(line)["zeek"]["session_id"] for line in done.stdout.splitlines()] == expected
