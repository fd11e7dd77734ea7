"""The effective settings of a run: one frozen value, built once, passed everywhere.

Precedence: the Elastic rule's version 3 defaults, then the `[rule] profile` (or
--profile, which replaces it), then explicit `[networks]`, then `[[allow]]` entries and `-a` files in the order given.
Frozen dataclasses with tuple fields pickle cleanly, so the same settings reach worker
processes unchanged. Parsing takes text (`parse_config`, `parse_allowlist`) and loading
takes paths, so tests need no files.
"""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from zeek_proxy.core.allowlist import AllowEntry
from zeek_proxy.core.networks import Network, NetworkSet
from zeek_proxy.core.new_terms import NewTerms
from zeek_proxy.core.suppression import DEFAULT_GROUP_BY, Suppression, check_group_by, parse_duration
from zeek_proxy.errors import ConfigError, SourceLocation

V3_PORTS = (1080, 3128, 8080)
V3_TRANSPORTS = ("tcp",)
V3_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
V3_NOT_INTERNET = ("10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128")
V6_ADDED = ("169.254.0.0/16", "224.0.0.0/4", "fe80::/10", "ff00::/8")
STRICT_ADDED = (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32", "::/128",
    "2001:db8::/32", "fc00::/7",
)

V2_NOT_INTERNET = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


@dataclass(frozen=True)
class Profile:
    """One version of the rule: its networks, whether Zeek's outbound direction alone
    makes a hit (version 2), and the query as Elastic wrote it."""

    internal: tuple[str, ...]
    not_internet: tuple[str, ...]
    query: str
    outbound: bool = False
    socks: bool = False


PROFILES: dict[str, Profile] = {
    "elastic-v2": Profile(V3_INTERNAL, V2_NOT_INTERNET, (
        "network.transport:tcp and destination.port:(3128 or 8080 or 1080) and "
        "(network.direction:outbound or (source.ip:(10.0.0.0/8 or 172.16.0.0/12 or 192.168.0.0/16) "
        "and not destination.ip:(10.0.0.0/8 or 172.16.0.0/12 or 192.168.0.0/16)))"), outbound=True),
    "elastic-v3": Profile(V3_INTERNAL, V3_NOT_INTERNET, (
        "network.transport:tcp and destination.port:(1080 or 3128 or 8080) and "
        "source.ip:(10.0.0.0/8 or 172.16.0.0/12 or 192.168.0.0/16) and "
        "not destination.ip:(10.0.0.0/8 or 127.0.0.0/8 or 172.16.0.0/12 or 192.168.0.0/16 or \"::1\")")),
    "elastic-v4": Profile(V3_INTERNAL, V3_NOT_INTERNET, (
        "network.transport:tcp and (destination.port:(1080 or 3128 or 8080) or event.dataset:zeek.socks) "
        "and source.ip:(10.0.0.0/8 or 172.16.0.0/12 or 192.168.0.0/16) and "
        "not destination.ip:(10.0.0.0/8 or 127.0.0.0/8 or 172.16.0.0/12 or 192.168.0.0/16 or \"::1\")"),
        socks=True),
    "elastic-v6": Profile(V3_INTERNAL, V3_NOT_INTERNET + V6_ADDED, (
        "elastic-v4's query with destination.ip also not in 169.254.0.0/16, 224.0.0.0/4, "
        "fe80::/10 or ff00::/8"), socks=True),
    "strict": Profile(V3_INTERNAL + ("fc00::/7",), V3_NOT_INTERNET + V6_ADDED + STRICT_ADDED, (
        "elastic-v6 with the IANA special-purpose ranges excluded as destinations, and "
        "IPv6 unique-local sources (fc00::/7) internal"), socks=True),
}
DEFAULT_PROFILE = "elastic-v3"

_SECTIONS = {"rule": {"ports", "transports", "profile", "evidence"},
             "networks": {"internal", "not_internet"},
             "suppression": {"group_by", "for", "missing"},
             "sensor": {"name"}}
_ALLOW_KEYS = {"name", "source", "destination", "ports", "source_ports", "reason", "expires"}


@dataclass(frozen=True)
class Settings:
    """Ports, transports, networks and allow entries; the v3 rule by default."""

    ports: tuple[int, ...] = V3_PORTS
    transports: tuple[str, ...] = V3_TRANSPORTS
    internal: NetworkSet = field(default_factory=lambda: NetworkSet.parse(V3_INTERNAL))
    not_internet: NetworkSet = field(default_factory=lambda: NetworkSet.parse(V3_NOT_INTERNET))
    profile: str = DEFAULT_PROFILE
    allow: tuple[AllowEntry, ...] = ()
    outbound: bool = False  # elastic-v2: Zeek's outbound direction alone makes a hit
    socks: bool = False  # elastic-v4 and later: any socks.log record may alert, on any port
    evidence: bool = False  # --evidence: read socks/http/ssl/tunnel logs, raise "Proxy Protocol"
    suppression: Suppression | None = None  # [suppression] or --suppress-for
    new_terms: NewTerms | None = None  # --new-terms
    sensor: str | None = None  # [sensor] name: observer.name where the log names no sensor
    sensor_override: str | None = None  # --sensor: observer.name of every alert

    def with_allow(self, entries: tuple[AllowEntry, ...]) -> "Settings":
        return replace(self, allow=self.allow + entries)

    def expired_entries(self, today: date | None = None) -> list[AllowEntry]:
        today = today or datetime.now(timezone.utc).date()  # expiry is at UTC midnight
        return [e for e in self.allow if e.expired(today)]


DEFAULT_SETTINGS = Settings()


# -- config files --------------------------------------------------------------------

def _line_of(text: str, needle: str, start_line: int = 1, table: bool = False) -> int | None:
    """The first line at or after `start_line` where key `needle` is set (or a table
    named `needle` starts); with `table`, only up to the next table header."""
    lines = text.splitlines()
    for number in range(start_line, len(lines) + 1):
        line = lines[number - 1].strip()
        if table and number > start_line and line.startswith("["):
            return None  # the key is not in this table
        if re.match(rf'(["\']?){re.escape(needle)}\1\s*=', line) or line.strip("[] ") == needle:
            return number
    return None


def _section_line(text: str, section: str, key: str) -> int | None:
    """The line where `key` is set in table `[section]`, or the table's own line."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() == f"[{section}]":
            return _line_of(text, key, number, table=True) or number
    return None


def _value_line(text: str, value: str, start_line: int | None) -> int | None:
    """The first line at or after `start_line` where the string `value` is written."""
    quoted = (f'"{value}"', f"'{value}'")
    for number, line in enumerate(text.splitlines()[(start_line or 1) - 1:], start_line or 1):
        if any(q in line for q in quoted):
            return number
    return None


class HostBitsError(ValueError):
    """A CIDR whose address is not its network's (10.1.2.3/8)."""


def strict_network(text: str) -> Network:
    """The network a CIDR or address names. A CIDR with host bits set is an error, not
    silently widened: `135.57.146.87/8` is a typo for a /32 far more often than a way
    to write 135.0.0.0/8, and widening it would allow a sixteen-million-address block."""
    cidr = text.strip()
    try:
        return ipaddress.ip_network(cidr)
    except ValueError as exc:
        if "has host bits set" not in str(exc):
            raise
    host = ipaddress.ip_interface(cidr).ip
    widened = ipaddress.ip_network(cidr, strict=False)
    raise HostBitsError(f"{cidr} has host bits set: did you mean {host}/{host.max_prefixlen} or {widened}?")


def _show(name: str) -> str:
    """A key as it can be printed on one line."""
    return name if name.isprintable() else repr(name)


def _first_duplicate(entries: list[AllowEntry] | tuple[AllowEntry, ...]) -> int | None:
    """The index of the first entry named like an earlier one (names must be unique)."""
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry.name in seen:
            return index
        seen.add(entry.name)
    return None


class _Checker:
    """Turns TOML values into typed settings, raising ConfigError with file, key and line."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text

    def error(self, message: str, key: str | None = None, line: int | None = None) -> ConfigError:
        if line is None and key:
            section, _, name = key.rpartition(".")
            line = _section_line(self.text, section, name) if section else _line_of(self.text, name)
        return ConfigError(f"{_show(key)}: {message}" if key else message, SourceLocation(self.path, line))

    def networks(self, value: Any, key: str, line: int | None = None) -> NetworkSet:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise self.error("expected a list of CIDRs or addresses", key, line)
        return NetworkSet(tuple(self.network(item, key, line) for item in items))

    def network(self, text: str, key: str, line: int | None) -> Network:
        """One CIDR of a list, its error on the line that holds it."""
        try:
            return strict_network(text)
        except HostBitsError as exc:
            raise self.error(str(exc), key, _value_line(self.text, text, line) or line) from None
        except ValueError as exc:
            raise self.error(f"bad CIDR or address ({exc})", key, _value_line(self.text, text, line) or line) from None

    def ports(self, value: Any, key: str, line: int | None = None) -> tuple[int, ...]:
        items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(items, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in items):
            raise self.error("expected a list of port numbers", key, line)
        bad = [p for p in items if not 0 <= p <= 65535]
        if bad:
            raise self.error(f"port {bad[0]} outside 0-65535", key, line)
        return tuple(items)

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
            raise self.error("expected a list of names", key)
        return tuple(s.lower() for s in value)

    def suppression(self, table: dict[str, Any]) -> Suppression | None:
        """[suppression]: `for` (required when the table is there), `group_by`, `missing`."""
        if not table:
            return None
        if "for" not in table:
            raise self.error("a [suppression] table needs for = \"1h\" (or another duration)", "suppression")
        try:
            seconds = parse_duration(table["for"]) if isinstance(table["for"], str) else parse_duration("")
        except ValueError as exc:
            raise self.error(str(exc), "suppression.for") from None
        group_by = table.get("group_by", list(DEFAULT_GROUP_BY))
        if not isinstance(group_by, list) or not all(isinstance(f, str) for f in group_by):
            raise self.error("expected a list of field names", "suppression.group_by")
        try:
            fields = check_group_by(tuple(group_by))
        except ValueError as exc:
            raise self.error(str(exc), "suppression.group_by") from None
        missing = table.get("missing", "suppress")
        if missing not in ("suppress", "doNotSuppress"):
            raise self.error('expected "suppress" or "doNotSuppress"', "suppression.missing")
        return Suppression(seconds, fields, missing == "suppress", table["for"])

    def name(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error("expected a non-empty string", key)
        return value

    def flag(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.error("expected true or false", key)
        return value

    def day(self, value: Any, key: str, line: int | None) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.error(f"bad date {value!r} (expected YYYY-MM-DD)", key, line)

    def allow_entries(self, entries: Any) -> tuple[AllowEntry, ...]:
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self.error("expected [[allow]] tables", "allow")
        out = []
        starts = [n for n, line in enumerate(self.text.splitlines(), 1) if line.strip().startswith("[[allow]]")]
        for index, entry in enumerate(entries):
            line = starts[index] if index < len(starts) else None
            out.append(self.allow_entry(entry, index, line))
        index = _first_duplicate(out)
        if index is not None:
            raise self.error(f"two allow entries are named {out[index].name!r}", "allow.name",
                             starts[index] if index < len(starts) else None)
        return tuple(out)

    def allow_entry(self, entry: dict[str, Any], index: int, line: int | None) -> AllowEntry:
        key_line = lambda k: _line_of(self.text, k, line, table=True) if line else None  # noqa: E731
        unknown = sorted(set(entry) - _ALLOW_KEYS)
        if unknown:
            raise self.error(f"unknown key (known: {', '.join(sorted(_ALLOW_KEYS))})",
                             f"allow.{unknown[0]}", key_line(unknown[0]))
        name = entry.get("name", f"{Path(self.path).name} allow #{index + 1}")  # unique across files
        if not isinstance(name, str) or not name:
            raise self.error("expected a non-empty string", "allow.name", key_line("name"))
        kwargs: dict[str, Any] = {"name": name, "origin": f"{self.path}:{line}" if line else self.path}
        for key in ("source", "destination"):
            if key in entry:
                kwargs[key] = self.networks(entry[key], f"allow.{key}", key_line(key))
        for key in ("ports", "source_ports"):
            if key in entry:
                kwargs[key] = self.ports(entry[key], f"allow.{key}", key_line(key))
        if "expires" in entry:
            kwargs["expires"] = self.day(entry["expires"], "allow.expires", key_line("expires"))
        if "reason" in entry:
            if not isinstance(entry["reason"], str):
                raise self.error("expected a string", "allow.reason", key_line("reason"))
            kwargs["reason"] = entry["reason"]
        if not any(k in kwargs for k in ("source", "destination", "ports", "source_ports")):
            raise self.error(f"entry {name!r} sets none of source, destination, ports, "
                             "source_ports: it would suppress everything", "allow", line)
        return AllowEntry(**kwargs)


def _load_toml(path: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(f"not valid TOML: {message}",
                          SourceLocation(path, int(found.group(1)) if found else None)) from None


def parse_config(text: str, path: str = "<config>", profile: str | None = None) -> Settings:
    """Settings from the text of a TOML config file; `profile` (--profile) replaces its
    `[rule] profile`.

    Raises:
        ConfigError: broken TOML, unknown keys, bad CIDRs, ports or dates.
    """
    data = _load_toml(path, text)
    check = _Checker(path, text)
    unknown = sorted(set(data) - set(_SECTIONS) - {"allow"})
    if unknown:
        raise check.error(f"unknown section (known: allow, {', '.join(sorted(_SECTIONS))})", unknown[0])
    for section, known in _SECTIONS.items():
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise check.error("expected a table", section)
        extra = sorted(set(table) - known)
        if extra:
            raise check.error(f"unknown key (known: {', '.join(sorted(known))})", f"{section}.{extra[0]}")
    rule, networks, sensor = data.get("rule", {}), data.get("networks", {}), data.get("sensor", {})
    profile = profile or rule.get("profile", DEFAULT_PROFILE)
    if not isinstance(profile, str) or profile not in PROFILES:
        raise check.error(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})", "rule.profile")
    internal, not_internet = PROFILES[profile].internal, PROFILES[profile].not_internet
    settings = Settings(
        ports=check.ports(rule["ports"], "rule.ports") if "ports" in rule else V3_PORTS,
        transports=check.strings(rule["transports"], "rule.transports") if "transports" in rule else V3_TRANSPORTS,
        internal=check.networks(networks["internal"], "networks.internal") if "internal" in networks
        else NetworkSet.parse(internal),
        not_internet=check.networks(networks["not_internet"], "networks.not_internet")
        if "not_internet" in networks else NetworkSet.parse(not_internet),
        profile=profile,
        outbound=PROFILES[profile].outbound,
        socks=PROFILES[profile].socks,
        evidence=check.flag(rule["evidence"], "rule.evidence") if "evidence" in rule else False,
        suppression=check.suppression(data.get("suppression", {})),
        sensor=check.name(sensor["name"], "sensor.name") if "name" in sensor else None,
    )
    return settings.with_allow(check.allow_entries(data.get("allow", [])))


def load_config(path: str | None, profile: str | None = None) -> Settings:
    """Settings from a config file (the v3 defaults when `path` is None), under
    `profile` when one is given."""
    if path is None:
        return parse_config("", "--profile", profile) if profile else DEFAULT_SETTINGS
    return parse_config(_read(path), path, profile)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", SourceLocation(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", SourceLocation(path)) from None


# -- allowlist files (-a) --------------------------------------------------------------

def parse_allowlist(text: str, path: str) -> tuple[AllowEntry, ...]:
    """Allow entries from an `-a` file: TOML `[[allow]]` tables (a `.toml` file), a Zeek
    Input-framework TSV file (a `#fields` line with an `ip` or `subnet` column), or plain
    text with one address or CIDR per line (`#` starts a comment anywhere).

    TSV and text files name known proxies: one entry, named after the file, whose
    destinations are the listed networks.
    """
    if path.endswith(".toml"):
        data = _load_toml(path, text)
        unknown = sorted(set(data) - {"allow"})
        if unknown:
            raise ConfigError(f"{_show(unknown[0])}: an allowlist file holds only [[allow]] tables",
                              SourceLocation(path, _line_of(text, unknown[0])))
        return _Checker(path, text).allow_entries(data.get("allow", []))
    lines = text.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    cidrs = _zeek_table(lines, path) if first.startswith("#separator") or first.startswith("#fields") \
        else _plain_list(lines, path)
    name = Path(path).name
    if not cidrs:
        return ()
    return (AllowEntry(name=name, destination=NetworkSet(tuple(n for n, _ in cidrs)),
                       reason=f"known proxies listed in {name}", origin=path),)


def _network(text: str, path: str, line: int) -> Network:
    """A known proxy of a list file: an address or CIDR, never all of the Internet (the
    entry suppresses what goes to it, so 0.0.0.0/0 would silence every alert)."""
    try:
        network = strict_network(text)
    except HostBitsError as exc:
        raise ConfigError(str(exc), SourceLocation(path, line)) from None
    except ValueError:
        raise ConfigError(f"bad address or CIDR {text[:60]!r}", SourceLocation(path, line)) from None
    if network.prefixlen == 0:
        raise ConfigError(f"{network} is every IPv{network.version} address: as a known proxy it would "
                          "suppress everything", SourceLocation(path, line))
    return network


def _plain_list(lines: list[str], path: str) -> list[tuple[Any, int]]:
    out = []
    for number, line in enumerate(lines, 1):
        value = line.split("#", 1)[0].strip()
        if value:
            out.append((_network(value, path, number), number))
    return out


def _zeek_table(lines: list[str], path: str) -> list[tuple[Any, int]]:
    separator, column, width = "\t", None, 0
    out = []
    for number, line in enumerate(lines, 1):
        if line.startswith("#separator"):
            value = line[len("#separator"):].strip(" \t")
            try:
                separator = value.encode().decode("unicode_escape") if value else "\t"
            except UnicodeDecodeError:
                raise ConfigError(f"bad #separator {value[:20]!r}", SourceLocation(path, number)) from None
        elif line.startswith("#fields"):
            fields = line.split(separator)[1:]
            column = next((fields.index(c) for c in ("ip", "subnet", "net", "addr") if c in fields), None)
            if column is None:
                raise ConfigError("a Zeek table needs an ip or subnet column", SourceLocation(path, number))
            width = len(fields)
        elif line.startswith("#") or not line.strip():
            continue
        else:
            if column is None:
                raise ConfigError("row before the #fields line", SourceLocation(path, number))
            cells = line.split(separator)
            if len(cells) != width:
                raise ConfigError(f"{len(cells)} fields where #fields names {width}", SourceLocation(path, number))
            out.append((_network(cells[column].strip(), path, number), number))
    return out


def load_allowlist(path: str) -> tuple[AllowEntry, ...]:
    """Allow entries from an `-a` file (see `parse_allowlist`)."""
    return parse_allowlist(_read(path), path)


def build_settings(config: str | None = None, allowlists: tuple[str, ...] = (),
                   profile: str | None = None) -> Settings:
    """Settings from an optional config file and `-a` files, in that order, under
    `profile` (--profile) when one is given."""
    settings = load_config(config, profile)
    for path in allowlists:
        settings = settings.with_allow(load_allowlist(path))
    index = _first_duplicate(settings.allow)
    if index is not None:
        entry = settings.allow[index]
        where = entry.origin.rsplit(":", 1)
        line = int(where[1]) if len(where) == 2 and where[1].isdigit() else None
        raise ConfigError(f"allow.name: two allow entries are named {entry.name!r}; names must be unique",
                          SourceLocation(where[0], line))
    return settings


# -- writing the effective rule back ---------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, str):  # JSON's string escapes are TOML's too; TOML also escapes DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_toml(settings: Settings, meta_lines: tuple[str, ...] = ()) -> str:
    """The effective settings as a TOML config that `-c` accepts (metadata as comments)."""
    lines = [f"# {line}" for line in meta_lines]
    lines += [
        "",
        "[rule]",
        f"profile = {_toml_value(settings.profile)}",
        f"ports = {_toml_value(list(settings.ports))}",
        f"transports = {_toml_value(list(settings.transports))}",
        f"evidence = {_toml_value(settings.evidence)}",
        "",
        "[networks]",
        f"internal = {_toml_value(settings.internal.to_list())}",
        f"not_internet = {_toml_value(settings.not_internet.to_list())}",
    ]
    if settings.suppression is not None:
        rule = settings.suppression
        lines += ["", "[suppression]", f"for = {_toml_value(rule.text or f'{rule.seconds}s')}",
                  f"group_by = {_toml_value(list(rule.group_by))}",
                  f"missing = {_toml_value('suppress' if rule.missing_suppress else 'doNotSuppress')}"]
    if settings.sensor is not None:
        lines += ["", "[sensor]", f"name = {_toml_value(settings.sensor)}"]
    for entry in settings.allow:
        lines += ["", "[[allow]]", f"name = {_toml_value(entry.name)}"]
        if entry.origin:
            lines[-2] += f"  # from {entry.origin}"
        for key in ("source", "destination"):
            value = getattr(entry, key)
            if value is not None:
                lines.append(f"{key} = {_toml_value(value.to_list())}")
        for key in ("ports", "source_ports"):
            value = getattr(entry, key)
            if value is not None:
                lines.append(f"{key} = {_toml_value(list(value))}")
        if entry.reason:
            lines.append(f"reason = {_toml_value(entry.reason)}")
        if entry.expires is not None:
            lines.append(f"expires = {entry.expires.isoformat()}")
    return "\n".join(lines).lstrip("\n") + "\n"
