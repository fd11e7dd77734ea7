"""Allow entries: every kind of entry, expiry, first match wins, the -a file formats, and
the issue's "done when" scenario on generated logs and on the corpus.

Expected answers are computed here with `ipaddress` from the generator's connections,
never by the package.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import generate
from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.config import build_settings, parse_allowlist, parse_config
from zeek_proxy.core.networks import NetworkSet
from zeek_proxy.errors import ConfigError
from zeek_proxy.pipeline import SUPPRESSED_BY

MIDNIGHT_2026_11_27 = 1795737600.0  # 2026-11-27T00:00:00Z
assert datetime.fromtimestamp(MIDNIGHT_2026_11_27, timezone.utc) == datetime(2026, 11, 27, tzinfo=timezone.utc)
assert generate.BASE_TS - MIDNIGHT_2026_11_27 == 10 * 3600

V3_PORTS = {1080, 3128, 8080}
V3_INTERNAL = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
V3_EXCLUDED = [ipaddress.ip_network(n) for n in
               ("10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128")]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _in(ip: str, nets) -> bool:
    addr = ipaddress.ip_address(ip)
    return any(addr.version == n.version and addr in n for n in nets)


def v3_hit(c) -> bool:
    """The v3 rule, written independently of the package."""
    return (c.proto == "tcp" and c.resp_p in V3_PORTS and _in(c.orig_h, V3_INTERNAL)
            and not _in(c.resp_h, V3_EXCLUDED))


_uid = iter(range(10**6))


def conn(src: str, sport: int, dst: str, dport: int, ts: float = generate.BASE_TS, proto: str = "tcp"):
    """A hand-made connection, in the generator's own type."""
    return generate.Conn(
        ts=ts, uid=f"Ctest{next(_uid):013d}", flow_id=1, orig_h=src, orig_p=sport, resp_h=dst,
        resp_p=dport, proto=proto, service=None, duration=1.0, orig_bytes=10, resp_bytes=20,
        orig_pkts=1, resp_pkts=1, conn_state="SF", history="ShADadFf", expected=False, label="test",
    )


def write_log(tmp_path: Path, conns, name: str = "conn.log") -> str:
    path = tmp_path / name
    with open(path, "w") as out:
        generate.write_zeek_tsv(conns, out)
    return str(path)


def verdicts(tmp_path: Path, conns, settings) -> dict[str, str | None]:
    """uid -> None (alert) or the suppressing entry's name; uids that do not hit are absent."""
    result = scan([write_log(tmp_path, conns)], settings)
    out: dict[str, str | None] = {u: None for u in result.alerts["zeek.session_id"]}
    out.update(zip(result.suppressed["zeek.session_id"], result.suppressed[SUPPRESSED_BY]))
    return out


# -- every kind of entry ----------------------------------------------------------------

def test_known_proxy_destination_cidr_and_ports(tmp_path: Path) -> None:
    s = parse_config('[[allow]]\nname = "vendor-proxy"\ndestination = ["198.51.100.0/24"]\nports = [8080]\n')
    hit = conn("10.1.1.1", 50000, "198.51.100.20", 8080)
    other_port = conn("10.1.1.1", 50001, "198.51.100.20", 3128)
    other_net = conn("10.1.1.1", 50002, "198.51.101.20", 8080)
    edge = conn("10.1.1.1", 50003, "198.51.100.255", 8080)
    got = verdicts(tmp_path, [hit, other_port, other_net, edge], s)
    assert got == {hit.uid: "vendor-proxy", other_port.uid: None, other_net.uid: None, edge.uid: "vendor-proxy"}


def test_nat_server_source_and_source_ports(tmp_path: Path) -> None:
    s = parse_config('[[allow]]\nname = "nat-web"\nsource = ["192.168.10.5/32"]\nsource_ports = [80, 443]\n')
    reply80 = conn("192.168.10.5", 80, "64.1.2.3", 8080)
    reply443 = conn("192.168.10.5", 443, "64.1.2.4", 3128)
    client = conn("192.168.10.5", 50000, "64.1.2.3", 8080)
    neighbour = conn("192.168.10.6", 443, "64.1.2.3", 8080)
    got = verdicts(tmp_path, [reply80, reply443, client, neighbour], s)
    assert got == {reply80.uid: "nat-web", reply443.uid: "nat-web", client.uid: None, neighbour.uid: None}


def test_source_only(tmp_path: Path) -> None:
    s = parse_config('[[allow]]\nname = "screen-rec"\nsource = ["10.9.0.0/16", "fd00::/8"]\n')
    a = conn("10.9.1.1", 50000, "64.1.2.3", 8080)
    b = conn("10.9.255.254", 50000, "5.6.7.8", 1080)
    c = conn("10.10.0.1", 50000, "64.1.2.3", 8080)
    got = verdicts(tmp_path, [a, b, c], s)
    assert got == {a.uid: "screen-rec", b.uid: "screen-rec", c.uid: None}


def test_destination_only(tmp_path: Path) -> None:
    s = parse_config('[[allow]]\nname = "cloud"\ndestination = "52.0.0.0/8"\n')
    a = conn("10.1.1.1", 50000, "52.1.2.3", 8080)
    b = conn("192.168.1.1", 50000, "52.200.0.1", 3128)
    c = conn("10.1.1.1", 50000, "53.1.2.3", 8080)
    got = verdicts(tmp_path, [a, b, c], s)
    assert got == {a.uid: "cloud", b.uid: "cloud", c.uid: None}
    assert s.allow[0].destination == NetworkSet.parse(["52.0.0.0/8"])


def test_ports_only(tmp_path: Path) -> None:
    s = parse_config('[[allow]]\nname = "socks"\nports = [1080]\n')
    a = conn("10.1.1.1", 50000, "52.1.2.3", 1080)
    b = conn("10.1.1.1", 50001, "52.1.2.3", 8080)
    assert verdicts(tmp_path, [a, b], s) == {a.uid: "socks", b.uid: None}


def test_entry_with_no_match_keys_is_refused() -> None:
    for body in ('name = "all"\n', 'name = "all"\nreason = "x"\n', 'name = "all"\nexpires = 2030-01-01\n'):
        with pytest.raises(ConfigError) as info:
            parse_config("[[allow]]\n" + body, "site.toml")
        assert str(info.value).startswith("site.toml:1: allow:") and "'all'" in str(info.value)
        with pytest.raises(ConfigError) as info:
            parse_allowlist("[[allow]]\n" + body, "extra.toml")
        assert str(info.value).startswith("extra.toml:1: allow:")


def test_first_matching_entry_wins_and_is_named(tmp_path: Path) -> None:
    entries = ['[[allow]]\nname = "broad"\ndestination = ["198.51.0.0/16"]\n',
               '[[allow]]\nname = "narrow"\ndestination = ["198.51.100.0/24"]\nports = [8080]\n']
    both = conn("10.1.1.1", 50000, "198.51.100.20", 8080)
    broad_only = conn("10.1.1.1", 50001, "198.51.7.1", 8080)
    conns = [both, broad_only]
    s = parse_config("\n".join(entries))
    assert verdicts(tmp_path, conns, s) == {both.uid: "broad", broad_only.uid: "broad"}
    assert scan([write_log(tmp_path, conns)], s).allow_counts == {"broad": 2, "narrow": 0}
    s = parse_config("\n".join(reversed(entries)))
    assert verdicts(tmp_path, conns, s) == {both.uid: "narrow", broad_only.uid: "broad"}
    assert scan([write_log(tmp_path, conns)], s).allow_counts == {"narrow": 1, "broad": 1}


def test_non_hits_are_never_counted_as_suppressed(tmp_path: Path) -> None:
    s = parse_config('[[allow]]\nname = "nat"\nsource = ["192.168.10.5"]\nsource_ports = [443]\n')
    internal = conn("192.168.10.5", 443, "10.0.0.1", 8080)
    web = conn("192.168.10.5", 443, "64.1.2.3", 443)
    udp = conn("192.168.10.5", 443, "64.1.2.3", 8080, proto="udp")
    result = scan([write_log(tmp_path, [internal, web, udp])], s)
    assert result.alerts.empty and result.suppressed.empty
    assert result.allow_counts == {"nat": 0}


# -- expires ----------------------------------------------------------------------------

def test_expires_applies_before_utc_midnight(tmp_path: Path) -> None:
    s = parse_config('[[allow]]\nname = "retiring"\ndestination = ["64.0.0.0/8"]\nexpires = 2026-11-27\n')
    before = conn("10.1.1.1", 50000, "64.1.2.3", 8080, ts=MIDNIGHT_2026_11_27 - 0.000001)
    long_before = conn("10.1.1.1", 50001, "64.1.2.3", 8080, ts=MIDNIGHT_2026_11_27 - 86400 * 30)
    at = conn("10.1.1.1", 50002, "64.1.2.3", 8080, ts=MIDNIGHT_2026_11_27)
    after = conn("10.1.1.1", 50003, "64.1.2.3", 8080, ts=generate.BASE_TS)
    got = verdicts(tmp_path, [before, long_before, at, after], s)
    assert got == {before.uid: "retiring", long_before.uid: "retiring", at.uid: None, after.uid: None}


def test_expires_accepts_a_toml_date_a_string_and_a_datetime() -> None:
    for value in ("2027-06-30", '"2027-06-30"', "2027-06-30T00:00:00Z"):
        s = parse_config(f'[[allow]]\nname = "a"\ndestination = ["1.2.3.4"]\nexpires = {value}\n')
        assert s.allow[0].expires == date(2027, 6, 30), value


def test_expired_entries_against_a_given_day() -> None:
    s = parse_config('[[allow]]\nname = "a"\ndestination = ["1.2.3.4"]\nexpires = 2027-06-30\n'
                     '[[allow]]\nname = "b"\ndestination = ["1.2.3.5"]\n')
    assert [e.name for e in s.expired_entries(date(2027, 6, 29))] == []
    assert [e.name for e in s.expired_entries(date(2027, 6, 30))] == ["a"]
    assert [e.name for e in s.expired_entries(date(2030, 1, 1))] == ["a"]


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "WARNING" in line]


def test_cli_warns_about_entries_expired_today(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[[allow]]\nname = "retired-proxy"\ndestination = ["64.0.0.0/8"]\nexpires = 2020-01-01\n\n'
                      '[[allow]]\nname = "live-proxy"\ndestination = ["65.0.0.0/8"]\nexpires = 2999-01-01\n')
    log = write_log(tmp_path, [conn("10.1.1.1", 5, "64.1.2.3", 8080)])
    for args in (["scan", log], ["explain", "--src", "10.0.0.1", "--dst", "64.1.1.1", "--port", "8080"], ["rule"]):
        result = run(*args, "-c", str(config))
        assert result.exit_code == 0, result.stderr
        warnings = _warnings(result.stderr)
        assert len(warnings) == 1, result.stderr
        assert "retired-proxy" in warnings[0] and "2020-01-01" in warnings[0]
        assert f"{config}:1" in warnings[0]
        assert "live-proxy" not in result.stderr


def _expiry_case(monkeypatch, tmp_path: Path, tz: str, expires: date) -> tuple[bool, bool]:
    """(warned, suppressed now) for an entry expiring on `expires`, with the process in `tz`."""
    config = tmp_path / "site.toml"
    config.write_text(f'[[allow]]\nname = "edge"\ndestination = ["64.0.0.0/8"]\nexpires = {expires.isoformat()}\n')
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        result = run("explain", "--src", "10.0.0.1", "--dst", "64.1.1.1", "--port", "8080", "-c", str(config))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.exit_code == 0
    warned = any("'edge'" in w for w in _warnings(result.stderr))
    return warned, result.stdout.splitlines()[0] == "SUPPRESSED by edge"


@pytest.mark.parametrize("days", [-1, 0, 1])
def test_expiry_warning_agrees_with_what_applies_now_in_utc(monkeypatch, tmp_path: Path, days: int) -> None:
    """An entry is named in the warning exactly when it no longer applies to a connection now."""
    if os.name != "posix":
        pytest.skip("time.tzset is POSIX only")
    expires = datetime.now(timezone.utc).date() + timedelta(days=days)
    warned, suppressed = _expiry_case(monkeypatch, tmp_path, "UTC0", expires)
    assert warned == (not suppressed)
    assert suppressed == (days == 1)


# regression (failed before the fix): config.py Settings.expired_entries uses the local
# date.today(), while expires is UTC midnight: away from UTC an entry that no longer applies is not
# named (or one that still applies is); use datetime.now(timezone.utc).date()
def test_expiry_warning_agrees_with_what_applies_now_in_any_timezone(monkeypatch, tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("time.tzset is POSIX only")
    now = datetime.now(timezone.utc)
    if now.hour < 12:  # UTC-12: the local date is yesterday; the entry expired at today's UTC midnight
        tz, expires = "AAA+12", now.date()
    else:  # UTC+14: the local date is tomorrow; the entry expires at tomorrow's UTC midnight
        tz, expires = "BBB-14", now.date() + timedelta(days=1)
    warned, suppressed = _expiry_case(monkeypatch, tmp_path, tz, expires)
    assert warned == (not suppressed)


def test_old_logs_rescan_as_judged_then(corpus: Path, tmp_path: Path) -> None:
    """An entry expired years ago still suppresses the 2018 connection it covered then,
    and the run names it in a warning."""
    log = corpus / "zeek-tsv" / "trickbot-playbook__conn.log"
    if not log.exists():
        pytest.skip("trickbot log not in the corpus")
    for expires, suppressed in (("2018-11-09", True), ("2018-11-08", False)):
        config = tmp_path / f"old-{expires}.toml"
        config.write_text(f'[[allow]]\nname = "old-c2"\ndestination = ["217.210.64.254"]\nexpires = {expires}\n')
        result = scan([str(log)], build_settings(str(config)))
        assert len(result.alerts) + len(result.suppressed) == 2
        assert result.allow_counts == {"old-c2": int(suppressed)}
        cli_result = run("scan", "--show-suppressed", "-c", str(config), str(log))
        assert any("old-c2" in w for w in _warnings(cli_result.stderr))
        docs = [json.loads(line) for line in cli_result.stdout.splitlines()]
        marked = [d for d in docs if d.get("zeek_proxy", {}).get("suppressed_by")]
        assert [d["destination"]["ip"] for d in marked] == (["217.210.64.254"] if suppressed else [])


# -- -a file formats --------------------------------------------------------------------

def test_allowlist_toml_file() -> None:
    entries = parse_allowlist('# extra\n[[allow]]\nname = "x"\ndestination = ["1.2.3.0/24"]\nports = [8080]\n'
                              '\n[[allow]]\nname = "y"\nsource = "10.0.0.1"\nsource_ports = [443]\n', "extra.toml")
    assert [e.name for e in entries] == ["x", "y"]
    assert entries[0].destination == NetworkSet.parse(["1.2.3.0/24"]) and entries[0].ports == (8080,)
    assert entries[1].source == NetworkSet.parse(["10.0.0.1/32"]) and entries[1].source_ports == (443,)
    assert entries[0].origin == "extra.toml:2" and entries[1].origin == "extra.toml:7"


def test_allowlist_toml_file_holds_only_allow_tables() -> None:
    with pytest.raises(ConfigError) as info:
        parse_allowlist('[rule]\nports = [1]\n', "extra.toml")
    assert str(info.value).startswith("extra.toml:1: rule")


ZEEK_IP_TABLE = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
                 "#fields\tip\tdescription\n#types\taddr\tstring\n"
                 "198.51.100.7\tvendor proxy\n2001:db8::7\tv6 proxy\n")
ZEEK_SUBNET_TABLE = "#fields\tsubnet\tdescription\n203.0.113.0/24\tvendor range\n5.196.66.0/24\tc2 range\n"
PLAIN = ("# known proxies, one per line\n\n198.51.100.7   # vendor, inline comment\n"
         "  203.0.113.0/24\n#10.0.0.0/8 commented out\n2001:db8::/32#no space\n")


@pytest.mark.parametrize("name,text,networks", [
    ("proxies.tsv", ZEEK_IP_TABLE, ["198.51.100.7/32", "2001:db8::7/128"]),
    ("subnets.tsv", ZEEK_SUBNET_TABLE, ["203.0.113.0/24", "5.196.66.0/24"]),
    ("proxies.txt", PLAIN, ["198.51.100.7/32", "203.0.113.0/24", "2001:db8::/32"]),
])
def test_tables_and_text_lists_are_known_proxies(tmp_path: Path, name: str, text: str, networks: list[str]) -> None:
    path = tmp_path / name
    path.write_text(text)
    (entry,) = parse_allowlist(text, str(path))
    assert entry.name == name
    assert entry.destination == NetworkSet.parse(networks)
    assert entry.source is None and entry.ports is None and entry.source_ports is None and entry.expires is None
    # and through the settings a scan sees: one entry per file, matching destinations on any proxy port
    s = build_settings(None, (str(path),))
    assert [e.name for e in s.allow] == [name]
    first = networks[0].split("/")[0]
    hit = conn("10.1.1.1", 50000, first, 3128)
    miss = conn("10.1.1.1", 50001, "64.1.2.3", 3128)
    assert verdicts(tmp_path, [hit, miss], s) == {hit.uid: name, miss.uid: None}


def test_zeek_table_with_another_separator_and_subnet_column() -> None:
    text = "#separator \\x2c\n#fields,subnet,description\n10.20.0.0/16,lab\n"
    (entry,) = parse_allowlist(text, "lab.tsv")
    assert entry.destination == NetworkSet.parse(["10.20.0.0/16"])


def test_empty_list_adds_no_entry() -> None:
    assert parse_allowlist("# nothing yet\n\n", "empty.txt") == ()


@pytest.mark.parametrize("name,text,line", [
    ("proxies.txt", "# list\n198.51.100.7\n\n198.51.100.300  # typo\n", 4),
    ("proxies.txt", "10.0.0.0/33\n", 1),
    ("proxies.txt", "1.2.3.4 5.6.7.8\n", 1),
    ("proxies.tsv", "#separator \\x09\n#fields\tip\tdescription\n1.2.3.4\tok\nnot-an-ip\tbad\n", 4),
    ("subnets.tsv", "#fields\tsubnet\tdescription\n203.0.113.0/24\tok\n\n203.0.113.0/40\tbad\n", 4),
    ("extra.toml", '[[allow]]\nname = "x"\n\ndestination = ["1.2.3.0/24", "1.2.3.4/99"]\n', 4),
])
def test_bad_cidr_in_each_format_names_file_and_line(tmp_path: Path, name: str, text: str, line: int) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        parse_allowlist(text, str(path))
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    result = run("scan", "-a", str(path), "-")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}:{line}: ") and "Traceback" not in result.output


@pytest.mark.parametrize("name,text,line,cidr,meant", [
    ("proxies.txt", "# list\n198.51.100.7\n135.57.146.87/8  # a typo for /32\n", 3,
     "135.57.146.87/8", "135.57.146.87/32 or 135.0.0.0/8"),
    ("subnets.tsv", "#fields\tsubnet\tdescription\n203.0.113.9/24\tvendor\n", 2,
     "203.0.113.9/24", "203.0.113.9/32 or 203.0.113.0/24"),
    ("extra.toml", '[[allow]]\nname = "x"\ndestination = [\n  "1.2.3.0/24",\n  "2001:db8::7/32",\n]\n', 5,
     "2001:db8::7/32", "2001:db8::7/128 or 2001:db8::/32"),
])
def test_a_cidr_with_host_bits_is_an_error_not_a_wider_network(tmp_path: Path, name: str, text: str, line: int,
                                                             cidr: str, meant: str) -> None:
    """`135.57.146.87/8` silently became 135.0.0.0/8, sixteen million addresses allowed."""
    path = tmp_path / name
    path.write_text(text)
    result = run("scan", "-a", str(path), "-")
    assert result.exit_code == 2
    key = "allow.destination: " if name.endswith(".toml") else ""
    assert result.stderr == f"Error: {path}:{line}: {key}{cidr} has host bits set: did you mean {meant}?\n"


@pytest.mark.parametrize("name,text,line", [
    ("proxies.txt", "198.51.100.7\n0.0.0.0/0\n", 2),
    ("proxies.txt", "# v6 too\n::/0  # everything\n", 2),
    ("proxies.tsv", "#fields\tsubnet\n0.0.0.0/0\n", 2),
])
def test_a_list_naming_the_whole_internet_is_refused(tmp_path: Path, name: str, text: str, line: int) -> None:
    """A known-proxy list entry of /0 would silence every alert, as a TOML entry with no
    match keys would: refused the same way."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        parse_allowlist(text, str(path))
    assert str(info.value).startswith(f"{path}:{line}: ") and "it would suppress everything" in str(info.value)


def test_zeek_table_without_an_address_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_allowlist("#fields\thost\tdescription\nexample.com\tx\n", "hosts.tsv")
    assert str(info.value).startswith("hosts.tsv:1: ")


def test_allowlist_files_are_repeatable_and_ordered(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[[allow]]\nname = "site"\ndestination = ["198.51.100.7"]\n')
    one, two = tmp_path / "one.txt", tmp_path / "two.tsv"
    one.write_text("198.51.100.0/24\n")
    two.write_text("#fields\tip\n198.51.100.8\n")
    s = build_settings(str(config), (str(one), str(two)))
    assert [e.name for e in s.allow] == ["site", "one.txt", "two.tsv"]
    a, b = conn("10.0.0.1", 1, "198.51.100.7", 8080), conn("10.0.0.1", 2, "198.51.100.8", 8080)
    assert verdicts(tmp_path, [a, b], s) == {a.uid: "site", b.uid: "one.txt"}


# -- the "done when" --------------------------------------------------------------

DONE_CONFIG = '''\
[rule]
profile = "elastic-v3"

[[allow]]
name = "vendor-proxy"
destination = ["198.51.100.0/24"]
ports = [8080]
reason = "approved SaaS proxy"

[[allow]]
name = "nat-web"
source = ["192.168.10.5"]
source_ports = [80, 443]

[[allow]]
name = "retired-proxy"
destination = ["91.0.0.0/8"]
expires = 2026-11-01
'''
DONE_LIST = "# known proxies\n203.0.113.7\n45.0.0.0/8   # a whole hoster\n"

#: the same entries, written independently: (name, source, source ports, destination, ports, expires ts)
DONE_ENTRIES = [
    ("vendor-proxy", None, None, ["198.51.100.0/24"], {8080}, None),
    ("nat-web", ["192.168.10.5/32"], {80, 443}, None, None, None),
    ("retired-proxy", None, None, ["91.0.0.0/8"], None,
     datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()),
    ("proxies.txt", None, None, ["203.0.113.7/32", "45.0.0.0/8"], None, None),
]


def expected_entry(c) -> str | None:
    for name, src, sports, dst, ports, before in DONE_ENTRIES:
        if src is not None and not _in(c.orig_h, [ipaddress.ip_network(n) for n in src]):
            continue
        if sports is not None and c.orig_p not in sports:
            continue
        if dst is not None and not _in(c.resp_h, [ipaddress.ip_network(n) for n in dst]):
            continue
        if ports is not None and c.resp_p not in ports:
            continue
        if before is not None and not c.ts < before:
            continue
        return name
    return None


def done_conns():
    conns = list(generate.connections(4000, seed=11, every_case_first=True))
    assert all(v3_hit(c) == c.expected for c in conns)  # our rule agrees with the generator's labels
    day_before_expiry = datetime(2026, 10, 31, 12, tzinfo=timezone.utc).timestamp()
    conns += [
        conn("10.1.1.1", 50001, "198.51.100.20", 8080),     # vendor-proxy
        conn("10.1.1.1", 50002, "198.51.100.20", 3128),     # alert: not the proxy's port
        conn("10.1.1.1", 50003, "198.51.101.20", 8080),     # alert: outside the /24
        conn("192.168.10.5", 443, "64.1.2.3", 8080),        # nat-web
        conn("192.168.10.5", 80, "64.1.2.3", 1080),         # nat-web
        conn("192.168.10.5", 50000, "64.1.2.3", 8080),      # alert: a client port
        conn("192.168.10.6", 80, "64.1.2.3", 1080),         # alert: another host
        conn("192.168.10.5", 443, "198.51.100.9", 8080),    # both: vendor-proxy comes first
        conn("10.2.2.2", 40000, "91.1.2.3", 3128, ts=day_before_expiry),  # retired-proxy, judged then
        conn("10.2.2.2", 40001, "91.1.2.3", 3128),          # alert: after the expiry
        conn("172.16.5.5", 40002, "203.0.113.7", 1080),     # proxies.txt
        conn("172.16.5.5", 40003, "45.6.7.8", 8080),        # proxies.txt
        conn("172.16.5.5", 40004, "203.0.113.8", 8080),     # alert
        conn("192.168.10.5", 443, "10.0.0.1", 8080),        # no hit: internal destination
        conn("10.1.1.1", 50004, "198.51.100.20", 8080, proto="udp"),  # no hit: udp
    ]
    return conns


def test_done_when_on_generated_logs(tmp_path: Path) -> None:
    conns = done_conns()
    log = write_log(tmp_path, conns)
    config, listed = tmp_path / "site.toml", tmp_path / "proxies.txt"
    config.write_text(DONE_CONFIG)
    listed.write_text(DONE_LIST)

    hits = [c for c in conns if v3_hit(c)]
    want = {c.uid: expected_entry(c) for c in hits}
    want_counts = {name: sum(1 for v in want.values() if v == name) for name, *_ in DONE_ENTRIES}
    assert all(want_counts.values()), want_counts  # every entry has work to do
    assert sum(v is None for v in want.values()) >= 5

    result = scan([log], build_settings(str(config), (str(listed),)))
    got = {u: None for u in result.alerts["zeek.session_id"]}
    got.update(zip(result.suppressed["zeek.session_id"], result.suppressed[SUPPRESSED_BY]))
    assert got == want
    assert result.allow_counts == want_counts
    assert list(result.allow_counts) == [name for name, *_ in DONE_ENTRIES]
    assert result.inputs[0].allowlisted == sum(want_counts.values())
    assert result.inputs[0].alerts == len(result.alerts)

    cli_result = run("scan", "--stats", "--show-suppressed", "-c", str(config), "-a", str(listed), log)
    assert cli_result.exit_code == 0, cli_result.stderr
    docs = [json.loads(line) for line in cli_result.stdout.splitlines()]
    assert {d["zeek"]["session_id"]: d.get("zeek_proxy", {}).get("suppressed_by") for d in docs} == want
    assert [d["@timestamp"] for d in docs] == sorted(d["@timestamp"] for d in docs)
    assert _allow_table(cli_result.stderr) == want_counts
    warnings = _warnings(cli_result.stderr)
    assert len(warnings) == 1 and "retired-proxy" in warnings[0]

    plain = run("scan", "-c", str(config), "-a", str(listed), log)
    assert {json.loads(line)["zeek"]["session_id"] for line in plain.stdout.splitlines()} == \
        {u for u, v in want.items() if v is None}


def _allow_table(stderr: str) -> dict[str, int]:
    """The `allow entry / suppressed` table of --stats."""
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"allow entry\s+suppressed$", line))
    table = {}
    for line in lines[start + 1:]:
        found = re.match(r"(\S+)\s+(\d+)$", line)
        if not found:
            break
        table[found.group(1)] = int(found.group(2))
    return table


def test_stats_lists_entries_that_suppress_nothing(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[[allow]]\nname = "dead-entry"\ndestination = ["1.2.3.4"]\n'
                      '[[allow]]\nname = "live-entry"\ndestination = ["64.0.0.0/8"]\n')
    log = write_log(tmp_path, [conn("10.0.0.1", 1, "64.1.1.1", 8080), conn("10.0.0.1", 2, "65.1.1.1", 8080)])
    result = run("scan", "--stats", "-c", str(config), log)
    assert _allow_table(result.stderr) == {"dead-entry": 0, "live-entry": 1}
    assert len(result.stdout.splitlines()) == 1


# regression (failed before the fix): -t csv / notice / notice-json wrote suppressed hits exactly
# like alerts, unmarked, under --show-suppressed.
@pytest.mark.parametrize("to", ["csv", "notice", "notice-json", "ecs"])
def test_show_suppressed_is_marked_in_every_output(tmp_path: Path, to: str) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[[allow]]\nname = "vendor-proxy"\ndestination = ["64.0.0.0/8"]\n')
    log = write_log(tmp_path, [conn("10.0.0.1", 1, "64.1.1.1", 8080), conn("10.0.0.1", 2, "65.1.1.1", 8080)])
    result = run("scan", "--show-suppressed", "-t", to, "-c", str(config), log)
    assert result.exit_code == 0, result.output
    records = [line for line in result.stdout.splitlines() if not line.startswith("#")]
    suppressed = [line for line in records if "64.1.1.1" in line]
    alerted = [line for line in records if "65.1.1.1" in line]
    assert len(suppressed) == 1 and "vendor-proxy" in suppressed[0]
    assert len(alerted) == 1 and "vendor-proxy" not in alerted[0]
    plain = run("scan", "-t", to, "-c", str(config), log)
    assert "64.1.1.1" not in plain.stdout and "65.1.1.1" in plain.stdout
    assert "vendor-proxy" not in plain.stdout


# -- the same on the corpus -----------------------------------------------------------------

def test_done_when_on_the_corpus(corpus: Path, tmp_path: Path) -> None:
    trickbot = corpus / "zeek-tsv" / "trickbot-playbook__conn.log"
    eve = corpus / "suricata" / "nicoaller__eve.json"
    if not (trickbot.exists() and eve.exists()):
        pytest.skip("trickbot/nicoaller not in the corpus")
    baseline = scan([str(trickbot), str(eve)])
    zeek = baseline.alerts[baseline.alerts["event.module"] == "zeek"]
    suri = baseline.alerts[baseline.alerts["event.module"] == "suricata"]
    assert sorted(zip(zeek["source.ip"], zeek["destination.ip"], zeek["destination.port"])) == [
        ("172.16.9.5", "217.210.64.254", 8080), ("172.16.9.5", "5.196.66.241", 8080)]
    assert len(suri) == 52 and suri["destination.ip"].nunique() == 20
    assert set(suri["destination.port"]) == {8080}

    config, listed = tmp_path / "site.toml", tmp_path / "proxies.txt"
    config.write_text(
        '[[allow]]\nname = "trickbot-proxy"\ndestination = ["217.210.64.0/24"]\nports = [8080]\n\n'
        '[[allow]]\nname = "nat"\nsource = ["172.16.9.5"]\nsource_ports = [63102]\n\n'
        '[[allow]]\nname = "hoster"\ndestination = ["135.148.121.0/24"]\nports = [8080]\n\n'
        '[[allow]]\nname = "expired"\ndestination = ["27.254.174.84"]\nexpires = 2022-02-23\n')
    listed.write_text("# proxies\n139.196.72.155  # inline\n185.148.168.0/24\n")

    def pick(row) -> str | None:  # the same semantics, independently
        src, dst = ipaddress.ip_address(row["source.ip"]), ipaddress.ip_address(row["destination.ip"])
        if dst in ipaddress.ip_network("217.210.64.0/24") and row["destination.port"] == 8080:
            return "trickbot-proxy"
        if src == ipaddress.ip_address("172.16.9.5") and row["source.port"] == 63102:
            return "nat"
        if dst in ipaddress.ip_network("135.148.121.0/24") and row["destination.port"] == 8080:
            return "hoster"
        if dst == ipaddress.ip_address("27.254.174.84") and row["@timestamp"] < datetime(2022, 2, 23, tzinfo=timezone.utc):
            return "expired"
        if dst == ipaddress.ip_address("139.196.72.155") or dst in ipaddress.ip_network("185.148.168.0/24"):
            return "proxies.txt"
        return None

    want = {eid: pick(row) for eid, row in baseline.alerts.set_index("event.id").iterrows()}
    counts = {n: sum(v == n for v in want.values()) for n in ("trickbot-proxy", "nat", "hoster", "expired", "proxies.txt")}
    assert counts["trickbot-proxy"] == 1 and counts["nat"] == 1 and counts["expired"] == 0
    assert counts["hoster"] > 10 and counts["proxies.txt"] >= 4

    result = scan([str(trickbot), str(eve)], build_settings(str(config), (str(listed),)))
    got = {e: None for e in result.alerts["event.id"]}
    got.update(zip(result.suppressed["event.id"], result.suppressed[SUPPRESSED_BY]))
    assert got == want
    assert result.allow_counts == counts
    assert result.alerts.empty is False and (result.alerts["destination.ip"] == "27.254.174.84").sum() > 0

    cli_result = run("scan", "--stats", "--show-suppressed", "-c", str(config), "-a", str(listed),
                     str(trickbot), str(eve))
    assert cli_result.exit_code == 0
    docs = [json.loads(line) for line in cli_result.stdout.splitlines()]
    assert {d["event"]["id"]: d.get("zeek_proxy", {}).get("suppressed_by") for d in docs} == want
    assert _allow_table(cli_result.stderr) == counts
    assert any("'expired'" in w for w in _warnings(cli_result.stderr))
