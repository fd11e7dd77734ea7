"""The TOML config (-c): sections, profiles, validation errors, and `rule` as a round trip."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from conftest import FIXTURES, generate
from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.config import (
    DEFAULT_SETTINGS, V3_INTERNAL, V3_NOT_INTERNET, build_settings, parse_config, to_toml,
)
from zeek_proxy.core.explain import explain
from zeek_proxy.core.networks import NetworkSet
from zeek_proxy.errors import ConfigError


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def verdict(settings, src: str, dst: str, port: int = 8080) -> str:
    return explain(settings, src, dst, port).verdict


# -- defaults and sections ----------------------------------------------------------

def test_empty_config_is_exactly_v3() -> None:
    s = parse_config("")
    assert s == DEFAULT_SETTINGS
    assert s.profile == "elastic-v3"
    assert s.ports == (1080, 3128, 8080) and s.transports == ("tcp",)
    assert s.internal == NetworkSet.parse(V3_INTERNAL)
    assert s.not_internet == NetworkSet.parse(V3_NOT_INTERNET)
    assert s.allow == ()


def test_omitted_sections_keep_v3_defaults() -> None:
    s = parse_config('[rule]\nports = [8080]\n')
    assert s.ports == (8080,)
    assert s.transports == ("tcp",)
    assert s.internal == NetworkSet.parse(V3_INTERNAL)
    assert s.not_internet == NetworkSet.parse(V3_NOT_INTERNET)


def test_rule_section_sets_ports_and_transports() -> None:
    s = parse_config('[rule]\nports = [3128, 9050]\ntransports = ["TCP", "udp"]\n')
    assert s.ports == (3128, 9050)
    assert s.transports == ("tcp", "udp")
    assert verdict(s, "10.0.0.1", "8.8.8.8", 9050) == "ALERT"
    assert verdict(s, "10.0.0.1", "8.8.8.8", 8080).startswith("NO MATCH: destination port 8080")
    assert explain(s, "10.0.0.1", "8.8.8.8", 9050, transport="udp").verdict == "ALERT"


def test_networks_section_applies_to_a_scan() -> None:
    """A site whose internal range is only 192.168.0.0/16 alerts on the fixture hits from
    192.168.x only (computed here from the generator's own connections)."""
    s = parse_config('[networks]\ninternal = ["192.168.0.0/16"]\n')
    conns = list(generate.connections(300, seed=1, every_case_first=True))
    expected = {c.uid for c in conns if c.expected and c.orig_h.startswith("192.168.")}
    result = scan([str(FIXTURES / "conn.log")], s)
    assert set(result.alerts["zeek.session_id"]) == expected
    assert len(result.alerts) < len(scan([str(FIXTURES / "conn.log")]).alerts)


# -- profiles -----------------------------------------------------------------------

V6_EXCLUDED = ["169.254.10.20", "224.0.0.251", "fe80::1", "ff02::1"]
STRICT_EXCLUDED = ["100.64.0.1", "192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1",
                   "0.1.2.3", "198.18.0.1", "240.0.0.1", "255.255.255.255", "fd00::1"]


def _source_for(dst: str) -> str:
    return "fd00::1" if ":" in dst else "10.1.2.3"


@pytest.mark.parametrize("dst", V6_EXCLUDED)
def test_elastic_v6_excludes_link_local_and_multicast(dst: str) -> None:
    v6 = parse_config('[rule]\nprofile = "elastic-v6"\n')
    v3 = parse_config('[rule]\nprofile = "elastic-v3"\n')
    strict = parse_config('[rule]\nprofile = "strict"\n')
    src = "10.1.2.3"
    assert verdict(v6, src, dst).startswith(f"NO MATCH: destination {dst} is in excluded network")
    assert verdict(strict, src, dst).startswith(f"NO MATCH: destination {dst} is in excluded network")
    if ":" not in dst:  # v3 alerts on these (an IPv6 destination needs an IPv6 internal source)
        assert verdict(v3, src, dst) == "ALERT"


@pytest.mark.parametrize("dst", STRICT_EXCLUDED)
def test_strict_excludes_iana_special_ranges(dst: str) -> None:
    strict = parse_config('[rule]\nprofile = "strict"\n')
    v6 = parse_config('[rule]\nprofile = "elastic-v6"\n')
    src = _source_for(dst)
    expected_net = next(str(n) for n in strict.not_internet.networks
                        if n.version == ipaddress.ip_address(dst).version and ipaddress.ip_address(dst) in n)
    assert verdict(strict, src, dst) == f"NO MATCH: destination {dst} is in excluded network {expected_net}"
    if ":" not in dst:
        assert verdict(v6, src, dst) == "ALERT"


def test_strict_counts_ula_sources_as_internal() -> None:
    strict = parse_config('[rule]\nprofile = "strict"\n')
    v3 = parse_config("")
    assert verdict(strict, "fd12:3456::1", "2600:1f18::1") == "ALERT"
    assert verdict(v3, "fd12:3456::1", "2600:1f18::1") == \
        "NO MATCH: source fd12:3456::1 is in no internal network"
    # still only public destinations
    assert verdict(strict, "10.0.0.1", "8.8.8.8") == "ALERT"
    assert verdict(strict, "100.64.0.9", "8.8.8.8").startswith("NO MATCH: source")


def test_profiles_on_generated_logs() -> None:
    """The fixture's link-local and CGNAT hits alert under v3 only; strict drops both,
    elastic-v6 only the link-local one."""
    path = [str(FIXTURES / "conn.log")]
    conns = list(generate.connections(300, seed=1, every_case_first=True))
    hits = {c.uid: c for c in conns if c.expected}
    link_local = {u for u, c in hits.items() if c.resp_h.startswith("169.254.")}
    cgnat = {u for u, c in hits.items() if ipaddress.ip_address(c.resp_h) in ipaddress.ip_network("100.64.0.0/10")}
    assert link_local and cgnat
    got = {p: set(scan(path, parse_config(f'[rule]\nprofile = "{p}"\n')).alerts["zeek.session_id"])
           for p in ("elastic-v3", "elastic-v6", "strict")}
    assert got["elastic-v3"] == set(hits)
    assert got["elastic-v6"] == set(hits) - link_local
    assert got["strict"] == set(hits) - link_local - cgnat


def test_explicit_networks_override_the_profile() -> None:
    s = parse_config('[rule]\nprofile = "strict"\n[networks]\nnot_internet = ["10.0.0.0/8"]\n')
    assert s.profile == "strict"
    assert s.not_internet == NetworkSet.parse(["10.0.0.0/8"])
    assert verdict(s, "10.1.1.1", "100.64.0.1") == "ALERT"  # strict would exclude it
    assert verdict(s, "10.1.1.1", "127.0.0.1") == "ALERT"
    assert verdict(s, "10.1.1.1", "10.2.2.2").startswith("NO MATCH: destination")
    # internal was not overridden: strict's ULA sources still count
    assert verdict(s, "fd00::5", "2600::1") == "ALERT"
    s2 = parse_config('[rule]\nprofile = "elastic-v6"\n[networks]\ninternal = ["100.64.0.0/10"]\n')
    assert verdict(s2, "100.64.1.1", "8.8.8.8") == "ALERT"
    assert verdict(s2, "10.1.1.1", "8.8.8.8") == "NO MATCH: source 10.1.1.1 is in no internal network"
    assert verdict(s2, "100.64.1.1", "169.254.1.1").startswith("NO MATCH: destination")  # v6 exclusions kept


# -- validation ---------------------------------------------------------------------

ALLOW_OK = '[[allow]]\nname = "ok"\ndestination = ["198.51.100.0/24"]\n'

#: (id, config text, key the message must name, line it must name or None)
BAD_CONFIGS = [
    ("unknown-section", '[rule]\nports = [8080]\n\n[site]\nname = "x"\n', "site", 4),
    ("unknown-rule-key", '[rule]\nports = [8080]\nport = 3128\n', "rule.port", 3),
    ("unknown-networks-key", '[networks]\ninternal = ["10.0.0.0/8"]\nexternal = ["1.0.0.0/8"]\n',
     "networks.external", 3),
    ("unknown-allow-key", ALLOW_OK + '\n[[allow]]\nname = "b"\ndestination = ["1.2.3.4"]\ndestinations = ["1.2.3.5"]\n',
     "allow.destinations", 8),
    ("bad-cidr-networks", '[networks]\ninternal = ["10.0.0.0/8", "172.16.0.0/33"]\n', "networks.internal", 2),
    ("bad-cidr-allow-destination", ALLOW_OK + '\n[[allow]]\nname = "b"\n\ndestination = ["300.1.2.3"]\n',
     "allow.destination", 8),
    ("bad-address-allow-source", '[[allow]]\nname = "b"\nsource = ["not-an-ip"]\n', "allow.source", 3),
    ("host-bits-networks", '[networks]\ninternal = [\n  "192.168.0.0/16",\n  "10.1.2.3/8",\n]\n',
     "networks.internal", 4),
    ("host-bits-allow-source", ALLOW_OK + 'source = ["10.9.8.7/16"]\n', "allow.source", 4),
    ("empty-sensor-name", '[sensor]\nname = ""\n', "sensor.name", 2),
    ("rule-port-70000", '[rule]\nports = [8080, 70000]\n', "rule.ports", 2),
    ("rule-port-minus-1", '[rule]\nports = [-1]\n', "rule.ports", 2),
    ("allow-port-70000", '[[allow]]\nname = "b"\ndestination = ["1.2.3.4"]\nports = [70000]\n', "allow.ports", 4),
    ("allow-source-port-minus-1", '[[allow]]\nname = "b"\nsource = ["10.0.0.1"]\nsource_ports = [-1]\n',
     "allow.source_ports", 4),
    ("bad-date", ALLOW_OK + 'expires = "2027-02-30"\n', "allow.expires", 4),
    ("bad-date-word", ALLOW_OK + 'expires = "next year"\n', "allow.expires", 4),
    ("unknown-profile", '[rule]\nprofile = "elastic-v9"\n', "rule.profile", 2),
    ("no-match-keys", ALLOW_OK + '\n[[allow]]\nname = "everything"\nreason = "oops"\nexpires = 2030-01-01\n',
     "allow", 5),
    ("duplicate-names", ALLOW_OK + '\n[[allow]]\nname = "ok"\nsource = ["10.0.0.1"]\n', "allow", 5),
]


@pytest.mark.parametrize("text,key,line", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_file_key_and_line(text: str, key: str, line: int | None) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    message = str(info.value)
    assert message.startswith("site.toml")
    assert _names_key(message, key), message
    if line is not None:
        assert message.startswith(f"site.toml:{line}: "), message
        assert info.value.source.line == line
    assert info.value.exit_code == 2


def test_host_bits_name_the_network_meant() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[networks]\ninternal = ["10.1.2.3/8"]\n', "site.toml")
    assert str(info.value) == ("site.toml:2: networks.internal: 10.1.2.3/8 has host bits set: "
                               "did you mean 10.1.2.3/32 or 10.0.0.0/8?")


def test_sensor_name_round_trips() -> None:
    settings = parse_config('[sensor]\nname = "sensor-7"\n')
    assert settings.sensor == "sensor-7" and settings.sensor_override is None
    assert parse_config(to_toml(settings)).sensor == "sensor-7"
    assert parse_config("").sensor is None and "[sensor]" not in to_toml(parse_config(""))


def test_broken_toml_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[rule]\nports = [8080]\nprofile = "strict\n', "site.toml")
    assert str(info.value).startswith("site.toml:3: not valid TOML")
    with pytest.raises(ConfigError) as info:
        parse_config('[rule]\n\n\nports = [8080,\n', "x.toml")
    assert str(info.value).startswith("x.toml:")


def test_bad_values_of_the_wrong_type() -> None:
    for text, key in [('[rule]\nports = ["8080"]\n', "rule.ports"),
                      ('[rule]\nports = [true]\n', "rule.ports"),
                      ('[rule]\ntransports = "tcp"\n', "rule.transports"),
                      ('[networks]\ninternal = [10]\n', "networks.internal"),
                      ('rule = 3\n', "rule"),
                      ('[[allow]]\nname = ""\ndestination = ["1.2.3.4"]\n', "allow.name"),
                      ('[[allow]]\nname = "a"\ndestination = ["1.2.3.4"]\nreason = 5\n', "allow.reason")]:
        with pytest.raises(ConfigError) as info:
            parse_config(text, "t.toml")
        assert str(info.value).startswith("t.toml") and f"{key}:" in str(info.value), text


# regression (failed before the fix): config.py _Checker.error -> _line_of searches the whole file
# for the key name, so a [rule]/[networks] key reports the line of the first same-named key anywhere
# (e.g. an [[allow]] ports) instead of its own line
def test_rule_key_line_is_its_own_not_an_earlier_same_named_key() -> None:
    text = '[[allow]]\nname = "p"\ndestination = ["1.2.3.4"]\nports = [8080]\n\n[rule]\nports = [70000]\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    assert str(info.value).startswith("site.toml:7: rule.ports")


# regression (failed before the fix): config.py _line_of: an unknown [networks] key named like a
# [rule] key ('ports') is reported at the [rule] line
def test_unknown_networks_key_line_is_its_own() -> None:
    text = '[rule]\nports = [8080]\n\n[networks]\nports = [1]\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    assert str(info.value).startswith("site.toml:5: networks.ports")


# regression (failed before the fix): config.py allow_entries: a duplicate name is reported with key
# 'allow' at the line of the first [[allow]] (an unrelated entry), not the duplicate's own [[allow]]
# line
def test_duplicate_name_line_is_the_duplicate() -> None:
    text = ('[[allow]]\nname = "a"\ndestination = ["1.2.3.4"]\n\n'
            '[[allow]]\nname = "b"\ndestination = ["1.2.3.5"]\n\n'
            '[[allow]]\nname = "b"\ndestination = ["1.2.3.6"]\n')
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    assert "'b'" in str(info.value)
    assert info.value.source.line in (5, 6, 9, 10)


def test_duplicate_names_within_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(ALLOW_OK + '\n[[allow]]\nname = "ok"\nsource = ["10.0.0.1"]\n', "site.toml")
    assert str(info.value).startswith("site.toml") and "'ok'" in str(info.value)
    extra = tmp_path / "extra.toml"
    extra.write_text('[[allow]]\nname = "x"\ndestination = "1.1.1.1"\n[[allow]]\nname = "x"\nsource = "10.0.0.1"\n')
    with pytest.raises(ConfigError) as info:
        build_settings(None, (str(extra),))
    assert str(info.value).startswith(str(extra)) and "'x'" in str(info.value)


def test_duplicate_names_across_files_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[[allow]]\nname = "proxies.txt"\ndestination = ["1.1.1.1"]\n')
    listed = tmp_path / "proxies.txt"
    listed.write_text("2.2.2.2\n")
    with pytest.raises(ConfigError) as info:
        build_settings(str(config), (str(listed),))
    assert "'proxies.txt'" in str(info.value)


# regression (failed before the fix): config.py build_settings raises ConfigError without a
# SourceLocation for a name used in two files, so the message names no file
def test_duplicate_names_across_files_name_a_file(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[[allow]]\nname = "proxies.txt"\ndestination = ["1.1.1.1"]\n')
    listed = tmp_path / "proxies.txt"
    listed.write_text("2.2.2.2\n")
    with pytest.raises(ConfigError) as info:
        build_settings(str(config), (str(listed),))
    assert info.value.source is not None and str(listed) in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_settings(str(tmp_path / "nope.toml"))
    assert str(info.value).startswith(str(tmp_path / "nope.toml"))


# -- validation through the CLI -------------------------------------------------------

def _names_key(message: str, key: str) -> bool:
    """The message names `key` (or, for a whole [[allow]] entry, one of its keys)."""
    suffix = r"(\.\w+)?" if key == "allow" else ""
    return re.search(rf"(^|[\s:]){re.escape(key)}{suffix}:", message) is not None


def _assert_one_line_error(result, *needles: str, key: str | None = None) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    if key is not None:
        assert _names_key(lines[0], key), lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("command", [
    ["scan", str(FIXTURES / "conn.log")],
    ["explain", "--src", "10.0.0.1", "--dst", "8.8.8.8", "--port", "8080"],
    ["rule"],
])
@pytest.mark.parametrize("text,key,line", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path, command: list[str], text: str, key: str,
                                              line: int | None) -> None:
    config = tmp_path / "site.toml"
    config.write_text(text)
    result = run(*command, "-c", str(config))
    where = f"{config}:{line}: " if line is not None else str(config)
    _assert_one_line_error(result, where, key=key)


def test_cli_broken_toml_and_missing_file(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[rule\nports = [8080]\n')
    _assert_one_line_error(run("rule", "-c", str(config)), f"{config}:1: ", "TOML")
    _assert_one_line_error(run("scan", "-c", str(tmp_path / "none.toml"), str(FIXTURES / "conn.log")),
                           str(tmp_path / "none.toml"))


# regression (failed before the fix): config.py parse_config: unknown keys are put into the message
# unescaped, so a quoted key holding a newline makes a two-line error; use {key!r}
def test_cli_error_is_one_line_even_for_a_key_with_a_newline(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[rule]\n"ports\\nx" = 1\n')
    _assert_one_line_error(run("rule", "-c", str(config)), str(config))


# -- rule: the effective settings as TOML that -c accepts -------------------------------

SITE = '''\
[rule]
profile = "strict"
ports = [1080, 3128, 8080, 9050]
transports = ["tcp", "udp"]

[networks]
internal = ["10.0.0.0/8", "fd00::/8"]

[[allow]]
name = "vendor-proxy"
destination = ["203.0.113.0/24", "2001:db8:1::/48"]
ports = [8080]
reason = "approved SaaS proxy, \\"quoted\\" and back\\\\slashed"
expires = 2027-06-30

[[allow]]
name = "nat-web"
source = "192.168.10.5"
source_ports = [80, 443]

[[allow]]
name = "only-source"
source = ["10.9.0.0/16"]
expires = 2020-01-01
'''


def _same(a, b) -> None:
    assert a.profile == b.profile
    assert a.ports == b.ports
    assert a.transports == b.transports
    assert a.internal == b.internal
    assert a.not_internet == b.not_internet
    assert len(a.allow) == len(b.allow)
    for x, y in zip(a.allow, b.allow):
        for key in ("name", "source", "destination", "ports", "source_ports", "expires", "reason"):
            assert getattr(x, key) == getattr(y, key), (x.name, key)


def test_rule_round_trip(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(SITE)
    proxies = tmp_path / "proxies.txt"
    proxies.write_text("# proxies\n198.51.100.7  # one\n2001:db8::/32\n")
    table = tmp_path / "table.tsv"
    table.write_text("#separator \\x09\n#fields\tsubnet\tdescription\n5.196.66.0/24\tdc\n")
    result = run("rule", "-c", str(config), "-a", str(proxies), "-a", str(table))
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert any("Proxy Port Activity to the Internet" in c and "version 3" in c for c in comments)
    assert any("T1090" in c for c in comments)
    assert any("false positives" in c for c in comments)
    assert f"from {config}:" in text and f"from {proxies}" in text
    back = parse_config(text, "effective.toml")
    original = build_settings(str(config), (str(proxies), str(table)))
    _same(back, original)
    assert [e.name for e in back.allow] == ["vendor-proxy", "nat-web", "only-source", "proxies.txt", "table.tsv"]
    assert back.allow[0].expires == date(2027, 6, 30)
    assert back.allow[1].source == NetworkSet.parse(["192.168.10.5/32"])
    assert back.allow[3].destination == NetworkSet.parse(["198.51.100.7", "2001:db8::/32"])
    # and the printed file itself is accepted by -c, printing the same rule again
    effective = tmp_path / "effective.toml"
    effective.write_text(text)
    again = run("rule", "-c", str(effective))
    assert again.exit_code == 0
    _same(parse_config(again.stdout), back)


def test_rule_without_config_is_v3() -> None:
    result = run("rule")
    assert result.exit_code == 0 and result.stderr == ""
    back = parse_config(result.stdout)
    _same(back, DEFAULT_SETTINGS)
    assert "[[allow]]" not in result.stdout


# regression (failed before the fix): config.py _toml_value escaped only \ and ", so a reason
# with a newline or another control character was written as invalid TOML.
def test_rule_round_trip_multiline_reason(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[[allow]]\nname = "p"\ndestination = ["1.2.3.4"]\nreason = """two\nlines"""\n')
    result = run("rule", "-c", str(config))
    assert result.exit_code == 0
    back = parse_config(result.stdout)
    assert back.allow[0].reason == "two\nlines"


_names = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12)
_v4 = st.builds(lambda a, p: str(ipaddress.ip_network((a, p), strict=False)),
                st.integers(0, 2**32 - 1), st.integers(0, 32))
_v6 = st.builds(lambda a, p: str(ipaddress.ip_network((a, p), strict=False)),
                st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n)), st.integers(0, 128))
_nets = st.lists(st.one_of(_v4, _v6), min_size=1, max_size=3)
_ports = st.lists(st.integers(0, 65535), min_size=1, max_size=3)


@st.composite
def _entries(draw):
    entry: dict = {}
    for key, strategy in (("source", _nets), ("destination", _nets), ("ports", _ports), ("source_ports", _ports)):
        if draw(st.booleans()):
            entry[key] = draw(strategy)
    if not entry:
        entry["destination"] = draw(_nets)
    if draw(st.booleans()):
        entry["reason"] = draw(_names)
    if draw(st.booleans()):
        entry["expires"] = draw(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
    return entry


def _toml_value(value) -> str:
    """TOML for the test's own inputs (JSON strings and arrays are valid TOML)."""
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False)


def _config_text(profile: str, entries: list[dict], names: list[str]) -> str:
    lines = ["[rule]", f'profile = "{profile}"']
    for name, entry in zip(names, entries):
        lines += ["", "[[allow]]", f"name = {_toml_value(name)}"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=st.sampled_from(["elastic-v3", "elastic-v6", "strict"]),
       entries=st.lists(_entries(), max_size=4),
       names=st.lists(_names, min_size=4, max_size=4, unique=True))
def test_rule_round_trip_property(profile: str, entries: list[dict], names: list[str]) -> None:
    from zeek_proxy.config import to_toml

    original = parse_config(_config_text(profile, entries, names))
    _same(parse_config(to_toml(original, ("meta line", "another"))), original)
