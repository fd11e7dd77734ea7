"""The pre-filter's destination patterns: they drop only what the rule always rejects."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, strategies as st

from zeek_proxy.reading import linescan
from zeek_proxy.reading.blocks import Block, lines_of
from zeek_proxy.formats.eve import _FLOW_ID as EVE_FLOW_ID
from zeek_proxy.formats.jsonlines import _destination_kept
from zeek_proxy.formats.zeek_json import _UID as ZEEK_JSON_UID
from zeek_proxy.reading.prefilter import KeyCell, _before_first, _prefix, keyed_lines, not_starting_with
from zeek_proxy.formats.values import address
from zeek_proxy.formats.zeek_tsv import ZeekTSVFormat, unescape
from zeek_proxy.config import DEFAULT_SETTINGS
from zeek_proxy.core.networks import END, NetworkSet
from zeek_proxy.pipeline import rule_prefilter

NETWORKS = st.lists(st.ip_addresses(v=4).flatmap(
    lambda ip: st.integers(1, 32).map(lambda bits: f"{ip}/{bits}")), min_size=1, max_size=3)
VALUES = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str),
                   st.text(alphabet="0123456789.:\" ", max_size=16))


@given(networks=NETWORKS, values=st.lists(VALUES, max_size=20))
def test_a_value_outside_every_prefix_is_outside_the_networks(networks: list[str], values: list[str]) -> None:
    nets = NetworkSet.parse(networks)
    prefixes = nets.ipv4_prefixes
    assert prefixes is not None
    kept = re.compile(not_starting_with(prefixes, end='"'))
    for value in values:
        text = value + '"'  # as the value stands in a JSON line, closed by its quote
        begins = any(text.startswith(p.replace(END, '"')) for p in prefixes)
        assert (kept.match(text) is None) == begins, (value, prefixes)
        if nets.find(value) is not None and ":" not in value:
            assert begins  # never drops a destination inside the networks' complement


def _accepted(value: str, nets: NetworkSet) -> bool:
    """What the full reader and the rule make of a destination: a valid address (as the
    reader canonicalises it) outside the networks."""
    try:
        return nets.find(address(value, "dest_ip")) is None
    except ValueError:  # the record is malformed: never an alert
        return False


@example(value="10.9")
@example(value="10.0.0.1 ")
@example(value=" 10.0.0.1")
@example(value="::ffff:10.0.0.1")
@example(value="8.8.8.8")
@example(value="100.1.1.1")
@given(value=VALUES)
def test_destination_kept_on_eve_and_zeek_keys(value: str) -> None:
    nets = NetworkSet.parse(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128"])
    line = '{"src_ip": "10.1.1.1", "dest_ip": ' + f'"{value}"' + ', "dest_port": 8080}'
    eve = re.compile(_destination_kept("dest_ip", nets.ipv4_prefixes))
    if _accepted(value, nets):
        assert eve.search(line)  # a destination the rule may accept is always kept
    nested = '{"id": {"orig_h": "10.1.1.1", "resp_h": ' + f'"{value}"' + '}}'
    assert re.search(_destination_kept("id.resp_h", nets.ipv4_prefixes), nested)  # the parser judges


def test_not_starting_with_edge_sets() -> None:
    assert re.match(not_starting_with(("10.",), end='"'), '1"') and not re.match(
        not_starting_with(("10.",), end='"'), '10.1"')
    assert NetworkSet.parse(["0.0.0.0/0"]).ipv4_prefixes is None  # every IPv4 text: not spelled
    assert NetworkSet.parse(["10.1.2.3/32"]).ipv4_prefixes == ("10.1.2.3" + END,)


def _zeek_escaped(value: str) -> str:
    """A cell as Zeek writes it: separators, backslashes and unprintable bytes as \\xNN."""
    out = []
    for byte in value.encode("utf-8", "surrogatepass"):
        printable = 0x20 <= byte < 0x7F and byte not in (0x09, 0x5C)
        out.append(chr(byte) if printable or byte >= 0x80 else f"\\x{byte:02x}")
    return "".join(out).encode("latin-1").decode("utf-8", "replace")


PADDED = st.builds(lambda pad, value, tail: pad + value + tail,
                   st.sampled_from(["", " ", " " * 60, "\u2003", "\x1c", "\\x20"]),
                   VALUES | st.sampled_from(["8.8.8.8", "fe80::1%" + "a" * 60, "10.0.0.1"]),
                   st.sampled_from(["", " ", " " * 60, "\u00a0"]))


@pytest.mark.parametrize("block_scan", [True, False], ids=["hyperscan", "re2"])
@example(value=" " * 60 + "8.8.8.8")
@example(value="\\x38.8.8.8")
@example(value="8.8.8.8" + "\u00a0" * 30)
@given(value=PADDED)
def test_tsv_first_pass_keeps_every_destination_the_rule_may_accept(value: str, block_scan: bool) -> None:
    """Zeek TSV's first pass (bounded cells for Hyperscan, anchored columns for RE2)
    selects every line whose destination the full reader would accept."""
    if block_scan and not linescan.BLOCK_SCAN:
        pytest.skip("hyperscan is not installed")
    fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "conn_state"]
    adapter = ZeekTSVFormat("conn.log")
    adapter.parse(1, ("#fields\t" + "\t".join(fields) + "\n").encode(), True)
    cell = _zeek_escaped(value)
    other = "1.0\tC1\t10.0.0.1\t1\t10.9.9.9\t8080\ttcp\tSF\n"
    data = (other + f"1.0\tC2\t10.0.0.2\t2\t{cell}\t8080\ttcp\tSF\n" + other).encode()
    lines = lines_of(Block(bytearray(data), len(data), 0))
    prefilter = rule_prefilter(DEFAULT_SETTINGS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(linescan, "BLOCK_SCAN", block_scan)
        chosen = linescan.matching(lines, adapter._first_pass(lines, prefilter))
    if _accepted(unescape(cell), DEFAULT_SETTINGS.not_internet):
        assert 1 in chosen
    assert 0 not in chosen and 2 not in chosen  # internal destinations go at once


# -- keyed look-ups: the 8-byte prefix shortcut finds exactly what extraction finds -----

_TSV_UID = KeyCell(r"^(?:[^\t\n]*\t){1}(?P<key>[^\t\r\n]*)", "\t", b"\t\r\n")
_KEYS = st.text(alphabet="CDab01\t\r\"x", min_size=0, max_size=12)


def _tsv_line(uid: str, ts: str, tail: str) -> bytes:
    return f"{ts}\t{uid}\t{tail}\n".encode()


def _json_line(uid: str, spaced: bool, earlier: bool) -> bytes:
    before = '{"note":"uid","x":"\\"uid\\":\\"C1\\""' if earlier else '{"ts":1.5'
    colon = '" : "' if spaced else '":"'
    return f'{before},"uid{colon}{uid}","id.orig_h":"10.0.0.1"}}\n'.encode()


def _slowly(lines: list[bytes], cell: KeyCell, keys: frozenset[str] | frozenset[int]) -> list[int]:
    pattern = re.compile(cell.pattern.encode())
    wanted = {str(key) for key in keys}
    found = []
    for i, line in enumerate(lines):
        m = pattern.search(line)
        if m is not None and m.group("key").decode() in wanted:
            found.append(i)
    return found


def _assert_seen(lines: list[bytes], cell: KeyCell, seen: np.ndarray | None) -> None:
    """The key prefixes told of a block (`LineKeys`), when told, are those of the keys
    extraction finds, one per line that has a key."""
    if seen is None:
        return
    pattern = re.compile(cell.pattern.encode())
    keys = [m.group("key") for m in map(pattern.search, lines) if m is not None and m.group("key")]
    assert seen.tolist() == sorted(int(_prefix(key)) for key in keys)


def _block_lines(lines: list[bytes]) -> pa.Array:
    data = b"".join(lines)
    return lines_of(Block(bytearray(data), len(data), 0))


_TIMES = st.sampled_from(["1700000000.123456", "1700000000.1234567", "170000000.123456", "1.5", "", "x",
                          "1700000000\t123456", "1700000000.12345\t"])


@given(uids=st.lists(st.tuples(_KEYS, _TIMES), min_size=1, max_size=30), keys=st.sets(_KEYS, max_size=6),
       cut=st.booleans())
@example(uids=[("CAbcdefgh1", "1.5"), ("CAbcdefgh2", "1.5"), ("C1", "1.5")], keys={"CAbcdefgh2", "C1"}, cut=True)
@example(uids=[("x", "1.5"), ("1", "1.5")], keys={"1"}, cut=False)
@example(uids=[("Ca", "1700000000.123456"), ("Cb", "1700000000\t123456"), ("Cc", "170000000.123456")],
         keys={"Cb", "Cc", "123456"}, cut=False)
def test_tsv_lookup_finds_what_extraction_finds(uids: list[tuple[str, str]], keys: set[str], cut: bool) -> None:
    """Whatever each line's time (where the first separator is), and a last line cut
    short."""
    lines = [_tsv_line(uid, ts, "10.0.0.1\t80") for uid, ts in uids]
    if cut:  # a last line without its newline, its key at the very end of the block
        lines[-1] = lines[-1].split(b"\t")[0] + b"\t" + uids[-1][0].encode()
    wanted = frozenset(k for k in keys if k) | frozenset(uid for uid, _ in uids[:1])
    found, seen = keyed_lines(_block_lines(lines), _TSV_UID, wanted, seen=True)
    assert found.tolist() == _slowly(lines, _TSV_UID, wanted)
    _assert_seen(lines, _TSV_UID, seen)


@given(uids=st.lists(st.tuples(_KEYS.filter(lambda k: '"' not in k), st.booleans(), st.booleans()),
                     min_size=1, max_size=30), keys=st.sets(_KEYS, max_size=6))
def test_json_lookup_finds_what_extraction_finds(uids: list[tuple[str, bool, bool]], keys: set[str]) -> None:
    lines = [_json_line(uid, spaced, earlier) for uid, spaced, earlier in uids]
    wanted = frozenset(keys) | {uids[0][0], "C1"}
    found, seen = keyed_lines(_block_lines(lines), ZEEK_JSON_UID, wanted, seen=True)
    assert found.tolist() == _slowly(lines, ZEEK_JSON_UID, wanted)
    _assert_seen(lines, ZEEK_JSON_UID, seen)


_FLOW_IDS = st.integers(-10**3, 10**17)
_AFTER_FLOW_ID = st.sampled_from([",", "}", " ,", ".5,", "e3}", "\t,"])


@given(flows=st.lists(st.tuples(_FLOW_IDS, st.sampled_from(['":', '" : ', '":\t']), _AFTER_FLOW_ID, st.booleans()),
                      min_size=1, max_size=30), keys=st.sets(_FLOW_IDS, max_size=6))
@example(flows=[(1234567890123456, '":', ",", False), (12345678, '":', ".5,", False), (5, '":', "}", True)],
         keys={1234567890123456, 12345678, 5})
def test_eve_lookup_finds_what_extraction_finds(flows: list[tuple[int, str, str, bool]], keys: set[int]) -> None:
    """eve flow ids: a number with whatever JSON lets follow it, any spacing, and a
    "flow_id" written earlier in the line as a value."""
    lines = [(('{"note":"flow_id",' if earlier else '{"timestamp":"2026-01-01T00:00:00Z",')
              + f'"flow_id{colon}{flow}{after}"event_type":"flow"}}\n').encode()
             for flow, colon, after, earlier in flows]
    wanted = frozenset(keys) | {flows[0][0]}
    found, seen = keyed_lines(_block_lines(lines), EVE_FLOW_ID, wanted, seen=True)
    assert found.tolist() == _slowly(lines, EVE_FLOW_ID, wanted)
    _assert_seen(lines, EVE_FLOW_ID, seen)


@given(words=st.lists(st.binary(min_size=8, max_size=8), min_size=1, max_size=20),
       wanted=st.binary(min_size=1, max_size=3))
@example(words=[b"\x00\x01\x80\xff\t\t\x00\x01"], wanted=b"\x00")
@example(words=[b"\x01\x00\x00\x00\x00\x00\x00\x00"], wanted=b"\x01\x80")
def test_bytes_before_the_first_wanted_byte(words: list[bytes], wanted: bytes) -> None:
    """The word-at-a-time search keeps exactly the bytes before the first wanted one
    (borrows from a zero byte must not flag a byte below it)."""
    kept = _before_first(np.frombuffer(b"".join(words), "<u8"), wanted)
    for word, mask in zip(words, kept.tolist()):
        first = next((i for i, byte in enumerate(word) if byte in wanted), 8)
        assert mask == (1 << (8 * first)) - 1
