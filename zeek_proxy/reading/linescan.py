"""Which lines of a block contain a pattern: the pre-filter's first and widest pass.

Hyperscan, when installed, scans a block's bytes in one pass several times faster than
RE2 goes line by line; its matches are mapped back to lines through the line offsets.
Without it (or for a pattern it refuses), RE2 runs over each line as Arrow's kernel.
Patterns are written in the syntax both share. Scanning the whole block can only find
more lines, never fewer: a match inside a line is found either way, and one that runs
on across a line end (`\\s*` over a newline) only adds a line that the next steps judge.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zeek_proxy.reading.blocks import line_offsets

try:
    import hyperscan
except ImportError:  # an optional speed-up; RE2 gives the same lines
    hyperscan = None

#: Whether patterns run over whole blocks (Hyperscan) rather than line by line (RE2);
#: set it to False to compare the two.
BLOCK_SCAN = hyperscan is not None
_scratch = threading.local()  # Hyperscan needs a scratch space per thread and pattern


def matching(lines: pa.Array, pattern: str) -> np.ndarray:
    """Indices of lines that contain a match of `pattern` (ascending, no repeats)."""
    ends = _match_ends(lines, pattern, first_only=False)
    if ends is not None:
        return _lines_ending(lines, ends)
    return np.flatnonzero(pc.match_substring_regex(lines, pattern).to_numpy(zero_copy_only=False))


def _lines_ending(lines: pa.Array, ends: list[int]) -> np.ndarray:
    """The lines that matches ending at `ends` (from the first line's start) lie in."""
    offsets = line_offsets(lines)
    last_bytes = np.asarray(ends, dtype=np.int64) + (offsets[0] - 1)
    return _distinct(np.searchsorted(offsets, last_bytes, side="right") - 1)


def found(lines: pa.Array, pattern: str) -> bool:
    """Whether some line contains a match of `pattern` (Hyperscan stops at the first)."""
    ends = _match_ends(lines, pattern, first_only=True)
    if ends is not None:
        return bool(ends)
    return bool(pc.any(pc.match_substring_regex(lines, pattern)).as_py())


def _match_ends(lines: pa.Array, pattern: str, first_only: bool) -> list[int] | None:
    """Where Hyperscan's matches of `pattern` end in the lines' bytes (from the first
    line's start), or None when RE2 has to decide instead."""
    if not len(lines):
        return None
    offsets = line_offsets(lines)
    found = _scan(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]], (pattern,), first_only)
    return None if found is None else found[0]


def ends_and_signals(data: memoryview, pattern: str, signals: tuple[str, ...]) -> tuple[list[int], bool] | None:
    """Where Hyperscan's matches of `pattern` end in `data`, and whether any of the
    `signals` occurs there, from one pass; None without Hyperscan (or when it refuses
    the patterns)."""
    return _scan(data, (pattern, *signals))


def _scan(data: memoryview, patterns: tuple[str, ...], first_only: bool = False) -> tuple[list[int], bool] | None:
    """One Hyperscan pass: where the first pattern's matches end, and whether any other
    pattern matched; None when RE2 has to decide instead."""
    database = _compiled(patterns, first_only) if BLOCK_SCAN else None
    if database is None:
        return None
    ends: list[int] = []
    others: list[int] = []

    def on_match(ident: int, _from: int, end: int, _flags: int, _ctx: Any) -> None:
        (ends if ident == 0 else others).append(end)

    try:
        database.scan(data, match_event_handler=on_match, scratch=_scratch_for((patterns, first_only), database))
    except hyperscan.error:  # not expected; RE2 finds the same lines
        return None
    return ends, bool(others)


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...], first_only: bool = False) -> Any:
    """A Hyperscan database reporting every match of the first pattern (one at most when
    `first_only`) and at most one of each other, or None to use RE2."""
    if hyperscan is None:
        return None
    database = hyperscan.Database()
    multiline, single = hyperscan.HS_FLAG_MULTILINE, hyperscan.HS_FLAG_SINGLEMATCH
    flags = [multiline | (single if first_only else 0)] + [multiline | single] * (len(patterns) - 1)
    try:
        database.compile(expressions=[p.encode() for p in patterns], ids=list(range(len(patterns))),
                         elements=len(patterns), flags=flags)
    except hyperscan.error:
        return None
    return database


def _distinct(indices: np.ndarray) -> np.ndarray:
    """`indices` ascending without repeats; Hyperscan reports matches by ascending end,
    so they usually are sorted already and only the repeats need to go."""
    if len(indices) and np.all(indices[1:] >= indices[:-1]):
        return indices[np.concatenate(([True], indices[1:] != indices[:-1]))]
    return np.unique(indices)


def _scratch_for(key: Any, database: Any) -> Any:
    """This thread's scratch space for the database compiled under `key`."""
    spaces = _scratch.__dict__.setdefault("spaces", {})
    space = spaces.get(key)
    if space is None:
        space = spaces[key] = hyperscan.Scratch(database)
    return space
