"""A one-line progress meter for long scans, drawn on stderr only when it is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from zeek_proxy.stats import InputStats


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} TB"


class Progress:
    """Bytes and files done of the total, records per second, time left.

    Redrawn at most every `interval` seconds; `close()` erases the line.
    """

    def __init__(self, total_bytes: int, total_files: int, out: TextIO | None = None,
                 interval: float = 0.5) -> None:
        self.total_bytes = max(total_bytes, 1)
        self.total_files = total_files
        self.out = out or sys.stderr
        self.interval = interval
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.done_bytes = 0  # bytes of finished files
        self.files_done = 0
        self.drawn = False

    def update(self, position: int, inputs: list[InputStats]) -> None:
        """`position`: bytes read of the current file; `inputs`: counts so far."""
        now = time.monotonic()
        if now - self.last_draw < self.interval:
            return
        self.last_draw = now
        done = self.done_bytes + position
        elapsed = max(now - self.started, 1e-6)
        records = sum(s.read for s in inputs)
        rate = done / elapsed
        left = (self.total_bytes - done) / rate if rate > 0 else 0
        line = (f"{_size(done)} of {_size(self.total_bytes)}, file {self.files_done + 1} of "
                f"{self.total_files}, {records / elapsed / 1e6:.2f}M records/s, "
                f"{int(left // 60)}:{int(left % 60):02d} left")
        self.out.write("\r\x1b[2K" + line)
        self.out.flush()
        self.drawn = True

    def file_done(self, size: int) -> None:
        self.done_bytes += size
        self.files_done += 1

    def close(self) -> None:
        if self.drawn:
            self.out.write("\r\x1b[2K")
            self.out.flush()
