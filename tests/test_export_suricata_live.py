"""Suricata export, checked by the real engine: the exported rules, loaded by `suricata`
and run over a pcap of the same connections the offline scan reads as a Zeek conn.log,
alert on exactly the connections the scan alerts on, once each, and never from an
allow (`noalert`) rule.

The whole module skips when no `suricata` binary is on PATH (as on CI).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import struct
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import generate
from test_export_evidence import Proxied, proxied
from test_export_evidence import scanned as scanned_with_requests
from test_export_evidence import settings_for as evidence_settings
from test_export_suricata import AIMED, CONFIGS, SITE, TODAY

from zeek_proxy import scan
from zeek_proxy.config import DEFAULT_SETTINGS, Settings, parse_config
from zeek_proxy.export.suricata import to_suricata_rules

SURICATA = shutil.which("suricata")
pytestmark = pytest.mark.skipif(SURICATA is None, reason="suricata is not installed")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
FlowKey = tuple[str, IPAddress, int, IPAddress, int]  # proto, client, client port, server, server port

PROTO_NUMBERS = {"tcp": 6, "udp": 17}
ETHERTYPES = {4: 0x0800, 6: 0x86DD}
CLIENT_MAC, SERVER_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10
REQUEST, REPLY = b"ping\r\n", b"pong\r\n"
STEP_US = 1000  # a connection's packets are 1 ms apart

#: The evaluator test's configs, and the site's allow entries under the strict profile,
#: whose IPv6 internal network makes the IPv6 allow entry ('migration') matter.
LIVE_CONFIGS = {**CONFIGS, "strict-site": '[rule]\nprofile = "strict"\n' + SITE}

CONFIG_YAML = """%YAML 1.1
---
vars:
  address-groups:
    HOME_NET: "[10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7]"
    EXTERNAL_NET: "!$HOME_NET"
  port-groups: {{}}
default-log-dir: {out}
classification-file: {out}/classification.config
reference-config-file: {out}/reference.config
threshold-file: {out}/threshold.config
stats:
  enabled: yes
  interval: 3600
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types:
        - alert
        - flow
        - stats:
            totals: yes
            threads: no
"""


def settings_for(name: str) -> Settings:
    return parse_config(LIVE_CONFIGS[name]) if LIVE_CONFIGS[name] else DEFAULT_SETTINGS


# -- connections -----------------------------------------------------------------------

def connections(seed: int = 3, rows: int = 800) -> list[generate.Conn]:
    """The generator's connections (every case first) and the aimed ones, as in the
    evaluator test, but fewer: Suricata runs once per config."""
    return list(generate.connections(rows, seed=seed, every_case_first=True)) + AIMED


def flow_key(proto: str, src: str, sport: int, dst: str, dport: int) -> FlowKey:
    """A directional flow key; IPv6 text is normalised (eve writes it expanded)."""
    return proto.lower(), ipaddress.ip_address(src), sport, ipaddress.ip_address(dst), dport


def expressible(conns: Iterable[generate.Conn]) -> list[generate.Conn]:
    """The connections that can go into the pcap as a flow of their own.

    Left out, of both sides of the comparison: transports other than TCP and UDP (the
    generator emits none, but a Zeek log may hold icmp), addresses that do not parse or
    mix IPv4 with IPv6, ports outside 0..65535, and a connection whose endpoints (in
    either direction) repeat an earlier one's, since Suricata would see one flow for both.
    """
    kept: list[generate.Conn] = []
    seen: set[tuple[str, frozenset[tuple[IPAddress, int]]]] = set()
    for c in conns:
        if c.proto not in PROTO_NUMBERS or not all(0 <= p <= 65535 for p in (c.orig_p, c.resp_p)):
            continue
        try:
            _, src, sport, dst, dport = flow_key(c.proto, c.orig_h, c.orig_p, c.resp_h, c.resp_p)
        except ValueError:
            continue
        ends = (c.proto, frozenset({(src, sport), (dst, dport)}))
        if src.version != dst.version or ends in seen:
            continue
        seen.add(ends)
        kept.append(c)
    return kept


# -- packets -----------------------------------------------------------------------------

def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip_packet(src: IPAddress, dst: IPAddress, proto: int, segment: bytes) -> bytes:
    """`segment` (its checksum field still zero) in an IPv4 or IPv6 header, with the
    transport checksum over the pseudo-header filled in."""
    if src.version == 4:
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, proto, len(segment))
    else:
        pseudo = src.packed + dst.packed + struct.pack("!IxxxB", len(segment), proto)
    offset = 16 if proto == PROTO_NUMBERS["tcp"] else 6
    sum_ = checksum(pseudo + segment) or 0xFFFF  # a UDP checksum of 0 means "none"
    segment = segment[:offset] + struct.pack("!H", sum_) + segment[offset + 2:]
    if src.version == 6:
        return struct.pack("!IHBB", 6 << 28, len(segment), proto, 64) + src.packed + dst.packed + segment
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), 0, 0x4000, 64, proto, 0,
                         src.packed, dst.packed)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + segment


def tcp_segment(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                       65535, 0, 0) + payload


def udp_segment(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def frames(c: generate.Conn, index: int, request: bytes = REQUEST,
           reply: bytes = REPLY) -> Iterator[tuple[int, bytes]]:
    """(microsecond timestamp, Ethernet frame) of one connection, in order: for TCP a
    handshake, a request and a reply, and a FIN/ACK close; for UDP a request and a reply."""
    _, client, cport, server, sport = flow_key(c.proto, c.orig_h, c.orig_p, c.resp_h, c.resp_p)
    proto = PROTO_NUMBERS[c.proto]
    if c.proto == "tcp":
        a, b = 1000 + index * 7919, 5000 + index * 104729  # initial sequence numbers
        la, lb = len(request), len(reply)
        steps = [
            (True, tcp_segment(cport, sport, a, 0, SYN)),
            (False, tcp_segment(sport, cport, b, a + 1, SYN | ACK)),
            (True, tcp_segment(cport, sport, a + 1, b + 1, ACK)),
            (True, tcp_segment(cport, sport, a + 1, b + 1, PSH | ACK, request)),
            (False, tcp_segment(sport, cport, b + 1, a + 1 + la, PSH | ACK, reply)),
            (True, tcp_segment(cport, sport, a + 1 + la, b + 1 + lb, FIN | ACK)),
            (False, tcp_segment(sport, cport, b + 1 + lb, a + 2 + la, FIN | ACK)),
            (True, tcp_segment(cport, sport, a + 2 + la, b + 2 + lb, ACK)),
        ]
    else:
        steps = [(True, udp_segment(cport, sport, request)), (False, udp_segment(sport, cport, reply))]
    start = round(c.ts * 1_000_000)
    for i, (to_server, segment) in enumerate(steps):
        ip = ip_packet(client, server, proto, segment) if to_server else ip_packet(server, client, proto, segment)
        macs = SERVER_MAC + CLIENT_MAC if to_server else CLIENT_MAC + SERVER_MAC  # destination first
        yield start + i * STEP_US, macs + struct.pack("!H", ETHERTYPES[client.version]) + ip


def write_pcap(conns: list[generate.Conn], path: Path,
               payloads: dict[str, tuple[bytes, bytes]] | None = None) -> int:
    """A classic libpcap file (microseconds, Ethernet) of all connections, packets in time
    order; connections may overlap, each keeps its own order. `payloads` gives some
    connections (by uid) their own request and reply. Returns the packet count."""
    payloads = payloads or {}
    packets = sorted((t, n, i, frame) for n, c in enumerate(conns)
                     for i, (t, frame) in enumerate(frames(c, n, *payloads.get(c.uid, (REQUEST, REPLY)))))
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        out.writelines(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), len(frame)) + frame
                       for t, _, _, frame in packets)
    return len(packets)


# -- suricata ----------------------------------------------------------------------------

def write_config(out: Path) -> Path:
    """A self-contained suricata.yaml (and the files it names) in `out`, so the run does
    not depend on /etc/suricata."""
    (out / "classification.config").write_text(
        "config classification: policy-violation,Potential Corporate Privacy Violation,1\n")
    (out / "reference.config").write_text("")
    (out / "threshold.config").write_text("")
    config = out / "suricata.yaml"
    config.write_text(CONFIG_YAML.format(out=out))
    return config


def suricata(*args: str | Path) -> str:
    """Run suricata; its console output. A non-zero exit, an error or a warning (a rule
    it could not load, a setting it did not understand) fails the test."""
    done = subprocess.run([SURICATA, "-v", *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not re.search(r"^(Error|Warning|E:|W:)", output, re.MULTILINE), output
    return output


def load_check(rules: Path, config: Path, out: Path, expected: int) -> None:
    """`suricata -T` loads every rule: none fails, none is skipped or warned about."""
    output = suricata("-T", "-c", config, "-S", rules, "-l", out)
    loaded = re.search(r"(\d+) rules successfully loaded, (\d+) rules failed", output)
    assert loaded and (int(loaded[1]), int(loaded[2])) == (expected, 0), output


def run(pcap: Path, rules: Path, config: Path, out: Path) -> list[dict]:
    """The eve.json events of suricata reading `pcap` with `rules`."""
    suricata("-r", pcap, "-S", rules, "-l", out, "-k", "none", "-c", config, "--runmode", "single")
    with open(out / "eve.json") as events:
        return [json.loads(line) for line in events]


def eve_key(event: dict) -> FlowKey:
    return flow_key(event["proto"], event["src_ip"], event["src_port"], event["dest_ip"], event["dest_port"])


def noalert_sids(rules_text: str) -> set[int]:
    """The sids of the allow rules, which may set their flowbit but never alert."""
    return {int(m[1]) for line in rules_text.splitlines() if "flowbits:noalert;" in line
            for m in [re.search(r"\bsid:(\d+);", line)] if m}


def scanned(conns: list[generate.Conn], settings: Settings, log: Path) -> set[str]:
    """The uids the offline scan alerts on, reading `conns` as a Zeek conn.log."""
    with open(log, "w") as out:
        generate.write_zeek_tsv(conns, out)
    return set(scan([str(log)], settings).alerts["zeek.session_id"])


# -- the test ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", LIVE_CONFIGS)
def test_suricata_alerts_exactly_where_the_scan_alerts(tmp_path: Path, name: str) -> None:
    settings = settings_for(name)
    conns = expressible(connections())
    uid_of = {flow_key(c.proto, c.orig_h, c.orig_p, c.resp_h, c.resp_p): c.uid for c in conns}

    rules_text = to_suricata_rules(settings, today=TODAY)
    rules = tmp_path / "proxy.rules"
    rules.write_text(rules_text)
    config = write_config(tmp_path)
    load_check(rules, config, tmp_path, sum(line.startswith("alert ") for line in rules_text.splitlines()))

    pcap = tmp_path / "conns.pcap"
    packets = write_pcap(conns, pcap)
    events = run(pcap, rules, config, tmp_path)

    # Suricata saw every connection as one flow of its own, every packet decoded, and
    # every TCP session from its handshake on (no midstream pickup, no gap).
    flows = Counter(uid_of.get(eve_key(e)) for e in events if e["event_type"] == "flow")
    assert flows == Counter({c.uid: 1 for c in conns})
    [stats] = [e["stats"] for e in events if e["event_type"] == "stats"][-1:]
    assert (stats["decoder"]["pkts"], stats["decoder"]["invalid"]) == (packets, 0)
    tcp = stats["tcp"]
    assert (tcp["sessions"], tcp["midstream_pickups"], tcp["reassembly_gap"]) \
        == (sum(c.proto == "tcp" for c in conns), 0, 0)

    alerts = [e for e in events if e["event_type"] == "alert"]
    assert not {a["alert"]["signature_id"] for a in alerts} & noalert_sids(rules_text)
    per_uid = Counter(uid_of.get(eve_key(a)) for a in alerts)
    assert None not in per_uid, [a for a in alerts if eve_key(a) not in uid_of]
    assert max(per_uid.values(), default=0) == 1, [u for u, n in per_uid.items() if n > 1]

    expected = scanned(conns, settings, tmp_path / "conn.log")
    assert set(per_uid) == expected, {
        "suricata only": [c for c in conns if c.uid in set(per_uid) - expected],
        "scan only": [c for c in conns if c.uid in expected - set(per_uid)],
    }

    # Not vacuous: several alerts, and the allow entries (where there are any) hold some back.
    allowed = scanned(conns, replace(settings, allow=()), tmp_path / "conn-no-allow.log") - expected
    assert len(expected) >= 5
    if settings.allow:
        assert len(allowed) >= 3
    kinds = Counter((k[0], k[1].version) for k in map(eve_key, alerts))
    print(f"{name}: {len(conns)} connections, {packets} packets, {len(alerts)} alerts {dict(kinds)}, "
          f"{len(allowed)} allowed")


# -- proxy protocols: HTTP CONNECT and absolute-form requests on any port ---------------------

#: Requests as clients send them (Suricata detects HTTP on any port by its request line).
LIVE_REQUESTS = [("CONNECT", "example.org:443"), ("GET", "http://example.net/x"),
                 ("POST", "https://example.com/a?b=c"), ("GET", "ftp://ftp.example.org/f"),
                 ("GET", "ws://example.org/socket"), ("GET", "/index.html"), ("HEAD", "/")]


def http_payloads(item: Proxied) -> tuple[bytes, bytes]:
    request = f"{item.method} {item.uri} HTTP/1.1\r\nHost: example.org\r\nUser-Agent: test\r\n\r\n"
    reply = ("HTTP/1.1 200 Connection established\r\n\r\n" if item.method == "CONNECT"
             else "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    return request.encode(), reply.encode()


@pytest.mark.parametrize("name", ["v3-evidence", "site-evidence", "strict-site-evidence"])
def test_suricata_alerts_on_http_proxy_requests_where_the_scan_alerts(tmp_path: Path, name: str) -> None:
    """Connections carrying an HTTP request (a CONNECT, an absolute-form request of any
    scheme, an ordinary one) on proxy and other ports: Suricata, with the rules of
    `export suricata --evidence`, alerts once on exactly the connections `scan
    --evidence` alerts on from their Zeek conn and http logs."""
    settings = evidence_settings(name)
    items = [replace(i, method=method, uri=uri) for n, i in enumerate(proxied(rows=600, seed=9, socks=False))
             for method, uri in [LIVE_REQUESTS[n % len(LIVE_REQUESTS)]]]
    kept = {c.uid for c in expressible([i.conn for i in items])}
    items = [i for i in items if i.conn.uid in kept]
    uid_of = {flow_key(i.conn.proto, i.conn.orig_h, i.conn.orig_p, i.conn.resp_h, i.conn.resp_p): i.conn.uid
              for i in items}

    rules_text = to_suricata_rules(settings, today=TODAY)
    rules = tmp_path / "proxy.rules"
    rules.write_text(rules_text)
    config = write_config(tmp_path)
    load_check(rules, config, tmp_path, sum(line.startswith("alert ") for line in rules_text.splitlines()))
    pcap = tmp_path / "http.pcap"
    write_pcap([i.conn for i in items], pcap, {i.conn.uid: http_payloads(i) for i in items})
    events = run(pcap, rules, config, tmp_path)

    alerts = [e for e in events if e["event_type"] == "alert"]
    assert not {a["alert"]["signature_id"] for a in alerts} & noalert_sids(rules_text)
    per_uid = Counter(uid_of.get(eve_key(a)) for a in alerts)
    assert None not in per_uid and max(per_uid.values(), default=0) == 1
    expected = scanned_with_requests(items, settings, tmp_path)
    assert set(per_uid) == expected, {
        "suricata only": [i for i in items if i.conn.uid in set(per_uid) - expected],
        "scan only": [i for i in items if i.conn.uid in expected - set(per_uid)],
    }
    protocol = Counter(a["alert"]["signature"] for a in alerts if "Proxy Protocol" in a["alert"]["signature"])
    assert protocol["Proxy Protocol to the Internet (HTTP CONNECT)"] >= 5
    assert protocol["Proxy Protocol to the Internet (HTTP proxy request)"] >= 5
