"""Where results are written: stdout, or a file replaced atomically when complete."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator, TextIO

from zeek_proxy.errors import ConfigError, SourceLocation


def refuse_inputs(output: str, inputs: list[str]) -> None:
    """Raise ConfigError when `output` is one of the `inputs` (it would be destroyed)."""
    if output == "-":
        return
    target = os.path.realpath(output)
    if any(p != "-" and os.path.realpath(p) == target for p in inputs):
        raise ConfigError("output file is one of the inputs; refusing to overwrite it",
                          SourceLocation(output))


@contextmanager
def open_output(path: str, append: bool = False) -> Iterator[TextIO]:
    """A text stream for `path` ("-" is stdout); with `append`, added to the file's end.

    A regular file is written beside its target under a temporary name and renamed over
    it only after everything was written and synced, so a crash never leaves a partial
    file. Anything else that exists (/dev/null, a pipe, a terminal) is written in place:
    renaming over it would replace the device or pipe with a file.
    """
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    in_place = os.path.exists(path) and not os.path.isfile(path)
    if append or in_place:  # checkpointed runs add to what earlier runs wrote
        try:
            out = open(path, "a" if append else "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"cannot write output: {exc.strerror or exc}", SourceLocation(path)) from None
        with out:
            yield out
            out.flush()
            if not in_place:  # synced before the checkpoint moves on
                os.fsync(out.fileno())
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".zeek-proxy-", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot write output: {exc.strerror or exc}", SourceLocation(path)) from None
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
