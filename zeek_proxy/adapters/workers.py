"""Where stage one of the fast path runs: worker threads, or forked worker processes.

Threads share the GIL, and Hyperscan's match callbacks and the Python between Arrow
kernels need it; on JSON and eve, where the port pattern matches thousands of lines per
block, two threads are hardly faster than one, and on Zeek TSV 1.5 times. A large
memory-mapped file is therefore pre-filtered by forked processes, each with its own
GIL. They inherit the map and the pre-filter, read each block's bytes in place, and
send back only which lines to parse (a few per thousand) and the counts. Everything
else (gzip, pipes, logs still being written, small files, one job, platforms without
fork) uses threads.

Either way a worker judges a block on a copy of the adapter, taken when the block is
handed out.
"""

from __future__ import annotations

import copy
import mmap
import multiprocessing
import signal
import sys
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from zeek_proxy.adapters.blocks import Block, line_offsets
from zeek_proxy.adapters.prefilter import Chosen, Prefilter
from zeek_proxy.adapters.sparse import sparse_chosen

if TYPE_CHECKING:  # base imports this module
    from zeek_proxy.adapters.base import Adapter

#: Mapped files at least this large are pre-filtered by processes: forking costs a few
#: milliseconds, a block's work ten or more.
PROCESS_MIN_BYTES = 64 << 20


#: The map and pre-filter that forked processes inherit (set before they are forked).
_inherited: tuple[mmap.mmap, Prefilter] | None = None


class StageOne:
    """Runs stage one for the blocks of one input, in threads or forked processes,
    chosen at its first block."""

    def __init__(self, adapter: Adapter, prefilter: Prefilter, jobs: int, first: Block) -> None:
        global _inherited
        self.adapter, self.prefilter = adapter, prefilter
        self.forked = (jobs > 1 and first.source is not None
                       and len(first.source) >= PROCESS_MIN_BYTES and _can_fork())
        if self.forked:
            _inherited = (first.source, prefilter)  # processes fork at the first submit
            for stream in (sys.stdout, sys.stderr):  # or a child would write its copy again
                stream.flush()
            self.executor: Executor = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                                          initializer=_leave_signals_to_parent)
        else:
            self.executor = ThreadPoolExecutor(jobs)

    def submit(self, block: Block) -> Future[Chosen]:
        """Stage one for `block`, on a copy of the adapter as it stands now, so that
        the main thread may go on changing it."""
        snapshot = copy.copy(self.adapter)
        snapshot._rows = []  # rows waiting for a frame stay here
        if self.forked:
            return self.executor.submit(_stage_one_forked, snapshot, block.start, block.length, block.offset)
        return self.executor.submit(chosen, snapshot, block, self.prefilter)

    def shutdown(self) -> None:
        global _inherited
        self.executor.shutdown(wait=True, cancel_futures=True)
        _inherited = None


def _leave_signals_to_parent() -> None:
    """A Ctrl-C reaches the whole process group: the parent stops the workers, which
    would otherwise each print a traceback."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def _can_fork() -> bool:
    """Fork is there (not on Windows or macOS' default) and this is not a daemonic
    process (a Dask worker), which may not have children."""
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def chosen(adapter: Adapter, block: Block, prefilter: Prefilter) -> Chosen:
    """Stage one for `block`, as the lines to parse and the counts: from the first
    pass's matches alone where that is possible (`sparse`), else from all its lines."""
    quick = sparse_chosen(adapter, block, prefilter)
    return quick if quick is not None else every_line_chosen(adapter, block, prefilter)


def every_line_chosen(adapter: Adapter, block: Block, prefilter: Prefilter) -> Chosen:
    """Stage one for `block` the full way: every line found, then `select`."""
    lines, selection = adapter._stage_one(block, prefilter)
    offsets = line_offsets(lines)
    parse = np.asarray(selection.parse, dtype=np.int64)
    return Chosen(len(lines), parse, offsets[parse], offsets[parse + 1], selection.filtered, selection.skipped)


def _stage_one_forked(adapter: Adapter, start: int, length: int, offset: int) -> Chosen:
    """Stage one in a forked process, on a block of the inherited map; its pages are
    let go afterwards, so that a process's memory stays one block whatever the file."""
    assert _inherited is not None
    source, prefilter = _inherited
    block = Block(memoryview(source)[start : start + length], length, offset, source=source, start=start)
    try:
        return chosen(adapter, block, prefilter)
    finally:
        first = start - start % mmap.PAGESIZE
        source.madvise(mmap.MADV_DONTNEED, first, start + length - first)
