"""Stage one without finding every line end, for blocks the first pass leaves few lines of.

Finding every newline of a block (to number its lines) costs about as much as the
Hyperscan pass itself. A format whose first pass leaves few lines (Zeek TSV: a few
hundred of a 12 MB block) names that pattern, and Hyperscan runs it over the raw block
together with a pattern for lines that need the full way (a header, a blank line, a
line starting with white space) and the format's own such signals. If none occurs,
only the lines the pattern matched are cut out (their ends found around each match),
judged by the format's `select` like any lines, and the lines chosen are numbered by
counting newlines up to each of them. Otherwise, and without Hyperscan, the block goes
the full way (`workers.every_line_chosen`); both ways choose the same lines, which the
tests check. JSON's first pass leaves thousands of lines a block: cutting them out
costs more than finding every line end, so JSON always goes the full way.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from zeek_proxy.formats.base import Format
from zeek_proxy.reading import linescan
from zeek_proxy.reading.blocks import Block
from zeek_proxy.reading.prefilter import Chosen, Prefilter

#: A line starting so may be a header or blank: the block goes the full way.
ODD_LINE_START = r"^[#\xef \t\r\n\x0b\x0c\x1c-\x1f]"
#: Newlines are counted this many bytes at a time at most; a stretch this long (or half
#: the record limit, if less) without one may hold an overlong record: the full way.
_COUNT_STEP = 1 << 20
_MIN_STEP = 64 << 10


def sparse_chosen(format: Format, block: Block, prefilter: Prefilter, at_file_start: bool,
                  max_record: int) -> Chosen | None:
    """Stage one for `block` from its first-pass matches alone, or None when the block
    has to go the full way."""
    first_pass = format.sparse_pass(prefilter)
    step = min(_COUNT_STEP, max_record // 2)
    if first_pass is None or step < _MIN_STEP or not block.terminated \
            or (block.offset == 0 and at_file_start):
        return None
    pattern, signals = first_pass
    found = linescan.ends_and_signals(block.data, pattern, (ODD_LINE_START, *signals))
    if found is None or found[1]:
        return None
    starts, ends = _spans(block, found[0])
    lines = pa.array([bytes(block.data[s:e]) for s, e in zip(starts, ends)], type=pa.large_binary())
    selection = format.select(lines, [], prefilter)
    if selection.skipped:
        return None
    parse = np.asarray(selection.parse, dtype=np.int64)
    starts, ends = np.asarray(starts, dtype=np.int64)[parse], np.asarray(ends, dtype=np.int64)[parse]
    counted = _numbered(block, starts, step)
    if counted is None:
        return None
    numbers, total = counted
    return Chosen(total, numbers, starts, ends, total - len(parse), 0)


def _spans(block: Block, match_ends: list[int]) -> tuple[list[int], list[int]]:
    """Where the lines holding the matches start and end in the block (each line once)."""
    # A mapped block is searched in its map (a memoryview has no find), others in place.
    haystack, base = (block.source, block.start) if block.source is not None else (block.buffer, 0)
    starts: list[int] = []
    ends: list[int] = []
    line_end = 0
    for end in sorted(match_ends):
        inside = end - 1  # the match's last byte lies in the line (it may be its newline)
        if inside < line_end:
            continue
        previous = haystack.rfind(b"\n", base, base + inside)
        starts.append(0 if previous < 0 else previous + 1 - base)
        newline = haystack.find(b"\n", base + inside, base + block.length)
        line_end = block.length if newline < 0 else newline + 1 - base
        ends.append(line_end)
    return starts, ends


def _numbered(block: Block, starts: np.ndarray, step: int) -> tuple[np.ndarray, int] | None:
    """The number in the block (from 0) of the lines starting at `starts`, and how many
    lines the block has; None when some `step`-aligned stretch holds no newline (a
    record may be longer than the limit)."""
    data = np.frombuffer(block.buffer, dtype=np.uint8, count=block.length)
    grid = np.arange(0, block.length, step, dtype=np.int64)
    cuts = np.union1d(grid, starts)
    bounds = np.append(cuts, block.length).tolist()
    counts = np.array([np.count_nonzero(data[a:b] == 0x0A) for a, b in zip(bounds[:-1], bounds[1:])],
                      dtype=np.int64)
    per_stretch = np.bincount(np.searchsorted(grid, cuts, side="right") - 1, weights=counts, minlength=len(grid))
    if (per_stretch == 0).any():
        return None
    before = np.concatenate(([0], np.cumsum(counts)))
    return before[np.searchsorted(cuts, starts)], int(before[-1])
