"""Profiles: each Elastic version of the rule, case by case against a checker written
from its query text (not from the core's code), through the core and a whole scan."""

from __future__ import annotations

import ipaddress
import itertools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.config import PROFILES, build_settings
from zeek_proxy.core import match
from zeek_proxy.schema import frame_from_rows

TRANSPORTS = ("tcp", "udp")
PORTS = (8080, 3128, 1080, 80, 9050)
DATASETS = ("zeek.connection", "zeek.socks")
DIRECTIONS = ("outbound", "inbound", "internal", "external", None)
SOURCES = ("10.1.2.3", "172.16.0.9", "192.168.5.5", "172.32.0.1", "8.8.8.8", "fd00::1")
DESTINATIONS = ("8.8.8.8", "10.9.9.9", "127.0.0.5", "169.254.1.1", "224.0.0.7", "::1", "fe80::1",
                "2001:4860::8888", "172.20.0.1")


def within(address: str, networks: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net
               for net in map(ipaddress.ip_network, networks.split()))


V3_EXCLUDED = "10.0.0.0/8 127.0.0.0/8 172.16.0.0/12 192.168.0.0/16 ::1/128"
RFC1918 = "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"

#: The queries, read off Elastic's rule texts, one Python line each (ds: event.dataset).
CHECKERS = {
    # network.transport:tcp and destination.port:(3128 or 8080 or 1080) and (network.direction:outbound
    # or (source.ip:(10/8 or 172.16/12 or 192.168/16) and not destination.ip:(10/8 or 172.16/12 or 192.168/16)))
    "elastic-v2": lambda t, p, d, s, a, ds: t == "tcp" and p in (3128, 8080, 1080) and (
        d == "outbound" or (within(s, "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16")
                            and not within(a, "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"))),
    # network.transport:tcp and destination.port:(1080 or 3128 or 8080) and source.ip:(10/8 or
    # 172.16/12 or 192.168/16) and not destination.ip:(10/8 or 127/8 or 172.16/12 or 192.168/16 or "::1")
    "elastic-v3": lambda t, p, d, s, a, ds: t == "tcp" and p in (1080, 3128, 8080)
    and within(s, RFC1918) and not within(a, V3_EXCLUDED),
    # network.transport:tcp and (destination.port:(1080 or 3128 or 8080) or event.dataset:zeek.socks)
    # and source.ip:(...) and not destination.ip:(... as version 3)
    "elastic-v4": lambda t, p, d, s, a, ds: t == "tcp" and (p in (1080, 3128, 8080) or ds == "zeek.socks")
    and within(s, RFC1918) and not within(a, V3_EXCLUDED),
    # version 4, destination.ip also not in 169.254/16, 224/4, fe80::/10, ff00::/8
    "elastic-v6": lambda t, p, d, s, a, ds: t == "tcp" and (p in (1080, 3128, 8080) or ds == "zeek.socks")
    and within(s, RFC1918) and not within(a, V3_EXCLUDED + " 169.254.0.0/16 224.0.0.0/4 fe80::/10 ff00::/8"),
}
CASES = list(itertools.product(TRANSPORTS, PORTS, DIRECTIONS, SOURCES, DESTINATIONS, DATASETS))
CONN_CASES = [case for case in CASES if case[-1] == "zeek.connection"]


def frame(cases: list[tuple]) -> object:
    return frame_from_rows([{"@timestamp": 1_795_773_600_000_000 + i, "network.transport": t,
                             "destination.port": p, "network.direction": d, "source.ip": s,
                             "destination.ip": a, "zeek.session_id": f"C{i}", "event.dataset": ds}
                            for i, (t, p, d, s, a, ds) in enumerate(cases)])


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
    for i, (t, p, d, s, a, _) in enumerate(cases):
        lines.append("\t".join([f"{1795773600 + i}.000000", f"C{i}", s, "40000", a, str(p), t, *flags[d]]))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("profile", sorted(CHECKERS))
def test_a_scan_under_each_profile_alerts_where_its_query_does(profile: str, tmp_path: Path) -> None:
    """Through the pre-filter too: under elastic-v2 it may drop nothing the outbound
    branch could alert on."""
    log = tmp_path / "conn.log"
    zeek_log(log, CONN_CASES)
    alerted = set(scan([str(log)], build_settings(profile=profile)).alerts["zeek.session_id"])
    expected = {f"C{i}" for i, case in enumerate(CONN_CASES) if CHECKERS[profile](*case)}
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
    zeek_log(log, [("tcp", 8080, "outbound", "8.8.8.8", "9.9.9.9", "zeek.connection")])
    assert CliRunner().invoke(cli, ["scan", str(log)]).stdout == ""
    alert = CliRunner().invoke(cli, ["scan", "--profile", "elastic-v2", str(log)]).stdout
    assert "8.8.8.8 (outbound, as Zeek marks it) to 9.9.9.9:8080/tcp" in alert


def test_exports_refuse_what_they_cannot_express() -> None:
    result = CliRunner().invoke(cli, ["export", "sigma", "--profile", "elastic-v2"])
    assert result.exit_code == 2 and "cannot export profile elastic-v2" in result.stderr


# -- the socks branch (elastic-v4 and later) -------------------------------------------------

EVIDENCE = "zeek-evidence"


@pytest.mark.parametrize("profile, alerts", [("elastic-v3", 0), ("elastic-v4", 1), ("elastic-v6", 1),
                                             ("strict", 1)])
def test_socks_to_an_internet_server_on_any_port(corpus: Path, profile: str, alerts: int) -> None:
    """Zeek's trace: 10.0.0.55 through the SOCKS server 60.190.189.214:8124 to
    www.osnews.com:80. Only profiles with the socks branch read socks logs in folders."""
    result = CliRunner().invoke(cli, ["scan", "--profile", profile, str(corpus / EVIDENCE)])
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and len(found) == alerts
    if alerts:
        (alert,) = found
        assert alert["destination"] == {"ip": "60.190.189.214", "port": 8124, "domain": "www.osnews.com"}
        assert alert["zeek"]["socks"]["request"] == {"host": "www.osnews.com", "port": 80}
        assert alert["event"]["dataset"] == "zeek.socks" and alert["zeek_proxy"]["evidence"] == ["socks"]
        assert "(Internet, SOCKS server; SOCKS5 for www.osnews.com:80)" in alert["message"]


@pytest.mark.parametrize("to", ["ecs", "notice", "notice-json", "csv"])
def test_a_captured_socks_password_reaches_no_output(corpus: Path, to: str) -> None:
    """socks-auth: 192.168.0.2 to 192.168.0.1:1080 as bob, password alice: private to
    private (no alert), and the password is never read."""
    log = corpus / EVIDENCE / "socks-auth__socks.log"
    assert b"alice" in log.read_bytes()
    for args in (["scan", "-t", to, "--profile", "elastic-v4", "--show-suppressed", str(log)],
                 ["normalize", str(log)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "alice" not in result.stdout + result.stderr
    assert scan([str(log)], build_settings(profile="elastic-v4")).alerts.empty


def test_a_conn_record_and_its_socks_record_are_one_alert(tmp_path: Path) -> None:
    """The same uid in conn.log (on proxy port 1080) and socks.log: one alert, with the
    socks target on it; JSON socks records on any port pass the pre-filter too."""
    conn = tmp_path / "conn.log"
    zeek_log(conn, [("tcp", 1080, None, "10.1.1.1", "8.8.8.8", "zeek.connection")])
    socks = tmp_path / "socks.log"
    socks.write_text(json.dumps({"_path": "socks", "ts": 1795773600.5, "uid": "C0", "id.orig_h": "10.1.1.1",
                                 "id.orig_p": 40000, "id.resp_h": "8.8.8.8", "id.resp_p": 1080,
                                 "request.name": "target.example", "request_p": 443, "password": "x"}) + "\n"
                     + json.dumps({"_path": "socks", "ts": 1795773601.0, "uid": "C9", "id.orig_h": "10.1.1.2",
                                   "id.orig_p": 40001, "id.resp_h": "9.9.9.9", "id.resp_p": 9050,
                                   "request.host": "1.2.3.4", "request_p": 80}) + "\n")
    alerts = scan([str(conn), str(socks)], build_settings(profile="elastic-v4")).alerts
    assert sorted(alerts["zeek.session_id"]) == ["C0", "C9"]
    one = alerts.set_index("zeek.session_id").loc["C0"]
    assert one["zeek.socks.request.host"] == "target.example" and one["zeek.socks.request.port"] == 443
    assert list(scan([str(conn), str(socks)]).alerts["zeek.session_id"]) == ["C0"]  # v3: the port rule
