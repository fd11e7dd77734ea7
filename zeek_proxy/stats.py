"""Per-input accounting: every record read is evaluated, malformed or skipped."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class InputStats:
    """Counts for one input; `read == evaluated + malformed + skipped` always holds."""

    path: str
    format: str = "-"
    read: int = 0
    evaluated: int = 0
    malformed: int = 0
    skipped: int = 0
    matched: int = 0
    alerts: int = 0
    first_problem: str | None = field(default=None, compare=False)

    COUNTERS = ("read", "evaluated", "malformed", "skipped", "matched", "alerts")

    @property
    def balanced(self) -> bool:
        return self.read == self.evaluated + self.malformed + self.skipped

    def add(self, other: "InputStats") -> None:
        for name in self.COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def total(stats: list[InputStats]) -> InputStats:
    """The sum of several inputs' counts."""
    out = InputStats(path="total")
    for s in stats:
        out.add(s)
    return out


__all__ = ["InputStats", "total", "fields"]
