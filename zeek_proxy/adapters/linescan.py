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
    database = _compiled(pattern) if BLOCK_SCAN and len(lines) else None
    if database is not None:
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
        ends: list[int] = []
        try:
            database.scan(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]],
                          match_event_handler=lambda _id, _from, end, _flags, _ctx: ends.append(end),
                          scratch=_scratch_for(pattern, database))
        except hyperscan.error:  # not expected; RE2 below finds the same lines
            pass
        else:
            last_bytes = np.asarray(ends, dtype=np.int64) + (offsets[0] - 1)
            return np.unique(np.searchsorted(offsets, last_bytes, side="right") - 1)
    return np.flatnonzero(pc.match_substring_regex(lines, pattern).to_numpy(zero_copy_only=False))


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> Any:
    """A Hyperscan database for `pattern`, or None to use RE2."""
    if hyperscan is None:
        return None
    database = hyperscan.Database()
    try:
        database.compile(expressions=[pattern.encode()], ids=[0], elements=1,
                         flags=[hyperscan.HS_FLAG_MULTILINE])
    except hyperscan.error:
        return None
    return database


def _scratch_for(pattern: str, database: Any) -> Any:
    """This thread's scratch space for `pattern` (fits any database compiled from it)."""
    spaces = _scratch.__dict__.setdefault("spaces", {})
    space = spaces.get(pattern)
    if space is None:
        space = spaces[pattern] = hyperscan.Scratch(database)
    return space
