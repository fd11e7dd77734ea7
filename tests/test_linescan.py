"""The pre-filter's first pass: Hyperscan over a block finds every line RE2 finds."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, strategies as st

from zeek_proxy.reading import linescan
from zeek_proxy.reading.blocks import Block, lines_of

PORTS = "(?:8080|3128|1080)"
#: The shapes of pattern the adapters build (Zeek TSV anchored or not, a JSON key).
PATTERNS = {
    "tsv-anchored": rf"^(?:[^\t\n]*\t){{1}}{PORTS}(?:\t|\r?\n?$)",
    "tsv-cell": rf"(?:^|\t){PORTS}(?:\t|\r?\n?$)",
    "json-key": rf'"dest_port"\s*:\s*"?{PORTS}\b',
}
#: Cells that make near misses likely: ports in and out of place, keys, separators.
CELLS = st.sampled_from(["8080", "3128", "1080"]) | st.sampled_from(["80800", "18080", "", " ", ":", '"', "\r", "\n",
                         '"dest_port"', '"dest_port": ', '"dest_port":"', "a", "0", "\\", "é"])
LINES = st.lists(st.lists(CELLS, max_size=3).map("".join), max_size=4).map(
    lambda cells: "\t".join(cells))
TEXT = st.lists(LINES, max_size=5).map("\n".join)


def _lines(text: str, offset: int) -> pa.Array:
    data = text.encode()
    lines = lines_of(Block(bytearray(data), len(data), 0))
    return lines.slice(offset) if offset < len(lines) else lines


@pytest.mark.skipif(not linescan.BLOCK_SCAN, reason="hyperscan is not installed")
@given(text=TEXT, name=st.sampled_from(sorted(PATTERNS)),
       offset=st.integers(0, 2))
def test_block_scan_finds_every_line_re2_finds(text: str, name: str, offset: int) -> None:
    lines = _lines(text, offset)
    found = set(linescan.matching(lines, PATTERNS[name]).tolist())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(linescan, "BLOCK_SCAN", False)
        expected = set(linescan.matching(lines, PATTERNS[name]).tolist())
    assert expected <= found
    if name.startswith("tsv"):  # no part of these patterns crosses a line end
        assert found == expected
    assert all(0 <= i < len(lines) for i in found)


def test_matching_on_no_lines_and_without_matches() -> None:
    assert linescan.matching(_lines("", 0), PATTERNS["json-key"]).tolist() == []
    assert linescan.matching(_lines("a\tb\t80\n", 0), PATTERNS["tsv-cell"]).tolist() == []
    assert linescan.matching(_lines("a\tb\t8080\nx\n8080\r\n", 0), PATTERNS["tsv-cell"]).tolist() == [0, 2]
