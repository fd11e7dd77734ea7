"""Zeek export: the script and every .zeek file of the package parse with zeekscript
(tree-sitter-zeek), carry every configured port, network and allow entry as Zeek
literals, and zkg itself installs the package. When a `zeek` binary is installed the
script is also checked with `zeek -a` (parse and type-check); otherwise that is skipped.
"""

from __future__ import annotations

import configparser
import ipaddress
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zeekscript
from test_export_evidence import OTHER_SCHEMES, REQUESTS

from zeek_proxy.config import DEFAULT_SETTINGS, Settings, parse_config
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE
from zeek_proxy.export.zeek import PROTOCOL_NOTE, to_zeek_script, write_package
from zeek_proxy.formats.http_request import request_kind

ALLOW = """
[[allow]]
name = "corp-proxy"
destination = ["203.0.113.0/24"]
ports = [8080]
reason = "the sanctioned upstream proxy"

[[allow]]
name = "nat-web"
source = ["192.168.10.5", "fd00::5"]
source_ports = [80, 443]
reason = "NATed web server answering clients on high ports"

[[allow]]
name = "migration"
destination = ["198.51.100.0/24"]
expires = 2099-01-01

[[allow]]
name = "old-vendor"
destination = ["192.0.2.0/24"]
expires = 2020-01-01
"""

CONFIGS = {
    "default": DEFAULT_SETTINGS,
    "strict": parse_config('[rule]\nprofile = "strict"\n'),
    "allow": parse_config('[rule]\nprofile = "elastic-v6"\n' + ALLOW),
    "odd": parse_config('[rule]\nports = [1080, 8080]\ntransports = ["tcp", "udp", "sctp"]\n'
                        '[[allow]]\nname = "we\\"ird \\\\ na\\nme é"\nports = [1080]\n'
                        'reason = "tab\\there"\n'),
    "empty": parse_config("[rule]\nports = []\n[networks]\ninternal = []\nnot_internet = []\n"),
    "socks": parse_config('[rule]\nprofile = "elastic-v4"\n' + ALLOW),
    "evidence": replace(parse_config('[rule]\nprofile = "strict"\n' + ALLOW), evidence=True),
    "evidence-v3": replace(DEFAULT_SETTINGS, evidence=True),
}


def zeek_subnet(cidr: str) -> str:
    net = ipaddress.ip_network(cidr)
    return str(net) if net.version == 4 else f"[{net.network_address}]/{net.prefixlen}"


def assert_parses(path: Path) -> None:
    script = zeekscript.Script(path)
    script.parse()
    assert not script.has_error(), f"{path.name}: {script.get_error()}"


@pytest.fixture(params=sorted(CONFIGS))
def settings(request: pytest.FixtureRequest) -> Settings:
    return CONFIGS[request.param]


def test_script_parses(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "main.zeek"
    path.write_text(to_zeek_script(settings), encoding="utf-8")
    assert_parses(path)


def test_zeekscript_rejects_a_bad_subnet(tmp_path: Path) -> None:
    """The parse tests can fail: an IPv6 subnet without brackets is an error."""
    path = tmp_path / "bad.zeek"
    path.write_text(to_zeek_script(DEFAULT_SETTINGS).replace("[::1]/128", "::1/128"), encoding="utf-8")
    script = zeekscript.Script(path)
    script.parse()
    assert script.has_error()


def test_script_carries_ports_and_networks(settings: Settings) -> None:
    script = to_zeek_script(settings)
    declared = {name: body for name, body in
                re.findall(r"const (\w+): set\[\w+\] = (\{[^}]*\}|set\(\)) &redef;", script)}
    ports = {f"{p}/tcp" for p in settings.ports}
    if "udp" in settings.transports:
        ports |= {f"{p}/udp" for p in settings.ports}
    assert set(re.findall(r"\d+/\w+", declared["proxy_ports"])) == ports
    assert "/sctp" not in script
    for key, const in (("internal", "internal_nets"), ("not_internet", "not_internet_nets")):
        literals = [zeek_subnet(c) for c in getattr(settings, key).to_list()]
        items = [s.strip() for s in declared[const].strip("{}").removeprefix("set(").rstrip(")").split(",")]
        assert [i for i in items if i] == literals
        for literal in literals:
            assert literal in script.split("\n\n", 1)[0], f"{literal} missing from the header"


def test_profiles_write_ipv6_as_zeek_literals() -> None:
    script = to_zeek_script(CONFIGS["strict"])
    for literal in ("[fe80::]/10", "[::1]/128", "[::]/128", "[fc00::]/7", "[2001:db8::]/32",
                    "100.64.0.0/10"):
        assert literal in script
    assert "fe80::/10" not in script.replace("[fe80::]/10", "")
    assert 'profile strict' in script


def test_script_logic() -> None:
    script = to_zeek_script(DEFAULT_SETTINGS)
    assert "module ProxyPort;" in script
    assert re.search(r"redef enum Notice::Type \+= \{\s+##[^\n]*\n\s+Internet_Activity,", script)
    assert "event connection_state_remove(c: connection)" in script
    assert "const transports: set[transport_proto] = { tcp } &redef;" in script
    assert "id$orig_h !in internal_nets || id$resp_h in not_internet_nets" in script
    assert "$identifier=cat(id$orig_h, id$resp_h, id$resp_p)" in script
    assert "$conn=c" in script and "$sub=rule_id" in script and RULE.id in script
    assert "const suppress_for = 1 hr &redef;" in script
    assert 'const allow_file = "" &redef;' in script
    assert 'if ( allow_file == "" )\n\t\treturn;\n\tInput::add_table(' in script
    assert "$mode=Input::REREAD" in script
    assert "const allow_entries: table[string] of AllowEntry = table() &redef;" in script
    assert script.startswith(f"##! {RULE.name} (Elastic rule {RULE.id}, version 3)")


def test_allow_entries() -> None:
    script = to_zeek_script(CONFIGS["allow"])
    entries = dict(re.findall(r'\t\t\["([^"]+)"\] = AllowEntry\((.*)\),', script))
    # Expired entries are kept: they match only connections from before their expiry.
    assert list(entries) == ["corp-proxy", "nat-web", "migration", "old-vendor"]
    assert entries["corp-proxy"] == ('$name="corp-proxy", $destination=set(203.0.113.0/24), '
                                     '$ports=set(8080/tcp), $reason="the sanctioned upstream proxy"')
    assert "$source=set(192.168.10.5/32, [fd00::5]/128), $source_ports=set(80/tcp, 443/tcp)" \
        in entries["nat-web"]
    for name, day in (("migration", datetime(2099, 1, 1, tzinfo=UTC)),
                      ("old-vendor", datetime(2020, 1, 1, tzinfo=UTC))):
        assert entries[name].endswith(f"$expires=double_to_time({day.timestamp():.1f})")
    assert "# expires 2020-01-01 (UTC)" in script
    assert "c$start_time >= e$expires" in script
    assert "Allow entries: corp-proxy, nat-web, migration, old-vendor; expired ones are kept" in script


def test_hostile_names_stay_literal() -> None:
    script = to_zeek_script(CONFIGS["odd"])
    assert '["we\\x22ird \\x5c na\\x0ame \\xc3\\xa9"]' in script
    assert '$reason="tab\\x09here"' in script
    assert "$ports=set(1080/tcp, 1080/udp)" in script
    assert "Transports Zeek cannot name, left out: sctp" in script
    header = script.split("\n\n", 1)[0].splitlines()
    assert all(line.startswith("##!") for line in header)


def test_package(tmp_path: Path) -> None:
    root = tmp_path / "zeek-proxy-policy"
    written = write_package(CONFIGS["allow"], root)
    assert sorted(p.relative_to(root).as_posix() for p in written) == [
        "README", "allowlist.example.tsv", "scripts/__load__.zeek", "scripts/main.zeek", "zkg.meta"]
    assert all(p.is_file() for p in written)

    meta = configparser.ConfigParser()
    meta.read(root / "zkg.meta", encoding="utf-8")
    assert meta.sections() == ["package"]
    assert meta["package"]["script_dir"] == "scripts"
    assert meta["package"]["description"] and meta["package"]["tags"] and meta["package"]["version"]

    assert "@load ./main" in (root / "scripts" / "__load__.zeek").read_text().splitlines()
    assert (root / "scripts" / "main.zeek").read_text() == to_zeek_script(CONFIGS["allow"])
    for path in sorted(root.rglob("*.zeek")):
        assert_parses(path)

    readme = (root / "README").read_text()
    assert f"zkg install {root.resolve()}" in readme
    assert "Security Onion" in readme
    assert "/opt/so/saltstack/local/salt/zeek/policy/custom/" in readme and "local.zeek" in readme
    assert "ProxyPort::allow_file" in readme


def test_example_allowlist_matches_the_record(tmp_path: Path) -> None:
    """The example file's columns are the AllowEntry fields, every row is complete."""
    write_package(DEFAULT_SETTINGS, tmp_path)
    lines = (tmp_path / "allowlist.example.tsv").read_text().splitlines()
    fields = next(line for line in lines if line.startswith("#fields\t")).split("\t")[1:]
    record = re.search(r"type AllowEntry: record \{(.*?)\};", to_zeek_script(DEFAULT_SETTINGS), re.DOTALL)
    assert fields == re.findall(r"^\t\t(\w+):", record.group(1), re.MULTILINE)
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    assert rows and all(len(row) == len(fields) for row in rows)
    for row in rows:
        for value, column in zip(row, fields):
            if column in ("source", "destination") and value != "-":
                assert all(ipaddress.ip_network(v) for v in value.split(","))
            if column in ("ports", "source_ports") and value != "-":
                assert all(re.fullmatch(r"\d+/tcp", v) for v in value.split(","))


def _zeek() -> str | None:
    return shutil.which("zeek") or next(
        (p for p in ("/opt/zeek/bin/zeek", "/usr/local/zeek/bin/zeek") if Path(p).is_file()), None)


@pytest.mark.skipif(_zeek() is None, reason="no zeek binary installed")
def test_zeek_checks_the_package(settings: Settings, tmp_path: Path) -> None:
    write_package(settings, tmp_path)
    result = subprocess.run([_zeek(), "-a", str(tmp_path / "scripts")], check=False, capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_zkg_installs_the_package(tmp_path: Path) -> None:
    """zkg (the real package manager, from PyPI) accepts the package from a git repository
    and installs its scripts where Zeek loads packages from."""
    pytest.importorskip("zeekpkg")  # zkg's library; a test extra
    package = tmp_path / "zeek-proxy-policy"
    write_package(CONFIGS["allow"], package)
    git = ["git", "-C", str(package), "-c", "user.name=test", "-c", "user.email=test@example.org"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "zeek-proxy policy"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    config = tmp_path / "zkg.cfg"
    config.write_text("[sources]\n[paths]\n" + "".join(
        f"{key} = {tmp_path / key}\n" for key in ("state_dir", "script_dir", "plugin_dir", "bin_dir")))
    zkg = Path(sys.executable).parent / "zkg"  # installed beside this interpreter with the extra
    result = subprocess.run([str(zkg), "--configfile", str(config), "install", "--force",
                             "--skiptests", str(package)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "script_dir" / "packages" / package.name
    assert (installed / "main.zeek").read_text() == to_zeek_script(CONFIGS["allow"])
    assert f"@load ./{package.name}" in (tmp_path / "script_dir" / "packages" / "packages.zeek").read_text()


# -- proxy protocols: ProxyPort::Protocol_Activity ----------------------------------------

#: The event signatures of Zeek's SOCKS and HTTP analyzers (src/analyzer/protocol/socks/
#: events.bif and http/events.bif), which a handler must repeat.
ZEEK_EVENTS = {
    "socks_request": "c: connection, version: count, request_type: count, sa: SOCKS::Address, p: port, "
                     "user: string",
    "http_request": "c: connection, method: string, original_URI: string, unescaped_URI: string, "
                    "version: string",
    "connection_state_remove": "c: connection",
}


def handlers(script: str) -> dict[str, list[str]]:
    """Event name -> the parameter lists of its handlers, white space folded."""
    out: dict[str, list[str]] = {}
    for name, params in re.findall(r"^event (\w+)\(([^)]*)\)", script, re.MULTILINE):
        out.setdefault(name, []).append(" ".join(params.split()))
    return out


def test_the_v3_script_has_no_protocol_part() -> None:
    script = to_zeek_script(DEFAULT_SETTINGS)
    assert "Protocol_Activity" not in script and "socks" not in script.lower()
    assert set(handlers(script)) == {"zeek_init", "connection_state_remove"}


@pytest.mark.parametrize("name, socks, http", [("socks", True, False), ("evidence", True, True),
                                               ("evidence-v3", True, True)])
def test_protocol_notices(name: str, socks: bool, http: bool) -> None:
    script = to_zeek_script(CONFIGS[name])
    assert re.search(r"redef enum Notice::Type \+= \{\s+##[^\n]*\n\s+Internet_Activity,\n"
                     r"(\s+##[^\n]*\n)+\s+Protocol_Activity,\n\s+\};", script)
    assert "@load base/protocols/socks\n@load base/protocols/http\n" in script
    found = handlers(script)
    for event, params in ZEEK_EVENTS.items():
        assert params in found[event], event
    assert len(found["connection_state_remove"]) == 2  # the port rule's, and socks.log without a request
    assert f"const notice_socks = {'T' if socks else 'F'} &redef;" in script
    assert f"const notice_http_proxy = {'T' if http else 'F'} &redef;" in script
    socks_rule = RULE if CONFIGS[name].socks else PROTOCOL_RULE  # elastic-v4's socks branch is the port rule's
    assert f'const socks_rule_id = "{socks_rule.id}" &redef;' in script
    assert f'const socks_rule_name = "{socks_rule.name}" &redef;' in script
    assert f'const protocol_rule_id = "{PROTOCOL_RULE.id}" &redef;' in script
    # one notice a connection: a protocol notice only where the port rule does not apply
    assert "if ( port_rule_covers(c) || allowed_by(c) != \"\" )\n\t\treturn;" in script
    assert "c$proxyport_protocol_noticed = T;" in script
    assert "proxyport_protocol_noticed: bool &default=F;" in script
    assert 'if ( notice_socks && c?$socks && "SOCKS" in c$service )' in script  # as socks.log is written
    assert 'to_upper(method) == "CONNECT"' in script and "absolute_uri in unescaped_URI" in script
    assert "$note=Protocol_Activity" in script and "$sub=rule" in script
    header = script.split("\n\n", 1)[0]
    assert "Proxy protocols on any port (Protocol_Activity): SOCKS" in header
    assert ("HTTP CONNECT" in header) == http


def zeek_pattern(script: str, name: str) -> re.Pattern[str]:
    """A `const NAME = /.../` pattern of the script as a Python regex (Zeek escapes `/`)."""
    [body] = re.findall(rf"const {name} = /(.*)/ &redef;", script)
    return re.compile(body.replace("\\/", "/"))


def test_the_absolute_uri_pattern_is_the_scans() -> None:
    """Zeek's `pattern in string` searches, anchored by `^`: as the scan's request_kind."""
    absolute = zeek_pattern(to_zeek_script(CONFIGS["evidence"]), "absolute_uri")
    uris = [uri for _, uri in REQUESTS + OTHER_SCHEMES] + ["x-y.z+a://b", "1http://x", "http:/x", " http://x", ""]
    for uri in uris:
        assert (absolute.search(uri) is not None) == (request_kind("GET", uri) == "http-proxy-request"), uri


def test_the_package_says_what_it_notices(tmp_path: Path) -> None:
    write_package(CONFIGS["evidence"], tmp_path)
    readme = (tmp_path / "README").read_text()
    assert PROTOCOL_NOTE in readme and "HTTP CONNECT" in readme and "ProxyPort::notice_http_proxy" in readme
    assert "proxy protocols (SOCKS, HTTP CONNECT) on any port" in (tmp_path / "zkg.meta").read_text()
    for path in sorted(tmp_path.rglob("*.zeek")):
        assert_parses(path)
    write_package(DEFAULT_SETTINGS, tmp_path / "plain")
    assert "Protocol_Activity" not in (tmp_path / "plain" / "README").read_text()
