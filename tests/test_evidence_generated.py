"""--evidence on a generated sensor folder equals an independent slow checker.

scripts/generate.py --evidence writes conn, http, ssl, socks and tunnel logs (Zeek TSV or
JSON) and an eve.json full of proxy use and traps, each connection labelled by hand. The
checker below shares no code with the package: it reads those files with the standard
library and applies docs/evidence.md record by record, with the networks of each profile
written out from DESIGN.md's profile table (and config.py's IANA list for strict):

- the port rule (per profile, as Elastic wrote it) over conn records, eve events and
  socks records (socks records on any port under elastic-v4 and later); without
  --evidence, folders give elastic-v2 and v3 no socks logs (tests/test_profiles.py);
- with --evidence, the protocol rule: a socks, http-connect or http-proxy-request
  record, TCP, internal source, Internet destination, any port;
- one alert per connection (Zeek uid, eve flow_id), the port rule's when any record
  raised it; its evidence is the kinds of all records of the connection plus the kinds
  of tunnel records of the same source, destination and port; destination.domain by
  the stated preference (the earliest record of the first kind present), as logged
  (no case folding);
- a Tunnel::SOCKS/HTTP DISCOVER record alerts alone when no other record of its
  endpoints raised a detection.

The checker is checked against the generator's labels, then the CLI against the checker.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import generate
from zeek_proxy.cli import cli
from zeek_proxy.reading import blocks

PORT_RULE = "Proxy Port Activity to the Internet"
PROTOCOL_RULE = "Proxy Protocol to the Internet"
PROXY_PORTS = (1080, 3128, 8080)
CONNECTIONS, SEED = 400, 11

RFC1918 = "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"
V3_EXCLUDED = RFC1918 + " 127.0.0.0/8 ::1/128"
V6_EXCLUDED = V3_EXCLUDED + " 169.254.0.0/16 224.0.0.0/4 fe80::/10 ff00::/8"
STRICT_EXCLUDED = V6_EXCLUDED + (" 0.0.0.0/8 100.64.0.0/10 192.0.0.0/24 192.0.2.0/24 198.18.0.0/15"
                                 " 198.51.100.0/24 203.0.113.0/24 240.0.0.0/4 255.255.255.255/32 ::/128"
                                 " 2001:db8::/32 fc00::/7")


@dataclass(frozen=True)
class Profile:
    internal: str  # the source must be in one of these
    not_internet: str  # the destination must be in none of these
    outbound: bool = False  # elastic-v2: Zeek's outbound direction alone, on a proxy port
    socks: bool = False  # elastic-v4+: `or event.dataset:zeek.socks`; folders give socks logs


PROFILES = {
    "elastic-v2": Profile(RFC1918, RFC1918, outbound=True),
    "elastic-v3": Profile(RFC1918, V3_EXCLUDED),
    "elastic-v4": Profile(RFC1918, V3_EXCLUDED, socks=True),
    "elastic-v6": Profile(RFC1918, V6_EXCLUDED, socks=True),
    "strict": Profile(RFC1918 + " fc00::/7", STRICT_EXCLUDED, socks=True),
}


@lru_cache(maxsize=None)
def _networks(text: str) -> tuple:
    return tuple(map(ipaddress.ip_network, text.split()))


def within(address: str, networks: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in _networks(networks))


def to_internet(profile: Profile, src: str, dst: str) -> bool:
    return within(src, profile.internal) and not within(dst, profile.not_internet)


# -- reading the files: the standard library only ------------------------------------------

def read_zeek(path: Path) -> list[dict]:
    """Rows of a Zeek TSV or JSON log, typed: unset fields None, sets and vectors lists."""
    text = path.read_text()
    if not text.strip():
        return []
    if text.lstrip().startswith("{"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert all(row.get("_path") == path.stem for row in rows), path
        return rows
    fields: list[str] = []
    types: list[str] = []
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, _, value = line.partition("\t")
            if key == "#fields":
                fields = value.split("\t")
            elif key == "#types":
                types = value.split("\t")
            elif key == "#path":
                assert value == path.stem, path
            continue
        row = {}
        for name, kind, cell in zip(fields, types, line.split("\t"), strict=True):
            row[name] = _typed(cell, kind)
        rows.append(row)
    return rows


def _typed(cell: str, kind: str) -> Any:
    if cell == "-":
        return None
    if kind.startswith(("set[", "vector[")):
        return [] if cell == "(empty)" else cell.split(",")
    if cell == "(empty)":
        return ""
    if kind in ("time", "interval", "double"):
        return float(cell)
    if kind in ("port", "count", "int"):
        return int(cell)
    if kind == "bool":
        return cell == "T"
    return cell


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def canonical(address: str) -> str:
    return str(ipaddress.ip_address(address))


ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(?:\[([^\]]+)\]|([^/?#:]+))")
DOMAIN_ORDER = ("connect", "absolute", "socks", "tls", "host")  # docs/evidence.md's preference
TUNNEL_KINDS = {"Tunnel::SOCKS": "socks", "Tunnel::HTTP": "http-connect"}


def connect_host(uri: str | None) -> str | None:
    """The host of a CONNECT target: the URI up to its first white space, `host:port`
    or `[v6]:port`; None for any other shape."""
    if not uri or not uri.split():
        return None
    target = uri.split()[0]
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)", target) or re.fullmatch(r"([^:\[\]/\s]+):(\d+)", target)
    return match.group(1) if match else None


def http_evidence(method: str | None, uri: str | None, host: str | None) -> tuple[str, dict[str, str]]:
    """The kind of an http record or event, and the names it gives the destination."""
    names: dict[str, str] = {}
    if method is not None and method.upper() == "CONNECT":
        kind = "http-connect"
        target = connect_host(uri)
        if target:
            names["connect"] = target
    elif uri is not None and ABSOLUTE.match(uri):
        kind = "http-proxy-request"
        authority = AUTHORITY.match(uri)  # the host as logged: no case folding
        if authority and (authority.group(1) or authority.group(2)):
            names["absolute"] = authority.group(1) or authority.group(2)
    else:
        kind = "http"
    if host:
        names["host"] = host
    return kind, names


@dataclass
class Record:
    log: str  # conn, socks, http, ssl, eve
    key: tuple  # ("zeek", uid) or ("suricata", flow_id)
    ts: float
    src: str
    dst: str
    dport: int
    transport: str
    outbound: bool = False  # conn: local_orig T and local_resp F
    main: bool = False  # the conn record, the eve flow event
    kind: str | None = None
    names: dict[str, str] = field(default_factory=dict)

    @property
    def triple(self) -> tuple[str, str, int]:
        return self.src, self.dst, self.dport


@dataclass
class Tunnel:
    ts: float
    src: str
    dst: str
    dport: int
    kind: str | None  # socks, http-connect, or None for other tunnel types
    action: str


@dataclass
class Folder:
    records: list[Record]
    tunnels: list[Tunnel]
    passwords: set[str]


def _zeek_record(log: str, row: dict, **more: Any) -> Record:
    return Record(log, ("zeek", row["uid"]), row["ts"], canonical(row["id.orig_h"]), canonical(row["id.resp_h"]),
                  row["id.resp_p"], **more)


def read_folder(folder: Path) -> Folder:
    records: list[Record] = []
    tunnels: list[Tunnel] = []
    passwords: set[str] = set()
    for row in read_zeek(folder / "conn.log"):
        outbound = row.get("local_orig") is True and row.get("local_resp") is False
        records.append(_zeek_record("conn", row, transport=row["proto"].lower(), outbound=outbound, main=True))
    for row in read_zeek(folder / "socks.log"):
        names = {"socks": row["request.name"]} if row.get("request.name") else {}
        records.append(_zeek_record("socks", row, transport="tcp", kind="socks", names=names))
        passwords.update([row["password"]] if row.get("password") else [])
    for row in read_zeek(folder / "http.log"):
        kind, names = http_evidence(row.get("method"), row.get("uri"), row.get("host"))
        records.append(_zeek_record("http", row, transport="tcp", kind=kind, names=names))
        passwords.update([row["password"]] if row.get("password") else [])
    for row in read_zeek(folder / "ssl.log"):
        names = {"tls": row["server_name"]} if row.get("server_name") else {}
        records.append(_zeek_record("ssl", row, transport="tcp", kind="tls", names=names))
    for row in read_zeek(folder / "tunnel.log"):
        assert row.get("uid") is None  # a tunnel names no connection
        tunnels.append(Tunnel(row["ts"], canonical(row["id.orig_h"]), canonical(row["id.resp_h"]), row["id.resp_p"],
                              TUNNEL_KINDS.get(row["tunnel_type"]), row["action"]))
    for line in (folder / "eve.json").read_text().splitlines():
        event = json.loads(line)
        if "src_ip" not in event:
            continue
        flow = event.get("flow") or {}
        ends = flow if "src_ip" in flow else event  # Suricata 7 names the initiator in flow
        said: str | None = None  # only http and tls events say a kind (not alerts' metadata)
        names = {}
        if event.get("event_type") == "http":
            http = event["http"]
            said, names = http_evidence(http.get("http_method"), http.get("url"), http.get("hostname"))
        elif event.get("event_type") == "tls":
            said = "tls"
            names = {"tls": event["tls"]["sni"]} if event["tls"].get("sni") else {}
        records.append(Record("eve", ("suricata", event["flow_id"]),
                              epoch(flow["start"]) if "start" in flow else epoch(event["timestamp"]),
                              canonical(ends["src_ip"]), canonical(ends["dest_ip"]), ends["dest_port"],
                              event["proto"].lower(), main=event["event_type"] == "flow", kind=said, names=names))
    return Folder(records, tunnels, passwords)


# -- the checker ---------------------------------------------------------------------------

def port_rule(profile: Profile, r: Record) -> bool:
    """Elastic's query for the profile, on one conn record, eve event or socks record."""
    return (r.log in ("conn", "eve", "socks") and r.transport == "tcp"
            and (r.dport in PROXY_PORTS or (profile.socks and r.log == "socks"))
            and ((profile.outbound and r.outbound) or to_internet(profile, r.src, r.dst)))


def protocol_rule(profile: Profile, r: Record) -> bool:
    return (r.kind in ("socks", "http-connect", "http-proxy-request") and r.transport == "tcp"
            and to_internet(profile, r.src, r.dst))


Alert = tuple  # (rule name, source ip, destination ip, destination port, uid/flow_id/None, evidence, domain)


def check(folder: Folder, profile_name: str, evidence: bool) -> list[Alert]:
    """The alerts a scan of the folder must give, sorted."""
    profile = PROFILES[profile_name]
    logs = {"conn", "eve"} | ({"socks"} if evidence or profile.socks else set()) | (
        {"http", "ssl"} if evidence else set())
    records = [r for r in folder.records if r.log in logs]
    tunnels = folder.tunnels if evidence else []
    by_key: dict[tuple, list[Record]] = {}
    for r in records:
        by_key.setdefault(r.key, []).append(r)
    raised: dict[tuple, str] = {}
    detected: set[tuple] = set()  # endpoints of every record that raised a detection
    for r in records:
        if port_rule(profile, r):
            raised[r.key] = PORT_RULE
        elif evidence and protocol_rule(profile, r):
            raised.setdefault(r.key, PROTOCOL_RULE)
        else:
            continue
        detected.add(r.triple)
    tunnel_kinds: dict[tuple, set[str]] = {}
    for t in tunnels:
        if t.kind:
            tunnel_kinds.setdefault((t.src, t.dst, t.dport), set()).add(t.kind)
    alerts = []
    for key, rule in raised.items():
        rs = by_key[key]
        first = next((r for r in rs if r.main), None) or min(rs, key=lambda r: r.ts)
        kinds = {r.kind for r in rs if r.kind} | tunnel_kinds.get(first.triple, set())
        domain: str | None = None
        for source in DOMAIN_ORDER:
            named = [r for r in rs if source in r.names]
            if named:
                domain = min(named, key=lambda r: r.ts).names[source]
                break
        alerts.append((rule, first.src, first.dst, first.dport, key[1], tuple(sorted(kinds)), domain))
    for t in tunnels:
        triple = (t.src, t.dst, t.dport)
        if (t.kind and t.action == "Tunnel::DISCOVER" and triple not in detected
                and to_internet(profile, t.src, t.dst)):
            alerts.append((PROTOCOL_RULE, t.src, t.dst, t.dport, None, tuple(sorted(tunnel_kinds[triple])), None))
    return sorted(alerts, key=repr)


def bare(alerts: list[Alert]) -> list[tuple]:
    """Without evidence and domain."""
    return sorted((a[:5] for a in alerts), key=repr)


# -- the generated folders -----------------------------------------------------------------

@pytest.fixture(scope="module")
def items() -> list:
    return generate.evidence_items(CONNECTIONS, SEED)


@pytest.fixture(scope="module", params=["tsv", "json"])
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp(f"evidence-{request.param}")
    generate.write_evidence_folder(directory, CONNECTIONS, SEED, zeek_format=request.param)
    return directory


@pytest.fixture(scope="module")
def parsed(folder: Path) -> Folder:
    return read_folder(folder)


def labelled(items: list, profile: str, evidence: bool) -> list[Alert]:
    """The alerts the generator's labels say a scan must give."""
    alerts = []
    for it in items:
        rule = it.expect.rule(profile, evidence)
        if rule:
            alerts.append((rule, canonical(it.src), canonical(it.dst), it.dport, it.key,
                           it.expect.evidence, it.expect.domain))
    return sorted(alerts, key=repr)


# -- the checker against the labels --------------------------------------------------------

@pytest.mark.parametrize("evidence", [False, True], ids=["plain", "evidence"])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_checker_agrees_with_the_generator_labels(parsed: Folder, items: list, profile: str, evidence: bool) -> None:
    got, expected = check(parsed, profile, evidence), labelled(items, profile, evidence)
    if evidence:
        assert got == expected
    else:  # the labels say nothing of what the records read without --evidence tell
        assert bare(got) == bare(expected)


def test_every_case_is_generated_and_tsv_and_json_say_the_same(tmp_path: Path, items: list) -> None:
    """Both Zeek formats hold the same records; the generator is deterministic per seed."""
    folders = {}
    for fmt in ("tsv", "json"):
        folders[fmt] = tmp_path / fmt
        generate.write_evidence_folder(folders[fmt], CONNECTIONS, SEED, zeek_format=fmt)
    tsv, js = read_folder(folders["tsv"]), read_folder(folders["json"])
    assert tsv == js
    again = tmp_path / "again"
    generate.write_evidence_folder(again, CONNECTIONS, SEED, zeek_format="tsv")
    for name in ("conn.log", "http.log", "ssl.log", "socks.log", "tunnel.log", "eve.json"):
        assert (again / name).read_bytes() == (folders["tsv"] / name).read_bytes(), name
    other = tmp_path / "other"
    generate.write_evidence_folder(other, CONNECTIONS, SEED + 1, zeek_format="tsv")
    assert (other / "conn.log").read_bytes() != (folders["tsv"] / "conn.log").read_bytes()
    assert {maker(generate._EvidenceBuilder(0))[0].label for maker, _ in generate._EVIDENCE_CASES} == {
        it.label for it in items}


def test_the_checker_is_not_vacuous(parsed: Folder) -> None:
    """Many alerts of each kind, evidence of each kind and domains from each source; each
    profile expects a different set, and --evidence more than without."""
    answers = {(p, e): check(parsed, p, e) for p in PROFILES for e in (False, True)}
    for (profile, evidence), alerts in answers.items():
        rules = Counter(a[0] for a in alerts)
        assert rules[PORT_RULE] >= 40, (profile, evidence)
        if evidence:
            assert rules[PROTOCOL_RULE] >= 40, profile
            assert sum(a[4] is None for a in alerts) >= 4, profile  # the tunnels' own alerts
            assert sum(isinstance(a[4], int) and a[0] == PROTOCOL_RULE for a in alerts) >= 5, profile
            kinds = Counter(k for a in alerts for k in a[5])
            assert all(kinds[k] >= 5 for k in ("socks", "http-connect", "http-proxy-request", "tls", "http")), kinds
            assert sum(a[6] is not None for a in alerts) >= 60, profile
            assert len(answers[profile, True]) > len(answers[profile, False])
        else:
            assert rules[PROTOCOL_RULE] == 0
    for mode in (False, True):
        sets = [frozenset(bare(answers[p, mode])) for p in PROFILES]
        assert len(set(sets)) == len(PROFILES), mode  # every profile gives other alerts
    # each domain source decides somewhere (v3, --evidence)
    by_id = {a[4]: a for a in answers["elastic-v3", True] if a[4] is not None}
    by_key: dict[tuple, list[Record]] = {}
    for r in parsed.records:
        by_key.setdefault(r.key, []).append(r)
    winners: Counter[str] = Counter()
    for key, records in by_key.items():
        if key[1] in by_id and by_id[key[1]][6]:
            sources = {s for r in records for s in r.names}
            winners[next(s for s in DOMAIN_ORDER if s in sources)] += 1
    assert all(winners[s] >= 3 for s in DOMAIN_ORDER), winners
    assert len(parsed.passwords) >= 10


# -- the scanner against the checker -------------------------------------------------------

def scan_folder(folder: Path, out: Path, *args: str) -> tuple[str, Result]:
    result = CliRunner().invoke(cli, ["scan", *args, "-o", str(out), str(folder)])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return out.read_text(), result


def from_ecs(alert: dict) -> Alert:
    zeek, suricata = alert.get("zeek") or {}, (alert.get("suricata") or {}).get("eve") or {}
    key = zeek.get("session_id") if zeek.get("session_id") is not None else suricata.get("flow_id")
    return (alert["rule"]["name"], canonical(alert["source"]["ip"]), canonical(alert["destination"]["ip"]),
            alert["destination"]["port"], key, tuple((alert.get("zeek_proxy") or {}).get("evidence") or ()),
            alert["destination"].get("domain"))


@pytest.mark.parametrize("evidence", [False, True], ids=["plain", "evidence"])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_scan_equals_the_checker(folder: Path, parsed: Folder, tmp_path: Path, profile: str, evidence: bool) -> None:
    text, _ = scan_folder(folder, tmp_path / "alerts.ndjson", "--profile", profile, *(["--evidence"] * evidence))
    got = sorted((from_ecs(json.loads(line)) for line in text.splitlines()), key=repr)
    expected = check(parsed, profile, evidence)
    if evidence:
        missing = [a for a in expected if a not in got]
        extra = [a for a in got if a not in expected]
        assert got == expected, f"missing {missing[:5]}, unexpected {extra[:5]}"
        return
    assert bare(got) == bare(expected)
    # Without --evidence, http, ssl and tunnel logs are not read: whatever context an
    # alert carries comes from the records that were (conn, eve, socks).
    context = {a[:5]: a for a in expected}
    for alert in got:
        kinds, domain = context[alert[:5]][5:]
        assert set(alert[5]) <= set(kinds), alert
        assert alert[6] in (None, domain), alert


@pytest.mark.parametrize("block", [700, 4096])
def test_tunnelled_requests_are_found_across_blocks(folder: Path, parsed: Folder, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """The requests inside a CONNECT tunnel share its uid, and are found whether they
    lie in the CONNECT's block or in later ones (http is read again for the uids)."""
    monkeypatch.setattr(blocks, "BLOCK_SIZE", block)
    monkeypatch.setattr(blocks, "FIRST_BLOCK_SIZE", block)
    text, _ = scan_folder(folder, tmp_path / "alerts.ndjson", "--profile", "strict", "--evidence", "--jobs", "2")
    got = sorted((from_ecs(json.loads(line)) for line in text.splitlines()), key=repr)
    assert got == check(parsed, "strict", True)


@pytest.mark.parametrize("to, evidence", [("ecs", True), ("notice", True), ("notice-json", True), ("csv", True),
                                          ("ecs", False)])
def test_no_password_reaches_any_output(folder: Path, parsed: Folder, tmp_path: Path, to: str, evidence: bool) -> None:
    """socks.log and http.log passwords (pw-SECRET-<n>): in the input, in no output."""
    assert parsed.passwords and all(p.startswith("pw-SECRET-") for p in parsed.passwords)
    raw = b"".join(p.read_bytes() for p in folder.iterdir())
    assert all(p.encode() in raw for p in parsed.passwords)
    text, result = scan_folder(folder, tmp_path / f"alerts.{to}", "--profile", "elastic-v4", "--show-suppressed",
                               "-t", to, *(["--evidence"] * evidence))
    assert text.strip()
    for output in (text, result.stdout, result.stderr):
        assert "pw-SECRET" not in output
