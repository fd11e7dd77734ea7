"""Suricata rules for the same detection, so a live sensor alerts where the offline scan would.

Each proxy port gets the allow entries that cover it, folded into the rule header: the
destinations of entries that set only a destination join the not-Internet networks in
`![...]`, sources of entries that set only a source become `!net` in the source list,
source ports of entries that set only source ports become `![...]` source ports, and an
entry that sets only ports drops those ports. Ports with the same exclusions share a rule.
An entry that combines keys (a NATed server's source and source ports, say) is no single
negation, so it becomes a `noalert` rule that sets a flowbit which the alerting rules
require unset; Suricata orders flowbit setters before readers, so this holds from a flow's
first packet. Every alerting rule also sets `zeek_proxy.alerted` and requires it unset,
so a connection alerts once, on its first client packet, not on every packet (these
rules have no content match, so Suricata would otherwise test each one). Expired entries are left out; entries that expire later are kept, with a
comment, until the rules are generated again.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from zeek_proxy.config import Settings
from zeek_proxy.core.allowlist import AllowEntry
from zeek_proxy.core.networks import Network
from zeek_proxy.core.rule import RULE

FLOWBIT = "zeek_proxy.allowed"
ONCE = "zeek_proxy.alerted"  # set by the alerting rule itself: one alert per flow
HEADER_PROTOCOLS = ("tcp", "udp", "sctp")  # transports a Suricata header names with ports
_HOW = {(): "its ports get no rule", ("source",): "negated in the source list",
        ("destination",): "added to the excluded destinations",
        ("source_ports",): "negated as source ports"}


def _merged(networks: Iterable[Network]) -> tuple[Network, ...]:
    """Networks without duplicates or overlaps, IPv4 first."""
    nets = list(networks)
    return tuple(n for v in (4, 6) for n in ipaddress.collapse_addresses(x for x in nets if x.version == v))


def _covered(nets: Iterable[Network], by: tuple[Network, ...]) -> bool:
    return all(any(n.version == b.version and n.subnet_of(b) for b in by) for n in nets)  # type: ignore[arg-type]


def _group(items: Iterable[object]) -> str:
    return "[" + ",".join(map(str, items)) + "]"


def _safe(text: str, keep: str = " .,:/()#@+=-") -> str:
    """`text` with only characters that need no escaping in a msg, metadata or comment."""
    return re.sub(rf"[^A-Za-z0-9_{re.escape(keep)}]", "_", text)[:80]


def _keys(entry: AllowEntry) -> tuple[str, ...]:
    """The keys an entry sets besides its destination ports, which pick the rules it joins."""
    return tuple(key for key in entry.conditions if key != "ports")


def _covers(entry: AllowEntry, port: int) -> bool:
    return entry.ports is None or port in entry.ports


def _exclusions(settings: Settings, entries: tuple[AllowEntry, ...],
                port: int) -> tuple[str, str, str, bool] | None:
    """(source, source ports, destination, flowbit) header parts for `port`, or None when
    allow entries leave nothing to alert on."""
    sources: list[Network] = []
    destinations = list(settings.not_internet.networks)
    source_ports: set[int] = set()
    for entry in (e for e in entries if _covers(e, port)):
        keys = _keys(entry)
        if not keys:
            return None  # the entry allows the whole port
        if keys == ("source",):
            sources += entry.source.networks  # type: ignore[union-attr]
        elif keys == ("destination",):
            destinations += entry.destination.networks  # type: ignore[union-attr]
        elif keys == ("source_ports",):
            source_ports.update(entry.source_ports)  # type: ignore[arg-type]
    internal = _merged(settings.internal.networks)
    negated = tuple(n for n in _merged(sources)
                    if any(n.version == i.version and n.overlaps(i) for i in internal))  # type: ignore[arg-type]
    excluded = _merged(destinations)
    everywhere = {n for n in excluded if n.prefixlen == 0}
    if not internal or _covered(internal, negated) or len(source_ports) == 65536 or len(everywhere) == 2:
        return None
    source = _group([*internal, *(f"!{n}" for n in negated)])
    sport = "!" + _group(sorted(source_ports)) if source_ports else "any"
    destination = "!" + _group(excluded) if excluded else "any"
    flowbit = any(len(_keys(e)) > 1 for e in entries if _covers(e, port))
    return source, sport, destination, flowbit


def _ports(ports: list[int]) -> str:
    return str(ports[0]) if len(ports) == 1 else _group(ports)


def _options(msg: str, sid: int, extra: str = "", meta: str = "") -> str:
    return (f'(msg:"{msg}"; flow:to_server; {extra}classtype:policy-violation; sid:{sid}; rev:1; '
            f"metadata:elastic_rule_id {RULE.id}, elastic_rule_version {RULE.version}, "
            f"mitre_tactic_id {RULE.tactic_id}, mitre_technique_id {RULE.technique_id}{meta};)")


def to_suricata_rules(settings: Settings, sid_base: int = 9300000, today: date | None = None) -> str:
    """Suricata rules text (one rule a line, `#` comments) for `settings` as of `today`
    (UTC by default); sids run from `sid_base` up without gaps.

    Raises:
        ValueError: a sid outside 1..4294967295.
    """
    today = today or datetime.now(UTC).date()
    # An empty list in an entry matches nothing, so such an entry suppresses nothing.
    live = tuple(e for e in settings.allow if not e.expired(today) and not e.inert)
    ports = list(dict.fromkeys(settings.ports))
    meta = f", zeek_proxy_profile {_safe(settings.profile, '.-')}"
    lines = [
        f'# {RULE.name} (Elastic rule {RULE.id}, version {RULE.version}):',
        f"# {RULE.technique_id} {RULE.technique_name} / {RULE.tactic_id} {RULE.tactic_name}.",
        f"# Generated by zeek-proxy on {today.isoformat()} from profile {_safe(settings.profile)}.",
        f"# ports: {', '.join(map(str, ports)) or 'none'}; transports: {_safe(', '.join(settings.transports)) or 'none'}",
        f"# internal: {', '.join(settings.internal.to_list()) or 'none'}",
        f"# not Internet: {', '.join(settings.not_internet.to_list()) or 'none'}",
    ]
    for entry in settings.allow:
        keys = " + ".join(_keys(entry) + (("ports",) if entry.ports is not None else ()))
        note = (f"expired {entry.expires}: left out" if entry.expired(today)
                else f"expires {entry.expires}: kept; generate these rules again on that day"
                if entry.expires else "kept")
        if entry in live:
            note += "; " + _HOW.get(_keys(entry), f"a noalert rule sets flowbit {FLOWBIT}")
        elif entry.inert:
            note = "an empty list matches nothing: left out"
        lines.append(f"# allow {_safe(entry.name)!r} ({keys}): {note}")
    rules: list[str] = []
    for proto in dict.fromkeys(settings.transports):
        if proto not in HEADER_PROTOCOLS:
            lines.append(f"# transport {_safe(proto)}: no Suricata header names it with ports; not exported")
            continue
        groups: dict[tuple[str, str, str, bool], list[int]] = {}
        for port in ports:
            parts = _exclusions(settings, live, port)
            if parts is None:
                lines.append(f"# {proto} port {port}: no rule (nothing is left to alert on)")
            else:
                groups.setdefault(parts, []).append(port)
        for (source, sport, destination, flowbit), group in groups.items():
            extra = (f"flowbits:isnotset,{FLOWBIT}; " if flowbit else "") + \
                f"flowbits:isnotset,{ONCE}; flowbits:set,{ONCE}; "
            rules.append(f"alert {proto} {source} {sport} -> {destination} {_ports(group)} "
                         + _options(f"{RULE.name} ({proto} port {', '.join(map(str, group))})",
                                    sid_base + len(rules), extra, meta))
        for entry in (e for e in live if len(_keys(e)) > 1):
            covered = [p for p in ports if _covers(entry, p)]
            if not covered:
                continue
            head = [_group(_merged(entry.source.networks)) if entry.source else "any",
                    _group(sorted(set(entry.source_ports))) if entry.source_ports else "any",
                    _group(_merged(entry.destination.networks)) if entry.destination else "any"]
            rules.append(f"alert {proto} {head[0]} {head[1]} -> {head[2]} {_ports(covered)} "
                         + _options(f"{RULE.name} allowed by {_safe(entry.name)}", sid_base + len(rules),
                                    f"flowbits:set,{FLOWBIT}; flowbits:noalert; ",
                                    f"{meta}, zeek_proxy_allow {_safe(entry.name, '.-')}"))
    if rules and not 1 <= sid_base <= sid_base + len(rules) - 1 <= 0xFFFFFFFF:
        raise ValueError(f"sids {sid_base}..{sid_base + len(rules) - 1} are outside 1..4294967295")
    return "\n".join(lines + rules) + "\n"
