"""Sigma rules for the same detection, so a SIEM alerts where the offline scan would.

The port rule in SigmaHQ's layout, on Zeek's conn.log names as SigmaHQ's Zeek rules write
them (`id.orig_h`, `id.resp_h`, `id.resp_p`, `id.orig_p`, `proto`), or with
`fields="ecs"` on ECS names (`source.ip`, ...). Both keep `logsource: {product: zeek,
service: conn}`: the rule means one record per connection, originator to responder,
which is the conn log; Sigma's `network_connection` category is the endpoint one
(Sysmon event 3), whose pipelines expect other fields.

Proxy protocols on any port get rules of their own, in the same YAML stream after `---`
(SigmaCollection reads them all): a SOCKS rule on `{product: zeek, service: socks}`
when the profile alerts on socks.log records (elastic-v4 and later: it is then the port
rule's SOCKS branch) or with evidence (the "Proxy Protocol to the Internet" rule), and
with evidence two rules on `{product: zeek, service: http}`: `method: CONNECT`, and a
request in absolute form (`uri|startswith` http://, https:// or ftp://; `|re` would say
any scheme, but Lucene's regular expressions have no `^`, so it is not portable). Each
has the conn rule's networks (client internal, server on the Internet) and allow
filters, and no port or transport condition.

Each allow entry becomes a filter `filter_allow_<name>`. Sigma cannot bound a filter in
time, so entries expired `today` are left out and entries that expire later are kept
with their date in a comment: export again on that day. No selection name begins with
`not`, which pySigma's condition grammar would read as `not _...`. The `id` is a uuid5
of what the rule matches, so it does not change from day to day but does with the
config. The YAML is written by hand (pySigma is a test dependency only), with every
string quoted unless it is plainly safe.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime

from zeek_proxy.config import Settings
from zeek_proxy.core.allowlist import AllowEntry
from zeek_proxy.core.networks import NetworkSet
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE, RuleMeta
from zeek_proxy.export import socks_rule

#: flavour -> our key -> field name
FIELDS: dict[str, dict[str, str]] = {
    "zeek": {"transport": "proto", "source": "id.orig_h", "source_ports": "id.orig_p",
             "destination": "id.resp_h", "ports": "id.resp_p"},
    "ecs": {"transport": "network.transport", "source": "source.ip", "source_ports": "source.port",
            "destination": "destination.ip", "ports": "destination.port"},
}
#: flavour -> our key -> field name, in Zeek's http.log (and its ECS mapping)
HTTP_FIELDS: dict[str, dict[str, str]] = {
    "zeek": {"method": "method", "uri": "uri"},
    "ecs": {"method": "http.request.method", "uri": "url.original"},
}
#: The schemes of an absolute-form request the Sigma rule names (the scan takes any).
ABSOLUTE_SCHEMES = ("http://", "https://", "ftp://")
_NAMESPACE = uuid.UUID(RULE.id)  # ids of exported rules are derived from the Elastic rule's
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._/()&,+=%'-]*(?<! )|[0-9]+(\.[0-9]+){3}/[0-9]+|https?://[\w./%#?=&+-]+")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}
_INDENT = "    "

Detection = dict[str, dict[str, list[str | int]]]  # selection -> field|modifier -> values


def _scalar(value: str | int) -> str:
    """`value` as a YAML scalar that loads back as the same string (or number)."""
    if isinstance(value, int):
        return str(value)
    if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    if value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    out = []
    for char in value:
        code = ord(char)
        out.append("\\\\" if char == "\\" else '\\"' if char == '"' else char if char.isprintable()
                   else f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                   else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _comment(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "entry"
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}_{number}", number + 1
    taken.add(slug)
    return slug


def _entry_map(entry: AllowEntry, names: dict[str, str]) -> dict[str, list[str | int]]:
    """The filter of one allow entry: field|modifier -> values, ANDed."""
    return {names[key] + ("|cidr" if isinstance(value, NetworkSet) else ""):
            value.to_list() if isinstance(value, NetworkSet) else list(dict.fromkeys(value))
            for key, value in entry.conditions.items()}


def _detection(settings: Settings, fields: str, today: date,
               selection: dict[str, list[str | int]] | None = None) -> tuple[Detection, dict[str, str], str]:
    """Selections, comments above some of them, and the condition: by default the port
    rule's; with `selection` (what the record says), that and an internal source."""
    names = FIELDS[fields]
    if selection is None:
        selection = {
            names["transport"]: list(dict.fromkeys(settings.transports)),
            names["ports"]: list(dict.fromkeys(settings.ports)),
        }
    selection = {**selection, names["source"] + "|cidr": settings.internal.to_list()}
    empty = [key for key, values in selection.items() if not values]
    if empty:
        raise ValueError(f"the rule matches nothing: no values for {', '.join(empty)}")
    detection: Detection = {"selection": selection}
    comments: dict[str, str] = {}
    condition = "selection"
    if settings.not_internet.networks:
        detection["filter_excluded_destination"] = {names["destination"] + "|cidr": settings.not_internet.to_list()}
        condition += " and not filter_excluded_destination"
    left_out, taken = [], set()
    for entry in settings.allow:
        label = _comment(entry.name) + (f" ({_comment(entry.reason)})" if entry.reason else "")
        keys = _entry_map(entry, names)
        if not keys:
            raise ValueError(f"allow entry {entry.name!r} sets no key: the rule matches nothing")
        if entry.expired(today):
            left_out.append(f"allow entry {label} left out: expired {entry.expires}")
        elif entry.inert:
            left_out.append(f"allow entry {label} left out: an empty list matches nothing")
        else:
            name = "filter_allow_" + _slug(entry.name, taken)
            detection[name] = keys
            comments[name] = f"allow entry {label}" + (
                f"; expires {entry.expires}: a Sigma rule cannot say so, export again on that day"
                if entry.expires else "")
    if taken:
        condition += " and not 1 of filter_allow_*"
    if left_out:
        comments["condition"] = "\n".join(left_out)
    return detection, comments, condition


def rule_id(detection: Detection, condition: str, service: str = "conn", rule: RuleMeta | None = None) -> str:
    """A uuid5 of what the rule matches (not of its date or comments): its log, its
    detection and, for a rule on another log than conn, which of our rules it is."""
    canonical: dict[str, object] = {"logsource": {"product": "zeek", "service": service},
                                    "detection": detection, "condition": condition}
    if rule is not None:
        canonical["rule"] = rule.id
    return str(uuid.uuid5(_NAMESPACE, json.dumps(canonical, sort_keys=True, separators=(",", ":"))))


def _origin(rule: RuleMeta, settings: Settings) -> str:
    if rule is RULE:
        return (f"Exported by zeek_proxy from Elastic rule {RULE.id} (version {RULE.version}), "
                f"profile {settings.profile}.")
    return (f"Exported by zeek_proxy from its rule {rule.id} ({rule.name}, version {rule.version}), "
            f"profile {settings.profile}.")


def to_sigma(settings: Settings, fields: str = "zeek", today: date | None = None) -> str:
    """The YAML text of the Sigma rules for `settings` as of `today` (UTC by default):
    the port rule, then the SOCKS rule and (with evidence) the HTTP proxy rules, one
    YAML document each.

    Raises:
        ValueError: an unknown `fields` flavour, or a config under which nothing can match.
    """
    if fields not in FIELDS:
        raise ValueError(f"unknown field names {fields!r} (known: {', '.join(FIELDS)})")
    today = today or datetime.now(UTC).date()
    ports = ", ".join(str(p) for p in dict.fromkeys(settings.ports))
    description = (
        f"Detects {'/'.join(t.upper() for t in dict.fromkeys(settings.transports))} connections from "
        f"an internal address to an Internet address on a proxy port ({ports}). "
        f"{RULE.description.partition('. ')[2]} {_origin(RULE, settings)}"
    )
    rules = [_rule(settings, fields, today, RULE, RULE.name, "conn", description)]
    socks = socks_rule(settings)
    why = ("Environments usually reach the Internet through an internal proxy; using one on "
           "the Internet can circumvent network controls and detection.")
    if socks is not None:
        description = (
            "Detects SOCKS use (any Zeek socks.log record) from an internal client to a SOCKS server "
            f"on the Internet, on any port. {why} {_origin(socks, settings)}"
            + (" This is the SOCKS branch Elastic added to the rule in version 4." if socks is RULE else ""))
        rules.append(_rule(settings, fields, today, socks, f"{socks.name} - SOCKS", "socks", description, {}))
    if settings.evidence:
        names = HTTP_FIELDS[fields]
        description = (
            "Detects an HTTP CONNECT request (Zeek http.log) from an internal client to a server on "
            f"the Internet, on any port: a proxy there asked to open a tunnel. {why} "
            f"{_origin(PROTOCOL_RULE, settings)}")
        rules.append(_rule(settings, fields, today, PROTOCOL_RULE, f"{PROTOCOL_RULE.name} - HTTP CONNECT",
                           "http", description, {names["method"]: ["CONNECT"]}))
        description = (
            "Detects an HTTP request in absolute form (GET http://...), which clients send to a "
            "proxy, from an internal client to a server on the Internet, on any port. The scan "
            f"takes any scheme; this rule names {', '.join(ABSOLUTE_SCHEMES)}. {why} "
            f"{_origin(PROTOCOL_RULE, settings)}")
        rules.append(_rule(settings, fields, today, PROTOCOL_RULE, f"{PROTOCOL_RULE.name} - HTTP proxy request",
                           "http", description, {names["uri"] + "|startswith": list(ABSOLUTE_SCHEMES)}))
    return "---\n".join(rules)


def _rule(settings: Settings, fields: str, today: date, rule: RuleMeta, title: str, service: str,
          description: str, selection: dict[str, list[str | int]] | None = None) -> str:
    """The YAML text of one rule on Zeek's `service` log."""
    detection, comments, condition = _detection(settings, fields, today, selection)
    lines = [
        f"title: {_scalar(title)}",
        f"id: {rule_id(detection, condition, service, None if service == 'conn' else rule)}",
        "status: experimental",
        f"description: {_scalar(description)}",
        "references:", *(f"{_INDENT}- {_scalar(url)}" for url in rule.reference),
        "author: zeek_proxy",
        f"date: {today.isoformat()}",
        "tags:", f"{_INDENT}- attack.command-and-control", f"{_INDENT}- attack.{rule.technique_id.lower()}",
        "logsource:", f"{_INDENT}product: zeek", f"{_INDENT}service: {service}",
        "detection:",
    ]
    for name, items in detection.items():
        lines += [f"{_INDENT}# {line}" for line in comments.get(name, "").splitlines()]
        lines.append(f"{_INDENT}{name}:")
        for field, values in items.items():
            if len(values) == 1:
                lines.append(f"{_INDENT * 2}{field}: {_scalar(values[0])}")
            else:
                lines.append(f"{_INDENT * 2}{field}:")
                lines += [f"{_INDENT * 3}- {_scalar(v)}" for v in values]
    lines += [f"{_INDENT}# {line}" for line in comments.get("condition", "").splitlines()]
    lines += [f"{_INDENT}condition: {condition}", "falsepositives:",
              *(f"{_INDENT}- {_scalar(fp)}" for fp in rule.false_positives), f"level: {rule.severity}"]
    return "\n".join(lines) + "\n"
