"""Suricata export: every rule parses with surinort-ast's strict parser, without error or
warning diagnostics, and a small evaluator of the parsed rules (addresses, ports,
negations, the allow flowbit, and for the HTTP proxy rules the request's method and URI)
alerts on exactly the connections the offline scan alerts on.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from surinort_ast import DiagnosticLevel, Dialect, Rule, validate_rules
from surinort_ast.parsing.factory import ParserFactory

from conftest import generate
from test_export_evidence import CONFIGS as EVIDENCE_CONFIGS
from test_export_evidence import Proxied, proxied, scanned
from test_export_evidence import settings_for as evidence_settings
from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.config import DEFAULT_SETTINGS, Settings, parse_config
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE
from zeek_proxy.export.suricata import FLOWBIT, ONCE, to_suricata_rules

TODAY = date(2026, 11, 27)  # the generator's day: "old-vendor" has expired, "migration" has not

SITE = """
[[allow]]
name = "corp-proxy"
destination = ["203.0.113.0/24"]
ports = [8080]
reason = "the sanctioned upstream proxy"

[[allow]]
name = "nat-web"
source = ["192.168.10.5"]
source_ports = [80, 443]
reason = "NATed web server answering clients on high ports"

[[allow]]
name = "old-vendor"
destination = ["34.1.2.0/24"]
expires = 2026-01-01

[[allow]]
name = "migration"
destination = ["52.10.0.0/16", "2600:1f00::/24"]
expires = 2030-01-01

[[allow]]
name = "scanner"
source = ["10.9.9.9"]

[[allow]]
name = "vpn-return"
source_ports = [8443]

[[allow]]
name = "backup"
source = ["10.20.0.0/16"]
destination = ["45.0.0.0/8"]
ports = [1080, 3128]
"""

CONFIGS = {
    "default": "",
    "elastic-v6": '[rule]\nprofile = "elastic-v6"\n',
    "strict": '[rule]\nprofile = "strict"\n',
    "site": SITE,
    "site-udp": '[rule]\ntransports = ["tcp", "udp", "icmp"]\n' + SITE,
    "lab-port": SITE + '\n[[allow]]\nname = "lab"\nports = [1080]\n',
}

PARSER = ParserFactory.create(dialect=Dialect.SURICATA, strict=True)


def settings_for(name: str) -> Settings:
    return parse_config(CONFIGS[name]) if CONFIGS[name] else DEFAULT_SETTINGS


def rule_lines(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert all(line.startswith(("#", "alert ")) for line in lines), text
    return [line for line in lines if line.startswith("alert ")]


def parse(text: str) -> list[Rule]:
    """The rules of `text`, parsed strictly; any error or warning fails the test."""
    rules = [PARSER.parse(line) for line in rule_lines(text)]  # raises ParseError
    serious = (DiagnosticLevel.ERROR, DiagnosticLevel.WARNING)
    bad = [d for r in rules for d in r.diagnostics if d.level in serious]
    bad += [d for d in validate_rules(rules) if d.level in serious]
    assert not bad, bad
    return rules


def options(rule: Rule, kind: str) -> list[Any]:
    return [o for o in rule.options if o.type == kind]


# -- an evaluator of parsed headers, written from Suricata's documented semantics ------

def in_address(expr: Any, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A list holds its positive members minus its negated ones (all addresses when it
    has no positive member)."""
    if expr.type == "AnyAddress":
        return True
    if expr.type == "IPCIDRRange":
        net = ipaddress.ip_network(f"{expr.network}/{expr.prefix_len}")
        return ip.version == net.version and ip in net
    if expr.type == "IPAddress":
        return ip == ipaddress.ip_address(expr.value)
    if expr.type == "AddressNegation":
        return not in_address(expr.expr, ip)
    assert expr.type == "AddressList", expr.type
    plus = [e for e in expr.elements if e.type != "AddressNegation"]
    minus = [e.expr for e in expr.elements if e.type == "AddressNegation"]
    return (not plus or any(in_address(e, ip) for e in plus)) and not any(in_address(e, ip) for e in minus)


def in_ports(expr: Any, port: int) -> bool:
    if expr.type == "AnyPort":
        return True
    if expr.type == "Port":
        return port == expr.value
    if expr.type == "PortRange":
        return expr.start <= port <= expr.end
    if expr.type == "PortNegation":
        return not in_ports(expr.expr, port)
    assert expr.type == "PortList", expr.type
    plus = [e for e in expr.elements if e.type != "PortNegation"]
    minus = [e.expr for e in expr.elements if e.type == "PortNegation"]
    return (not plus or any(in_ports(e, port) for e in plus)) and not any(in_ports(e, port) for e in minus)


def header_matches(rule: Rule, c: generate.Conn) -> bool:
    """The rule's header against the connection's first (client to server) packet."""
    h = rule.header
    assert h is not None and h.direction.value == "->"
    assert [[d.value for d in o.directions] for o in options(rule, "FlowOption")] == [["to_server"]]
    return (h.protocol.value == c.proto
            and in_address(h.src_addr, ipaddress.ip_address(c.orig_h)) and in_ports(h.src_port, c.orig_p)
            and in_address(h.dst_addr, ipaddress.ip_address(c.resp_h)) and in_ports(h.dst_port, c.resp_p))


def bits(rule: Rule) -> set[tuple[str, str]]:
    return {(o.action, o.name) for o in options(rule, "FlowbitsOption")}


def alerts(rules: list[Rule], c: generate.Conn) -> bool:
    """Does some rule alert? Flowbit setters run first (Suricata orders setters before
    readers); `noalert` rules never alert."""
    allowed = any(("set", FLOWBIT) in bits(r) and header_matches(r, c) for r in rules)
    return any(header_matches(r, c) and ("noalert", "") not in bits(r)
               and not (allowed and ("isnotset", FLOWBIT) in bits(r)) for r in rules)


_uid = iter(range(10**6))


def conn(src: str, sport: int, dst: str, dport: int, proto: str = "tcp") -> generate.Conn:
    return generate.Conn(
        ts=generate.BASE_TS, uid=f"Csuri{next(_uid):013d}", flow_id=1, orig_h=src, orig_p=sport,
        resp_h=dst, resp_p=dport, proto=proto, service=None, duration=1.0, orig_bytes=10,
        resp_bytes=20, orig_pkts=1, resp_pkts=1, conn_state="SF", history="ShADadFf",
        expected=False, label="suricata export",
    )


#: Connections aimed at each allow entry and profile difference (the generator's random
#: public addresses seldom fall in an allowlisted /24).
AIMED = [
    conn("10.1.1.1", 40000, "203.0.113.7", 8080),   # corp-proxy: allowed
    conn("10.1.1.1", 40001, "203.0.113.7", 3128),   # corp-proxy covers 8080 only: alert
    conn("192.168.10.5", 443, "45.1.2.3", 8080),    # nat-web: allowed
    conn("192.168.10.5", 50000, "45.1.2.3", 8080),  # nat-web needs its source ports: alert
    conn("10.2.2.2", 443, "91.1.2.3", 1080),        # ... and its source: alert
    conn("10.3.3.3", 40002, "34.1.2.3", 1080),      # old-vendor expired: alert
    conn("10.3.3.3", 40003, "52.10.9.9", 3128),     # migration: allowed
    conn("10.9.9.9", 40004, "91.1.2.3", 8080),      # scanner: allowed
    conn("10.4.4.4", 8443, "91.1.2.3", 3128),       # vpn-return: allowed
    conn("10.20.1.1", 40005, "45.9.9.9", 1080),     # backup: allowed
    conn("10.20.1.1", 40006, "45.9.9.9", 8080),     # backup covers 1080, 3128: alert
    conn("10.20.1.1", 40007, "64.9.9.9", 1080),     # backup needs its destination: alert
    conn("10.21.1.1", 40008, "45.9.9.9", 1080),     # ... and its source: alert
    conn("10.1.1.1", 40009, "91.1.2.3", 8080, "udp"),
    conn("10.1.1.1", 40010, "91.1.2.3", 1080, "udp"),
    conn("fd00::5", 40011, "2600::1", 8080),        # internal only in strict
    conn("fd00::5", 40012, "2600:1f00::1", 8080),   # ... and allowed by migration
    conn("fd00::5", 40015, "fd00::9", 8080),        # ... to an internal address
    conn("10.1.1.1", 40013, "169.254.1.1", 3128),   # excluded from elastic-v6 on
    conn("10.1.1.1", 40014, "100.64.1.1", 3128),    # excluded in strict
]


# -- syntax ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CONFIGS)
def test_every_rule_parses_strictly_and_carries_the_rule_metadata(name: str) -> None:
    text = to_suricata_rules(settings_for(name), today=TODAY)
    rules = parse(text)
    assert rules
    for rule in rules:
        [msg] = options(rule, "MsgOption")
        assert msg.text.startswith(RULE.name)
        assert [o.value for o in options(rule, "ClasstypeOption")] == ["policy-violation"]
        assert [o.value for o in options(rule, "RevOption")] == [1]
        [meta] = options(rule, "MetadataOption")
        assert {("elastic_rule_id", RULE.id), ("mitre_tactic_id", "TA0011"),
                ("mitre_technique_id", "T1090")} <= set(meta.entries)
    for line in rule_lines(text):  # msg needs no escapes: no ';', '"' or '\' inside
        assert re.search(r'\(msg:"[^";\\]*"; ', line), line


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("sid_base", [9300000, 1])
def test_sids_are_unique_and_consecutive_from_sid_base(name: str, sid_base: int) -> None:
    rules = parse(to_suricata_rules(settings_for(name), sid_base=sid_base, today=TODAY))
    sids = [o.value for r in rules for o in options(r, "SidOption")]
    assert sids == list(range(sid_base, sid_base + len(rules)))


def test_a_sid_beyond_32_bits_is_refused() -> None:
    assert "sid:4294967295;" in to_suricata_rules(DEFAULT_SETTINGS, sid_base=2**32 - 1)
    with pytest.raises(ValueError, match="outside"):
        to_suricata_rules(parse_config(SITE), sid_base=2**32 - 1, today=TODAY)


def test_the_header_names_the_rule_and_the_profile() -> None:
    text = to_suricata_rules(settings_for("strict"), today=TODAY)
    head = text.split("\nalert ", 1)[0]
    assert RULE.name in head and RULE.id in head and "profile strict" in head
    assert "zeek_proxy_profile strict" in text


def test_default_settings_give_one_rule_for_all_ports() -> None:
    [line] = rule_lines(to_suricata_rules(DEFAULT_SETTINGS, today=TODAY))
    assert line.startswith("alert tcp [10.0.0.0/8,172.16.0.0/12,192.168.0.0/16] any -> "
                           "![10.0.0.0/8,127.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1/128] [1080,3128,8080] ")
    assert FLOWBIT not in line
    assert f"flowbits:isnotset,{ONCE}; flowbits:set,{ONCE};" in line  # one alert per flow


def test_every_alerting_rule_alerts_once_per_flow() -> None:
    rules = parse(to_suricata_rules(settings_for("strict"), today=TODAY))
    alerting = [r for r in rules if ("noalert", "") not in bits(r)]
    assert alerting and all({("isnotset", ONCE), ("set", ONCE)} <= bits(r) for r in alerting)


def test_ipv6_networks_of_the_strict_profile_are_excluded() -> None:
    [rule] = parse(to_suricata_rules(settings_for("strict"), today=TODAY))
    for ip in ("fe80::1", "ff02::1", "2001:db8::1", "fd00::1", "::", "::1", "100.64.0.1"):
        assert not in_address(rule.header.dst_addr, ipaddress.ip_address(ip)), ip
    assert in_address(rule.header.src_addr, ipaddress.ip_address("fd12::1"))


# -- allow entries ---------------------------------------------------------------------

def rules_for_port(rules: list[Rule], port: int) -> list[Rule]:
    """The alerting (not flowbit-setting) rules for a destination port."""
    return [r for r in rules if ("set", FLOWBIT) not in bits(r) and in_ports(r.header.dst_port, port)]


def test_a_proxy_entry_is_excluded_on_its_port_only() -> None:
    text = to_suricata_rules(parse_config(SITE), today=TODAY)
    rules = parse(text)
    proxy = ipaddress.ip_address("203.0.113.7")
    [on_8080] = rules_for_port(rules, 8080)
    [on_3128] = rules_for_port(rules, 3128)
    assert not in_address(on_8080.header.dst_addr, proxy)
    assert in_address(on_3128.header.dst_addr, proxy)
    assert "203.0.113.0/24" in on_8080.raw_text and "203.0.113.0/24" not in on_3128.raw_text


def test_single_key_entries_fold_into_the_header() -> None:
    rules = parse(to_suricata_rules(parse_config(SITE), today=TODAY))
    for port in (1080, 3128, 8080):
        [rule] = rules_for_port(rules, port)
        h = rule.header
        assert not in_address(h.src_addr, ipaddress.ip_address("10.9.9.9"))      # scanner
        assert in_address(h.src_addr, ipaddress.ip_address("10.9.9.8"))
        assert not in_ports(h.src_port, 8443) and in_ports(h.src_port, 8444)     # vpn-return
        assert not in_address(h.dst_addr, ipaddress.ip_address("52.10.1.1"))    # migration
        assert not in_address(h.dst_addr, ipaddress.ip_address("2600:1f00::1"))


def test_combined_entries_become_flowbit_setters() -> None:
    rules = parse(to_suricata_rules(parse_config(SITE), today=TODAY))
    setters = [r for r in rules if ("set", FLOWBIT) in bits(r)]
    assert sorted(dict(options(r, "MetadataOption")[0].entries)["zeek_proxy_allow"] for r in setters) \
        == ["backup", "nat-web"]
    assert all(("noalert", "") in bits(r) for r in setters)
    assert all(("isnotset", FLOWBIT) in bits(r) for r in rules_for_port(rules, 1080))


def test_expired_entries_are_left_out_and_expiring_ones_are_noted() -> None:
    text = to_suricata_rules(parse_config(SITE), today=TODAY)
    assert "34.1.2.0/24" not in text
    assert all("old-vendor" not in line for line in rule_lines(text))
    assert "# allow 'old-vendor' (destination): expired 2026-01-01: left out" in text
    assert "expires 2030-01-01: kept" in text
    later = to_suricata_rules(parse_config(SITE), today=date(2030, 1, 1))
    assert "52.10.0.0/16" not in "\n".join(rule_lines(later))


def test_a_ports_only_entry_drops_its_port() -> None:
    text = to_suricata_rules(settings_for("lab-port"), today=TODAY)
    rules = parse(text)
    assert not rules_for_port(rules, 1080) and rules_for_port(rules, 3128)
    assert "# tcp port 1080: no rule (nothing is left to alert on)" in text


def test_nothing_left_to_alert_on_gives_no_rules() -> None:
    for config in ('[networks]\ninternal = []\n', '[rule]\nports = []\n', '[rule]\ntransports = ["icmp"]\n',
                   '[[allow]]\nsource = ["0.0.0.0/0"]\n', '[[allow]]\ndestination = ["0.0.0.0/0", "::/0"]\n',
                   '[[allow]]\nsource_ports = [' + ", ".join(map(str, range(65536))) + ']\n'):
        text = to_suricata_rules(parse_config(config), today=TODAY)
        assert text.startswith("# ") and not rule_lines(text), config


def test_hostile_entry_names_cannot_break_out_of_comments_or_options() -> None:
    config = ('[[allow]]\nname = "evil\\"; sid:1;\\nalert ip any any -> any any (msg:\\"x\\"; sid:2;)"\n'
              'source = ["10.5.0.0/16"]\nsource_ports = [1]\n')
    text = to_suricata_rules(parse_config(config), today=TODAY)
    assert len(rule_lines(text)) == 2 and len(parse(text)) == 2


def test_the_cli_writes_the_rules(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(SITE)
    result = CliRunner().invoke(cli, ["export", "suricata", "-c", str(config), "--sid-base", "77"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [o.value for r in parse(result.stdout) for o in options(r, "SidOption")] == [77, 78, 79, 80]


# -- semantics: the rules alert where the scan alerts ----------------------------------

@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("seed", [3, 11])
def test_the_rules_alert_exactly_where_the_scan_alerts(tmp_path: Path, name: str, seed: int) -> None:
    settings = settings_for(name)
    conns = list(generate.connections(3000, seed=seed, every_case_first=True)) + AIMED
    log = tmp_path / "conn.log"
    with open(log, "w") as out:
        generate.write_zeek_tsv(conns, out)
    scanned = set(scan([str(log)], settings).alerts["zeek.session_id"])
    rules = parse(to_suricata_rules(settings, today=TODAY))
    matched = {c.uid for c in conns if alerts(rules, c)}
    assert matched == scanned
    assert len(scanned) >= 5  # the comparison is not vacuous


def test_the_aimed_connections_get_the_expected_verdicts() -> None:
    rules = parse(to_suricata_rules(parse_config(CONFIGS["site-udp"]), today=TODAY))
    verdicts = [alerts(rules, c) for c in AIMED[:15]]
    assert verdicts == [False, True, False, True, True, True, False, False, False, False, True, True, True,
                        True, True]


# -- proxy protocols: the HTTP CONNECT and absolute-form request rules -------------------

def request_matches(rule: Rule, method: str | None, uri: str | None) -> bool:
    """The rule's payload options against an HTTP request: `http.method` and
    `http.uri.raw` buffers, `content` (with `nocase`), `bsize` and `pcre`, as Suricata
    applies them (the buffers are what eve writes as `http_method` and `url`)."""
    buffers = {"http.method": method, "http.uri.raw": uri}
    buffer: str | None = None
    checks: list[list[Any]] = []
    for option in rule.options:
        if option.type == "BufferSelectOption":
            buffer = buffers[option.buffer_name]  # any other buffer fails the test
        elif option.type == "ContentOption":
            checks.append(["content", buffer, option.pattern.decode(), False])
        elif option.type == "NocaseOption":
            assert checks[-1][0] == "content"
            checks[-1][3] = True
        elif option.type == "GenericOption" and option.keyword == "bsize":
            checks.append(["bsize", buffer, int(option.value)])
        elif option.type == "PcreOption":
            assert option.flags in ("", "i"), option.flags
            checks.append(["pcre", buffer, re.compile(option.pattern, re.I if option.flags else 0)])
        else:
            assert option.type in ("MsgOption", "FlowOption", "FlowbitsOption", "ClasstypeOption", "SidOption",
                                   "RevOption", "MetadataOption"), option.type
    assert checks, rule.raw_text
    for kind, value, *args in checks:
        if value is None:
            return False
        if kind == "content" and not (args[0].lower() in value.lower() if args[1] else args[0] in value):
            return False
        if kind == "bsize" and len(value.encode()) != args[0]:
            return False
        if kind == "pcre" and not args[0].search(value):
            return False
    return True


def alerts_on(rules: list[Rule], item: Proxied) -> bool:
    """Does some rule alert on the connection: a port rule on its first packet, or an
    HTTP rule on its request (Suricata's `alert http` header names the app-layer
    protocol); flowbit setters run first and `noalert` rules never alert."""
    c = item.conn
    if alerts([r for r in rules if r.header.protocol.value != "http"], c):
        return True
    if item.log != "http":
        return False  # Suricata has no SOCKS rule
    allowed = any(("set", FLOWBIT) in bits(r) and header_matches(r, c) for r in rules)
    as_http = replace(c, proto="http")
    return any(r.header.protocol.value == "http" and header_matches(r, as_http)
               and request_matches(r, item.method, item.uri)
               and not (allowed and ("isnotset", FLOWBIT) in bits(r)) for r in rules)


def protocol_rules(rules: list[Rule]) -> list[Rule]:
    return [r for r in rules if r.header.protocol.value == "http"]


@pytest.mark.parametrize("name", EVIDENCE_CONFIGS)
def test_protocol_rules_parse_strictly_and_name_their_rule(name: str) -> None:
    settings = evidence_settings(name)
    text = to_suricata_rules(settings, sid_base=77, today=TODAY)
    rules = parse(text)
    assert [o.value for r in rules for o in options(r, "SidOption")] == list(range(77, 77 + len(rules)))
    http = protocol_rules(rules)
    assert len(http) == (2 if settings.evidence else 0)
    for rule in rules:
        [msg] = options(rule, "MsgOption")
        [meta] = options(rule, "MetadataOption")
        mine = PROTOCOL_RULE if msg.text.startswith(PROTOCOL_RULE.name) else RULE
        assert msg.text.startswith(mine.name)
        origin = "elastic" if mine is RULE else "zeek_proxy"
        assert {(f"{origin}_rule_id", mine.id), ("mitre_technique_id", "T1090")} <= set(meta.entries)
    for rule in http:
        assert [[d.value for d in o.directions] for o in options(rule, "FlowOption")] == [["to_server"]]
        assert [[s.value for s in o.states] for o in options(rule, "FlowOption")] == [["established"]]
        assert {("isnotset", ONCE), ("set", ONCE)} <= bits(rule)  # one alert a flow, the port rule's first
    assert ("# SOCKS (" in text) == (settings.socks or settings.evidence)


def test_protocol_rules_say_what_they_match() -> None:
    text = to_suricata_rules(evidence_settings("site-evidence"), today=TODAY)
    connect, request = (line for line in rule_lines(text) if line.startswith("alert http "))
    assert 'flow:established,to_server; http.method; content:"CONNECT"; nocase; bsize:7;' in connect
    assert 'http.uri.raw; content:"://"; pcre:"/^[A-Za-z][A-Za-z0-9+.-]*:\\/\\//";' in request
    # the ports-only entry drops its port; the entries that combine keys set the allow flowbit
    assert connect.split(" (", 1)[0].endswith(" ![9050]")
    [connect_rule] = [r for r in parse(text) if r.raw_text.startswith("alert http") and "CONNECT" in r.raw_text]
    assert ("isnotset", FLOWBIT) in bits(connect_rule)
    setters = [r for r in parse(text) if ("set", FLOWBIT) in bits(r)]
    names = sorted(dict(options(r, "MetadataOption")[0].entries)["zeek_proxy_allow"] for r in setters)
    assert names == ["backup", "cloud-proxy", "corp-proxy", "nat-web"]  # each once
    [cloud] = [r for r in setters if "cloud-proxy" in r.raw_text]
    assert cloud.raw_text.startswith("alert tcp [172.16.0.0/12] any -> any 443 ")
    [nat] = [r for r in setters if "nat-web" in r.raw_text]
    assert nat.raw_text.startswith("alert tcp [192.168.10.5/32] [80,443] -> any any ")  # any port now


def test_without_evidence_the_rules_are_as_before() -> None:
    for name in CONFIGS:
        settings = settings_for(name)
        assert to_suricata_rules(settings, today=TODAY) == to_suricata_rules(
            replace(settings, evidence=False), today=TODAY)
        assert "alert http" not in to_suricata_rules(settings, today=TODAY)


def test_nothing_left_for_the_protocol_rules() -> None:
    for allow in ('[[allow]]\nports = [' + ", ".join(map(str, range(65536))) + ']\n',
                  '[[allow]]\nsource = ["0.0.0.0/0"]\n'):
        text = to_suricata_rules(replace(parse_config(allow), evidence=True), today=TODAY)
        assert "# HTTP proxy rules: none (nothing is left to alert on)" in text
        assert "alert http" not in text


@pytest.mark.parametrize("name", EVIDENCE_CONFIGS)
@pytest.mark.parametrize("seed", [5, 12])
def test_the_protocol_rules_alert_exactly_where_the_scan_alerts(tmp_path: Path, name: str, seed: int) -> None:
    """HTTP requests of every kind, on every port (Suricata takes any URI scheme, as the
    scan does; it has no SOCKS rule, so no SOCKS here)."""
    settings = evidence_settings(name)
    items = proxied(seed=seed, socks=False, other_schemes=True)
    expected = scanned(items, settings, tmp_path)
    rules = parse(to_suricata_rules(settings, today=TODAY))
    assert {i.conn.uid for i in items if alerts_on(rules, i)} == expected
    port_only = {i.conn.uid for i in items if alerts(rules, i.conn)}
    assert len(expected - port_only) >= (20 if settings.evidence else 0)
    assert len(port_only) >= 20
