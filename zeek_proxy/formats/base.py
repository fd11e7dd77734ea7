"""The interface every log format offers the reader (`reading.reader.Reader`), which
drives it: formats know line syntax and mapping, never how files are read.

Implementing a format:

1. Subclass `Format`, set `name`, `module` and `dataset`.
2. Implement `parse(lineno, line, terminated)`: return a row dict of ECS columns, or
   None for a line that is not a record (headers, blanks). Call `self.skip(...)` for a
   record that is deliberately not evaluated, raise `ValueError(reason)` for a malformed
   one. Each of the three counts the record as read.
3. For the fast path, implement `select(lines, force, prefilter)`: given a block's
   lines as an Arrow array, return a `Selection` naming the lines that could match
   (they go to `parse`, and so do the `force`d ones when they are records) and counting
   the records that cannot. It runs in worker threads or processes on a copy of the
   format, so it must not change the format. A format whose state changes with the
   lines it reads (Zeek TSV headers) reports that state in `header()`; a block judged
   under a header that has changed since is judged again, and `needs_main_thread(block)`
   has the first block, which sets it, judged before any other is handed out.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa

from zeek_proxy.reading.blocks import Block
from zeek_proxy.reading.prefilter import Prefilter, Selection
from zeek_proxy.stats import InputStats

#: The logs read unless told otherwise (`formats.zeek` has them all).
CONNECTION_LOGS = frozenset({"conn", "socks"})


class Format:
    """One log syntax and its mapping to ECS rows, with the input's counts."""

    name: ClassVar[str]
    module: ClassVar[str]
    dataset: ClassVar[str]

    def __init__(self, path: str, stats: InputStats | None = None, logs: frozenset[str] | None = None) -> None:
        self.path = path
        self.stats = stats if stats is not None else InputStats(path)
        self.stats.format = self.name
        self.logs = logs if logs is not None else CONNECTION_LOGS  # the Zeek logs to read

    def resume(self, header: list[str]) -> None:
        """Continue a file under the header lines in force where it stopped."""
        for text in header:
            self.parse(0, text.encode() + b"\n", True)

    def header(self) -> list[str]:
        """Header lines in force at the current position (for checkpoints)."""
        return []

    def parse(self, lineno: int, line: bytes, terminated: bool) -> dict[str, Any] | None:
        raise NotImplementedError

    def select(self, lines: pa.Array, force: list[int], prefilter: Prefilter) -> Selection:
        """Stage one of the fast path; the default parses every line."""
        return Selection(parse=list(range(len(lines))))

    def sparse_pass(self, prefilter: Prefilter) -> tuple[str, tuple[str, ...]] | None:
        """For stage one from raw bytes (`reading.sparse`): a pattern every line `select`
        may choose matches, and patterns whose presence sends a block the full way; None
        to always go the full way."""
        return None

    def needs_main_thread(self, block: Block) -> bool:
        return False

    def skip(self, lineno: int, reason: str) -> None:
        """Count a record read but deliberately not evaluated."""
        self.stats.read += 1
        self.stats.skipped += 1


def decode(line: bytes) -> str:
    """A log line as text: BOM and line end removed, bad UTF-8 replaced."""
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    return line.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
