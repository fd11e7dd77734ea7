"""Checkpoints: each run reads only what is new since the last, and alerts exactly once.

A file is known by its content, not its name or inode: a SHA-1 of its first bytes after
decompression (a Zeek header with its `#open` time, or the first eve line), so
`conn.log`, its renamed copy and its gzipped archive are one file, and reading resumes
inside the archive at the same decompressed offset. A file shorter than the
fingerprint is known by what it has so far, and known better as it grows. The offset
saved is that of the last complete record, so a half-written line is read next time.

Besides the files, the state holds what makes delivery exact: the ids of the alerts
already written (a connection met again in a later run, as Suricata's flow event
after its tls event, alerts once), alerts carried to the next run by `--max-signals`,
and the outbox: the text of the last run's alerts and where it goes, saved before it
is appended, so that a run killed half-way through writing is completed by the next.

The state file is replaced atomically (temporary file, fsync, rename) and locked while
a run uses it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from zeek_proxy.errors import ConfigError, SourceLocation

FINGERPRINT_BYTES = 4096
FORGET_AFTER = 14 * 86_400  # seconds an unseen file's progress is kept (for late archives)
ALERTED_KEPT = 200_000  # ids of written alerts remembered, newest kept
VERSION = 2


@dataclass
class FileProgress:
    """How far one log was read."""

    path: str  # where it was last seen (for people reading the state)
    fingerprint: str
    fingerprint_length: int
    offset: int = 0  # bytes of text read as complete records
    line: int = 0  # lines read
    header: list[str] = field(default_factory=list)  # Zeek TSV header in force at offset
    seen: float = 0.0
    archive_size: int = 0  # bytes of a compressed copy read to its end: unchanged, nothing new


@dataclass
class Outbox:
    """Text to append to `path` at byte `size` (a file with inode `inode`)."""

    path: str
    inode: int
    size: int
    text: str


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
    """The checkpoint file: progress per file, alerts written and carried, the outbox."""

    def __init__(self, path: str, files: list[FileProgress] | None = None) -> None:
        self.path = path
        self.files = files or []
        self.alerted: dict[str, float] = {}  # event.id -> when it was written (or carried)
        self.pending: list[dict[str, Any]] = []  # alert rows carried by --max-signals
        self.outbox: Outbox | None = None
        self.windows: dict[str, dict[str, Any]] = {}  # open suppression windows, by group
        self.terms: dict[str, int] = {}  # --new-terms history: combination -> last seen (us)
        self._lock: int | None = None
        self._index: dict[int, dict[str, FileProgress]] | None = None  # length -> fingerprint -> file

    @classmethod
    def load(cls, path: str) -> "State":
        """The state at `path` (empty when the file does not exist yet), locked for this
        process; version 1 files are read and written back as version 2."""
        state = cls(path)
        state.lock()
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return state
        except (OSError, ValueError) as exc:
            raise ConfigError(f"unreadable state file ({exc}); move it away to start over",
                              SourceLocation(path)) from None
        if not isinstance(data, dict) or data.get("version") not in (1, VERSION):
            raise ConfigError("not a zeek-proxy state file (or a newer version)", SourceLocation(path))
        try:
            for entry in data.get("files", []):
                for gone in ("device", "inode"):  # version 1 knew files by inode too
                    entry.pop(gone, None)
                state.files.append(FileProgress(**entry))
            state.alerted = {str(k): float(v) for k, v in data.get("alerted", {}).items()}
            state.pending = list(data.get("pending", []))
            state.outbox = Outbox(**data["outbox"]) if data.get("outbox") else None
            state.windows = {str(k): dict(v) for k, v in data.get("windows", {}).items()}
            state.terms = {str(k): int(v) for k, v in data.get("terms", {}).items()}
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            raise ConfigError(f"damaged state file ({exc})", SourceLocation(path)) from None
        return state

    def release(self) -> None:
        """Let go of the lock (the process ending does it too)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def lock(self) -> None:
        """Hold the state's lock file: a second run on the same state (an overlapping cron
        run, a watch and a scan) would read and alert the same records twice."""
        if not self.path or self._lock is not None:
            return
        lock_path = self.path + ".lock"
        try:
            os.makedirs(os.path.dirname(os.path.abspath(lock_path)), exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot use state file: {exc.strerror or exc}", SourceLocation(self.path)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError("state file in use by another zeek-proxy run; runs sharing a state "
                              "would alert twice", SourceLocation(self.path)) from None
        self._lock = fd

    def start(self, path: str, head: bytes) -> Start:
        """Where reading `path` should begin; `head` is the start of its text."""
        known = self._find(head)
        length = min(len(head), FINGERPRINT_BYTES)
        if known is None:
            known = FileProgress(path, fingerprint(head[:length]), length)
            if head and path != "-":
                self.files.append(known)
                self._index = None
        known.path, known.seen = path, time.time()
        if known.fingerprint_length < length:  # it grew: know it better
            known.fingerprint_length, known.fingerprint = length, fingerprint(head[:length])
            self._index = None
        return Start(known.offset, known.line, list(known.header), known)

    def _find(self, head: bytes) -> FileProgress | None:
        """The file whose fingerprint `head` begins with; the longest fingerprint wins (a
        short one is of a file that had little text when last seen). One hash per
        fingerprint length, however many files are known."""
        if self._index is None:
            self._index = {}
            for entry in self.files:
                self._index.setdefault(entry.fingerprint_length, {})[entry.fingerprint] = entry
        by_length = self._index
        for length in sorted(by_length, reverse=True):
            if 0 < length <= len(head):
                found = by_length[length].get(fingerprint(head[:length]))
                if found is not None:
                    return found
        return None

    def touch(self, paths: set[str]) -> None:
        """Note files seen unchanged (not read), so their progress is not forgotten."""
        now = time.time()
        for entry in self.files:
            if entry.path in paths:
                entry.seen = now

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

    def remember(self, event_ids: list[str]) -> None:
        """Note alerts as written (or carried): they are not raised again."""
        now = time.time()
        for event_id in event_ids:
            self.alerted[event_id] = now

    def save(self) -> None:
        """Replace the state file atomically (a state without a path is kept in memory)."""
        if not self.path:
            return
        cutoff = time.time() - FORGET_AFTER
        self.files = [f for f in self.files if f.seen >= cutoff]
        self._index = None
        if len(self.alerted) > ALERTED_KEPT:
            newest = sorted(self.alerted.items(), key=lambda item: item[1])[-ALERTED_KEPT:]
            self.alerted = dict(newest)
        data: dict[str, Any] = {
            "version": VERSION, "files": [asdict(f) for f in self.files], "alerted": self.alerted,
            "pending": self.pending, "outbox": asdict(self.outbox) if self.outbox else None,
            "windows": self.windows, "terms": self.terms,
        }
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".zeek-proxy-state-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, separators=(",", ":"))
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
