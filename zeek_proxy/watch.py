"""Following live logs: scan what is new, write the alerts, checkpoint, sleep, again.

Each followed file stays open between looks. When its path comes to name another file
(rotation by rename, or rename and gzip), the old descriptor is read to its end first
(a renamed file, even one deleted once compressed, is still readable through it), then
the new file from its start; the old one is let go once it has been quiet for a while
(Suricata writes on into a renamed eve.json until it reopens its logs). Files found in
a watched folder are picked up as they appear; files that have not changed since they
were read are not read again, and those quiet for long are closed, so a folder of
archives costs neither descriptors nor time.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from zeek_proxy.reading.inputs import LOG_NAME_PATTERNS, Opened, expand
from zeek_proxy.config import Settings
from zeek_proxy.errors import InputError, SourceLocation
from zeek_proxy.pipeline import ScanResult, judge_file, log_names, passed_over_warning, scan, zeek_kinds
from zeek_proxy.state import State

#: Seconds a rotated-away file is still read after it last grew.
DRAIN_QUIET = 30.0
#: Seconds an unchanged file stays open (it is opened again when it changes).
IDLE_CLOSE = 300.0


@dataclass
class _File:
    """A file a followed path names: its descriptor while open, and what was read."""

    fd: int | None
    ident: tuple[int, int]  # device, inode
    read: tuple[int, int] | None = None  # size and mtime when last read
    looked: tuple[int, int] | None = None  # size and mtime before the batch in hand
    changed: float = 0.0  # monotonic time it last changed


@dataclass
class _Draining:
    """A descriptor whose path now names another file: read until it is quiet."""

    label: str
    fd: int
    size: int = -1
    changed: float = 0.0


class Follower:
    """The descriptors of the files that `paths` name, kept from one look to the next."""

    def __init__(self, paths: list[str], names: tuple[str, ...] = LOG_NAME_PATTERNS,
                 input_format: str = "auto") -> None:
        self.paths, self.names, self.input_format = paths, names, input_format
        self.kinds = zeek_kinds(names)
        self.files: dict[str, _File] = {}
        self.draining: list[_Draining] = []
        self.verdicts: dict[str, tuple[tuple[int, int], bool]] = {}  # path -> (device, inode), ours

    def look(self) -> tuple[list[Opened | str], set[str], list[str], list[InputError]]:
        """What to read now: the draining descriptors first, then the files new or
        changed since the last look (by descriptor, or by path when quiet for long);
        also the paths unchanged, and warnings and errors."""
        now = time.monotonic()
        expansion = expand(self.paths, self.names)
        found = {path: info for path, info in map(_stat, expansion.files) if info is not None}
        found, passed_over = self._judged(found, expansion.sniffed)
        for path, gone in list(self.files.items()):  # rotated away, gone, or no longer matched
            info = found.get(path)
            if info is None or (info.st_dev, info.st_ino) != gone.ident:
                del self.files[path]
                if gone.fd is not None:
                    self.draining.append(_Draining(_current_name(gone.fd, path), gone.fd, changed=now))
        sources: list[Opened | str] = [Opened(d.label, d.fd) for d in self.draining]
        unchanged: set[str] = set()
        errors = list(expansion.errors)
        for path, info in found.items():
            known = self.files.get(path)
            look = (info.st_size, info.st_mtime_ns)
            if known is not None and known.read == look:
                unchanged.add(path)
                if known.fd is not None and now - known.changed > IDLE_CLOSE:
                    os.close(known.fd)
                    known.fd = None
                continue
            source = self._source(path, info, known)
            if isinstance(source, InputError):
                errors.append(source)
                continue
            self.files[path].looked, self.files[path].changed = look, now
            sources.append(source)
        warnings = expansion.warnings + ([passed_over_warning(passed_over, self.kinds)] if passed_over else [])
        return sources, unchanged, warnings, errors

    def _judged(self, found: dict[str, os.stat_result],
                sniffed: frozenset[str]) -> tuple[dict[str, os.stat_result], list[str]]:
        """The files to follow: those found under log names, and those found under
        other names that hold a log the run reads (judged once per file, by device and
        inode: a folder of other logs costs no descriptor and no reading); and the
        others, to be named."""
        kept, passed_over = {}, []
        for path, info in found.items():
            if path in sniffed:
                ident = (info.st_dev, info.st_ino)
                known = self.verdicts.get(path)
                if known is None or known[0] != ident:
                    ours = judge_file(path, self.input_format, self.kinds)
                    if ours is None:  # empty yet: judged when it holds a line
                        continue
                    known = self.verdicts[path] = (ident, ours)
                if not known[1]:
                    passed_over.append(path)
                    continue
            kept[path] = info
        self.verdicts = {path: known for path, known in self.verdicts.items() if path in found}
        return kept, passed_over

    def _source(self, path: str, info: os.stat_result, known: _File | None) -> Opened | str | InputError:
        """How to read a file new or changed since the last look: by path when it has
        been quiet for long (an archive: no descriptor held), else through the
        descriptor kept for it (opened now if need be)."""
        if known is not None and known.fd is not None:
            return Opened(path, known.fd)
        if time.time() - info.st_mtime > IDLE_CLOSE:
            self.files[path] = known or _File(None, (info.st_dev, info.st_ino))
            return path
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            return InputError(f"cannot open: {exc.strerror or exc}", SourceLocation(path))
        opened = os.fstat(fd)
        if known is None or (opened.st_dev, opened.st_ino) != known.ident:
            known = _File(None, (opened.st_dev, opened.st_ino))  # replaced since the stat: a new file
        known.fd = fd
        self.files[path] = known
        return Opened(path, fd)

    def done(self) -> None:
        """The batch was read (and its alerts written): note what was read, and let go
        of rotated-away files that have been quiet long enough."""
        now = time.monotonic()
        for known in self.files.values():
            if known.looked is not None:
                known.read, known.looked = known.looked, None
        for draining in list(self.draining):
            size = os.fstat(draining.fd).st_size
            if size != draining.size:
                draining.size, draining.changed = size, now
            elif now - draining.changed > DRAIN_QUIET:
                os.close(draining.fd)
                self.draining.remove(draining)

    def close(self) -> None:
        for known in self.files.values():
            if known.fd is not None:
                os.close(known.fd)
        for draining in self.draining:
            os.close(draining.fd)
        self.files, self.draining = {}, []


def _stat(path: str) -> tuple[str, os.stat_result | None]:
    try:
        return path, os.stat(path)
    except OSError:  # gone since the folder was listed: its descriptor, if any, drains
        return path, None


def _current_name(fd: int, path: str) -> str:
    """Where a rotated file is now (Linux knows), for log.file.path; else its old path."""
    try:
        name = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return path
    return name.removesuffix(" (deleted)") if name.startswith("/") else path


def follow(paths: list[str], settings: Settings, state: State, write: Callable[[ScanResult], None],
           stop: threading.Event, interval: float = 5.0,
           warn: Callable[[str], None] = lambda _: None, **scan_options: object) -> int:
    """Scan what is new in `paths` every `interval` seconds until `stop` is set; returns
    the batches run.

    `write` receives each batch's result (alerts raised before are left out by the
    state) and writes it with the state; `warn` gets each new warning or input error
    once (a log not created yet is normal while watching).
    """
    follower = Follower(paths, log_names(settings), str(scan_options.get("input_format", "auto")))
    told: set[str] = set()
    batches = 0
    try:
        while True:
            sources, unchanged, warnings, errors = follower.look()
            result = scan(sources, settings, state=state, **scan_options)  # type: ignore[arg-type]
            state.touch(unchanged)
            for text in [*warnings, *map(str, errors), *map(str, result.errors)]:
                if text not in told:
                    told.add(text)
                    warn(text)
            write(result)
            follower.done()
            batches += 1
            if stop.wait(0 if stop.is_set() else interval):
                return batches
    finally:
        follower.close()
