"""Where logs come from: paths, folders, globs and stdin, plain or gzip.

Folders are recursed for the names sensors write: `*conn*.log*` (zeekctl archives such
as `2026-11-27/conn.10:00:00-11:00:00.log.gz` included) and `*eve*.json*`. Every other
`*.log*` and `*.json*` file found there is a candidate (`Expansion.sniffed`): an eve
file named otherwise, or a Zeek log of another kind, which only its content can tell
apart; the caller judges those.
"""

from __future__ import annotations

import fnmatch
import glob
import gzip
import io
import os
import sys
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from zeek_proxy.errors import InputError, SourceLocation

STDIN = "-"
LOG_NAME_PATTERNS = ("*conn*.log*", "*eve*.json*")
SOCKS_NAME_PATTERNS = ("*socks*.log*",)  # read too by the profiles with a socks branch
EVIDENCE_NAME_PATTERNS = ("*socks*.log*", "*http*.log*", "*ssl*.log*", "*tunnel*.log*")  # and by --evidence
NOT_LOGS = ("*conn-summary*",)  # zeekctl's text reports
#: Other names a folder's files are judged by content under: any log or JSON file.
SNIFFED_NAME_PATTERNS = ("*.log*", "*.json*")
GZIP_MAGIC = b"\x1f\x8b"
HEAD_SIZE = 64 * 1024  # the bytes a log's format is judged by
BUFFER = 1 << 20
READ_CHUNK = 256 << 10


@dataclass(frozen=True)
class Expansion:
    """The files a list of PATH arguments stands for, the arguments naming nothing that
    exists (errors), and the folders and globs with no log in them yet (warnings).
    `sniffed` are the files of `files` found in folders under no log name: read only
    when their content is a log the run reads."""

    files: list[str]
    errors: list[InputError]
    warnings: list[str]
    sniffed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Opened:
    """A log the caller holds open, read through a duplicate of `fd` and reported as
    `path`: `watch` keeps descriptors, so a file renamed or deleted by rotation is still
    read to its end."""

    path: str
    fd: int


def is_log_name(name: str, patterns: tuple[str, ...] = LOG_NAME_PATTERNS) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns) and not any(
        fnmatch.fnmatch(name, p) for p in NOT_LOGS
    )


def is_url(path: str) -> bool:
    return "://" in path


def _open_url(url: str) -> BinaryIO:
    try:
        import fsspec
    except ImportError:
        raise InputError("reading URLs needs fsspec (pip install 'zeek-proxy[dask]')",
                         SourceLocation(url)) from None
    try:
        return fsspec.open(url, "rb").open()
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"cannot open: {exc}", SourceLocation(url)) from None


def expand(paths: list[str], patterns: tuple[str, ...] = LOG_NAME_PATTERNS) -> Expansion:
    """Files in the order given (folders, searched for names matching `patterns`, and
    globs sorted), each once; a folder's other `*.log*` and `*.json*` files are among
    them, and in `sniffed` too, unless an argument names them."""
    files: list[str] = []
    errors: list[InputError] = []
    warnings: list[str] = []
    sniffed: set[str] = set()
    given: set[str] = set()  # files named by an argument or a glob: read, whatever they hold
    for arg in paths:
        if arg == STDIN or is_url(arg):  # URLs are opened (and globbed) by fsspec
            files.append(arg)
        elif os.path.isdir(arg):
            named, candidates = _folder(arg, patterns)
            if not named and not candidates:
                warnings.append(f"{arg}: no input logs ({', '.join(patterns)}) in this folder yet")
            files.extend(sorted(named + candidates))
            sniffed.update(candidates)
        elif os.path.exists(arg):
            files.append(arg)
            given.add(arg)
        elif glob.has_magic(arg):
            found = sorted(p for p in glob.glob(arg, recursive=True) if os.path.isfile(p))
            if not found:
                warnings.append(f"{arg}: no files match this pattern yet")
            files.extend(found)
            given.update(found)
        else:
            errors.append(InputError("no such file or directory", SourceLocation(arg)))
    seen: set[str] = set()
    unique = [f for f in files if f == STDIN or not (f in seen or seen.add(f))]  # type: ignore[func-returns-value]
    return Expansion(unique, errors, warnings, frozenset(sniffed - given))


def _folder(folder: str, patterns: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The files under `folder` named as `patterns` say, and the other log and JSON
    files there, to be judged by their content."""
    named, candidates = [], []
    for path in Path(folder).rglob("*"):
        if not path.is_file():
            continue
        if is_log_name(path.name, patterns):
            named.append(str(path))
        elif is_log_name(path.name, SNIFFED_NAME_PATTERNS):
            candidates.append(str(path))
    return named, candidates


def is_gzip(stream: io.BufferedReader) -> bool:
    return stream.peek(2)[:2] == GZIP_MAGIC


def head(stream: io.BufferedReader, size: int = HEAD_SIZE) -> bytes:
    """The first bytes of the log's text, without consuming the stream.

    For gzip the head is inflated on the side, tolerating a cut-off archive, so that a
    truncated file can still be recognised and read up to where it breaks.
    """
    first = stream.peek(size)
    if first[:2] != GZIP_MAGIC:
        return first[:size]
    try:
        return zlib.decompressobj(wbits=31).decompress(first, size)
    except zlib.error:  # not really gzip: the bytes themselves, which no format will claim
        return first[:size]


@dataclass
class OpenLog:
    """An open log: its text as a binary stream, its first bytes for sniffing, and the
    raw file underneath (for progress: how far into the file we are)."""

    stream: BinaryIO
    head: bytes
    raw: BinaryIO

    def position(self) -> int:
        try:
            return self.raw.tell()
        except OSError:  # stdin, pipes
            return 0


try:  # ISA-L inflates several times faster than zlib
    from isal import isal_zlib as _inflate_module
except ImportError:  # pragma: no cover - isal is a dependency, but not on every platform
    _inflate_module = zlib  # type: ignore[no-redef]

#: What a broken compressed stream raises.
GZIP_ERRORS: tuple[type[BaseException], ...] = (EOFError, zlib.error, gzip.BadGzipFile,
                                                _inflate_module.error)  # type: ignore[attr-defined]


class _Gunzip(io.RawIOBase):
    """A gzip stream (one or more members) inflated as it is read.

    Everything inflated is handed out before a break is reported, so a truncated archive
    yields all it holds; at most `len(buffer)` bytes are inflated per read, so a
    decompression bomb cannot grow memory.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.inflate = _inflate_module.decompressobj(wbits=31)
        self.pending = b""  # compressed bytes not yet inflated
        self.in_member = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while True:
            if self.inflate.eof:  # next member, if any
                self.pending = self.inflate.unused_data + self.pending
                self.inflate = _inflate_module.decompressobj(wbits=31)
                self.in_member = False
            if not self.pending:
                self.pending = self.raw.read(READ_CHUNK)
                if not self.pending:
                    if self.in_member:
                        raise EOFError("compressed file ended before the end-of-stream marker was reached")
                    return 0
            self.in_member = True
            out = self.inflate.decompress(self.pending, len(buffer))
            self.pending = self.inflate.unconsumed_tail
            if out:
                buffer[: len(out)] = out
                return len(out)


def is_inflating(stream: BinaryIO) -> bool:
    """Whether `stream` is a gzip file being inflated (see `_Gunzip`)."""
    return isinstance(getattr(stream, "raw", None), _Gunzip)


def _gunzip(raw: BinaryIO) -> BinaryIO:
    return io.BufferedReader(_Gunzip(raw), BUFFER)  # type: ignore[return-value]


@contextmanager
def open_log(path: str, fd: int | None = None) -> Iterator[OpenLog]:
    """The log at `path` ("-" is stdin), or the one open as `fd`, read from its start;
    gunzipped when it starts with gzip magic."""
    try:
        if fd is not None:
            raw = open(os.dup(fd), "rb", buffering=BUFFER)
            raw.seek(0)
        elif path == STDIN:  # the raw descriptor: over a second buffer, one Ctrl-D ends a read, not input
            raw = io.BufferedReader(getattr(sys.stdin.buffer, "raw", sys.stdin.buffer), BUFFER)
        elif is_url(path):
            raw = io.BufferedReader(_open_url(path), BUFFER)  # type: ignore[arg-type]
        else:
            raw = open(path, "rb", buffering=BUFFER)
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", SourceLocation(path)) from None
    try:
        start = head(raw)
        yield OpenLog(_gunzip(raw) if is_gzip(raw) else raw, start, raw)
    finally:
        if path != STDIN:
            raw.close()
