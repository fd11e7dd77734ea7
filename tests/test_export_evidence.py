"""Proxy protocols in the exports: the connections, logs and configs the Sigma, Zeek and
Suricata tests judge the protocol rules on (SOCKS, HTTP CONNECT, absolute-form requests
on any port), and the export commands' `--evidence` flag and warnings.

Every generated connection has a Zeek conn record and one record in socks.log or
http.log (Zeek JSON), with the same uid and endpoints, so that the offline scan gives
the answer each export must agree with.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import generate

from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.config import Settings, parse_config
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE

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

[[allow]]
name = "tor-lab"
ports = [9050]

[[allow]]
name = "cloud-proxy"
source = ["172.16.0.0/12"]
ports = [443]
"""

#: name -> (config text, evidence)
CONFIGS: dict[str, tuple[str, bool]] = {
    "v3-evidence": ("", True),
    "v6": ('[rule]\nprofile = "elastic-v6"\n', False),
    "v6-evidence": ('[rule]\nprofile = "elastic-v6"\n', True),
    "site-evidence": (SITE, True),
    "strict-site-evidence": ('[rule]\nprofile = "strict"\n' + SITE, True),
    "v4-site": ('[rule]\nprofile = "elastic-v4"\n' + SITE, False),
}


def settings_for(name: str) -> Settings:
    text, evidence = CONFIGS[name]
    return replace(parse_config(text), evidence=evidence)


# -- connections with a proxy protocol record ---------------------------------------------

@dataclass
class Proxied:
    """A connection and what its socks.log or http.log record says."""

    conn: generate.Conn
    log: str  # "socks" or "http"
    method: str | None = None
    uri: str | None = None
    version: int | None = None


SOURCES = ["10.1.1.1", "192.168.5.5", "172.16.9.9", "fd00::5", "192.168.10.5", "10.9.9.9", "10.20.1.1",
           "172.32.0.1", "8.8.8.8", "2600::7"]
DESTINATIONS = ["93.184.216.34", "60.190.189.214", "203.0.113.7", "52.10.9.9", "45.9.9.9", "34.1.2.3",
                "2600:1f00::1", "2a00:1450::1", "100.64.1.1", "198.51.100.7", "10.2.2.2", "127.0.0.1",
                "169.254.1.1", "192.168.1.1", "::1", "fe80::1", "fd00::9"]
PORTS = [1080, 3128, 8080, 443, 80, 9050, 8124, 25]
SOURCE_PORTS = [40000, 51515, 80, 443, 8443]
#: (method, uri): CONNECTs in any case, absolute-form requests of the schemes the Sigma
#: rule names, and requests that are neither.
REQUESTS = [
    ("CONNECT", "example.org:443"), ("connect", "mailin03.sul.t-online.de:25 /"),
    ("Connect", "[2001:db8::1]:443"), ("GET", "http://example.net/x"), ("GET", "HTTP://EXAMPLE.NET/"),
    ("POST", "https://example.com/a?b=c"), ("GET", "ftp://ftp.example.org/f"), ("GET", "/index.html"),
    ("OPTIONS", "*"), ("GET", "/go?to=http://example.net/"), ("CONNECTX", "example.org:443"),
    ("GET", "example.org:443"), ("HEAD", "/"),
]
#: Absolute-form requests of other schemes: proxy requests to the scan and the Zeek and
#: Suricata exports, which take any scheme, not to the Sigma rule, which names three.
OTHER_SCHEMES = [("GET", "ws://example.org/socket"), ("GET", "gopher://example.org/1")]


def proxied(rows: int = 900, seed: int = 5, other_schemes: bool = False, socks: bool = True) -> list[Proxied]:
    """`rows` connections, each with a SOCKS record or an HTTP request, reproducible for a
    seed; every uid unique, and no two connections share their endpoints."""
    rng = random.Random(seed)
    requests = REQUESTS + (OTHER_SCHEMES if other_schemes else [])
    out: list[Proxied] = []
    seen: set[tuple[str, int, str, int]] = set()
    ts = generate.BASE_TS
    while len(out) < rows:
        src, dst = rng.choice(SOURCES), rng.choice(DESTINATIONS)
        if (":" in src) != (":" in dst):
            continue
        sport = rng.choice(SOURCE_PORTS) if rng.random() < 0.3 else rng.randrange(1024, 65536)
        dport = rng.choice(PORTS)
        if (src, sport, dst, dport) in seen or (dst, dport, src, sport) in seen:
            continue
        seen.add((src, sport, dst, dport))
        ts += rng.random()
        kind = "socks" if socks and rng.random() < 0.35 else "http"
        conn = generate.Conn(
            ts=round(ts, 6), uid=f"Cev{len(out):015d}", flow_id=len(out) + 1, orig_h=src, orig_p=sport,
            resp_h=dst, resp_p=dport, proto="tcp", service=kind, duration=1.0, orig_bytes=100,
            resp_bytes=200, orig_pkts=4, resp_pkts=4, conn_state="SF", history="ShADadFf",
            expected=False, label="proxy protocol",
        )
        if kind == "socks":
            out.append(Proxied(conn, "socks", version=rng.choice((4, 5))))
        else:
            method, uri = rng.choice(requests)
            out.append(Proxied(conn, "http", method=method, uri=uri))
    return out


def records(items: list[Proxied], log: str) -> list[dict]:
    """The Zeek JSON records of `items` in `log` (conn, socks or http)."""
    out = []
    for item in items:
        c = item.conn
        base = {"_path": log, "ts": c.ts, "uid": c.uid, "id.orig_h": c.orig_h, "id.orig_p": c.orig_p,
                "id.resp_h": c.resp_h, "id.resp_p": c.resp_p}
        if log == "conn":
            out.append({**base, "proto": c.proto, "service": c.service, "duration": c.duration,
                        "conn_state": c.conn_state, "history": c.history})
        elif log == item.log == "socks":
            record = {**base, "version": item.version, "status": "succeeded"}
            if int(c.uid[-3:]) % 4:  # some records have no request (a failed login)
                record.update({"request.name": "www.osnews.com", "request_p": 80})
            out.append(record)
        elif log == item.log == "http":
            out.append({**base, "trans_depth": 1, "method": item.method, "host": "example.org",
                        "uri": item.uri, "status_code": 200})
    return out


def write_logs(items: list[Proxied], directory: Path) -> list[Path]:
    """conn, socks and http logs (Zeek JSON) of `items` in `directory`."""
    paths = []
    for log in ("conn", "socks", "http"):
        path = directory / f"{log}.json.log"
        path.write_text("".join(json.dumps(r) + "\n" for r in records(items, log)))
        paths.append(path)
    return paths


def scanned(items: list[Proxied], settings: Settings, directory: Path) -> set[str]:
    """The uids the offline scan alerts on, reading the logs of `items`."""
    alerts = scan([str(p) for p in write_logs(items, directory)], settings).alerts
    return set(alerts["zeek.session_id"])


# -- the generated data makes the comparisons telling ---------------------------------------

@pytest.mark.parametrize("name", CONFIGS)
def test_the_scan_raises_both_detections_on_the_generated_logs(tmp_path: Path, name: str) -> None:
    settings = settings_for(name)
    items = proxied()
    alerts = scan([str(p) for p in write_logs(items, tmp_path)], settings).alerts
    by_rule = alerts["rule.id"].value_counts().to_dict()
    assert by_rule.get(RULE.id, 0) >= 20
    if settings.evidence:
        assert by_rule.get(PROTOCOL_RULE.id, 0) >= 20
    else:  # SOCKS on any port is the port rule's, under elastic-v4 and later
        assert PROTOCOL_RULE.id not in by_rule
        socks = {i.conn.uid for i in items if i.log == "socks" and i.conn.resp_p not in settings.ports}
        assert len(socks & set(alerts["zeek.session_id"])) >= 10
    if settings.allow:
        unallowed = scanned(items, replace(settings, allow=()), tmp_path)
        assert len(unallowed - set(alerts["zeek.session_id"])) >= 20


# -- the export commands -----------------------------------------------------------------------

def run(*args: str) -> object:
    return CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)


def test_sigma_exports_the_socks_rule_under_socks_profiles_and_http_rules_with_evidence() -> None:
    for args, titles in (
        ([], [RULE.name]),
        (["--profile", "elastic-v4"], [RULE.name, f"{RULE.name} - SOCKS"]),
        (["--evidence"], [RULE.name, f"{PROTOCOL_RULE.name} - SOCKS", f"{PROTOCOL_RULE.name} - HTTP CONNECT",
                          f"{PROTOCOL_RULE.name} - HTTP proxy request"]),
        (["--evidence", "--profile", "strict"], [RULE.name, f"{RULE.name} - SOCKS",
                                                  f"{PROTOCOL_RULE.name} - HTTP CONNECT",
                                                  f"{PROTOCOL_RULE.name} - HTTP proxy request"]),
    ):
        result = run("sigma", *args)
        assert result.exit_code == 0 and result.stderr == "", (args, result.stderr)
        assert [line[len("title: "):] for line in result.stdout.splitlines() if line.startswith("title: ")] \
            == titles, args


def test_the_config_asks_for_evidence_too(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text("[rule]\nevidence = true\n")
    assert "Protocol_Activity" in run("zeek", "-c", str(config)).stdout
    assert "Protocol_Activity" not in run("zeek").stdout
    assert "(HTTP CONNECT)" in run("suricata", "-c", str(config)).stdout
    assert "service: http" in run("sigma", "-c", str(config)).stdout


def test_zeek_exports_protocol_notices() -> None:
    assert "Protocol_Activity" not in run("zeek").stdout
    socks = run("zeek", "--profile", "elastic-v6")
    assert socks.stderr == "" and "const notice_socks = T &redef;" in socks.stdout
    assert "const notice_http_proxy = F &redef;" in socks.stdout
    both = run("zeek", "--evidence").stdout
    assert "const notice_socks = T &redef;" in both and "const notice_http_proxy = T &redef;" in both


def test_suricata_says_socks_is_not_exported() -> None:
    plain = run("suricata")
    assert plain.stderr == "" and "SOCKS" not in plain.stdout and "alert http" not in plain.stdout
    for args in (["--profile", "elastic-v6"], ["--evidence"]):
        result = run("suricata", *args)
        assert result.exit_code == 0
        assert "Suricata cannot tell SOCKS" in result.stderr and result.stderr.count("\n") == 1
        assert "# SOCKS (" in result.stdout and "not exported" in result.stdout
    evidence = run("suricata", "--evidence").stdout
    assert "alert http" in evidence and "--evidence" in run("suricata", "--evidence").stderr
    assert "alert http" not in run("suricata", "--profile", "elastic-v6").stdout


def test_the_direction_profile_is_still_refused() -> None:
    for target in ("sigma", "zeek", "suricata"):
        result = CliRunner().invoke(cli, ["export", target, "--evidence", "--profile", "elastic-v2"])
        assert result.exit_code == 2 and "cannot export profile elastic-v2" in result.stderr
