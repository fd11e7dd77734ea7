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

With evidence, two `alert http` rules on any port add the "Proxy Protocol to the
Internet" detection: an HTTP CONNECT (`http.method`, any case, exactly CONNECT) and a
request in absolute form (`http.uri.raw`, the URI eve writes as `url`, starting with a
scheme and `://`), from the internal networks to the Internet. Allow entries fold into
their header the same way (an entry that sets only ports drops those ports with
`![...]`); every other entry gets a `noalert` rule, on any port or its own, setting the
same allow flowbit. They share the once-a-flow flowbit with the port rules, so a
connection the port rule alerted on (at its first packet) raises nothing more: one alert
a connection, the port rule's first, as in the scan. SOCKS is not exported: Suricata
has no SOCKS parser, and a byte pattern on a flow's first bytes (`05 01 00`, `04 01`)
would match other protocols too; the output says so in a comment.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from zeek_proxy.config import Settings
from zeek_proxy.core.allowlist import AllowEntry
from zeek_proxy.core.networks import Network
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE, RuleMeta
from zeek_proxy.export import socks_rule

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


def _options(msg: str, sid: int, extra: str = "", meta: str = "", rule: RuleMeta = RULE,
             flow: str = "to_server") -> str:
    origin = "elastic" if rule is RULE else "zeek_proxy"
    return (f'(msg:"{msg}"; flow:{flow}; {extra}classtype:policy-violation; sid:{sid}; rev:1; '
            f"metadata:{origin}_rule_id {rule.id}, {origin}_rule_version {rule.version}, "
            f"mitre_tactic_id {rule.tactic_id}, mitre_technique_id {rule.technique_id}{meta};)")


#: The protocol rules: a name for the msg, and what the request says.
HTTP_PROXY = {
    "HTTP CONNECT": 'http.method; content:"CONNECT"; nocase; bsize:7; ',
    "HTTP proxy request": 'http.uri.raw; content:"://"; pcre:"/^[A-Za-z][A-Za-z0-9+.-]*:\\/\\//"; ',
}


def _any_port(settings: Settings, entries: tuple[AllowEntry, ...]
              ) -> tuple[tuple[str, str, str, str], list[AllowEntry]] | None:
    """(source, source ports, destination, destination ports) header parts of a rule on
    any port, and the entries that need a flowbit rule; None when allow entries leave
    nothing to alert on."""
    sources: list[Network] = []
    destinations = list(settings.not_internet.networks)
    source_ports: set[int] = set()
    ports: set[int] = set()
    setters: list[AllowEntry] = []
    for entry in entries:
        keys = tuple(entry.conditions)
        if keys == ("ports",):
            ports.update(entry.ports)  # type: ignore[arg-type]
        elif keys == ("source",):
            sources += entry.source.networks  # type: ignore[union-attr]
        elif keys == ("destination",):
            destinations += entry.destination.networks  # type: ignore[union-attr]
        elif keys == ("source_ports",):
            source_ports.update(entry.source_ports)  # type: ignore[arg-type]
        else:
            setters.append(entry)
    internal = _merged(settings.internal.networks)
    negated = tuple(n for n in _merged(sources)
                    if any(n.version == i.version and n.overlaps(i) for i in internal))  # type: ignore[arg-type]
    excluded = _merged(destinations)
    everywhere = {n for n in excluded if n.prefixlen == 0}
    if (not internal or _covered(internal, negated) or len(source_ports) == 65536 or len(ports) == 65536
            or len(everywhere) == 2):
        return None
    return (_group([*internal, *(f"!{n}" for n in negated)]),
            "!" + _group(sorted(source_ports)) if source_ports else "any",
            "!" + _group(excluded) if excluded else "any",
            "!" + _group(sorted(ports)) if ports else "any"), setters


def _head(entry: AllowEntry) -> list[str]:
    """Source, source ports, destination and destination ports of an entry's allow rule."""
    return [_group(_merged(entry.source.networks)) if entry.source else "any",
            _group(sorted(set(entry.source_ports))) if entry.source_ports else "any",
            _group(_merged(entry.destination.networks)) if entry.destination else "any",
            _ports(sorted(set(entry.ports))) if entry.ports else "any"]


def _protocol_rules(settings: Settings, live: tuple[AllowEntry, ...], sid: int, meta: str,
                    done: set[str]) -> tuple[list[str], list[str]]:
    """Comments and rules of the protocol detection (HTTP CONNECT, absolute-form requests);
    the entries named in `done` have their allow rule already."""
    comments = [f"# {PROTOCOL_RULE.name} (zeek-proxy rule {PROTOCOL_RULE.id}, version "
                f"{PROTOCOL_RULE.version}): HTTP CONNECT and absolute-form requests on any port"]
    parts = _any_port(settings, live)
    if parts is None:
        return comments + ["# HTTP proxy rules: none (nothing is left to alert on)"], []
    (source, sport, destination, dport), setters = parts
    if setters:
        comments.append(f"# allow entries that set flowbit {FLOWBIT} for them (on their own ports): "
                        + ", ".join(repr(_safe(e.name)) for e in setters))
    rules: list[str] = []
    extra = f"flowbits:isnotset,{FLOWBIT}; " if setters else ""
    extra += f"flowbits:isnotset,{ONCE}; flowbits:set,{ONCE}; "
    for name, match in HTTP_PROXY.items():
        rules.append(f"alert http {source} {sport} -> {destination} {dport} "
                     + _options(f"{PROTOCOL_RULE.name} ({name})", sid + len(rules), match + extra, meta,
                                PROTOCOL_RULE, "established,to_server"))
    for entry in (e for e in setters if e.name not in done):
        head = _head(entry)
        rules.append(f"alert tcp {head[0]} {head[1]} -> {head[2]} {head[3]} "
                     + _options(f"{PROTOCOL_RULE.name} allowed by {_safe(entry.name)}", sid + len(rules),
                                f"flowbits:set,{FLOWBIT}; flowbits:noalert; ",
                                f"{meta}, zeek_proxy_allow {_safe(entry.name, '.-')}", PROTOCOL_RULE))
    return comments, rules


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
    setters: set[str] = set()  # entries whose TCP allow rule is on their own ports
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
        # With the protocol rules (any port, over TCP) a TCP allow rule takes the entry's
        # own ports, so that it serves both.
        wide = settings.evidence and proto == "tcp"
        for entry in (e for e in live if len(_keys(e)) > 1):
            covered = [p for p in ports if _covers(entry, p)]
            if not covered:
                continue
            head = _head(entry) if wide else _head(entry)[:3] + [_ports(covered)]
            rules.append(f"alert {proto} {' '.join(head[:2])} -> {' '.join(head[2:])} "
                         + _options(f"{RULE.name} allowed by {_safe(entry.name)}", sid_base + len(rules),
                                    f"flowbits:set,{FLOWBIT}; flowbits:noalert; ",
                                    f"{meta}, zeek_proxy_allow {_safe(entry.name, '.-')}"))
            if wide:
                setters.add(entry.name)
    socks = socks_rule(settings)
    if socks is not None:
        lines.append(f"# SOCKS ({'the SOCKS branch of ' + RULE.name if socks is RULE else socks.name}): "
                     "not exported. Suricata has no SOCKS parser, and a byte pattern on a flow's first "
                     "bytes (05 01 00, 04 01) would match other protocols too; use the Zeek script or "
                     "the Sigma rule on Zeek's socks.log for it.")
    if settings.evidence:
        comments, more = _protocol_rules(settings, live, sid_base + len(rules), meta, setters)
        lines += comments
        rules += more
    if rules and not 1 <= sid_base <= sid_base + len(rules) - 1 <= 0xFFFFFFFF:
        raise ValueError(f"sids {sid_base}..{sid_base + len(rules) - 1} are outside 1..4294967295")
    return "\n".join(lines + rules) + "\n"
