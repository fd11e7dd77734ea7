"""SIGINT and SIGTERM: a run ends with 130 or 143 and one line, and never between
writing its alerts and saving its checkpoint."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

NAMES: dict[int, str] = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Interrupted(BaseException):
    """A stop signal arrived; `exit_code` is 128 + its number, as shells report it."""

    def __init__(self, signum: int) -> None:
        super().__init__(NAMES.get(signum, f"signal {signum}"))
        self.signum = signum
        self.exit_code = 128 + signum


class Interrupts:
    """Turns SIGINT and SIGTERM into `Interrupted`, except while `held`: then the signal
    is kept and raised when the held section ends."""

    def __init__(self) -> None:
        self._holding = False
        self._received: int | None = None

    def install(self) -> "Interrupts":
        for signum in NAMES:
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self._holding:
            self._received = self._received or signum
            return
        raise Interrupted(signum)

    @contextmanager
    def held(self) -> Iterator[None]:
        """A section a signal must not cut in two (alerts written, then the state saved)."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._received is not None:
            raise Interrupted(self._received)
