"""Where stage one of the fast path runs: worker threads, or forked worker processes.

Threads share the GIL, and Hyperscan's match callbacks and the Python between Arrow
kernels need it; on JSON and eve, where the port pattern matches thousands of lines per
block, two threads are hardly faster than one, and on Zeek TSV 1.5 times. A large
memory-mapped file is therefore pre-filtered by forked processes, each with its own
GIL. They inherit the map and the pre-filter, read each block's bytes in place, and
send back only which lines to parse (a few per thousand) and the counts. Everything
else (gzip, pipes, logs still being written, small files, one job, platforms without
fork) uses threads.

Either way a worker judges a block with a `StageJob`: a copy of the format taken when
the block is handed out, and what stage one needs to know of the input.
"""

from __future__ import annotations

import dataclasses
import mmap
import multiprocessing
import signal
import sys
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from zeek_proxy.formats.base import Format
from zeek_proxy.reading.blocks import Block, line_offsets, lines_of, release
from zeek_proxy.reading.prefilter import Chosen, Prefilter, Selection
from zeek_proxy.reading.sparse import sparse_chosen

#: Mapped files at least this large are pre-filtered by processes: forking costs a few
#: milliseconds, a block's work ten or more.
PROCESS_MIN_BYTES = 64 << 20


#: The map and pre-filter that forked processes inherit (set before they are forked).
_inherited: tuple[mmap.mmap, Prefilter] | None = None


@dataclass
class StageJob:
    """What stage one needs to judge a block of an input: its format (a copy, as it stood
    when the block was handed out), whether the block's first line is the file's first,
    and the record size limit."""

    format: Format
    at_file_start: bool
    max_record: int


class StageOne:
    """Runs stage one for the blocks of one input, in threads or forked processes,
    chosen at its first block."""

    def __init__(self, prefilter: Prefilter, jobs: int, first: Block) -> None:
        global _inherited
        self.prefilter = prefilter
        self.forked = (jobs > 1 and first.source is not None
                       and len(first.source) >= PROCESS_MIN_BYTES and _can_fork())
        if self.forked:
            _inherited = (first.source, prefilter)  # processes fork at the first submit
            for stream in (sys.stdout, sys.stderr):  # or a child would write its copy again
                stream.flush()
            self.executor: Executor = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                                          initializer=_prepare_worker)
        else:
            self.executor = ThreadPoolExecutor(jobs)

    def submit(self, job: StageJob, block: Block) -> Future[Chosen]:
        """Stage one for `block`."""
        if self.forked:
            return self.executor.submit(_stage_one_forked, job, block.start, block.length, block.offset)
        return self.executor.submit(chosen, job, block, self.prefilter)

    def shutdown(self) -> None:
        global _inherited
        self.executor.shutdown(wait=True, cancel_futures=True)
        _inherited = None


def leave_signals_to_parent() -> None:
    """A Ctrl-C reaches the whole process group: the parent stops the workers, which
    would otherwise each print a traceback."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def _prepare_worker() -> None:
    """A forked pre-filter process: signals are the parent's, and pandas is never
    imported. A worker builds no frame, but pyarrow imports pandas (0.4 s) at its first
    array when it can; forked before the parent imported it (`lazy`), each worker would."""
    leave_signals_to_parent()
    if "pandas" not in sys.modules:
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
    return Chosen(len(lines), parse, offsets[parse], offsets[parse + 1], selection.filtered, selection.skipped)


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


def _stage_one_forked(job: StageJob, start: int, length: int, offset: int) -> Chosen:
    """Stage one in a forked process, on a block of the inherited map; its pages are
    let go afterwards, so that a process's memory stays one block whatever the file."""
    assert _inherited is not None
    source, prefilter = _inherited
    block = Block(memoryview(source)[start : start + length], length, offset, source=source, start=start)
    try:
        result = chosen(job, block, prefilter)
        data = block.data
        texts = [bytes(data[s:e]) for s, e in zip(result.starts.tolist(), result.ends.tolist())]
        return dataclasses.replace(result, texts=texts)
    finally:
        release(block)
