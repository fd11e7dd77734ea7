"""The reader: drives a log format over a stream, numbering lines, accounting every
record, chunking rows into ECS frames, applying --strict, and choosing between the two
ways of reading: every line through the format's parser, or blocks pre-filtered by
workers (`workers`, `sparse`) so that only lines that could match are parsed.

A format (`formats.base.Format`) knows line syntax and mapping; the reader knows files,
blocks and workers. The format never imports the reader.
"""

from __future__ import annotations

import copy
import logging
from collections import deque
from concurrent.futures import Future
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from zeek_proxy.errors import InputError, MalformedRecordError, SourceLocation
from zeek_proxy.lazy import load_pandas, pandas_loaded, pd
from zeek_proxy.formats.base import Format
from zeek_proxy.reading.blocks import MAX_RECORD, Block, read_blocks, release
from zeek_proxy.reading.inputs import GZIP_ERRORS
from zeek_proxy.reading.prefilter import Chosen, LineKeys, Prefilter
from zeek_proxy.reading.workers import StageJob, StageOne, chosen
from zeek_proxy.schema import frame_from_rows

logger = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
#: Blocks in the workers' hands per worker (one more in all). Results are taken in file
#: order, so a worker that finishes a block early idles unless another one waits for it
#: while the main thread waits for an older result: with one per worker, workers idled
#: 10-15% of a scan; with two, Zeek TSV scans took 10% less time, for 10 MB more memory.
BLOCKS_AHEAD = 2
#: Blocks a mapped file may have with forked workers while the main thread imports pandas
#: (`lazy`): enough to keep them reading for the import's 0.4 s, and small (results are
#: line numbers; the blocks are views of the map).
PRELOAD_BLOCKS = 64
_READ_ERRORS = (OSError, *GZIP_ERRORS)

Progress = Callable[[int], None]
#: A line as the reader hands it on: its number, its bytes (None: too long to hold),
#: whether it ends in a newline, and its row when a worker has parsed it already.
Line = tuple[int, bytes | None, bool, dict[str, Any] | None]


class Reader:
    """Reads one input stream into ECS frames through its `format`, counting every record."""

    def __init__(self, format: Format, strict: bool = False, chunk_rows: int = CHUNK_ROWS,
                 max_record: int = MAX_RECORD) -> None:
        self.format = format
        self.stats = format.stats
        self.path = format.path
        self.strict = strict
        self.chunk_rows = chunk_rows
        self._rows: list[dict[str, Any]] = []
        self._lines_read = 0  # lines of the file handed out so far (line numbers, errors)
        self._at_file_start = True
        self.hold_partial = False  # leave a last line without newline for the next read
        self.consumed = 0  # bytes of the stream read as whole records (for checkpoints)
        self.max_record = max_record  # longer records are malformed, and never held in memory
        self.line_keys: LineKeys | None = None  # where a look-up keeps every line's key prefix

    def resume(self, line: int, header: list[str]) -> None:
        """Continue a file after `line` lines, under the header lines in force there."""
        self._lines_read = line
        self._at_file_start = line == 0
        self.format.resume(header)

    def header(self) -> list[str]:
        """Header lines in force at the current position (for checkpoints)."""
        return self.format.header()

    @property
    def lines_read(self) -> int:
        """Lines of the file read so far."""
        return self._lines_read

    def job(self, for_a_worker: bool = True) -> StageJob:
        """What stage one needs: for a worker, on a copy of the format as it stands now,
        so that the main thread may go on changing it."""
        format = copy.copy(self.format) if for_a_worker else self.format
        return StageJob(format, self._at_file_start, self.max_record)

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
            if self.line_keys is not None:
                self.line_keys.add(None)  # lines not looked at for their keys
            lines = self._every_line(stream, progress)
        else:
            lines = self._preselected_lines(stream, prefilter, max(1, jobs), progress)
        broken: Exception | None = None
        try:
            for lineno, line, terminated, parsed in lines:
                yield from self._record(lineno, line, terminated, parsed)
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

    def _every_line(self, stream: BinaryIO, progress: Progress | None) -> Iterator[Line]:
        lineno = self._lines_read
        for block in read_blocks(stream, hold_partial=self.hold_partial, max_line=self.max_record):
            if block.dropped:
                lineno += 1
                yield lineno, None, True, None
            for line in _lines(bytes(block.data)):
                lineno += 1
                yield lineno, line, line.endswith(b"\n"), None
            release(block)
            self._lines_read = lineno
            self.consumed += block.length + block.dropped
            if progress:
                progress(block.length)

    def _preselected_lines(self, stream: BinaryIO, prefilter: Prefilter, jobs: int,
                           progress: Progress | None) -> Iterator[Line]:
        """Blocks pre-filtered by `jobs` workers; chosen lines come back in file order."""
        pending: deque[tuple[Block, list[str], Future[Chosen | None]]] = deque()
        workers: StageOne | None = None
        try:
            # Up to BLOCKS_AHEAD * jobs + 1 blocks are with the workers while the main thread
            # reads one (up to PRELOAD_BLOCKS while pandas is imported); `_chosen` lets a
            # mapped block's pages go once it is read.
            for block in read_blocks(stream, hold_partial=self.hold_partial, max_line=self.max_record):
                if block.dropped:
                    while pending:
                        yield from self._pending(pending, prefilter)
                    if self.line_keys is not None:
                        self.line_keys.add(None)  # a line too long to look at
                    self._lines_read += 1
                    self.consumed += block.dropped
                    yield self._lines_read, None, True, None
                elif self.format.needs_main_thread(block):
                    while pending:
                        yield from self._pending(pending, prefilter)
                    workers = workers or StageOne(prefilter, jobs, block)
                    # Judged in a process, so that this one has touched no Arrow kernel yet.
                    result = workers.submit(self.job(), block).result() if workers.forked else None
                    if result is None:
                        result = chosen(self.job(for_a_worker=False), block, prefilter)
                    yield from self._chosen(block, result)
                else:
                    workers = workers or StageOne(prefilter, jobs, block)
                    pending.append((block, self.header(), workers.submit(self.job(), block)))
                    if not (workers.forked and not pandas_loaded() and len(pending) < PRELOAD_BLOCKS):
                        _import_pandas_beside(workers)  # the processes read on meanwhile
                        while len(pending) > BLOCKS_AHEAD * jobs:
                            yield from self._pending(pending, prefilter)
                if progress:
                    progress(block.length)
            _import_pandas_beside(workers)
            while pending:
                yield from self._pending(pending, prefilter)
        except _READ_ERRORS:  # a broken stream still gets the blocks read before the break
            while pending:
                yield from self._pending(pending, prefilter)
            raise
        finally:
            if workers is not None:
                workers.shutdown()

    def _pending(self, pending: deque[tuple[Block, list[str], Future[Chosen | None]]],
                 prefilter: Prefilter) -> Iterator[Line]:
        """The oldest block's chosen lines. A worker judged the block under the header
        in force when it was handed out; if header lines read since have changed it
        (concatenated Zeek logs), or a process could not read it, it is judged here."""
        block, header, future = pending.popleft()
        result = future.result()
        if result is None or header != self.header():  # None: a process could not read it
            result = chosen(self.job(for_a_worker=False), block, prefilter)
        return self._chosen(block, result)

    def _chosen(self, block: Block, result: Chosen) -> Iterator[Line]:
        if self.line_keys is not None:
            self.line_keys.add(result.line_keys)
        self.consumed += block.length
        self.stats.read += result.filtered + result.skipped
        self.stats.filtered += result.filtered
        self.stats.skipped += result.skipped
        first = self._lines_read + 1
        self._lines_read += result.lines
        if result.texts is not None:  # from a forked worker: the lines come with the answer, most parsed
            lines: Iterable[tuple[int, bytes, dict[str, Any] | None]] = zip(
                result.parse.tolist(), result.texts, result.rows, strict=True)  # type: ignore[arg-type]
        else:
            data = block.data
            lines = ((index, bytes(data[start:end]), None)
                     for index, start, end in zip(result.parse.tolist(), result.starts.tolist(), result.ends.tolist()))
        for index, line, row in lines:
            yield first + index, line, line.endswith(b"\n"), row
        release(block)  # the pages this process read of it too (48 MB over a 1 GB eve file)

    def _record(self, lineno: int, line: bytes | None, terminated: bool,
                row: dict[str, Any] | None = None) -> Iterator[pd.DataFrame]:
        """Account the line and keep its row; `row` is the line already parsed by a
        forked worker (`workers.parsed_here`), else it is parsed here."""
        if row is None:
            if line is None or len(line) > self.max_record:
                self._malformed(lineno, f"record longer than the {self.max_record}-byte limit")
                return
            try:
                row = self.format.parse(lineno, line, terminated)
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
            row["event.module"] = self.format.module
            row.setdefault("event.dataset", self.format.dataset)  # a format reading several logs sets it
            row["log.file.path"] = self.path
        return frame_from_rows(rows)


def _import_pandas_beside(workers: StageOne | None) -> None:
    """Import pandas, which the frames need, while forked workers read the blocks handed
    to them: the import takes as long as a large file's pre-filter (`lazy`)."""
    if workers is not None and workers.forked:
        load_pandas()  # once: then it is there


def _lines(data: bytes) -> list[bytes]:
    """Lines with their newline, split at "\\n" only (a lone "\\r" is data, as for Zeek)."""
    parts = data.split(b"\n")
    last = parts.pop()
    out = [part + b"\n" for part in parts]
    if last:
        out.append(last)
    return out
