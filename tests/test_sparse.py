"""Stage one from first-pass matches alone chooses what the full way chooses.

Logs are the bundled fixtures with hostile lines mixed in (headers and blank lines
mid-file, white space and non-ASCII bytes in cells, CRLF, a wrong column count, an
overlong record); each block that goes the sparse way is judged the full way too.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest

from zeek_proxy.reading import blocks, linescan, workers
from zeek_proxy.reading.reader import Reader
from zeek_proxy.formats.sniff import choose
from zeek_proxy.config import DEFAULT_SETTINGS
from zeek_proxy.pipeline import rule_prefilter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _hostile(line: bytes, rng: random.Random) -> bytes:
    """`line` changed the way real logs sometimes are."""
    body = line.rstrip(b"\n")
    return rng.choice([
        b"\n",  # blank
        b"  \t\n",  # white space only
        body + b"\r\n",  # CRLF
        body.replace(b"\t", b"\t ", 1) + b"\n",  # a space in a cell
        body.replace(b".", b"\xc3\xa9", 1) + b"\n",  # non-ASCII
        body.rsplit(b"\t", 1)[0] + b"\n",  # a column short
        b" " + body + b"\n",  # leading white space
    ])


def _log(name: str, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = (FIXTURES / name).read_bytes().splitlines(keepends=True)
    header = [line for line in lines[:10] if line.startswith(b"#")]
    body = [line for line in lines if not line.startswith(b"#")][:400]
    out = list(header)
    for line in body:
        roll = rng.random()
        if roll < 0.03:
            out.append(_hostile(line, rng))
        elif roll < 0.04 and header:
            out.extend(header)  # a concatenated log
        out.append(line)
    return b"".join(out)


@pytest.mark.skipif(not linescan.BLOCK_SCAN, reason="hyperscan is not installed")
@pytest.mark.parametrize("seed", range(4))
def test_sparse_blocks_choose_what_the_full_way_chooses(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, sparse_blocks = _checked_scan(_log("conn.log", seed), monkeypatch)
    assert sparse_blocks > 0 and adapter.stats.filtered > 0


@pytest.mark.skipif(not linescan.BLOCK_SCAN, reason="hyperscan is not installed")
def test_a_block_with_an_overlong_record_goes_the_full_way(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (FIXTURES / "conn.log").read_bytes().splitlines(keepends=True)
    header, body = lines[:8], lines[8:-1]
    long_line = body[0].rstrip(b"\n") + b"x" * (300 << 10) + b"\n"
    before = body * ((3 << 20) // len(b"".join(body)) + 1)  # the long line is not in the first block
    text = b"".join(header + before + [long_line] + body)
    adapter, sparse_blocks = _checked_scan(text, monkeypatch, block_size=1 << 20, max_record=128 << 10)
    assert adapter.stats.malformed == 1 and sparse_blocks >= 2


@pytest.mark.skipif(not linescan.BLOCK_SCAN, reason="hyperscan is not installed")
def test_a_block_with_a_long_cell_before_a_port_goes_the_full_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """White space around an address (the reader strips it) makes its cell longer than
    the bounded pattern reaches: that block goes the full way and its hit is still
    chosen, while the other blocks stay on the sparse way."""
    lines = (FIXTURES / "conn.log").read_bytes().splitlines(keepends=True)
    header = [line for line in lines[:10] if line.startswith(b"#")]
    body = [line for line in lines if not line.startswith(b"#")]
    padded, hits = [], 0
    for line in body:
        cells = line.split(b"\t")
        if cells[5] in (b"8080", b"3128", b"1080") and not cells[4].startswith(b"10."):
            hits += 1
            if hits % 3 == 0:
                cells[4] += b" " * 60
        padded.append(b"\t".join(cells))
    # After a plain copy, so that the padded lines are past the first block (which
    # always goes the full way).
    plain, _ = _checked_scan(b"".join(header + body + body), monkeypatch)
    adapter, sparse_blocks = _checked_scan(b"".join(header + body + padded), monkeypatch)
    assert adapter.stats.filtered == plain.stats.filtered and sparse_blocks > 0


def _checked_scan(text: bytes, monkeypatch: pytest.MonkeyPatch, block_size: int = 4096,
                  max_record: int = blocks.MAX_RECORD) -> tuple[Reader, int]:
    """Scan `text` in small blocks, checking each sparse block against the full way;
    the reader and the number of sparse blocks."""
    sparse = workers.sparse_chosen
    used = []

    def checked(format, block, prefilter, at_file_start, max_record):  # type: ignore[no-untyped-def]
        quick = sparse(format, block, prefilter, at_file_start, max_record)
        if quick is not None:
            full = workers.every_line_chosen(workers.StageJob(format, at_file_start, max_record), block, prefilter)
            assert (quick.lines, quick.filtered, quick.skipped) == (full.lines, full.filtered, full.skipped)
            for field in ("parse", "starts", "ends"):
                assert np.array_equal(getattr(quick, field), getattr(full, field)), field
            used.append(block.offset)
        return quick

    monkeypatch.setattr(workers, "sparse_chosen", checked)
    monkeypatch.setattr(blocks, "BLOCK_SIZE", block_size)
    adapter = Reader(choose(text[:4096], "auto")("test.log"), max_record=max_record)
    list(adapter.frames(io.BytesIO(text), rule_prefilter(DEFAULT_SETTINGS)))
    assert adapter.stats.balanced
    return adapter, len(used)
