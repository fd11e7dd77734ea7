"""Profiles: each Elastic version of the rule, case by case against a checker written
from its query text (not from the core's code), through the core and a whole scan."""

from __future__ import annotations

import ipaddress
import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.config import PROFILES, build_settings
from zeek_proxy.core import match
from zeek_proxy.schema import frame_from_rows

TRANSPORTS = ("tcp", "udp")
PORTS = (8080, 3128, 1080, 80)
DIRECTIONS = ("outbound", "inbound", "internal", "external", None)
SOURCES = ("10.1.2.3", "172.16.0.9", "192.168.5.5", "172.32.0.1", "8.8.8.8", "fd00::1")
DESTINATIONS = ("8.8.8.8", "10.9.9.9", "127.0.0.5", "169.254.1.1", "224.0.0.7", "::1", "fe80::1",
                "2001:4860::8888", "172.20.0.1")


def within(address: str, networks: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net
               for net in map(ipaddress.ip_network, networks.split()))


#: The queries, read off Elastic's rule texts, one Python line each.
CHECKERS = {
    # network.transport:tcp and destination.port:(3128 or 8080 or 1080) and (network.direction:outbound
    # or (source.ip:(10/8 or 172.16/12 or 192.168/16) and not destination.ip:(10/8 or 172.16/12 or 192.168/16)))
    "elastic-v2": lambda t, p, d, s, a: t == "tcp" and p in (3128, 8080, 1080) and (
        d == "outbound" or (within(s, "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16")
                            and not within(a, "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"))),
    # network.transport:tcp and destination.port:(1080 or 3128 or 8080) and source.ip:(10/8 or
    # 172.16/12 or 192.168/16) and not destination.ip:(10/8 or 127/8 or 172.16/12 or 192.168/16 or "::1")
    "elastic-v3": lambda t, p, d, s, a: t == "tcp" and p in (1080, 3128, 8080)
    and within(s, "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16")
    and not within(a, "10.0.0.0/8 127.0.0.0/8 172.16.0.0/12 192.168.0.0/16 ::1/128"),
    # version 3, destination.ip also not in 169.254/16, 224/4, fe80::/10, ff00::/8
    "elastic-v6": lambda t, p, d, s, a: t == "tcp" and p in (1080, 3128, 8080)
    and within(s, "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16")
    and not within(a, "10.0.0.0/8 127.0.0.0/8 172.16.0.0/12 192.168.0.0/16 ::1/128 "
                      "169.254.0.0/16 224.0.0.0/4 fe80::/10 ff00::/8"),
}
CASES = list(itertools.product(TRANSPORTS, PORTS, DIRECTIONS, SOURCES, DESTINATIONS))


def frame(cases: list[tuple]) -> object:
    return frame_from_rows([{"@timestamp": 1_795_773_600_000_000 + i, "network.transport": t,
                             "destination.port": p, "network.direction": d, "source.ip": s,
                             "destination.ip": a, "zeek.session_id": f"C{i}"}
                            for i, (t, p, d, s, a) in enumerate(cases)])


@pytest.mark.parametrize("profile", sorted(CHECKERS))
def test_the_core_matches_the_query_case_by_case(profile: str) -> None:
    got = match(frame(CASES), build_settings(profile=profile)).tolist()
    expected = [CHECKERS[profile](*case) for case in CASES]
    wrong = [case for case, g, e in zip(CASES, got, expected) if g != e]
    assert not wrong, wrong[:5]
    assert 0 < sum(expected) < len(CASES)


def zeek_log(path: Path, cases: list[tuple]) -> None:
    """A conn.log whose local_orig/local_resp say each case's direction, as Filebeat maps them."""
    flags = {"outbound": ("T", "F"), "inbound": ("F", "T"), "internal": ("T", "T"),
             "external": ("F", "F"), None: ("-", "-")}
    lines = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
             "#path\tconn", "#open\t2026-11-27-10-00-00",
             "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tlocal_orig\tlocal_resp",
             "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tbool\tbool"]
    for i, (t, p, d, s, a) in enumerate(cases):
        lines.append("\t".join([f"{1795773600 + i}.000000", f"C{i}", s, "40000", a, str(p), t, *flags[d]]))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("profile", sorted(CHECKERS))
def test_a_scan_under_each_profile_alerts_where_its_query_does(profile: str, tmp_path: Path) -> None:
    """Through the pre-filter too: under elastic-v2 it may drop nothing the outbound
    branch could alert on."""
    log = tmp_path / "conn.log"
    zeek_log(log, CASES)
    alerted = set(scan([str(log)], build_settings(profile=profile)).alerts["zeek.session_id"])
    expected = {f"C{i}" for i, case in enumerate(CASES) if CHECKERS[profile](*case)}
    assert alerted == expected


def test_profile_option_replaces_the_config_and_rule_prints_its_query(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[rule]\nprofile = "elastic-v6"\n')
    printed = CliRunner().invoke(cli, ["rule", "-c", str(config), "--profile", "elastic-v2"])
    assert printed.exit_code == 0
    assert f"# profile elastic-v2: {PROFILES['elastic-v2'].query}" in printed.stdout
    again = tmp_path / "effective.toml"
    again.write_text(printed.stdout)
    assert build_settings(str(again)).outbound  # what rule prints, -c reads back
    log = tmp_path / "conn.log"
    zeek_log(log, [("tcp", 8080, "outbound", "8.8.8.8", "9.9.9.9")])
    assert CliRunner().invoke(cli, ["scan", str(log)]).stdout == ""
    alert = CliRunner().invoke(cli, ["scan", "--profile", "elastic-v2", str(log)]).stdout
    assert "8.8.8.8 (outbound, as Zeek marks it) to 9.9.9.9:8080/tcp" in alert


def test_exports_refuse_what_they_cannot_express() -> None:
    result = CliRunner().invoke(cli, ["export", "sigma", "--profile", "elastic-v2"])
    assert result.exit_code == 2 and "cannot export profile elastic-v2" in result.stderr
