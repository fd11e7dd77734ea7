"""Why one connection does or does not alert: the verdict and every step behind it.

The verdict comes from the very functions a scan runs (`match`, `suppressing_entry`) on
a one-row ECS frame, so an explanation can never disagree with a scan; the steps name
the networks and entries involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from zeek_proxy.core.allowlist import suppressing_entry
from zeek_proxy.core.networks import parse_address
from zeek_proxy.core.rule import RULE, match
from zeek_proxy.schema import frame_from_rows

if TYPE_CHECKING:
    from zeek_proxy.config import Settings


@dataclass(frozen=True)
class Explanation:
    verdict: str  # "ALERT", "SUPPRESSED by <entry>", or "NO MATCH: <reason>"
    steps: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join((self.verdict, *(f"  {step}" for step in self.steps)))


def explain(settings: "Settings", source: str, destination: str, port: int,
            source_port: int | None = None, transport: str = "tcp",
            when: pd.Timestamp | None = None) -> Explanation:
    """Explain the verdict for one connection (at `when`, default now, for expiring entries)."""
    transport = transport.lower()
    when = when if when is not None else pd.Timestamp.now(tz="UTC")
    src, dst = parse_address(source), parse_address(destination)
    steps: list[str] = [f"rule: {RULE.name} (version {RULE.version}, profile {settings.profile})"]
    if settings.outbound:
        steps.append(f"profile {settings.profile} also alerts on transport and port alone when Zeek "
                     "marks the connection outbound (local_orig T, local_resp F); judged here by "
                     "its addresses")
    failure: str | None = None

    def check(ok: bool, passed: str, failed: str, detail: str = "") -> None:
        nonlocal failure
        steps.append(passed if ok else f"{failed}{detail}  <- no match")
        if not ok and failure is None:
            failure = failed

    check(transport in settings.transports,
          f"transport {transport} is one of {', '.join(settings.transports)}",
          f"transport {transport} is not one of {', '.join(settings.transports)}")
    ports = ", ".join(map(str, settings.ports))
    check(port in settings.ports, f"destination port {port} is a proxy port ({ports})",
          f"destination port {port} is not a proxy port ({ports})")
    inside = settings.internal.find(src) if src else None
    check(inside is not None, f"source {source} is in internal network {inside}",
          f"source {source} is {'not an IP address' if src is None else 'in no internal network'}",
          f" (internal: {settings.internal})")
    excluded = settings.not_internet.find(dst) if dst else None
    check(dst is not None and excluded is None,
          f"destination {destination} is in no excluded network: the Internet",
          f"destination {destination} is " + ("not an IP address" if dst is None
                                              else f"in excluded network {excluded}"))
    row = frame_from_rows([{
        "@timestamp": int(when.value // 1000), "source.ip": str(src) if src else source,
        "destination.ip": str(dst) if dst else destination, "source.port": source_port,
        "destination.port": port, "network.transport": transport,
    }])
    matched = bool(match(row, settings)[0])
    if failure is not None or not matched:
        return Explanation(f"NO MATCH: {failure or 'the rule does not match'}", tuple(steps))
    entry_name = suppressing_entry(row, settings.allow).iloc[0]
    for entry in settings.allow:
        hit = bool(entry.matches(row)[0])
        note = f" ({entry.reason})" if entry.reason else ""
        steps.append(f"allow entry {entry.name!r} [{entry.describe()}]{note}: "
                     + ("matches" if hit else "does not match"))
        if hit:
            break
    if not settings.allow:
        steps.append("no allow entries are configured")
    if entry_name is not None:
        return Explanation(f"SUPPRESSED by {entry_name}", tuple(steps))
    return Explanation("ALERT", tuple(steps))
