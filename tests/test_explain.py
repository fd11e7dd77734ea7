"""`zeek-proxy explain`: the verdict line, the steps, exit 0, --time; and that its verdict
is the scan's verdict, connection by connection."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from conftest import generate
from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.config import DEFAULT_SETTINGS, parse_config
from zeek_proxy.core.explain import explain
from zeek_proxy.pipeline import SUPPRESSED_BY

SITE = '''\
[[allow]]
name = "vendor-proxy"
destination = ["203.0.113.0/24"]
ports = [8080]
reason = "approved SaaS proxy"
expires = 2027-06-30

[[allow]]
name = "nat-web"
source = ["192.168.10.5/32"]
source_ports = [80, 443]

[[allow]]
name = "whole-net"
destination = ["203.0.0.0/8"]
'''


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def site(tmp_path: Path) -> str:
    path = tmp_path / "site.toml"
    path.write_text(SITE)
    return str(path)


def explain_cli(*args: str) -> tuple[str, list[str]]:
    result = run("explain", *args)
    assert result.exit_code == 0, (result.exit_code, result.output)
    lines = result.stdout.splitlines()
    return lines[0], lines[1:]


# -- verdicts ---------------------------------------------------------------------------

def test_alert() -> None:
    first, steps = explain_cli("--src", "10.1.2.3", "--dst", "198.51.100.7", "--port", "8080")
    assert first == "ALERT"
    assert steps[0] == "  rule: Proxy Port Activity to the Internet (version 3, profile elastic-v3)"
    assert "  transport tcp is one of tcp" in steps
    assert "  destination port 8080 is a proxy port (1080, 3128, 8080)" in steps
    assert "  source 10.1.2.3 is in internal network 10.0.0.0/8" in steps
    assert "  destination 198.51.100.7 is in no excluded network: the Internet" in steps
    assert "  no allow entries are configured" in steps
    assert all(line.startswith("  ") for line in steps)


def test_readme_example_exactly() -> None:
    result = run("explain", "--src", "172.32.0.1", "--dst", "198.51.100.7", "--port", "8080")
    assert result.exit_code == 0
    assert result.stdout == (
        "NO MATCH: source 172.32.0.1 is in no internal network\n"
        "  rule: Proxy Port Activity to the Internet (version 3, profile elastic-v3)\n"
        "  transport tcp is one of tcp\n"
        "  destination port 8080 is a proxy port (1080, 3128, 8080)\n"
        "  source 172.32.0.1 is in no internal network (internal: 10.0.0.0/8, 172.16.0.0/12, "
        "192.168.0.0/16)  <- no match\n"
        "  destination 198.51.100.7 is in no excluded network: the Internet\n"
    )


@pytest.mark.parametrize("args,expected", [
    (["--src", "172.32.0.1", "--dst", "198.51.100.7", "--port", "8080"],
     "NO MATCH: source 172.32.0.1 is in no internal network"),
    (["--src", "10.1.1.1", "--dst", "10.0.0.5", "--port", "8080"],
     "NO MATCH: destination 10.0.0.5 is in excluded network 10.0.0.0/8"),
    (["--src", "10.1.1.1", "--dst", "127.0.0.1", "--port", "3128"],
     "NO MATCH: destination 127.0.0.1 is in excluded network 127.0.0.0/8"),
    (["--src", "10.1.1.1", "--dst", "::1", "--port", "3128"],
     "NO MATCH: destination ::1 is in excluded network ::1/128"),
    (["--src", "10.1.1.1", "--dst", "8.8.8.8", "--port", "8080", "--transport", "udp"],
     "NO MATCH: transport udp is not one of tcp"),
    (["--src", "10.1.1.1", "--dst", "8.8.8.8", "--port", "8080", "--transport", "UDP"],
     "NO MATCH: transport udp is not one of tcp"),
    (["--src", "10.1.1.1", "--dst", "8.8.8.8", "--port", "80"],
     "NO MATCH: destination port 80 is not a proxy port (1080, 3128, 8080)"),
    (["--src", "10.1.1.1", "--dst", "8.8.8.8", "--port", "18080"],
     "NO MATCH: destination port 18080 is not a proxy port (1080, 3128, 8080)"),
    (["--src", "172.31.255.255", "--dst", "8.8.8.8", "--port", "1080"], "ALERT"),
    (["--src", "172.15.255.255", "--dst", "8.8.8.8", "--port", "1080"],
     "NO MATCH: source 172.15.255.255 is in no internal network"),
])
def test_no_match_verdicts(args: list[str], expected: str) -> None:
    first, steps = explain_cli(*args)
    assert first == expected
    if expected.startswith("NO MATCH"):
        assert sum("<- no match" in s for s in steps) >= 1
        assert not any("allow entry" in s for s in steps)


@pytest.mark.parametrize("args, option", [
    (["--src", "foo", "--dst", "8.8.8.8", "--port", "8080"], "--src"),
    (["--src", "10.1.1.1", "--dst", "nowhere", "--port", "8080"], "--dst"),
    (["--src", "10.1.1.1/8", "--dst", "8.8.8.8", "--port", "8080"], "--src"),
])
def test_an_address_that_is_none_is_a_usage_error(args: list[str], option: str) -> None:
    """`explain --src foo` is a typo to be told, not a verdict about a connection."""
    result = run("explain", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert f"Invalid value for '{option}'" in result.stderr and "is not an IP address" in result.stderr


def test_first_failing_check_is_the_verdict() -> None:
    first, steps = explain_cli("--src", "8.8.4.4", "--dst", "10.0.0.1", "--port", "80", "--transport", "udp")
    assert first == "NO MATCH: transport udp is not one of tcp"
    assert sum("<- no match" in s for s in steps) == 4


def test_suppressed_names_the_first_matching_entry(site: str) -> None:
    first, steps = explain_cli("--src", "10.1.2.3", "--dst", "203.0.113.9", "--port", "8080",
                               "--time", "2027-01-01", "-c", site)
    assert first == "SUPPRESSED by vendor-proxy"  # whole-net matches too, but comes later
    assert steps[-1] == ("  allow entry 'vendor-proxy' [destination in 203.0.113.0/24; destination port in 8080; "
                         "connections before 2027-06-30] (approved SaaS proxy): matches")
    assert not any("whole-net" in s for s in steps)
    first, steps = explain_cli("--src", "10.1.2.3", "--dst", "203.0.113.9", "--port", "3128",
                               "--time", "2027-01-01", "-c", site)
    assert first == "SUPPRESSED by whole-net"
    assert any("'vendor-proxy'" in s and s.endswith("does not match") for s in steps)
    assert any("'nat-web'" in s and s.endswith("does not match") for s in steps)


def test_nat_entry_needs_the_source_port(site: str) -> None:
    base = ["--src", "192.168.10.5", "--dst", "64.1.2.3", "--port", "8080", "-c", site]
    assert explain_cli(*base, "--sport", "443")[0] == "SUPPRESSED by nat-web"
    assert explain_cli(*base, "--sport", "50000")[0] == "ALERT"
    assert explain_cli(*base)[0] == "ALERT"


def test_time_flips_an_expiring_entry(site: str) -> None:
    base = ["--src", "10.1.2.3", "--dst", "203.0.113.9", "--port", "8080", "-c", site]
    cases = [
        ("2027-06-29T23:59:59", "SUPPRESSED by vendor-proxy"),
        ("2027-06-30", "SUPPRESSED by whole-net"),  # midnight UTC: vendor-proxy no longer applies
        ("2027-06-30T01:00:00+02:00", "SUPPRESSED by vendor-proxy"),  # 2027-06-29T23:00Z
        ("2027-06-29T23:00:00-02:00", "SUPPRESSED by whole-net"),  # 2027-06-30T01:00Z
        ("2030-01-01T00:00:00Z", "SUPPRESSED by whole-net"),
    ]
    for when, expected in cases:
        assert explain_cli(*base, "--time", when)[0] == expected, when


def test_time_flips_suppressed_to_alert(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[[allow]]\nname = "temp"\ndestination = ["64.0.0.0/8"]\nexpires = 2026-12-01\n')
    base = ["--src", "10.1.2.3", "--dst", "64.1.2.3", "--port", "3128", "-c", str(config)]
    assert explain_cli(*base, "--time", "2026-11-30T23:59:59.999999Z")[0] == "SUPPRESSED by temp"
    assert explain_cli(*base, "--time", "2026-12-01T00:00:00Z")[0] == "ALERT"
    assert explain_cli(*base, "--time", "2025-01-01")[0] == "SUPPRESSED by temp"


def test_default_time_is_now(tmp_path: Path) -> None:
    today = datetime.now(timezone.utc).date()
    for days, expected in ((-1, "ALERT"), (2, "SUPPRESSED by temp")):
        config = tmp_path / f"site{days}.toml"
        config.write_text('[[allow]]\nname = "temp"\ndestination = ["64.0.0.0/8"]\n'
                          f'expires = {(today + timedelta(days=days)).isoformat()}\n')
        assert explain_cli("--src", "10.1.2.3", "--dst", "64.1.2.3", "--port", "3128",
                           "-c", str(config))[0] == expected


def test_explain_with_an_allowlist_file(tmp_path: Path) -> None:
    listed = tmp_path / "proxies.txt"
    listed.write_text("# proxies\n64.1.2.3  # vendor\n")
    first, steps = explain_cli("--src", "10.1.2.3", "--dst", "64.1.2.3", "--port", "3128", "-a", str(listed))
    assert first == "SUPPRESSED by proxies.txt"
    assert "known proxies listed in proxies.txt" in steps[-1]


def test_explain_follows_the_profile(tmp_path: Path) -> None:
    for profile, expected in (("elastic-v3", "ALERT"),
                              ("elastic-v6", "NO MATCH: destination 169.254.1.1 is in excluded network 169.254.0.0/16"),
                              ("strict", "NO MATCH: destination 169.254.1.1 is in excluded network 169.254.0.0/16")):
        config = tmp_path / f"{profile}.toml"
        config.write_text(f'[rule]\nprofile = "{profile}"\n')
        first, steps = explain_cli("--src", "10.1.2.3", "--dst", "169.254.1.1", "--port", "8080", "-c", str(config))
        assert first == expected
        assert steps[0].endswith(f"(version 3, profile {profile})")


def test_exit_code_is_zero_for_every_verdict(site: str) -> None:
    for args in (["--src", "10.1.2.3", "--dst", "8.8.8.8", "--port", "8080"],
                 ["--src", "10.1.2.3", "--dst", "203.0.113.1", "--port", "8080", "--time", "2027-01-01"],
                 ["--src", "1.1.1.1", "--dst", "8.8.8.8", "--port", "8080"]):
        result = run("explain", *args, "-c", site)
        assert result.exit_code == 0
        assert result.stdout.splitlines()[0].startswith(("ALERT", "SUPPRESSED by ", "NO MATCH: "))


def test_bad_time_is_a_usage_error() -> None:
    result = run("explain", "--src", "10.1.2.3", "--dst", "8.8.8.8", "--port", "8080", "--time", "yesterday-ish")
    assert result.exit_code == 2
    assert "--time" in result.stderr and "Traceback" not in result.output


# -- explain agrees with a scan -----------------------------------------------------------

def _scan_verdicts(path: str, settings) -> dict[str, str]:
    result = scan([path], settings)
    out = {u: "ALERT" for u in result.alerts["zeek.session_id"]}
    out.update({u: f"SUPPRESSED by {n}" for u, n in
                zip(result.suppressed["zeek.session_id"], result.suppressed[SUPPRESSED_BY])})
    return out


def _config_for(conns, profile: str) -> str:
    """A few entries, some built from the generated hits so that each has work to do."""
    boundary = next(c for c in conns if c.label.startswith("HIT boundary"))
    return f'''\
[rule]
profile = "{profile}"

[[allow]]
name = "cgnat"
destination = ["100.64.0.0/10"]

[[allow]]
name = "nat"
source = ["{boundary.orig_h}"]
source_ports = [{boundary.orig_p}]

[[allow]]
name = "proxy"
destination = ["34.0.0.0/8"]
ports = [3128]

[[allow]]
name = "expired"
destination = ["128.0.0.0/8"]
expires = 2026-11-27

[[allow]]
name = "future"
destination = ["169.254.0.0/16", "203.0.0.0/8"]
expires = 2026-11-28

[[allow]]
name = "overlap"
source = ["192.168.0.0/16"]
'''


@pytest.mark.parametrize("profile", ["elastic-v3", "strict"])
def test_explain_agrees_with_scan_on_generated_connections(tmp_path: Path, profile: str) -> None:
    conns = list(generate.connections(2000, seed=5, every_case_first=True))
    settings = parse_config(_config_for(conns, profile))
    path = tmp_path / "conn.log"
    with open(path, "w") as out:
        generate.write_zeek_tsv(conns, out)
    scanned = _scan_verdicts(str(path), settings)
    explained = {}
    for c in conns:
        when = pd.Timestamp(c.ts, unit="s", tz="UTC")
        verdict = explain(settings, c.orig_h, c.resp_h, c.resp_p, source_port=c.orig_p,
                          transport=c.proto, when=when).verdict
        assert verdict == "ALERT" or verdict.startswith(("SUPPRESSED by ", "NO MATCH: ")), verdict
        if not verdict.startswith("NO MATCH"):
            explained[c.uid] = verdict
    assert explained == scanned
    kinds = {v.split(" by ")[0] for v in scanned.values()}
    assert kinds == {"ALERT", "SUPPRESSED"}, scanned  # both outcomes are exercised
    assert len(conns) - len(scanned) > 1900  # and plenty of non-hits
    if profile == "elastic-v3":  # the generator's own labels, for the hits
        assert set(scanned) == {c.uid for c in conns if c.expected}
        names = {v for v in scanned.values() if v != "ALERT"}
        assert {"SUPPRESSED by nat", "SUPPRESSED by cgnat", "SUPPRESSED by proxy"} <= names
        assert "SUPPRESSED by expired" not in names


def test_explain_agrees_with_scan_without_config(tmp_path: Path) -> None:
    conns = list(generate.connections(600, seed=9, every_case_first=True))
    path = tmp_path / "conn.log"
    with open(path, "w") as out:
        generate.write_zeek_tsv(conns, out)
    scanned = _scan_verdicts(str(path), DEFAULT_SETTINGS)
    for c in conns:
        verdict = explain(DEFAULT_SETTINGS, c.orig_h, c.resp_h, c.resp_p, c.orig_p, c.proto,
                          pd.Timestamp(c.ts, unit="s", tz="UTC")).verdict
        assert (verdict == "ALERT") == (c.uid in scanned) == c.expected, (c, verdict)


_addresses = st.sampled_from([
    "10.0.0.1", "10.255.255.255", "172.16.0.0", "172.31.255.254", "172.32.0.1", "172.15.255.255",
    "192.168.10.5", "192.169.0.1", "100.64.3.4", "127.0.0.1", "169.254.10.20", "8.8.8.8",
    "203.0.113.9", "64.1.2.3", "198.51.100.7", "::1", "fd00::1", "2001:db8::1", "2600::1",
    "fe80::1", "::ffff:10.0.0.1",
])
_ports = st.sampled_from([80, 443, 1080, 3128, 8080, 18080, 53])
_sports = st.sampled_from([80, 443, 8080, 50000, 63102])
_times = st.sampled_from([
    generate.BASE_TS, 1795737600.0 - 1, 1795737600.0, 1795824000.0 - 0.5, 1795824000.0, 1830211200.0,
])
_PROPERTY_CONFIG = '''\
[rule]
profile = "{profile}"

[[allow]]
name = "nat"
source = ["192.168.10.5"]
source_ports = [80, 443]

[[allow]]
name = "proxy"
destination = ["203.0.113.0/24", "2600::/16"]
ports = [8080, 1080]
expires = 2026-11-28

[[allow]]
name = "ends-today"
destination = ["64.0.0.0/8"]
expires = 2026-11-27

[[allow]]
name = "source-only"
source = ["172.31.0.0/16"]
'''


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_addresses, _sports, _addresses, _ports, st.sampled_from(["tcp", "udp"]), _times),
                min_size=1, max_size=12),
       st.sampled_from(["elastic-v3", "elastic-v6", "strict"]))
def test_explain_agrees_with_scan_property(rows, profile: str) -> None:
    settings = parse_config(_PROPERTY_CONFIG.format(profile=profile))
    conns = [generate.Conn(ts=ts, uid=f"Cprop{i:013d}", flow_id=i + 1, orig_h=src, orig_p=sport, resp_h=dst,
                           resp_p=port, proto=proto, service=None, duration=1.0, orig_bytes=1, resp_bytes=1,
                           orig_pkts=1, resp_pkts=1, conn_state="SF", history="ShADadFf", expected=False,
                           label="prop")
             for i, (src, sport, dst, port, proto, ts) in enumerate(rows)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "conn.log"
        with open(path, "w") as out:
            generate.write_zeek_tsv(conns, out)
        scanned = _scan_verdicts(str(path), settings)
    for c in conns:
        verdict = explain(settings, c.orig_h, c.resp_h, c.resp_p, c.orig_p, c.proto,
                          pd.Timestamp(c.ts, unit="s", tz="UTC")).verdict
        assert scanned.get(c.uid, "NO MATCH") == (verdict if not verdict.startswith("NO MATCH") else "NO MATCH"), \
            (c.orig_h, c.orig_p, c.resp_h, c.resp_p, c.proto, c.ts, verdict)
