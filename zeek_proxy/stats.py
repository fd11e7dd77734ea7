"""Per-input accounting: every record read is evaluated, malformed or skipped."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class InputStats:
    """Counts for one input; `read == evaluated + filtered + malformed + skipped` always holds.

    `filtered` records were never parsed: their raw line cannot match the rule (no
    destination port of the rule in it, or its addresses rule it out).
    """

    path: str
    format: str = "-"
    read: int = 0
    evaluated: int = 0
    filtered: int = 0
    malformed: int = 0
    skipped: int = 0
    matched: int = 0
    allowlisted: int = 0
    alerts: int = 0
    first_problem: str | None = field(default=None, compare=False)

    COUNTERS = ("read", "evaluated", "filtered", "malformed", "skipped", "matched", "allowlisted", "alerts")

    @property
    def balanced(self) -> bool:
        return self.read == self.evaluated + self.filtered + self.malformed + self.skipped

    def add(self, other: "InputStats") -> None:
        for name in self.COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def total(stats: list[InputStats]) -> InputStats:
    """The sum of several inputs' counts."""
    out = InputStats(path="total")
    for s in stats:
        out.add(s)
    return out





def render_allow(counts: dict[str, int]) -> str:
    """How many connections each allow entry suppressed (zero counts too: dead entries show)."""
    if not counts:
        return ""
    width = max(len("allow entry"), *(len(name) for name in counts))
    lines = [f"{'allow entry'.ljust(width)}  suppressed"]
    lines += [f"{name.ljust(width)}  {count:>10}" for name, count in counts.items()]
    return "\n".join(lines)


def render(stats: list[InputStats]) -> str:
    """A plain-text table of per-input counts and their total."""
    rows = [(s.path, s.format, *(str(getattr(s, c)) for c in InputStats.COUNTERS)) for s in stats]
    if len(stats) != 1:
        t = total(stats)
        rows.append(("total", "", *(str(getattr(t, c)) for c in InputStats.COUNTERS)))
    header = ("input", "format", *InputStats.COUNTERS)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
        for r in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)
