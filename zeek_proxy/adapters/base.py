"""What every adapter shares: line numbering, accounting, chunking, --strict, and the
two ways of reading: every line through the full parser, or pre-filtered blocks.

Implementing an adapter:

1. Subclass `Adapter`, set `name`, `module` and `dataset`.
2. Implement `parse(lineno, line, terminated)`: return a row dict of ECS columns, or
   None for a line that is not a record (headers, blanks). Call `self.skip(...)` for a
   record that is deliberately not evaluated, raise `ValueError(reason)` for a malformed
   one. Each of the three counts the record as read.
3. For the fast path, implement `select(lines, force, prefilter)`: given a block's
   lines as an Arrow array, return a `Selection` naming the lines that could match
   (they go to `parse`, and so do the `force`d ones when they are records) and counting
   the records that cannot. It runs in worker threads or processes (see `workers`) on
   a copy of the adapter, so it must not change the adapter. An adapter whose state
   changes with the lines it reads (Zeek TSV headers) reports that state in `header()`;
   a block judged under a header that has changed since is judged again, and
   `needs_main_thread(block)` keeps the first block, which sets it, in the main thread.
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future
from typing import Any, BinaryIO, Callable, ClassVar, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from zeek_proxy.adapters.blocks import MAX_RECORD, Block, line_offsets, lines_of, read_blocks
from zeek_proxy.adapters.inputs import GZIP_ERRORS
from zeek_proxy.adapters.prefilter import Chosen, Prefilter, Selection
from zeek_proxy.adapters.workers import StageOne, chosen
from zeek_proxy.errors import InputError, MalformedRecordError, SourceLocation
from zeek_proxy.schema import frame_from_rows
from zeek_proxy.stats import InputStats

logger = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
#: Blocks in the workers' hands per worker (one more in all). Results are taken in file
#: order, so a worker that finishes a block early idles unless another one waits for it
#: while the main thread waits for an older result: with one per worker, workers idled
#: 10-15% of a scan; with two, Zeek TSV scans took 10% less time, for 10 MB more memory.
BLOCKS_AHEAD = 2
_READ_ERRORS = (OSError, *GZIP_ERRORS)

Progress = Callable[[int], None]


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
        self._rows: list[dict[str, Any]] = []
        self._lines_read = 0  # lines of the file handed out so far (line numbers, errors)
        self._at_file_start = True
        self.hold_partial = False  # leave a last line without newline for the next read
        self.consumed = 0  # bytes of the stream read as whole records (for checkpoints)
        self.max_record = MAX_RECORD  # longer records are malformed, and never held in memory

    def resume(self, line: int, header: list[str]) -> None:
        """Continue a file after `line` lines, under the header lines in force there."""
        self._lines_read = line
        self._at_file_start = line == 0
        for text in header:
            self.parse(0, text.encode() + b"\n", True)

    def header(self) -> list[str]:
        """Header lines in force at the current position (for checkpoints)."""
        return []

    @property
    def lines_read(self) -> int:
        """Lines of the file read so far."""
        return self._lines_read

    # -- for subclasses -------------------------------------------------------------
    def parse(self, lineno: int, line: bytes, terminated: bool) -> dict[str, Any] | None:
        raise NotImplementedError

    def select(self, lines: pa.Array, force: list[int], prefilter: Prefilter) -> Selection:
        """Stage one of the fast path; the default parses every line."""
        return Selection(parse=list(range(len(lines))))

    def sparse_pass(self, prefilter: Prefilter) -> tuple[str, tuple[str, ...]] | None:
        """For stage one from raw bytes (`sparse`): a pattern every line `select` may
        choose matches, and patterns whose presence sends a block the full way; None
        to always go the full way."""
        return None

    def needs_main_thread(self, block: Block) -> bool:
        return False

    def skip(self, lineno: int, reason: str) -> None:
        """Count a record read but deliberately not evaluated."""
        self.stats.read += 1
        self.stats.skipped += 1

    # -- reading --------------------------------------------------------------------
    def frames(self, stream: BinaryIO, prefilter: Prefilter | None = None, jobs: int = 1,
               progress: Progress | None = None) -> Iterator[pd.DataFrame]:
        """ECS frames of at most `chunk_rows` rows.

        With a `prefilter` (and not strict), lines that cannot match are counted as
        filtered and never parsed; `jobs` threads run the pre-filter. Raises InputError
        after the last frame when the stream breaks (a truncated gzip), so what was read
        still counts.
        """
        if prefilter is None or self.strict:
            lines = self._every_line(stream, progress)
        else:
            lines = self._preselected_lines(stream, prefilter, max(1, jobs), progress)
        broken: Exception | None = None
        try:
            for lineno, line, terminated in lines:
                yield from self._record(lineno, line, terminated)
        except _READ_ERRORS as exc:
            broken = exc
        except MalformedRecordError:  # --strict: the records before it still count
            if self._rows:
                yield self._frame()
            raise
        if self._rows:
            yield self._frame()
        if self.stats.malformed:
            logger.warning("%s: %d malformed record(s) skipped, first: %s",
                           self.path, self.stats.malformed, self.stats.first_problem)
        if broken is not None:
            raise InputError(f"input breaks off after line {self._lines_read} ({broken})",
                             SourceLocation(self.path))

    def _every_line(self, stream: BinaryIO, progress: Progress | None) -> Iterator[tuple[int, bytes, bool]]:
        lineno = self._lines_read
        for block in read_blocks(stream, hold_partial=self.hold_partial, max_line=self.max_record):
            if block.dropped:
                lineno += 1
                yield lineno, None, True  # type: ignore[misc]
            for line in _lines(bytes(block.data)):
                lineno += 1
                yield lineno, line, line.endswith(b"\n")
            self._lines_read = lineno
            self.consumed += block.length + block.dropped
            if progress:
                progress(block.length)

    def _preselected_lines(self, stream: BinaryIO, prefilter: Prefilter, jobs: int,
                           progress: Progress | None) -> Iterator[tuple[int, bytes, bool]]:
        """Blocks pre-filtered by `jobs` workers; chosen lines come back in file order."""
        pending: deque[tuple[Block, list[str], Future[Chosen]]] = deque()
        workers: StageOne | None = None
        try:
            # Up to BLOCKS_AHEAD * jobs + 1 blocks are with the workers while the main thread reads one.
            for block in read_blocks(stream, hold_partial=self.hold_partial, max_line=self.max_record,
                                     in_use=BLOCKS_AHEAD * jobs + 2):
                if block.dropped:
                    while pending:
                        yield from self._pending(pending, prefilter)
                    self._lines_read += 1
                    self.consumed += block.dropped
                    yield self._lines_read, None, True  # type: ignore[misc]
                elif self.needs_main_thread(block):
                    while pending:
                        yield from self._pending(pending, prefilter)
                    yield from self._chosen(block, chosen(self, block, prefilter))
                else:
                    workers = workers or StageOne(self, prefilter, jobs, block)
                    pending.append((block, self.header(), workers.submit(block)))
                    while len(pending) > BLOCKS_AHEAD * jobs:
                        yield from self._pending(pending, prefilter)
                if progress:
                    progress(block.length)
            while pending:
                yield from self._pending(pending, prefilter)
        except _READ_ERRORS:  # a broken stream still gets the blocks read before the break
            while pending:
                yield from self._pending(pending, prefilter)
            raise
        finally:
            if workers is not None:
                workers.shutdown()

    def _stage_one(self, block: Block, prefilter: Prefilter) -> tuple[pa.Array, Selection]:
        """A block's lines and what to do with them; falls back to parsing every line
        when the kernels refuse the bytes."""
        lines = lines_of(block)
        # The file's first line (format check, non-conn warning) and a last line cut
        # short (counted malformed) always go to the full parser.
        force = [0] if block.offset == 0 and self._at_file_start else []
        if not block.terminated:
            force.append(len(lines) - 1)
        lengths = np.diff(line_offsets(lines))
        force.extend(np.flatnonzero(lengths > self.max_record).tolist())  # counted malformed
        try:
            return lines, self.select(lines, force, prefilter)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
            return lines, Selection(parse=list(range(len(lines))))

    def _pending(self, pending: deque[tuple[Block, list[str], Future[Chosen]]],
                 prefilter: Prefilter) -> Iterator[tuple[int, bytes, bool]]:
        """The oldest block's chosen lines. A worker judged the block under the header
        in force when it was handed out; if header lines read since have changed it
        (concatenated Zeek logs), the block is judged again here."""
        block, header, future = pending.popleft()
        result = future.result()
        if header != self.header():
            result = chosen(self, block, prefilter)
        return self._chosen(block, result)

    def _chosen(self, block: Block, result: Chosen) -> Iterator[tuple[int, bytes, bool]]:
        self.consumed += block.length
        self.stats.read += result.filtered + result.skipped
        self.stats.filtered += result.filtered
        self.stats.skipped += result.skipped
        first = self._lines_read + 1
        self._lines_read += result.lines
        data = block.data
        for index, start, end in zip(result.parse.tolist(), result.starts.tolist(), result.ends.tolist()):
            line = bytes(data[start:end])
            yield first + index, line, line.endswith(b"\n")

    def _record(self, lineno: int, line: bytes | None, terminated: bool) -> Iterator[pd.DataFrame]:
        if line is None or len(line) > self.max_record:
            self._malformed(lineno, f"record longer than the {self.max_record}-byte limit")
            return
        try:
            row = self.parse(lineno, line, terminated)
        except ValueError as exc:
            self._malformed(lineno, str(exc))
            return
        if row is None:
            return
        self.stats.read += 1
        row["zeek_proxy.line"] = lineno
        self._rows.append(row)
        if len(self._rows) >= self.chunk_rows:
            yield self._frame()

    def _malformed(self, lineno: int, reason: str) -> None:
        self.stats.read += 1
        self.stats.malformed += 1
        if self.stats.first_problem is None:
            self.stats.first_problem = f"line {lineno}: {reason}"
        if self.strict:
            raise MalformedRecordError(f"malformed record: {reason}",
                                       SourceLocation(self.path, lineno))

    def _frame(self) -> pd.DataFrame:
        rows, self._rows = self._rows, []
        self.stats.evaluated += len(rows)
        for row in rows:
            row["event.module"] = self.module
            row["event.dataset"] = self.dataset
            row["log.file.path"] = self.path
        return frame_from_rows(rows)


def _lines(data: bytes) -> list[bytes]:
    """Lines with their newline, split at "\\n" only (a lone "\\r" is data, as for Zeek)."""
    parts = data.split(b"\n")
    last = parts.pop()
    out = [part + b"\n" for part in parts]
    if last:
        out.append(last)
    return out


def decode(line: bytes) -> str:
    """A log line as text: BOM and line end removed, bad UTF-8 replaced."""
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    return line.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
