"""Why one connection does or does not alert: the verdict and every step behind it.

The verdict comes from the very functions a scan runs (`match`, `suppressing_entry`) on
a one-row ECS frame, so an explanation can never disagree with a scan; the steps name
the networks and entries involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from zeek_proxy.lazy import pd
from zeek_proxy.core.allowlist import suppressing_entry
from zeek_proxy.core.evidence import protocol_match
from zeek_proxy.core.networks import parse_address
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE, match
from zeek_proxy.schema import PROXY_KINDS, SOCKS, frame_from_rows

#: What `--evidence KIND` can name, and the dataset of a record saying it.
EVIDENCE_KINDS = {"socks": "zeek.socks", "http-connect": "zeek.http", "http-proxy-request": "zeek.http",
                  "tls": "zeek.ssl", "http": "zeek.http"}

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
            when: pd.Timestamp | None = None, evidence: str | None = None,
            domain: str | None = None) -> Explanation:
    """Explain the verdict for one connection (at `when`, default now, for expiring
    entries), and, when its logs say what it was (`evidence`, one of EVIDENCE_KINDS),
    which of the two detections applies."""
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
    record = {
        "@timestamp": int(when.value // 1000), "source.ip": str(src) if src else source,
        "destination.ip": str(dst) if dst else destination, "source.port": source_port,
        "destination.port": port, "network.transport": transport,
    }
    row = frame_from_rows([record])
    matched = bool(match(row, settings)[0])
    said = frame_from_rows([record | {"event.dataset": EVIDENCE_KINDS[evidence], "zeek_proxy.evidence": evidence,
                                      "destination.domain": domain}]) if evidence else None
    if said is not None and evidence == SOCKS and settings.socks and not matched and bool(match(said, settings)[0]):
        steps.append(f"a SOCKS record alerts on any port under profile {settings.profile}: the port rule matches")
        failure, matched = None, True
    verdict = "ALERT"
    if said is not None and not (failure is None and matched):
        verdict, matched, failure = _protocol(settings, said, evidence, domain, steps, failure)
    elif said is not None:
        steps.append(f"the logs say {evidence}{f' for {domain}' if domain else ''}: the alert carries it")
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
    return Explanation(verdict, tuple(steps))


def _protocol(settings: "Settings", said: pd.DataFrame, evidence: str, domain: str | None,
              steps: list[str], port_failure: str | None) -> tuple[str, bool, str | None]:
    """The second detection, for a connection the port rule passes over: its verdict,
    whether it matches, and why not."""
    target = f" for {domain}" if domain else ""
    steps.append(f"rule: {PROTOCOL_RULE.name} (version {PROTOCOL_RULE.version}), on any port")
    if evidence not in PROXY_KINDS:
        steps.append(f"the logs say {evidence}{target}: not proxy use on its own  <- no match")
        return "", False, port_failure
    if not settings.evidence:
        steps.append("it is raised with --evidence only  <- no match")
        return "", False, port_failure
    steps.append(f"the logs say {evidence}{target}: proxy use")
    if bool(protocol_match(said, settings)[0]):
        return f"ALERT: {PROTOCOL_RULE.name}", True, None
    steps.append("a proxy protocol needs tcp, an internal source and an Internet destination  <- no match")
    return "", False, port_failure
