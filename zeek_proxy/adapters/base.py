"""What every adapter shares: line numbering, accounting, chunking, --strict.

Implementing an adapter:

1. Subclass `Adapter`, set `name`, `module` and `dataset`.
2. Implement `parse(lineno, line, terminated)`: return a row dict of ECS columns, or
   None for a line that is not a record (headers, blanks). Call `self.skip(...)` for a
   record that is deliberately not evaluated, raise `ValueError(reason)` for a malformed
   one. Each of the three counts the record as read.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from typing import Any, BinaryIO, ClassVar, Iterator

import pandas as pd

from zeek_proxy.errors import InputError, MalformedRecordError, SourceLocation
from zeek_proxy.schema import frame_from_rows
from zeek_proxy.stats import InputStats

logger = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
_READ_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError)


class Adapter:
    """Reads one input stream into ECS frames, counting every record."""

    name: ClassVar[str]
    module: ClassVar[str]
    dataset: ClassVar[str]

    def __init__(self, path: str, stats: InputStats | None = None, strict: bool = False,
                 chunk_rows: int = CHUNK_ROWS) -> None:
        self.path = path
        self.stats = stats if stats is not None else InputStats(path)
        self.stats.format = self.name
        self.strict = strict
        self.chunk_rows = chunk_rows

    # -- for subclasses -------------------------------------------------------------
    def parse(self, lineno: int, line: bytes, terminated: bool) -> dict[str, Any] | None:
        raise NotImplementedError

    def skip(self, lineno: int, reason: str) -> None:
        """Count a record read but deliberately not evaluated."""
        self.stats.read += 1
        self.stats.skipped += 1

    # -- driver ---------------------------------------------------------------------
    def frames(self, stream: BinaryIO) -> Iterator[pd.DataFrame]:
        """ECS frames of at most `chunk_rows` rows; raises InputError after the last
        frame when the stream breaks (a truncated gzip), so what was read still counts."""
        rows: list[dict[str, Any]] = []
        lineno = 0
        broken: Exception | None = None
        lines = iter(stream)
        while True:
            try:
                line = next(lines)
            except StopIteration:
                break
            except _READ_ERRORS as exc:
                broken = exc
                break
            lineno += 1
            terminated = line.endswith(b"\n")
            try:
                row = self.parse(lineno, line, terminated)
            except ValueError as exc:
                self._malformed(lineno, str(exc))
                continue
            if row is None:
                continue
            self.stats.read += 1
            row["zeek_proxy.line"] = lineno
            rows.append(row)
            if len(rows) >= self.chunk_rows:
                yield self._frame(rows)
                rows = []
        if rows:
            yield self._frame(rows)
        if self.stats.malformed:
            logger.warning("%s: %d malformed record(s) skipped, first: %s",
                           self.path, self.stats.malformed, self.stats.first_problem)
        if broken is not None:
            raise InputError(f"input breaks off after line {lineno} ({broken})",
                             SourceLocation(self.path))

    def _malformed(self, lineno: int, reason: str) -> None:
        self.stats.read += 1
        if self.strict:
            raise MalformedRecordError(f"malformed record: {reason}",
                                       SourceLocation(self.path, lineno))
        self.stats.malformed += 1
        if self.stats.first_problem is None:
            self.stats.first_problem = f"line {lineno}: {reason}"

    def _frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        self.stats.evaluated += len(rows)
        for row in rows:
            row["event.module"] = self.module
            row["event.dataset"] = self.dataset
            row["log.file.path"] = self.path
        return frame_from_rows(rows)


def decode(line: bytes) -> str:
    """A log line as text: BOM and line end removed, bad UTF-8 replaced."""
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    return line.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
