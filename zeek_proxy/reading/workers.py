"""Where stage one of the fast path runs: worker threads, or forked worker processes.

Threads share the GIL, and Hyperscan's match callbacks and the Python between Arrow
kernels need it; on JSON and eve, where the port pattern matches thousands of lines per
block, two threads are hardly faster than one, and on Zeek TSV 1.5 times. A large
memory-mapped file is therefore pre-filtered by forked processes, each with its own
GIL. They map the file themselves, read each block's bytes in place, and send back
only which lines to parse (a few per thousand), those lines, and the counts.
Everything else (gzip, pipes, logs still being written, small files, one job,
platforms without fork) uses threads.

Within `shared_processes` (a scan), the processes are forked once, at the first
mapped file, and judge the blocks of every later file too: forking a parent that
holds pandas costs 15-30 ms, once per file otherwise.

Either way a worker judges a block with a `StageJob`: a copy of the format taken when
the block is handed out, and what stage one needs to know of the input.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import mmap
import multiprocessing
import pickle
import signal
import sys
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from zeek_proxy.formats.base import Format
from zeek_proxy.lazy import pandas_loaded
from zeek_proxy.reading.blocks import Block, FileRef, line_offsets, lines_of, map_file, release
from zeek_proxy.reading.prefilter import Chosen, Prefilter, Selection
from zeek_proxy.reading.sparse import sparse_chosen

#: Mapped files at least this large are pre-filtered by processes: forking costs a few
#: milliseconds, a block's work ten or more.
PROCESS_MIN_BYTES = 64 << 20
#: A forked worker parses the lines it chooses of a block when they are at most this
#: many (`parsed_here`); a block of proxy-port hits has a few hundred.
PARSED_MAX = 2000


@dataclass
class StageJob:
    """What stage one needs to judge a block of an input: its format (a copy, as it stood
    when the block was handed out), whether the block's first line is the file's first,
    and the record size limit."""

    format: Format
    at_file_start: bool
    max_record: int


class _Shared:
    """The processes of a `shared_processes` scope, forked at their first use."""

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.jobs = 0

    def executor(self, jobs: int) -> ProcessPoolExecutor | None:
        """The scope's processes, if they are `jobs` many (or not forked yet)."""
        if self.pool is None:
            self.pool, self.jobs = _processes(jobs), jobs
        return self.pool if self.jobs == jobs else None


_shared: _Shared | None = None
_prefilter_ids = itertools.count()


@contextmanager
def shared_processes() -> Iterator[None]:
    """Within it, every large mapped file is judged by the same forked processes."""
    global _shared
    outer, _shared = _shared, _Shared()
    try:
        yield
    finally:
        scope, _shared = _shared, outer
        if scope.pool is not None:
            scope.pool.shutdown(wait=True, cancel_futures=True)


class StageOne:
    """Runs stage one for the blocks of one input, in threads or forked processes,
    chosen at its first block."""

    def __init__(self, prefilter: Prefilter, jobs: int, first: Block) -> None:
        self.prefilter = prefilter
        self.own = True
        self.forked = (jobs > 1 and first.file is not None  # a mapped block
                       and len(first.source) >= PROCESS_MIN_BYTES and _can_fork())
        if self.forked:
            try:
                self.sent = _sendable(prefilter)
            except (pickle.PicklingError, AttributeError, TypeError):  # e.g. a lambda: threads
                self.forked = False
        if self.forked:
            shared = _shared.executor(jobs) if _shared is not None else None
            self.own = shared is None
            self.executor: Executor = shared or _processes(jobs)
        else:
            self.executor = ThreadPoolExecutor(jobs)

    def submit(self, job: StageJob, block: Block) -> Future[Chosen | None]:
        """Stage one for `block` (None: a process could not read it; judge it here)."""
        if self.forked:
            return self.executor.submit(_stage_one_forked, job, block.file, block.start, block.length,
                                        block.offset, self.sent)
        return self.executor.submit(chosen, job, block, self.prefilter)

    def shutdown(self) -> None:
        if self.own:
            self.executor.shutdown(wait=True, cancel_futures=True)


_last_sent: tuple[Prefilter, tuple[int, bytes]] | None = None


def _sendable(prefilter: Prefilter) -> tuple[int, bytes]:
    """The pre-filter as sent with every block (4,000 uids: 80 KB): pickled once for all
    the files read with it, and unpickled once by each process."""
    global _last_sent
    if _last_sent is None or _last_sent[0] is not prefilter:
        _last_sent = (prefilter, (next(_prefilter_ids), pickle.dumps(prefilter)))
    return _last_sent[1]


def _processes(jobs: int) -> ProcessPoolExecutor:
    """Forked pre-filter processes (all forked at the first submit)."""
    for stream in (sys.stdout, sys.stderr):  # or a child would write its copy again
        stream.flush()
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=_prepare_worker)


def leave_signals_to_parent() -> None:
    """A Ctrl-C reaches the whole process group: the parent stops the workers, which
    would otherwise each print a traceback."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def _prepare_worker() -> None:
    """A forked pre-filter process: signals are the parent's, it logs nothing (what it
    parses and would warn of, the parent parses again and warns of), and pandas is never
    imported. A worker builds no frame, but pyarrow imports pandas (0.4 s) at its first
    array when it can; forked before the parent imported it (`lazy`), each worker would."""
    leave_signals_to_parent()
    logging.disable(logging.CRITICAL)
    if not pandas_loaded():
        sys.meta_path.insert(0, _NoPandas())


class _NoPandas:
    """An import finder that says pandas is not there."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("a pre-filter worker imports no pandas")
        return None


def _can_fork() -> bool:
    """Fork is there (not on Windows or macOS' default) and this is not a daemonic
    process (a Dask worker), which may not have children."""
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def chosen(job: StageJob, block: Block, prefilter: Prefilter) -> Chosen:
    """Stage one for `block`, as the lines to parse and the counts: from the first
    pass's matches alone where that is possible (`sparse`), else from all its lines."""
    quick = sparse_chosen(job.format, block, prefilter, job.at_file_start, job.max_record)
    return quick if quick is not None else every_line_chosen(job, block, prefilter)


def every_line_chosen(job: StageJob, block: Block, prefilter: Prefilter) -> Chosen:
    """Stage one for `block` the full way: every line found, then the format's `select`."""
    lines, selection = _judged(job, block, prefilter)
    offsets = line_offsets(lines)
    parse = np.asarray(selection.parse, dtype=np.int64)
    return Chosen(len(lines), parse, offsets[parse], offsets[parse + 1], selection.filtered, selection.skipped,
                  line_keys=selection.line_keys)


def _judged(job: StageJob, block: Block, prefilter: Prefilter) -> tuple[pa.Array, Selection]:
    """A block's lines and what to do with them; falls back to parsing every line
    when the kernels refuse the bytes."""
    lines = lines_of(block)
    # The file's first line (format check, non-conn warning) and a last line cut
    # short (counted malformed) always go to the full parser.
    force = [0] if block.offset == 0 and job.at_file_start else []
    if not block.terminated:
        force.append(len(lines) - 1)
    lengths = np.diff(line_offsets(lines))
    force.extend(np.flatnonzero(lengths > job.max_record).tolist())  # counted malformed
    try:
        return lines, job.format.select(lines, force, prefilter)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return lines, Selection(parse=list(range(len(lines))))


#: In a worker process: the file it has mapped, and the pre-filters it was sent.
_mapped: tuple[FileRef, mmap.mmap] | None = None
_prefilters: dict[int, Prefilter] = {}


def _stage_one_forked(job: StageJob, file: FileRef, start: int, length: int, offset: int,
                      sent: tuple[int, bytes]) -> Chosen | None:
    """Stage one in a forked process, on a block of its own map of `file`; its pages are
    let go afterwards, so that a process's memory stays one block whatever the file.
    None when the process cannot map the same file (renamed over since it was opened)."""
    source = _map_of(file)
    if source is None or len(source) < start + length:
        return None
    ident, pickled = sent
    prefilter = _prefilters.get(ident)
    if prefilter is None:
        _prefilters.clear()  # scans use one or two pre-filters, one after the other
        prefilter = _prefilters[ident] = pickle.loads(pickled)
    block = Block(memoryview(source)[start : start + length], length, offset, source=source, start=start)
    try:
        result = chosen(job, block, prefilter)
        data = block.data
        texts = [bytes(data[s:e]) for s, e in zip(result.starts.tolist(), result.ends.tolist())]
        rows = parsed_here(job.format, texts, job.max_record)
        return dataclasses.replace(result, texts=texts, rows=rows)
    finally:
        release(block)


def parsed_here(format: Format, texts: list[bytes], max_record: int) -> list[dict[str, Any] | None]:
    """The chosen lines' rows, parsed by a forked worker on its own (unpickled) copy of
    the format, so that the parent only accounts them: parsing took it 50-70 us a line.
    Header lines change the copy as they will the parent's format, in the same order.
    A row is given only for a whole line within the size limit that parses to a record;
    for anything else (a header, a record skipped or malformed, any error) the parent
    parses the line itself and counts, warns or raises as ever. Not for threads: their
    copy shares the parent's counts and header. Past PARSED_MAX lines (every line of a
    block chosen) nothing is parsed here: rows weigh about a kilobyte each, and up to
    `reader.PRELOAD_BLOCKS` answers wait in the parent while it imports pandas."""
    if len(texts) > PARSED_MAX:
        return [None] * len(texts)
    rows: list[dict[str, Any] | None] = []
    for text in texts:
        row = None
        if text.endswith(b"\n") and len(text) <= max_record:
            try:
                row = format.parse(0, text, True)
            except Exception:  # malformed, or worse: the parent's own parse decides
                pass
        rows.append(row)
    return rows


def _map_of(file: FileRef) -> mmap.mmap | None:
    """This process's map of `file`, made at its first block (the one before it is
    dropped); None when the path no longer names the same file."""
    global _mapped
    if _mapped is not None and _mapped[0] == file:
        return _mapped[1]
    _mapped = None  # the last block's views are gone: the old map closes with its last reference
    source = map_file(file)
    if source is not None:
        _mapped = (file, source)
    return source
