"""Where results are written: stdout, a file replaced atomically when complete, or a
file that checkpointed runs append to exactly once."""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator, TextIO

from zeek_proxy.lazy import pd
from zeek_proxy.emit import EMITTERS
from zeek_proxy.errors import ConfigError, SourceLocation
from zeek_proxy.state import Outbox, State

logger = logging.getLogger(__name__)


def refuse_inputs(output: str, inputs: list[str]) -> None:
    """Raise ConfigError when `output` is one of the `inputs` (it would be destroyed)."""
    if output == "-":
        return
    target = os.path.realpath(output)
    if any(p != "-" and os.path.realpath(p) == target for p in inputs):
        raise ConfigError("output file is one of the inputs; refusing to overwrite it",
                          SourceLocation(output))


def _stdout() -> TextIO:
    """Standard output through a buffered writer of its own: with PYTHONUNBUFFERED set,
    sys.stdout drops what a partial write leaves over (a reader gone mid-write) instead
    of raising BrokenPipeError."""
    sys.stdout.flush()
    try:
        raw = io.FileIO(sys.stdout.fileno(), "w", closefd=False)
    except (OSError, ValueError):  # not a file (a test harness's capture): it is whole already
        return sys.stdout
    return io.TextIOWrapper(io.BufferedWriter(raw, 1 << 20), encoding="utf-8", newline="")


def _cannot_write(path: str, exc: OSError) -> ConfigError:
    return ConfigError(f"cannot write output: {exc.strerror or exc}", SourceLocation(path))


def _make_folder(path: str) -> None:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def is_appendable(path: str) -> bool:
    """A regular file (or one to be): appends to it can be checked and completed."""
    return path != "-" and (not os.path.exists(path) or os.path.isfile(path))


def starts_empty(path: str) -> bool:
    """Nothing written at `path` yet (a header belongs at its top)."""
    try:
        return path == "-" or os.path.getsize(path) == 0
    except OSError:
        return True


@contextmanager
def open_output(path: str) -> Iterator[TextIO]:
    """A text stream for `path` ("-" is stdout).

    A regular file is written beside its target under a temporary name and renamed over
    it only after everything was written and synced, so a crash or an interrupt never
    leaves a partial file. Anything else that exists (/dev/null, a pipe, a terminal) is
    written in place: renaming over it would replace the device or pipe with a file.
    A missing folder is created.
    """
    if path == "-":
        out = _stdout()
        yield out
        out.flush()
        return
    if os.path.exists(path) and not os.path.isfile(path):
        try:
            out = open(path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        with out:
            yield out
        return
    _make_folder(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".zeek-proxy-", dir=directory)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def append_once(path: str, text: str, state: State) -> None:
    """Append `text` to the file at `path`, and save `state` with it, exactly once.

    The text goes into the state's outbox and the state is saved first; only then is
    the text appended and synced. A run killed in between leaves the outbox, which
    `settle` completes at the next start: never lost, never written twice.
    """
    _make_folder(path)
    try:
        with open(path, "ab") as out:
            info = os.fstat(out.fileno())
            state.outbox = Outbox(os.path.abspath(path), info.st_ino, info.st_size, text) if text else None
            state.save()
            if text:
                _write_from(out, info.st_size, text.encode("utf-8"))
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _write_from(out, start: int, data: bytes) -> None:  # type: ignore[no-untyped-def]
    """Write what of `data` (meant to begin at byte `start`) the file does not hold yet."""
    written = os.fstat(out.fileno()).st_size - start
    if written < len(data):
        out.write(data[max(written, 0):])
        out.flush()
        os.fsync(out.fileno())


def settle(state: State) -> None:
    """Complete the append a killed run left in the state's outbox."""
    box = state.outbox
    if box is None:
        return
    state.outbox = None
    if not os.path.isfile(box.path):
        _not_rewritten(box, "gone")
        return
    try:
        with open(box.path, "ab") as out:
            info = os.fstat(out.fileno())
            data = box.text.encode("utf-8")
            if info.st_ino != box.inode or not box.size <= info.st_size <= box.size + len(data):
                _not_rewritten(box, "changed (rotated?)")
            elif info.st_size < box.size + len(data):
                logger.warning("%s: completing the alerts an interrupted run left half-written", box.path)
                _write_from(out, box.size, data)
    except OSError as exc:
        raise _cannot_write(box.path, exc) from None


def _not_rewritten(box: Outbox, how: str) -> None:
    logger.warning("%s: %s since the last run; the %d alert line(s) that run may not have finished "
                   "writing are not written again", box.path, how, box.text.count("\n"))


def _emit(out: TextIO, alerts: pd.DataFrame, to: str, header: bool, footer: bool) -> None:
    emitter = EMITTERS[to](out)
    if header:
        emitter.begin()
    emitter.write(alerts)
    if footer:
        emitter.end()


def deliver(alerts: pd.DataFrame, output: str, to: str, state: State | None, first: bool = True) -> None:
    """Write `alerts` in format `to`, and save `state` with them.

    Without a state the output is a whole file (header, alerts, footer) replacing what
    was there. With one, alerts are added to what earlier runs wrote: a header only at
    the top of an empty file, no footer; a regular file gets them exactly once
    (`append_once`), stdout and other streams get them before the state is saved, and
    a header on the `first` batch.
    """
    if state is None:
        with open_output(output) as out:
            _emit(out, alerts, to, header=True, footer=True)
    elif is_appendable(output):
        text = io.StringIO()
        _emit(text, alerts, to, header=starts_empty(output), footer=False)
        append_once(output, text.getvalue(), state)
    else:
        try:
            out = _stdout() if output == "-" else open(output, "a", encoding="utf-8", newline="")
        except OSError as exc:
            raise _cannot_write(output, exc) from None
        _emit(out, alerts, to, header=first, footer=False)
        out.flush()
        if out is not sys.stdout:
            out.close()
        state.save()
