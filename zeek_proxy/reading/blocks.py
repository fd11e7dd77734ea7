"""Reading logs in large line-aligned blocks, and viewing blocks as Arrow line arrays.

Blocks keep memory constant whatever the input size. A plain file is mapped into memory
and its blocks are views of the map, so its bytes are never copied at all; other
streams (gzip, pipes, logs still being written) are read once into a buffer per block.
Either way the Arrow line array is a view of the block, so the kernels that scan it
(without the GIL, in worker threads) touch the bytes in place.
"""

from __future__ import annotations

import io
import mmap
import os
import queue
import stat
import threading
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

import numpy as np
import pyarrow as pa

from zeek_proxy.choices import MAX_RECORD
from zeek_proxy.reading.inputs import GZIP_ERRORS, is_inflating

BLOCK_SIZE = 12 << 20
#: A mapped file's first block is at most this large: it is judged alone (it holds a
#: Zeek TSV header) before any other block is handed out.
FIRST_BLOCK_SIZE = 1 << 20
READ_SIZE = 64 << 10  # per read from a decompressor: one that breaks loses at most this much
_SCAN_STEP = 1 << 20  # bytes compared at a time when finding line ends
QUIET_SECONDS = 60  # files changed more recently than this are read, not mapped


@dataclass(frozen=True)
class FileRef:
    """Which file a mapped block is of, for a forked worker to map it itself: its path,
    and the device and inode it had when opened (a path renamed over since names
    another file, which the worker must not read)."""

    path: str
    device: int
    inode: int


@dataclass(frozen=True)
class Block:
    """Whole lines of a log, the first `length` bytes of `buffer`; only the stream's very
    last line may lack its newline."""

    buffer: bytearray | memoryview
    length: int
    offset: int  # bytes of the (uncompressed) stream before this block
    dropped: int = 0  # > 0: no lines, but one line of this many bytes, too long to keep
    source: Any = None  # the memory map `buffer` views, if any
    start: int = 0  # where `buffer` begins in `source`
    file: FileRef | None = None  # the mapped file

    @property
    def data(self) -> memoryview:
        return memoryview(self.buffer)[: self.length]

    @property
    def terminated(self) -> bool:
        return self.length == 0 or self.buffer[self.length - 1] == 0x0A


def read_blocks(stream: BinaryIO, size: int | None = None, hold_partial: bool = False,
                max_line: int = MAX_RECORD) -> Iterator[Block]:
    """Line-aligned blocks of about `size` bytes.

    A line longer than both `size` and `max_line` is not kept: it is read through and
    reported as a block with `dropped` set, so memory stays bounded whatever the input.

    A last line without its newline is yielded on its own terms, or, with
    `hold_partial` (a log still being written), left for the next read. When the stream
    breaks (a truncated gzip), the complete lines read before the break are still
    yielded, then the error is raised.

    A mapped file's block keeps the pages read from it until the caller lets them go
    (`release`), once it has read the block. `size` defaults to BLOCK_SIZE.
    """
    size = size or BLOCK_SIZE
    mapped = None if hold_partial else _memory_map(stream)
    if mapped is not None:
        yield from _mapped_blocks(*mapped, size, max_line)
        return
    if not hold_partial and is_inflating(stream):
        yield from _read_ahead(_stream_blocks(stream, size, hold_partial, max_line))
        return
    yield from _stream_blocks(stream, size, hold_partial, max_line)


def _stream_blocks(stream: BinaryIO, size: int, hold_partial: bool, max_line: int) -> Iterator[Block]:
    """`read_blocks` over a stream: each block read into a buffer of its own."""
    # readinto1 returns what one underlying read gives, so a break loses nothing read before it.
    readinto = getattr(stream, "readinto1", None) or stream.readinto  # type: ignore[attr-defined]
    # Files and pipes fill a block in as few reads as they can; only decompressors go
    # in small steps.
    step = size if isinstance(stream, (io.BufferedReader, io.FileIO)) else READ_SIZE
    carry = b""
    offset = 0
    while True:
        buffer = bytearray(max(size, 2 * len(carry)))
        buffer[: len(carry)] = carry
        filled, error, eof = len(carry), None, False
        view = memoryview(buffer)
        try:
            while filled < len(buffer):
                count = readinto(view[filled : filled + step])
                if not count:
                    eof = True
                    break
                filled += count
        except (OSError, *GZIP_ERRORS) as exc:
            error = exc
        view.release()
        cut = filled if eof and not hold_partial else buffer.rfind(b"\n", 0, filled) + 1
        if cut:
            carry = bytes(buffer[cut:filled])
            yield Block(buffer, cut, offset)
            offset += cut
        elif filled > max(size, max_line) and not eof:
            dropped, carry, eof = _drop_line(readinto, filled)
            yield Block(bytearray(), 0, offset, dropped=dropped)
            offset += dropped
        else:
            carry = bytes(buffer[:filled])
        if error is not None:
            raise error
        if eof:
            return


#: Blocks a read-ahead thread may have ready before the reader takes them.
READ_AHEAD = 2
_END = object()


def _read_ahead(blocks: Iterator[Block], depth: int = READ_AHEAD) -> Iterator[Block]:
    """`blocks`, made by a thread of their own up to `depth` ahead. Inflating releases
    the GIL: a gzip file inflates on one core while the reader parses and hands out work
    on the other (one gzip scan used 1.15 cores before). A break in the stream is raised
    in order, after the blocks read before it."""
    ready: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for block in blocks:
                if not put(block):
                    return
            put(_END)
        except BaseException as exc:  # handed to the reader, raised there
            put(exc)

    thread = threading.Thread(target=produce, name="zeek-proxy-inflate", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the reader is done, or gave up: the thread ends before the file closes
        thread.join()


def release(block: Block) -> None:
    """Let a mapped block's pages go once its lines are read (the kernel keeps them
    cached, and maps them again if they are read later): resident memory stays a few
    blocks whatever the file, however far ahead blocks are handed out."""
    if isinstance(block.source, mmap.mmap) and block.length:
        first = block.start - block.start % mmap.PAGESIZE
        block.source.madvise(mmap.MADV_DONTNEED, first, block.start + block.length - first)


def _memory_map(stream: BinaryIO) -> tuple[mmap.mmap, int, FileRef] | None:
    """A read-only map of the regular file behind `stream`, where the stream stands in
    it, and the file's reference; None for anything else (pipes, decompressors, empty
    files), and for a file changed in the last minute: a log still being written may be
    truncated in place (logrotate's copytruncate), and a mapped file that shrinks kills
    the reader."""
    if not isinstance(stream, (io.BufferedReader, io.FileIO)):
        return None
    try:
        descriptor = stream.fileno()
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size == 0 or time.time() - info.st_mtime < QUIET_SECONDS:
            return None
        file = FileRef(_path_of(stream.name), info.st_dev, info.st_ino)
        return mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ), stream.tell(), file
    except (OSError, ValueError):
        return None


def map_file(file: FileRef) -> mmap.mmap | None:
    """A read-only map of `file` by its path, or None when the path no longer names
    the file that was opened (renamed over since) or cannot be opened."""
    try:
        with open(file.path, "rb") as stream:
            info = os.fstat(stream.fileno())
            if (info.st_dev, info.st_ino) != (file.device, file.inode):
                return None
            return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None


def _path_of(name: str | int) -> str:
    """A path another process can open the file by: a descriptor's (`watch` opens its
    own) through /proc where there is one; the identity check catches the rest."""
    return os.path.abspath(name) if isinstance(name, str) else f"/proc/{os.getpid()}/fd/{name}"


def _mapped_blocks(source: mmap.mmap, position: int, file: FileRef, size: int,
                   max_line: int) -> Iterator[Block]:
    """`read_blocks` over a memory map: the same blocks, as views."""
    first, end = position, len(source)
    view = memoryview(source)
    step = min(size, FIRST_BLOCK_SIZE)
    while position < end:
        limit = min(position + step, end)
        step = size
        cut = end if limit == end else source.rfind(b"\n", position, limit) + 1
        if not cut:  # one line longer than a block
            newline = source.find(b"\n", limit)
            cut = end if newline < 0 else newline + 1
            if cut - position > max(size, max_line):
                yield Block(bytearray(), 0, position - first, dropped=cut - position)
                position = cut
                continue
        yield Block(view[position:cut], cut - position, position - first, source=source, start=position, file=file)
        position = cut


def _drop_line(readinto, already: int) -> tuple[int, bytes, bool]:  # type: ignore[no-untyped-def]
    """Read through the rest of an overlong line: its length, what follows it, and EOF."""
    scratch = bytearray(READ_SIZE)
    dropped = already
    while True:
        count = readinto(scratch)
        if not count:
            return dropped, b"", True
        end = scratch.find(b"\n", 0, count)
        if end >= 0:
            return dropped + end + 1, bytes(scratch[end + 1 : count]), False
        dropped += count


def line_offsets(lines: pa.Array) -> np.ndarray:
    """Where each of an Arrow line array's lines starts, and where the last one ends."""
    return np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]


def lines_of(block: Block) -> pa.Array:
    """The lines of a block as an Arrow array viewing the block's buffer (no copy).

    Each line keeps its newline (Arrow offsets are contiguous), so patterns that anchor
    at a line's end allow an optional `\r?\n` there.
    """
    data = np.frombuffer(block.buffer, dtype=np.uint8, count=block.length)
    # Found a megabyte at a time, so the comparison's scratch stays small and in cache.
    newlines = np.concatenate([np.flatnonzero(data[at : at + _SCAN_STEP] == 0x0A) + at
                               for at in range(0, max(len(data), 1), _SCAN_STEP)])
    offsets = np.empty(len(newlines) + 1 + (not block.terminated), dtype=np.int64)
    offsets[0] = 0
    offsets[1 : len(newlines) + 1] = newlines + 1
    if not block.terminated:
        offsets[-1] = block.length
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(block.buffer)]
    )
