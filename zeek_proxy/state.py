"""Checkpoints: each run reads only what is new since the last one.

Files are known by identity, not name: device and inode, plus a fingerprint (SHA-1 of
the first bytes of their text), so a rotated (renamed) log keeps its progress, a
rotated log compressed into an archive is recognised by its fingerprint, a reused inode
or a different file under an old name is not mistaken, and a truncated file starts
over. The offset saved is that of the last complete record, so a half-written line is
read next time. The state file is replaced atomically (temporary file, fsync, rename),
and only after the run's alerts were written and synced.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

from zeek_proxy.errors import ConfigError, SourceLocation

FINGERPRINT_BYTES = 4096
FORGET_AFTER = 14 * 86_400  # seconds an unseen file's progress is kept (for late archives)
VERSION = 1


@dataclass
class FileProgress:
    """How far one log was read."""

    path: str
    device: int
    inode: int
    fingerprint: str
    fingerprint_length: int
    offset: int = 0  # bytes of text read as complete records
    line: int = 0  # lines read
    header: list[str] = field(default_factory=list)  # Zeek TSV header in force at offset
    seen: float = 0.0


def fingerprint(head: bytes) -> str:
    return hashlib.sha1(head).hexdigest()


@dataclass
class Start:
    """Where to begin reading a file, and the progress record to update."""

    offset: int
    line: int
    header: list[str]
    progress: FileProgress


class State:
    """The checkpoint file: progress per file, loaded and saved as JSON."""

    def __init__(self, path: str, files: list[FileProgress] | None = None) -> None:
        self.path = path
        self.files = files or []

    @classmethod
    def load(cls, path: str) -> "State":
        """The state at `path`; empty when the file does not exist yet."""
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"unreadable state file ({exc}); move it away to start over",
                              SourceLocation(path)) from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ConfigError("not a zeek-proxy state file (or another version)", SourceLocation(path))
        try:
            return cls(path, [FileProgress(**entry) for entry in data.get("files", [])])
        except TypeError as exc:
            raise ConfigError(f"damaged state file ({exc})", SourceLocation(path)) from None

    def start(self, path: str, raw: BinaryIO, head: bytes) -> Start:
        """Where reading `path` should begin; `head` is the start of its text."""
        try:
            info = os.fstat(raw.fileno())
            device, inode = info.st_dev, info.st_ino
        except (OSError, AttributeError, ValueError):  # stdin
            device, inode = 0, 0
        known = self._find(device, inode, head)
        if known is None:
            known = FileProgress(path, device, inode, fingerprint(head[:FINGERPRINT_BYTES]),
                                 min(len(head), FINGERPRINT_BYTES))
            if head and path != "-":
                self.files.append(known)
        known.path, known.device, known.inode, known.seen = path, device, inode, time.time()
        if known.fingerprint_length < min(len(head), FINGERPRINT_BYTES):  # it grew: know it better
            known.fingerprint_length = min(len(head), FINGERPRINT_BYTES)
            known.fingerprint = fingerprint(head[: known.fingerprint_length])
        return Start(known.offset, known.line, list(known.header), known)

    def _find(self, device: int, inode: int, head: bytes) -> FileProgress | None:
        def same_text(entry: FileProgress) -> bool:
            return (0 < entry.fingerprint_length <= len(head)
                    and fingerprint(head[: entry.fingerprint_length]) == entry.fingerprint)

        for entry in self.files:  # the same file, perhaps renamed
            if (entry.device, entry.inode) == (device, inode) and inode:
                if same_text(entry):
                    return entry
                self.files.remove(entry)  # truncated, or the inode was reused: start over
                return None
        for entry in self.files:  # the same text under a new inode: compressed on rotation
            if same_text(entry):
                return entry
        return None

    @staticmethod
    def restart(start: Start) -> Start:
        """Read the file from its beginning (it was truncated below its saved offset)."""
        return Start(0, 0, [], start.progress)

    @staticmethod
    def advance(start: Start, consumed: int, lines: int, header: list[str]) -> None:
        """Record that `consumed` more bytes (whole records) were read after `start`."""
        start.progress.offset = start.offset + consumed
        start.progress.line = lines
        start.progress.header = header

    def save(self) -> None:
        """Replace the state file atomically (a state without a path is kept in memory)."""
        if not self.path:
            return
        cutoff = time.time() - FORGET_AFTER
        self.files = [f for f in self.files if f.seen >= cutoff]
        data: dict[str, Any] = {"version": VERSION, "files": [asdict(f) for f in self.files]}
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".zeek-proxy-state-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
