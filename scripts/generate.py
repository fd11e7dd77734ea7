#!/usr/bin/env python3
"""Generate synthetic Zeek conn.log (TSV, JSON) and Suricata eve.json full of traps.

Every connection is labelled with whether Elastic's rule (v3) should alert on it, so
tests and benchmarks know the expected answer without trusting the scanner.

    python scripts/generate.py fixtures/            # the bundled fixtures
    python scripts/generate.py --rows 4000000 --formats tsv /tmp/bench/

A sensor folder for --evidence (conn, http, ssl, socks and tunnel logs and eve.json, SOCKS,
CONNECT, absolute-form requests and tunnels among traps), each connection labelled with the
alert each profile must give it, with and without --evidence:

    python scripts/generate.py --evidence /tmp/sensor/ [--zeek-format json] [--connections 400]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import IO, Callable, Iterator

BASE_TS = 1795773600.0  # 2026-11-27T10:00:00Z
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

TSV_FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
    "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts "
    "orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents"
).split()
TSV_TYPES = (
    "time string addr port addr port enum string interval count count string bool bool "
    "count string count count count count set[string]"
).split()


@dataclass
class Conn:
    """One synthetic connection and the verdict the v3 rule must give it."""

    ts: float
    uid: str
    flow_id: int
    orig_h: str
    orig_p: int
    resp_h: str
    resp_p: int
    proto: str
    service: str | None
    duration: float
    orig_bytes: int
    resp_bytes: int
    orig_pkts: int
    resp_pkts: int
    conn_state: str
    history: str
    expected: bool
    label: str


def _internal(rng: random.Random) -> str:
    return rng.choice((
        f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}",
    ))


def _public(rng: random.Random) -> str:
    while True:
        first = rng.choice((5, 23, 34, 45, 52, 64, 91, 104, 128, 135, 151, 185, 203, 217))
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


#: (label, expected hit, weight, maker(rng) -> (orig_h, orig_p, resp_h, resp_p, proto))
def _cases() -> list[tuple[str, bool, int, object]]:
    eph = lambda r: r.randrange(1024, 65536)  # noqa: E731
    pp = lambda r: r.choice((1080, 3128, 8080))  # noqa: E731
    return [
        ("background web", False, 2400, lambda r: (_internal(r), eph(r), _public(r), r.choice((80, 443)), "tcp")),
        ("background dns", False, 800, lambda r: (_internal(r), eph(r), r.choice(("8.8.8.8", "1.1.1.1")), 53, "udp")),
        ("internal service", False, 400, lambda r: (_internal(r), eph(r), _internal(r), r.choice((445, 3128, 8080)), "tcp")),
        ("HIT proxy port to Internet", True, 4, lambda r: (_internal(r), eph(r), _public(r), pp(r), "tcp")),
        ("HIT boundary 172.31.255.254", True, 1, lambda r: ("172.31.255.254", eph(r), _public(r), 8080, "tcp")),
        ("HIT link-local destination (v3 does not exclude it)", True, 1, lambda r: (_internal(r), eph(r), "169.254.10.20", 3128, "tcp")),
        ("HIT CGNAT destination", True, 1, lambda r: (_internal(r), eph(r), "100.64.3.4", 1080, "tcp")),
        ("trap udp to 8080", False, 3, lambda r: (_internal(r), eph(r), _public(r), 8080, "udp")),
        ("trap source 172.32.x", False, 2, lambda r: (f"172.32.{r.randrange(256)}.7", eph(r), _public(r), 8080, "tcp")),
        ("trap source 172.15.x", False, 1, lambda r: ("172.15.255.254", eph(r), _public(r), 3128, "tcp")),
        ("trap source 100.64.x", False, 2, lambda r: (f"100.64.{r.randrange(256)}.9", eph(r), _public(r), 3128, "tcp")),
        ("trap source 192.169.x", False, 1, lambda r: ("192.169.1.1", eph(r), _public(r), 8080, "tcp")),
        ("trap private to private", False, 3, lambda r: (_internal(r), eph(r), _internal(r), pp(r), "tcp")),
        ("trap proxy port as source port", False, 3, lambda r: (_internal(r), pp(r), _public(r), 443, "tcp")),
        ("trap destination loopback", False, 1, lambda r: (_internal(r), eph(r), "127.0.0.1", 8080, "tcp")),
        ("trap inbound public to private", False, 3, lambda r: (_public(r), eph(r), _internal(r), pp(r), "tcp")),
        ("trap look-alike port", False, 3, lambda r: (_internal(r), eph(r), _public(r), r.choice((18080, 31280, 10800, 8081, 808)), "tcp")),
        ("trap IPv6 source", False, 2, lambda r: (f"fd00::{r.randrange(1, 9999):x}", eph(r), f"2001:db8::{r.randrange(1, 9999):x}", 8080, "tcp")),
        ("trap IPv6 loopback", False, 1, lambda r: ("::1", eph(r), "::1", 3128, "tcp")),
    ]


#: The second data mix (`--mix`): more DNS, internal services off the proxy ports, so
#: that about 3% of connections are on a proxy port (the default mix has about 8%).
_MIX_WEIGHTS = {"background dns": 1600, "internal service": 160}


def connections(rows: int, seed: int = 7, every_case_first: bool = False, mix: bool = False) -> Iterator[Conn]:
    """`rows` connections, reproducible for a seed, each labelled with its verdict.

    With `every_case_first`, the first rows hold one connection of every case (each hit
    kind and each trap), so that even a small file exercises them all. With `mix`, the
    cases are weighted as the second benchmark mix.
    """
    rng = random.Random(seed)
    cases = _cases()
    weights = [_MIX_WEIGHTS.get(c[0], c[2]) if mix else c[2] for c in cases]
    ts = BASE_TS
    for i in range(rows):
        if every_case_first and i < len(cases):
            label, expected, _, make = cases[i]
        else:
            label, expected, _, make = rng.choices(cases, weights)[0]
        orig_h, orig_p, resp_h, resp_p, proto = make(rng)  # type: ignore[operator]
        ts += rng.random() * 0.05
        tcp = proto == "tcp"
        state = rng.choice(("SF", "SF", "S0", "REJ", "RSTO")) if tcp else "SF"
        yield Conn(
            ts=round(ts, 6), uid="C" + "".join(rng.choices(ALPHABET, k=17)),
            flow_id=rng.randrange(1, 2**51), orig_h=orig_h, orig_p=orig_p,
            resp_h=resp_h, resp_p=resp_p, proto=proto,
            service=rng.choice((None, "ssl", "http", "ssl,http")) if tcp else ("dns" if resp_p == 53 else None),
            duration=round(rng.random() * 30, 6), orig_bytes=rng.randrange(0, 5000),
            resp_bytes=rng.randrange(0, 90000), orig_pkts=rng.randrange(1, 60),
            resp_pkts=rng.randrange(0, 80), conn_state=state,
            history=("ShADadFf" if state == "SF" else "S") if tcp else "Dd",
            expected=expected, label=label,
        )


def _local(ip: str) -> str:
    return "T" if ip.startswith(("10.", "192.168.", "172.2", "172.1", "172.30", "172.31", "fd")) else "F"


def write_zeek_tsv(conns: list[Conn] | Iterator[Conn], out: IO[str], extension_first: bool = False) -> None:
    """A Zeek 6 style conn.log; with `extension_first`, a `_node_name` column leads."""
    fields = (["_node_name"] if extension_first else []) + list(TSV_FIELDS)
    types = (["string"] if extension_first else []) + list(TSV_TYPES)
    out.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
              "#path\tconn\n#open\t2026-11-27-10-00-00\n")
    out.write("#fields\t" + "\t".join(fields) + "\n#types\t" + "\t".join(types) + "\n")
    for c in conns:
        cells = [
            f"{c.ts:.6f}", c.uid, c.orig_h, str(c.orig_p), c.resp_h, str(c.resp_p), c.proto,
            c.service or "-", f"{c.duration:.6f}", str(c.orig_bytes), str(c.resp_bytes),
            c.conn_state, _local(c.orig_h), _local(c.resp_h), "0", c.history,
            str(c.orig_pkts), str(c.orig_bytes + 40 * c.orig_pkts), str(c.resp_pkts),
            str(c.resp_bytes + 40 * c.resp_pkts), "(empty)",
        ]
        if extension_first:
            cells.insert(0, "worker-1")
        out.write("\t".join(cells) + "\n")
    out.write("#close\t2026-11-27-11-00-00\n")


def write_zeek_json(conns: list[Conn] | Iterator[Conn], out: IO[str]) -> None:
    """Zeek JSON lines: unset fields omitted, `_path` first on some lines."""
    for i, c in enumerate(conns):
        record: dict[str, object] = {"_path": "conn"} if i % 2 else {}
        record.update({
            "ts": c.ts, "uid": c.uid, "id.orig_h": c.orig_h, "id.orig_p": c.orig_p,
            "id.resp_h": c.resp_h, "id.resp_p": c.resp_p, "proto": c.proto,
            "duration": c.duration, "orig_bytes": c.orig_bytes, "resp_bytes": c.resp_bytes,
            "conn_state": c.conn_state, "local_orig": _local(c.orig_h) == "T",
            "local_resp": _local(c.resp_h) == "T", "missed_bytes": 0, "history": c.history,
            "orig_pkts": c.orig_pkts, "orig_ip_bytes": c.orig_bytes + 40 * c.orig_pkts,
            "resp_pkts": c.resp_pkts, "resp_ip_bytes": c.resp_bytes + 40 * c.resp_pkts,
        })
        if c.service:
            record["service"] = c.service
        out.write(json.dumps(record, separators=(",", ":")) + "\n")


def _eve_time(ts: float, offset_hours: int) -> str:
    zone = timezone(timedelta(hours=offset_hours))
    moment = datetime.fromtimestamp(ts, zone)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f%z")


def _expand(ip: str) -> str:
    import ipaddress

    addr = ipaddress.ip_address(ip)
    return addr.exploded if addr.version == 6 else ip


def write_eve(conns: list[Conn] | Iterator[Conn], out: IO[str]) -> None:
    """Suricata eve: a flow event per connection; for proxy-port TCP also alert and tls
    events of the same flow (some logged in the reply direction with Suricata 7's
    `flow.src_ip`); upper-case proto, -0600 offsets, expanded IPv6, stats events."""
    for i, c in enumerate(conns):
        base = {"flow_id": c.flow_id, "in_iface": "eth0", "proto": c.proto.upper()}
        ends = {"src_ip": _expand(c.orig_h), "src_port": c.orig_p,
                "dest_ip": _expand(c.resp_h), "dest_port": c.resp_p}
        offset = -6 if i % 3 == 0 else 0
        flow = {"pkts_toserver": c.orig_pkts, "pkts_toclient": c.resp_pkts,
                "bytes_toserver": c.orig_bytes, "bytes_toclient": c.resp_bytes,
                "start": _eve_time(c.ts, offset), "end": _eve_time(c.ts + c.duration, offset)}
        if c.resp_p in (1080, 3128, 8080) and c.proto == "tcp":
            reply = {"src_ip": ends["dest_ip"], "src_port": c.resp_p,
                     "dest_ip": ends["src_ip"], "dest_port": c.orig_p}
            alert_flow = dict(flow, **ends)  # Suricata 7 names the initiator
            out.write(json.dumps({"timestamp": _eve_time(c.ts + 0.2, offset), **base, **reply,
                                  "event_type": "alert", "alert": {"signature_id": 2028765, "signature": "synthetic", "severity": 3},
                                  "flow": alert_flow}) + "\n")
            out.write(json.dumps({"timestamp": _eve_time(c.ts + 0.1, offset), **base, **ends,
                                  "event_type": "tls", "tls": {"version": "TLS 1.2"}}) + "\n")
        out.write(json.dumps({"timestamp": _eve_time(c.ts + c.duration + 60, offset), **base, **ends,
                              "event_type": "flow", "app_proto": c.service.split(",")[0] if c.service else "failed",
                              "flow": dict(flow, state="closed", reason="timeout")}) + "\n")
        if i % 100 == 99:
            out.write(json.dumps({"timestamp": _eve_time(c.ts, 0), "event_type": "stats",
                                  "stats": {"uptime": i}}) + "\n")


def write_eve_mix(conns: list[Conn] | Iterator[Conn], out: IO[str]) -> None:
    """Suricata eve as the second benchmark mix: about 49% flow, 24% dns, 17% http and
    10% alert events, lines of about 470 bytes. Every event of a connection carries its
    flow id and endpoints; alert events of proxy-port flows are logged in the reply
    direction with `flow.src_ip`, as Suricata 7 does."""
    _compact = partial(json.dumps, separators=(",", ":"))  # as Suricata writes it
    for c in conns:
        base = {"flow_id": c.flow_id, "in_iface": "ens192", "proto": c.proto.upper(),
                "community_id": f"1:{c.uid[1:]}{c.flow_id % 997:03d}="}
        ends = {"src_ip": _expand(c.orig_h), "src_port": c.orig_p, "dest_ip": _expand(c.resp_h), "dest_port": c.resp_p}
        start, end = _eve_time(c.ts, -5), _eve_time(c.ts + c.duration, -5)
        flow = {"pkts_toserver": c.orig_pkts, "pkts_toclient": c.resp_pkts, "bytes_toserver": c.orig_bytes,
                "bytes_toclient": c.resp_bytes, "start": start, "end": end, "state": "closed", "reason": "timeout"}
        pick = c.flow_id % 100
        if c.resp_p == 53:
            queries = 2 if pick < 33 else 1
            for n in range(queries):
                out.write(_compact({"timestamp": _eve_time(c.ts + 0.01 * n, -5), **base, **ends, "event_type": "dns",
                                      "dns": {"type": "answer" if n else "query", "id": pick * 331, "rrname":
                                              f"host{pick}.cdn.example.net", "rrtype": "A", "tx_id": n}}) + "\n")
        elif c.proto == "tcp" and c.resp_p in (80, 443) and pick < 65:
            out.write(_compact({"timestamp": _eve_time(c.ts + 0.05, -5), **base, **ends, "event_type": "http",
                                  "tx_id": 0, "http": {"hostname": f"www{pick}.example.com", "url": f"/static/app.{pick}.js",
                                                       "http_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                                                       "http_method": "GET", "status": 200}}) + "\n")
        proxy_port = c.proto == "tcp" and c.resp_p in (1080, 3128, 8080)
        if proxy_port or pick % 5 == 0:
            reply = {"src_ip": ends["dest_ip"], "src_port": c.resp_p, "dest_ip": ends["src_ip"], "dest_port": c.orig_p}
            out.write(_compact({"timestamp": _eve_time(c.ts + 0.2, -5), **base, **(reply if proxy_port else ends),
                                  "event_type": "alert", "alert": {"action": "allowed", "signature_id": 2013028,
                                                                   "signature": "ET POLICY curl User-Agent Outbound",
                                                                   "severity": 2},
                                  "flow": dict(ends, start=start)}) + "\n")
        out.write(_compact({"timestamp": _eve_time(c.ts + c.duration + 60, -5), **base, **ends, "event_type": "flow",
                              "app_proto": c.service.split(",")[0] if c.service else "failed", "flow": flow,
                              "tcp": {"tcp_flags": "1b", "state": "closed"} if c.proto == "tcp" else None}) + "\n")


def write_fixtures(directory: Path, rows: int = 300) -> dict[str, int]:
    """The bundled fixtures; returns the number of expected alerts per file."""
    directory.mkdir(parents=True, exist_ok=True)
    zeek = list(connections(rows, seed=1, every_case_first=True))
    with open(directory / "conn.log", "w") as out:
        write_zeek_tsv(zeek, out)
    json_conns = list(connections(rows, seed=2, every_case_first=True))
    with open(directory / "conn.json.log", "w") as out:
        write_zeek_json(json_conns, out)
    eve_conns = list(connections(rows, seed=3, every_case_first=True))
    with open(directory / "eve.json", "w") as out:
        write_eve(eve_conns, out)
    archive = directory / "2026-11-27" / "conn.10:00:00-11:00:00.log.gz"
    archive.parent.mkdir(exist_ok=True)
    archived = list(connections(rows, seed=4, every_case_first=True))
    text = io.StringIO()
    write_zeek_tsv(archived, text, extension_first=True)
    archive.write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))  # reproducible bytes
    return {
        "conn.log": sum(c.expected for c in zeek),
        "conn.json.log": sum(c.expected for c in json_conns),
        "eve.json": sum(c.expected for c in eve_conns),
        str(archive.relative_to(directory)): sum(c.expected for c in archived),
    }



# -- sensor folders for --evidence: conn, http, ssl, socks, tunnel and eve -------------------
#
# Each generated connection carries an `Expect`, written by hand per case from
# docs/evidence.md: which profile's port rule or protocol rule alerts on it, with and
# without --evidence, and what evidence and domain its alert has. Nothing here decides
# that from the records themselves; tests/test_evidence_generated.py checks the labels
# against a checker that does.

EVIDENCE_PROFILES = ("elastic-v2", "elastic-v3", "elastic-v4", "elastic-v6", "strict")
PORT_RULE = "Proxy Port Activity to the Internet"
PROTOCOL_RULE = "Proxy Protocol to the Internet"
PROXY_PORTS = (1080, 3128, 8080)
_ALL = frozenset(EVIDENCE_PROFILES)
_NONE: frozenset[str] = frozenset()
_SOCKS_BRANCH = frozenset(("elastic-v4", "elastic-v6", "strict"))  # any socks.log record
_UP_TO_V4 = frozenset(("elastic-v2", "elastic-v3", "elastic-v4"))  # 169.254/16, 224/4 are Internet
_NOT_STRICT = _ALL - {"strict"}  # CGNAT, benchmarking, documentation ranges are Internet
_V2 = frozenset(("elastic-v2",))
_STRICT = frozenset(("strict",))

#: Zeek's headers as Zeek 7 writes them (conn.log ends in ip_proto): (field, type).
ZEEK_LOGS: dict[str, tuple[tuple[str, str], ...]] = {
    name: tuple(zip(fields.split(), types.split())) for name, fields, types in (
        ("conn",
         "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes "
         "conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts "
         "resp_ip_bytes tunnel_parents ip_proto",
         "time string addr port addr port enum string interval count count string bool bool count string "
         "count count count count set[string] count"),
        ("http",
         "ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri referrer version "
         "user_agent origin request_body_len response_body_len status_code status_msg info_code info_msg "
         "tags username password proxied orig_fuids orig_filenames orig_mime_types resp_fuids "
         "resp_filenames resp_mime_types",
         "time string addr port addr port count string string string string string string string count "
         "count count string count string set[enum] string string set[string] vector[string] "
         "vector[string] vector[string] vector[string] vector[string] vector[string]"),
        ("ssl",
         "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version cipher curve server_name resumed "
         "last_alert next_protocol established ssl_history cert_chain_fps client_cert_chain_fps "
         "sni_matches_cert",
         "time string addr port addr port string string string string bool string string bool string "
         "vector[string] vector[string] bool"),
        ("socks",
         "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version user password status request.host "
         "request.name request_p bound.host bound.name bound_p",
         "time string addr port addr port count string string string addr string port addr string port"),
        ("tunnel",
         "ts uid id.orig_h id.orig_p id.resp_h id.resp_p tunnel_type action",
         "time string addr port addr port enum enum"),
    )
}
_USER_AGENTS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
                "curl/8.5.0", "python-requests/2.32.3", "Wget/1.21.4")


@dataclass(frozen=True)
class Expect:
    """What a scan must say of one generated connection, by hand per case.

    `port`: profiles whose port rule alerts on it when the folder is scanned with
    --evidence; `protocol`: profiles whose protocol rule would (the alert is the port
    rule's wherever both do); `plain`: profiles whose port rule alerts without
    --evidence (folders then give v2 and v3 no socks logs). With --evidence the alert
    lists `evidence` and names `domain`. `tunnel`: the alert is the tunnel record's own,
    keyed by no uid."""

    port: frozenset[str] = _NONE
    protocol: frozenset[str] = _NONE
    plain: frozenset[str] = _NONE
    evidence: tuple[str, ...] = ()
    domain: str | None = None
    tunnel: bool = False

    def rule(self, profile: str, evidence: bool) -> str | None:
        """The rule name of the alert under `profile`, or None for no alert."""
        if not evidence:
            return PORT_RULE if profile in self.plain else None
        if profile in self.port:
            return PORT_RULE
        return PROTOCOL_RULE if profile in self.protocol else None


@dataclass
class EvidenceItem:
    """One generated connection (a Zeek uid or an eve flow), its records and its label."""

    label: str
    expect: Expect
    module: str  # "zeek" or "suricata"
    src: str
    sport: int
    dst: str
    dport: int
    ts: float
    uid: str
    flow_id: int
    records: dict[str, list] = field(default_factory=dict)  # log -> rows; "eve" -> (time, event)
    secrets: list[str] = field(default_factory=list)  # passwords no output may hold

    @property
    def key(self) -> str | int | None:
        """The id of its alert: the uid, the flow_id, or None for a tunnel record's own."""
        if self.expect.tunnel:
            return None
        return self.uid if self.module == "zeek" else self.flow_id


def _kinds(*kinds: str | None) -> tuple[str, ...]:
    return tuple(sorted({k for k in kinds if k}))


class _EvidenceBuilder:
    """Draws addresses, names and records for the cases; deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.t = BASE_TS
        self.n = 0
        self.used: set[tuple[str, str, int]] = set()

    # addresses and names
    def number(self) -> int:
        self.n += 1
        return self.n

    def internal(self) -> str:
        return _internal(self.rng)

    def public(self) -> str:  # never in a special-purpose range (strict excludes those)
        r = self.rng
        first = r.choice((5, 23, 34, 45, 52, 64, 91, 104, 128, 135, 151, 185, 217))
        return f"{first}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def ula(self) -> str:
        return f"fd{self.rng.randrange(256):02x}:{self.rng.randrange(1, 65536):x}::{self.rng.randrange(1, 65536):x}"

    def global6(self) -> str:
        prefix = self.rng.choice(("2a00:1450:4001", "2606:4700:3033", "2a03:2880:f12d"))
        return f"{prefix}::{self.rng.randrange(1, 65536):x}"

    def documentation6(self) -> str:
        return f"2001:db8:{self.rng.randrange(1, 65536):x}::{self.rng.randrange(1, 65536):x}"

    def link_local_or_multicast(self) -> str:
        r = self.rng
        if r.random() < 0.75:
            return f"169.254.{r.randrange(256)}.{r.randrange(1, 255)}"
        return f"{r.randrange(224, 240)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def strict_only(self) -> str:
        """CGNAT, benchmarking or documentation: Internet to every profile but strict."""
        r = self.rng
        return r.choice((
            f"100.{r.randrange(64, 128)}.{r.randrange(256)}.{r.randrange(1, 255)}",
            f"198.{r.randrange(18, 20)}.{r.randrange(256)}.{r.randrange(1, 255)}",
            f"203.0.113.{r.randrange(1, 255)}", f"198.51.100.{r.randrange(1, 255)}",
            f"192.0.2.{r.randrange(1, 255)}",
        ))

    def ephemeral(self) -> int:
        return self.rng.randrange(32768, 61000)

    def name(self, word: str) -> str:
        """A domain name; some written in mixed case (domains are reported as logged)."""
        word = word.capitalize() if self.rng.random() < 0.15 else word
        return f"{word}{self.number()}.{self.rng.choice(('example.com', 'example.net', 'example.org', 'Example.COM'))}"

    def secret(self, item: EvidenceItem) -> str:
        value = f"pw-SECRET-{self.number()}"
        item.secrets.append(value)
        return value

    def choice(self, options):  # noqa: ANN001, ANN201
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # items
    def new(self, label: str, expect: Expect, src: Callable[[], str], dst: Callable[[], str], dport: int,
            module: str = "zeek") -> EvidenceItem:
        """A connection between fresh endpoints: no other connection of the folder has
        its source, destination and destination port (tunnel records join by those)."""
        for _ in range(1000):
            triple = (src(), dst(), dport)
            if triple not in self.used:
                break
        else:
            raise RuntimeError(f"no fresh endpoints for {label}")
        self.used.add(triple)
        self.t += round(self.rng.uniform(0.05, 0.8), 6)
        return EvidenceItem(label=label, expect=expect, module=module, src=triple[0], sport=self.ephemeral(),
                            dst=triple[1], dport=dport, ts=round(self.t, 6),
                            uid="C" + "".join(self.rng.choices(ALPHABET, k=17)),
                            flow_id=self.rng.randrange(1, 2**51))

    def again(self, item: EvidenceItem, label: str, expect: Expect, later: float) -> EvidenceItem:
        """Another connection of the same endpoints, `later` seconds after."""
        self.t += later
        return EvidenceItem(label=label, expect=expect, module=item.module, src=item.src, sport=self.ephemeral(),
                            dst=item.dst, dport=item.dport, ts=round(self.t, 6),
                            uid="C" + "".join(self.rng.choices(ALPHABET, k=17)),
                            flow_id=self.rng.randrange(1, 2**51))

    # Zeek records
    def _zeek(self, item: EvidenceItem, log: str, after: float, fields: dict[str, object]) -> dict[str, object]:
        row: dict[str, object] = {"ts": round(item.ts + after, 6), "uid": item.uid, "id.orig_h": item.src,
                                  "id.orig_p": item.sport, "id.resp_h": item.dst, "id.resp_p": item.dport}
        row.update(fields)
        item.records.setdefault(log, []).append(row)
        return row

    @staticmethod
    def _site_local(ip: str) -> bool:  # Site::local_nets = RFC 1918
        return ip.startswith(("10.", "192.168.")) or (ip.startswith("172.") and 16 <= int(ip.split(".")[1]) < 32)

    def conn(self, item: EvidenceItem, service: str | None = None, proto: str = "tcp",
             local: str | tuple[bool | None, bool | None] = "site") -> None:
        """A conn.log record; `local` is "site" (local_orig/local_resp from RFC 1918),
        "unset", or the two flags."""
        r = self.rng
        if local == "site":
            flags: tuple[bool | None, bool | None] = (self._site_local(item.src), self._site_local(item.dst))
        elif local == "unset":
            flags = (None, None)
        else:
            flags = local  # type: ignore[assignment]
        tcp = proto == "tcp"
        orig_pkts, resp_pkts = r.randrange(3, 60), r.randrange(2, 80)
        orig_bytes, resp_bytes = r.randrange(100, 9000), r.randrange(0, 90000)
        state = r.choice(("SF", "SF", "SF", "S1", "RSTO")) if tcp else "SF"
        self._zeek(item, "conn", 0.0, {
            "proto": proto, "service": service, "duration": round(r.uniform(0.3, 45.0), 6),
            "orig_bytes": orig_bytes, "resp_bytes": resp_bytes, "conn_state": state,
            "local_orig": flags[0], "local_resp": flags[1], "missed_bytes": 0,
            "history": ("ShADadFf" if state == "SF" else "ShADad") if tcp else "Dd",
            "orig_pkts": orig_pkts, "orig_ip_bytes": orig_bytes + 40 * orig_pkts,
            "resp_pkts": resp_pkts, "resp_ip_bytes": resp_bytes + 40 * resp_pkts,
            "tunnel_parents": None, "ip_proto": 6 if tcp else 17,
        })

    def http(self, item: EvidenceItem, method: str, uri: str, host: str | None, status: int = 200,
             after: float = 0.12, depth: int = 1, password: bool = False) -> None:
        r = self.rng
        messages = {200: "OK", 301: "Moved Permanently", 400: "Bad Request", 404: "Not Found",
                    407: "Proxy Authentication Required"}
        connect = method.upper() == "CONNECT"
        self._zeek(item, "http", after, {
            "trans_depth": depth, "method": method, "host": host, "uri": uri, "referrer": None,
            "version": "1.1" if r.random() < 0.9 else "1.0", "user_agent": r.choice(_USER_AGENTS),
            "origin": None, "request_body_len": 0, "response_body_len": 0 if connect else r.randrange(0, 50000),
            "status_code": status,
            "status_msg": "Connection established" if connect and status == 200 else messages.get(status, "OK"),
            "info_code": None, "info_msg": None, "tags": [],
            "username": f"user{self.number()}" if password else None,
            "password": self.secret(item) if password else None,
            "proxied": None, "orig_fuids": None, "orig_filenames": None, "orig_mime_types": None,
            "resp_fuids": None if connect else [f"F{''.join(r.choices(ALPHABET, k=17))}"],
            "resp_filenames": None, "resp_mime_types": None if connect else ["text/html"],
        })

    def ssl(self, item: EvidenceItem, server_name: str | None, after: float = 0.25) -> None:
        r = self.rng
        tls13 = r.random() < 0.7
        self._zeek(item, "ssl", after, {
            "version": "TLSv13" if tls13 else "TLSv12",
            "cipher": "TLS_AES_128_GCM_SHA256" if tls13 else "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "curve": "x25519", "server_name": server_name, "resumed": False, "last_alert": None,
            "next_protocol": r.choice(("h2", "http/1.1", None)), "established": True,
            "ssl_history": "CsiI" if tls13 else "CsxknGIi", "cert_chain_fps": None,
            "client_cert_chain_fps": None, "sni_matches_cert": None if tls13 else True,
        })

    def socks(self, item: EvidenceItem, version: int, host: str | None, name: str | None, port: int,
              user: str | None = None, password: bool = False, after: float = 0.05) -> None:
        r = self.rng
        status = r.choice(("succeeded", "succeeded", "succeeded", "general SOCKS server failure",
                           "connection refused")) if version == 5 else r.choice(("succeeded", "rejected"))
        self._zeek(item, "socks", after, {
            "version": version, "user": user, "password": self.secret(item) if password else None,
            "status": status, "request.host": host, "request.name": name, "request_p": port,
            "bound.host": item.dst if version == 5 else "0.0.0.0", "bound.name": None,
            "bound_p": r.randrange(1024, 65536) if version == 5 else 0,
        })

    def tunnel(self, item: EvidenceItem, tunnel_type: str, action: str = "Tunnel::DISCOVER",
               after: float = 0.02, orig_p: int = 0) -> None:
        row = self._zeek(item, "tunnel", after, {"tunnel_type": tunnel_type, "action": action})
        row["uid"], row["id.orig_p"] = None, orig_p

    def close(self, item: EvidenceItem, tunnel_type: str) -> None:
        self.tunnel(item, tunnel_type, "Tunnel::CLOSE", after=round(self.rng.uniform(30, 90), 6))

    # eve events
    def flow(self, item: EvidenceItem, app_proto: str | None, http: dict | None = None, tls: dict | None = None,
             alert: bool = False, flow_event: bool = True, proto: str = "TCP", more_http: tuple = ()) -> None:
        """The eve events of one flow, all client to server: a tls and an http event,
        an alert (with the http metadata Suricata adds), and the flow event at its end."""
        r = self.rng
        offset = r.choice((0, 0, -6, 1))
        duration = round(r.uniform(0.3, 40.0), 6)
        stats = {"pkts_toserver": r.randrange(3, 60), "pkts_toclient": r.randrange(2, 80),
                 "bytes_toserver": r.randrange(200, 9000), "bytes_toclient": r.randrange(0, 90000),
                 "start": _eve_time(item.ts, offset)}
        events = item.records.setdefault("eve", [])

        def event(after: float, event_type: str, **body: object) -> None:
            head = {"timestamp": _eve_time(item.ts + after, offset), "flow_id": item.flow_id, "in_iface": "eth0",
                    "event_type": event_type, "src_ip": _expand(item.src), "src_port": item.sport,
                    "dest_ip": _expand(item.dst), "dest_port": item.dport, "proto": proto}
            events.append((item.ts + after, {**head, **body}))

        if tls is not None:
            event(0.08, "tls", tls=tls)
        if http is not None:
            event(0.11, "http", tx_id=0, http=http)
        for tx_id, later in enumerate(more_http, 1):
            event(0.11 + 1.5 * tx_id, "http", tx_id=tx_id, http=later)
        if alert:
            body: dict[str, object] = {"alert": {
                "action": "allowed", "gid": 1, "signature_id": 2_010_000 + r.randrange(1000), "rev": 3,
                "signature": "ET POLICY Possible proxy use", "category": "Potential Corporate Privacy Violation",
                "severity": 2}, "app_proto": app_proto or "failed", "flow": dict(stats)}
            if http is not None:
                body["http"] = dict(http)
            event(0.13, "alert", **body)
        if flow_event:
            event(duration + 30, "flow", app_proto=app_proto or "failed", flow=dict(
                stats, end=_eve_time(item.ts + duration, offset), age=int(duration), state="closed",
                reason="timeout", alerted=alert))

    @staticmethod
    def eve_http(method: str, url: str, hostname: str | None, status: int = 200) -> dict[str, object]:
        http: dict[str, object] = {"hostname": hostname, "url": url, "http_user_agent": _USER_AGENTS[0],
                                   "http_method": method, "protocol": "HTTP/1.1", "status": status, "length": 0}
        if hostname is None:
            del http["hostname"]
        return http

    @staticmethod
    def eve_tls(sni: str | None) -> dict[str, object]:
        return {"sni": sni, "version": "TLS 1.3"} if sni else {"version": "TLS 1.2"}


# The cases: each takes the builder and returns its connections (one, or two that share
# endpoints). Labels starting "HIT" alert under some profile, "trap" and "background" never.

def _x_web_tls(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("background: TLS to the Internet on 443", Expect(), b.internal, b.public, 443)
    b.conn(it, "ssl")
    b.ssl(it, b.name("www"))
    return [it]


def _x_web_http(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("background: HTTP to the Internet on 80 or 8000", Expect(), b.internal, b.public, b.choice((80, 8000)))
    b.conn(it, "http")
    b.http(it, "GET", "/index.html", b.name("www"))
    return [it]


def _x_origin_form_mentions_http(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("trap: origin-form URI with http:// in its query", Expect(), b.internal, b.public, 80)
    b.conn(it, "http")
    b.http(it, "GET", f"/redirect?to=http://{b.name('elsewhere')}/x", b.name("www"), status=301)
    return [it]


def _x_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT: proxy port, conn record only", Expect(port=_ALL, plain=_ALL), b.internal, b.public,
               b.choice(PROXY_PORTS))
    b.conn(it)
    return [it]


def _x_proxy_port_tls(b: _EvidenceBuilder) -> list[EvidenceItem]:
    sni = b.name("api") if b.chance(0.75) else None
    it = b.new("HIT: proxy port with TLS (SNI or none)", Expect(port=_ALL, plain=_ALL, evidence=("tls",), domain=sni),
               b.internal, b.public, b.choice((3128, 8080)))
    b.conn(it, "ssl")
    b.ssl(it, sni)
    return [it]


def _x_proxy_port_http(b: _EvidenceBuilder) -> list[EvidenceItem]:
    host = b.name("intranet") if b.chance(0.8) else None
    it = b.new("HIT: proxy port with origin-form HTTP", Expect(port=_ALL, plain=_ALL, evidence=("http",), domain=host),
               b.internal, b.public, b.choice((3128, 8080)))
    b.conn(it, "http")
    b.http(it, "GET", "/status", host)
    return [it]


def _x_proxy_port_http_tls(b: _EvidenceBuilder) -> list[EvidenceItem]:
    host, sni = b.name("web"), b.name("tls")
    it = b.new("HIT: proxy port with HTTP and TLS (TLS names it)",
               Expect(port=_ALL, plain=_ALL, evidence=("http", "tls"), domain=sni), b.internal, b.public, 8080)
    b.conn(it, "ssl,http")
    b.http(it, "GET", "/", host, after=0.1)
    b.ssl(it, sni, after=0.3)
    return [it]


_SOCKS_PORTS = (9050, 1081, 8124, 4145, 9150)
_ON_ANY_PORT = Expect(port=_SOCKS_BRANCH, protocol=_ALL, plain=_SOCKS_BRANCH)  # a socks record, internal -> Internet


def _socks_tunnel(b: _EvidenceBuilder, it: EvidenceItem, p: float = 0.5) -> None:
    if b.chance(p):
        b.tunnel(it, "Tunnel::SOCKS")
        if b.chance(0.5):
            b.close(it, "Tunnel::SOCKS")


def _x_socks_name(b: _EvidenceBuilder) -> list[EvidenceItem]:
    name = b.name("osnews")
    it = b.new("HIT: SOCKS5 by name on a non-proxy port",
               replace(_ON_ANY_PORT, evidence=("socks",), domain=name), b.internal, b.public, b.choice(_SOCKS_PORTS))
    b.conn(it, "socks")
    login = b.chance(0.4)
    b.socks(it, 5, None, name, b.choice((80, 443)), user=f"u{b.number()}" if login else None, password=login)
    _socks_tunnel(b, it)
    return [it]


def _x_socks_http(b: _EvidenceBuilder) -> list[EvidenceItem]:
    name = b.name("news")
    it = b.new("HIT: SOCKS5 by name with HTTP inside (SOCKS names it)",
               replace(_ON_ANY_PORT, evidence=("http", "socks"), domain=name), b.internal, b.public,
               b.choice(_SOCKS_PORTS))
    b.conn(it, "socks,http")
    b.socks(it, 5, None, name, 80)
    b.http(it, "GET", "/", f"www.{name}", after=0.3)
    _socks_tunnel(b, it)
    return [it]


def _x_socks_tls(b: _EvidenceBuilder) -> list[EvidenceItem]:
    name, sni = b.name("front"), b.name("hidden")
    it = b.new("HIT: SOCKS5 by name with TLS inside (SOCKS names it)",
               replace(_ON_ANY_PORT, evidence=("socks", "tls"), domain=name), b.internal, b.public,
               b.choice(_SOCKS_PORTS))
    b.conn(it, "socks,ssl")
    login = b.chance(0.3)
    b.socks(it, 5, None, name, 443, user="proxyuser" if login else None, password=login)
    b.ssl(it, sni, after=0.4)
    _socks_tunnel(b, it)
    return [it]


def _x_socks_address_http(b: _EvidenceBuilder) -> list[EvidenceItem]:
    host = b.name("site")
    it = b.new("HIT: SOCKS5 by address with HTTP inside (the Host header names it)",
               replace(_ON_ANY_PORT, evidence=("http", "socks"), domain=host), b.internal, b.public,
               b.choice(_SOCKS_PORTS))
    b.conn(it, "socks,http")
    b.socks(it, 5, b.public(), None, 80)
    b.http(it, "GET", "/news", host, after=0.3)
    _socks_tunnel(b, it, 0.3)
    return [it]


def _x_socks4_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT: SOCKS4 by address on 1080",
               Expect(port=_ALL, protocol=_ALL, plain=_ALL, evidence=("socks",)), b.internal, b.public, 1080)
    b.conn(it, "socks")
    b.socks(it, 4, b.public(), None, b.choice((80, 25, 6667)), user=b.choice((None, "root", "bob")))
    _socks_tunnel(b, it, 0.3)
    return [it]


def _x_socks4a_name(b: _EvidenceBuilder) -> list[EvidenceItem]:
    name = b.name("irc")
    it = b.new("HIT: SOCKS4a by name on a non-proxy port",
               replace(_ON_ANY_PORT, evidence=("socks",), domain=name), b.internal, b.public, b.choice(_SOCKS_PORTS))
    b.conn(it, "socks")
    b.socks(it, 4, None, name, 6667, user="nobody")
    return [it]


def _x_socks_v6_target(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT: SOCKS5 to an IPv6 target address (no domain)",
               replace(_ON_ANY_PORT, evidence=("socks",)), b.internal, b.public, b.choice(_SOCKS_PORTS))
    b.conn(it, "socks")
    b.socks(it, 5, b.global6(), None, 443)
    return [it]


def _x_mixed_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    """A mixed-port proxy (SOCKS5 and HTTP CONNECT on one port, as Clash's 7890): two
    connections of the same endpoints, each with its tunnel record; tunnel records join
    by endpoints, so each alert lists both kinds."""
    label = "HIT: mixed-port proxy, SOCKS and CONNECT to the same server port (tunnels join both)"
    name, target = b.name("mixed"), b.name("mixed-target")
    both = ("http-connect", "socks")
    first = b.new(label, replace(_ON_ANY_PORT, evidence=both, domain=name), b.internal, b.public, 7890)
    b.conn(first, "socks")
    b.socks(first, 5, None, name, 443)
    b.tunnel(first, "Tunnel::SOCKS")
    second = b.again(first, label, Expect(protocol=_ALL, evidence=both, domain=target), later=3.0)
    b.conn(second, "http")
    b.http(second, "CONNECT", f"{target}:443", None)
    b.tunnel(second, "Tunnel::HTTP")
    return [first, second]


def _x_socks_no_conn(b: _EvidenceBuilder) -> list[EvidenceItem]:
    name = b.name("lost") if b.chance(0.5) else None
    it = b.new("HIT: socks record on 1080 and no conn record (v2/v3 read socks logs only with --evidence)",
               Expect(port=_ALL, protocol=_ALL, plain=_SOCKS_BRANCH, evidence=("socks",), domain=name),
               b.internal, b.public, 1080)
    b.socks(it, 5, None if name else b.public(), name, 443)
    return [it]


def _x_socks_private(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("trap: SOCKS private to private with a captured password", Expect(),
               lambda: f"192.168.{b.rng.randrange(256)}.{b.rng.randrange(2, 255)}",
               lambda: f"192.168.{b.rng.randrange(256)}.1", 1080)
    b.conn(it, "socks")
    b.socks(it, 5, it.src, None, 22, user="bob", password=True)
    b.tunnel(it, "Tunnel::SOCKS")
    return [it]


def _x_socks_inbound(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("trap: SOCKS from an Internet client to our server on 1080", Expect(), b.public, b.internal, 1080)
    b.conn(it, "socks")
    b.socks(it, 5, None, b.name("abuse"), 25, user="guest", password=b.chance(0.5))
    b.tunnel(it, "Tunnel::SOCKS")
    return [it]


def _x_socks_ula(b: _EvidenceBuilder) -> list[EvidenceItem]:
    name = b.name("v6only")
    it = b.new("HIT strict: SOCKS5 from an IPv6 unique-local source",
               Expect(port=_STRICT, protocol=_STRICT, plain=_STRICT, evidence=("socks",), domain=name),
               b.ula, b.global6, b.choice(_SOCKS_PORTS))
    b.conn(it, "socks", local=b.choice(("unset", (True, False))))
    b.socks(it, 5, None, name, 443)
    return [it]


def _x_socks_link_local(b: _EvidenceBuilder) -> list[EvidenceItem]:
    name = b.name("meta")
    it = b.new("HIT v2-v4: SOCKS5 to a link-local or multicast destination",
               Expect(port=frozenset(("elastic-v4",)), protocol=_UP_TO_V4, plain=frozenset(("elastic-v4",)),
                      evidence=("socks",), domain=name), b.internal, b.link_local_or_multicast, 1081)
    b.conn(it, "socks")
    b.socks(it, 5, None, name, 80)
    return [it]


def _x_socks_strict_only(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT not strict: SOCKS4 to a CGNAT, benchmarking or documentation destination",
               Expect(port=frozenset(("elastic-v4", "elastic-v6")), protocol=_NOT_STRICT,
                      plain=frozenset(("elastic-v4", "elastic-v6")), evidence=("socks",)),
               b.internal, b.strict_only, 1081)
    b.conn(it, "socks")
    b.socks(it, 4, b.public(), None, 80)
    return [it]


_CONNECT_PORTS = (8888, 8118, 8000, 8081, 9000)


def _connect(b: _EvidenceBuilder, label: str, port: int | Callable[[], int], rule: Expect,
             src: Callable[[], str] | None = None, dst: Callable[[], str] | None = None,
             method: str = "CONNECT", target: str | None = None, domain: str | None = "target",
             tls: float = 0.6, local: str | tuple = "site", service: str = "http") -> list[EvidenceItem]:
    """An HTTP CONNECT through a proxy: the http.log record, often the TLS inside (the
    same uid), sometimes a Tunnel::HTTP record."""
    name = b.name("target")
    uri = target or f"{name}:443"
    sni = (name if b.chance(0.5) else b.name("inner")) if b.chance(tls) else None
    found = name if domain == "target" else domain
    if domain is None:  # no CONNECT target: the TLS server name is next
        found = sni
    it = b.new(label, replace(rule, evidence=_kinds("http-connect", "tls" if sni else None), domain=found),
               src or b.internal, dst or b.public, port() if callable(port) else port)
    b.conn(it, service + (",ssl" if sni else ""), local=local)
    host = b.choice((None, None, f"{name}:443", b.name("proxyhost"))) if domain == "target" else None
    b.http(it, method, uri, host, status=200 if domain else 400, password=b.chance(0.2))
    if sni:
        b.ssl(it, sni, after=0.4)
    if b.chance(0.5):
        b.tunnel(it, "Tunnel::HTTP")
        if b.chance(0.3):
            b.close(it, "Tunnel::HTTP")
    return [it]


_ANY_PORT = Expect(protocol=_ALL)  # a CONNECT or proxy request, internal -> Internet, on a non-proxy port
_PROXY_PORT = Expect(port=_ALL, protocol=_ALL, plain=_ALL)


def _x_connect(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT: HTTP CONNECT on a non-proxy port", lambda: b.choice(_CONNECT_PORTS), _ANY_PORT)


def _x_connect_443(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT: HTTP CONNECT on 443", 443, _ANY_PORT)


def _x_connect_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT: HTTP CONNECT on a proxy port", lambda: b.choice((3128, 8080)), _PROXY_PORT)


def _x_connect_http_inside(b: _EvidenceBuilder) -> list[EvidenceItem]:
    name = b.name("plain")
    it = b.new("HIT: CONNECT to port 80 with plain HTTP inside (the CONNECT target names it)",
               Expect(protocol=_ALL, evidence=("http", "http-connect"), domain=name), b.internal, b.public, 8118)
    b.conn(it, "http")
    b.http(it, "CONNECT", f"{name}:80", None)
    b.http(it, "GET", "/", f"www.{name}", after=0.5, depth=2)
    return [it]


def _x_connect_lower(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT: lower-case connect on a non-proxy port", 8888, _ANY_PORT, method="connect")


def _x_connect_junk(b: _EvidenceBuilder) -> list[EvidenceItem]:
    mail = b.name("mailin")
    return _connect(b, "HIT: CONNECT target with trailing junk (host:25 /)", lambda: b.choice((8240, 8888)), _ANY_PORT,
                    target=f"{mail}:25 /", domain=mail, tls=0.0, service="http,smtp")


def _x_connect_v6_literal(b: _EvidenceBuilder) -> list[EvidenceItem]:
    literal = f"2001:db8::{b.rng.randrange(1, 65536):x}"
    return _connect(b, "HIT: CONNECT to an IPv6 literal [v6]:443", 8888, _ANY_PORT,
                    target=f"[{literal}]:443", domain=literal)


def _x_connect_bad_target(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT: CONNECT target not host:port (no domain from it; TLS or none)", 8118, _ANY_PORT,
                    target=b.choice(("garbage", f"relay{b.number()}.example.com", "/")), domain=None, tls=0.5)


def _x_connect_public(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "trap: CONNECT public to public (as Zeek's own trace)", 8240, Expect(), src=b.public,
                    local=(False, True), service="http,smtp")


def _x_connect_v2_outbound(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT v2: CONNECT from a public source Zeek marks outbound, on 8080", 8080,
                    Expect(port=_V2, plain=_V2), src=b.public, local=(True, False))


def _x_connect_internal_proxy(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "trap: CONNECT to an internal proxy", 3128, Expect(), dst=b.internal, tls=0.8)


def _x_connect_link_local(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT v2-v4: CONNECT to link-local or multicast on a non-proxy port", 80,
                    Expect(protocol=_UP_TO_V4), dst=b.link_local_or_multicast)


def _x_connect_link_local_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT v2-v4: CONNECT to link-local or multicast on a proxy port", 8080,
                    Expect(port=_UP_TO_V4, protocol=_UP_TO_V4, plain=_UP_TO_V4), dst=b.link_local_or_multicast)


def _x_connect_ula(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT strict: CONNECT from an IPv6 unique-local source", 443, Expect(protocol=_STRICT),
                    src=b.ula, dst=b.global6, local="unset")


def _x_connect_ula_documentation(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "trap: CONNECT from unique-local to documentation IPv6 (2001:db8::/32)", 443, Expect(),
                    src=b.ula, dst=b.documentation6, local="unset")


def _x_connect_strict_only(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _connect(b, "HIT not strict: CONNECT to a CGNAT, benchmarking or documentation destination", 8888,
                    Expect(protocol=_NOT_STRICT), dst=b.strict_only)


def _absolute(b: _EvidenceBuilder, label: str, port: int, rule: Expect,
              dst: Callable[[], str] | None = None, second: bool = False) -> list[EvidenceItem]:
    site = b.name("site")
    authority = site if port in (80, *PROXY_PORTS) or b.chance(0.5) else f"{site}:8081"
    it = b.new(label, replace(rule, evidence=("http-proxy-request",), domain=site), b.internal, dst or b.public, port)
    b.conn(it, "http")
    b.http(it, "GET", f"http://{authority}/path/{b.number()}?q=1", site, password=b.chance(0.2))
    if second:
        other = b.name("later")
        b.http(it, "GET", f"http://{other}/", other, after=2.5, depth=2)
    return [it]


def _x_absolute_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _absolute(b, "HIT: absolute-form request on a proxy port (the earliest names it)",
                     b.choice((3128, 8080)), _PROXY_PORT, second=b.chance(0.5))


def _x_absolute_other_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _absolute(b, "HIT: absolute-form request on a non-proxy port", b.choice((80, 8000, 8081, 8888)), _ANY_PORT)


def _x_origin_then_absolute(b: _EvidenceBuilder) -> list[EvidenceItem]:
    status, site = b.name("proxy-status"), b.name("fetched")
    it = b.new("HIT: origin-form request, then absolute-form, on 3128 (the later absolute one names it)",
               replace(_PROXY_PORT, evidence=("http", "http-proxy-request"), domain=site), b.internal, b.public, 3128)
    b.conn(it, "http")
    b.http(it, "GET", "/squid-internal-static/icons/silk/bullet_red.png", status)
    b.http(it, "GET", f"http://{site}/", site, after=1.5, depth=2)
    return [it]


def _x_absolute_internal(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _absolute(b, "trap: absolute-form request to an internal proxy", 8080, Expect(), dst=b.internal)


def _x_tunnel_socks_alone(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT: Tunnel::SOCKS alone, conn on a non-proxy port (the tunnel's own alert)",
               Expect(protocol=_ALL, evidence=("socks",), tunnel=True), b.internal, b.public, b.choice(_SOCKS_PORTS))
    b.conn(it)
    b.tunnel(it, "Tunnel::SOCKS")
    if b.chance(0.5):
        b.close(it, "Tunnel::SOCKS")
    return [it]


def _x_tunnel_http_alone(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT: Tunnel::HTTP alone, conn on a non-proxy port (the tunnel's own alert)",
               Expect(protocol=_ALL, evidence=("http-connect",), tunnel=True), b.internal, b.public,
               b.choice(_CONNECT_PORTS))
    b.conn(it)
    b.tunnel(it, "Tunnel::HTTP")
    return [it]


def _x_tunnel_close_alone(b: _EvidenceBuilder) -> list[EvidenceItem]:
    kind = b.choice(("Tunnel::SOCKS", "Tunnel::HTTP"))
    it = b.new("trap: tunnel CLOSE record alone", Expect(), b.internal, b.public, b.choice(_SOCKS_PORTS))
    b.conn(it)
    b.close(it, kind)
    return [it]


def _x_tunnel_twice(b: _EvidenceBuilder) -> list[EvidenceItem]:
    label = "HIT: the same SOCKS tunnel endpoints discovered twice (two alerts)"
    expect = Expect(protocol=_ALL, evidence=("socks",), tunnel=True)
    first = b.new(label, expect, b.internal, b.public, 9050)
    b.conn(first)
    b.tunnel(first, "Tunnel::SOCKS")
    b.close(first, "Tunnel::SOCKS")
    second = b.again(first, label, expect, later=120.0)
    b.conn(second)
    b.tunnel(second, "Tunnel::SOCKS")
    return [first, second]


def _x_tunnel_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT: Tunnel::SOCKS with a conn record on 1080 and no socks record",
               Expect(port=_ALL, protocol=_ALL, plain=_ALL, evidence=("socks",)), b.internal, b.public, 1080)
    b.conn(it)
    b.tunnel(it, "Tunnel::SOCKS")
    return [it]


def _x_tunnel_link_local(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT v2-v4: Tunnel::HTTP alone to link-local or multicast",
               Expect(protocol=_UP_TO_V4, evidence=("http-connect",), tunnel=True), b.internal,
               b.link_local_or_multicast, 8888)
    b.conn(it)
    b.tunnel(it, "Tunnel::HTTP")
    return [it]


def _x_tunnel_other_types(b: _EvidenceBuilder) -> list[EvidenceItem]:
    kind, port = b.choice((("Tunnel::TEREDO", 3544), ("Tunnel::VXLAN", 4789), ("Tunnel::GTPv1", 2152)))
    it = b.new("trap: Teredo, VXLAN or GTP tunnel to the Internet", Expect(), b.internal, b.public, port)
    b.conn(it, None, proto="udp")
    b.tunnel(it, kind, orig_p=it.sport)
    return [it]


def _x_v2_public_outbound(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT v2: public source Zeek marks outbound, on a proxy port", Expect(port=_V2, plain=_V2),
               b.public, b.public, b.choice(PROXY_PORTS))
    b.conn(it, local=(True, False))
    return [it]


def _x_v2_internal_outbound(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT v2: internal to internal Zeek marks outbound, on a proxy port", Expect(port=_V2, plain=_V2),
               b.internal, b.internal, b.choice(PROXY_PORTS))
    b.conn(it, local=(True, False))
    return [it]


def _x_udp_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("trap: UDP on a proxy port", Expect(), b.internal, b.public, b.choice(PROXY_PORTS))
    b.conn(it, None, proto="udp", local=b.choice(("site", (True, False))))
    return [it]


def _x_ula_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    local = b.choice(("unset", (True, False)))
    profiles = _STRICT | (_V2 if local != "unset" else _NONE)  # v2: outbound, as Zeek marks it
    it = b.new("HIT strict (v2 when marked outbound): IPv6 unique-local source on a proxy port",
               Expect(port=profiles, plain=profiles), b.ula, b.global6, b.choice(PROXY_PORTS))
    b.conn(it, local=local)
    return [it]


def _x_strict_only_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT not strict: proxy port to a CGNAT, benchmarking or documentation destination",
               Expect(port=_NOT_STRICT, plain=_NOT_STRICT), b.internal, b.strict_only, b.choice(PROXY_PORTS))
    b.conn(it)
    return [it]


def _x_link_local_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("HIT v2-v4: proxy port to link-local or multicast", Expect(port=_UP_TO_V4, plain=_UP_TO_V4),
               b.internal, b.link_local_or_multicast, b.choice(PROXY_PORTS))
    b.conn(it)
    return [it]


def _x_internal_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("trap: internal to internal on a proxy port", Expect(), b.internal, b.internal, b.choice(PROXY_PORTS))
    b.conn(it, "http")
    b.http(it, "GET", f"http://{b.name('intranet')}/", None)  # through the site's own proxy
    return [it]


def _x_proxy_port_as_source(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("trap: proxy port as the source port", Expect(), b.internal, b.public, 443)
    it.sport = b.choice(PROXY_PORTS)
    b.conn(it, "ssl")
    b.ssl(it, b.name("www"))
    return [it]


def _x_inbound_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("trap: Internet client to our proxy port", Expect(), b.public, b.internal, b.choice(PROXY_PORTS))
    b.conn(it, "http")
    b.http(it, "GET", f"http://{b.name('scan')}/", None, status=407)
    return [it]


# eve flows

def _e_tls(b: _EvidenceBuilder) -> list[EvidenceItem]:
    sni = b.name("eve-api") if b.chance(0.75) else None
    it = b.new("eve HIT: proxy port with a tls event", Expect(port=_ALL, plain=_ALL, evidence=("tls",), domain=sni),
               b.internal, b.public, b.choice(PROXY_PORTS), module="suricata")
    b.flow(it, "tls", tls=b.eve_tls(sni), alert=b.chance(0.5))
    return [it]


def _e_http(b: _EvidenceBuilder) -> list[EvidenceItem]:
    host = b.name("eve-web") if b.chance(0.8) else None
    it = b.new("eve HIT: proxy port with an origin-form http event",
               Expect(port=_ALL, plain=_ALL, evidence=("http",), domain=host),
               b.internal, b.public, b.choice(PROXY_PORTS), module="suricata")
    b.flow(it, "http", http=b.eve_http("GET", "/login", host), alert=b.chance(0.5))
    return [it]


def _e_connect(b: _EvidenceBuilder, label: str, port: int, rule: Expect,
               src: Callable[[], str] | None = None, dst: Callable[[], str] | None = None,
               method: str = "CONNECT") -> list[EvidenceItem]:
    name = b.name("eve-target")
    sni = (name if b.chance(0.5) else b.name("eve-inner")) if b.chance(0.5) else None
    it = b.new(label, replace(rule, evidence=_kinds("http-connect", "tls" if sni else None), domain=name),
               src or b.internal, dst or b.public, port, module="suricata")
    b.flow(it, "http", http=b.eve_http(method, f"{name}:443", name),
           tls=b.eve_tls(sni) if sni else None, alert=b.chance(0.3))
    return [it]


def _e_connect_other_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _e_connect(b, "eve HIT: CONNECT on a non-proxy port", b.choice((8888, 443, 8118)), _ANY_PORT)


def _e_connect_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _e_connect(b, "eve HIT: CONNECT on a proxy port", b.choice((3128, 8080)), _PROXY_PORT)


def _e_connect_lower(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _e_connect(b, "eve HIT: lower-case connect on a non-proxy port", 8888, _ANY_PORT, method="connect")


def _e_connect_public(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _e_connect(b, "eve trap: CONNECT public to public", 8240, Expect(), src=b.public)


def _e_connect_link_local(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _e_connect(b, "eve HIT v2-v4: CONNECT to link-local or multicast on a non-proxy port", 80,
                      Expect(protocol=_UP_TO_V4), dst=b.link_local_or_multicast)


def _e_connect_ula(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _e_connect(b, "eve HIT strict: CONNECT from an IPv6 unique-local source", 443, Expect(protocol=_STRICT),
                      src=b.ula, dst=b.global6)


def _e_connect_internal(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _e_connect(b, "eve trap: CONNECT to an internal proxy", 3128, Expect(), dst=b.internal)


def _e_absolute(b: _EvidenceBuilder, label: str, port: int, rule: Expect) -> list[EvidenceItem]:
    site = b.name("eve-site")
    it = b.new(label, replace(rule, evidence=("http-proxy-request",), domain=site), b.internal, b.public, port,
               module="suricata")
    later = b.name("eve-later")
    more = (b.eve_http("GET", f"http://{later}/", later),) if b.chance(0.5) else ()  # keep-alive: the earliest names it
    b.flow(it, "http", http=b.eve_http("GET", f"http://{site}/download/{b.number()}.bin", site), alert=b.chance(0.3),
           more_http=more)
    return [it]


def _e_absolute_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _e_absolute(b, "eve HIT: absolute-form request on a proxy port", 8080, _PROXY_PORT)


def _e_absolute_other_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    return _e_absolute(b, "eve HIT: absolute-form request on a non-proxy port", b.choice((80, 8000)), _ANY_PORT)


def _e_tls_only_open(b: _EvidenceBuilder) -> list[EvidenceItem]:
    sni = b.name("eve-open")
    it = b.new("eve HIT: tls event only, on a proxy port (the flow still open)",
               Expect(port=_ALL, plain=_ALL, evidence=("tls",), domain=sni), b.internal, b.public,
               b.choice(PROXY_PORTS), module="suricata")
    b.flow(it, "tls", tls=b.eve_tls(sni), flow_event=False)
    return [it]


def _e_tls_background(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("eve background: TLS to the Internet on 443", Expect(), b.internal, b.public, 443, module="suricata")
    b.flow(it, "tls", tls=b.eve_tls(b.name("eve-www")), flow_event=b.chance(0.5))
    return [it]


def _e_dns(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("eve background: DNS", Expect(), b.internal, lambda: b.choice(("8.8.8.8", "1.1.1.1", "9.9.9.9")), 53,
               module="suricata")
    b.flow(it, "dns", proto="UDP")
    events = it.records["eve"]
    at, flow = events[-1]
    dns = {k: v for k, v in flow.items() if k not in ("app_proto", "flow")}
    dns.update(timestamp=_eve_time(it.ts + 0.001, 0), event_type="dns",
               dns={"type": "query", "id": b.rng.randrange(65536), "rrname": b.name("lookup"), "rrtype": "A",
                    "tx_id": 0})
    events.insert(0, (it.ts + 0.001, dns))
    return [it]


def _e_udp_proxy_port(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("eve trap: UDP on a proxy port", Expect(), b.internal, b.public, b.choice(PROXY_PORTS),
               module="suricata")
    b.flow(it, None, proto="UDP")
    return [it]


def _e_origin_form_mentions_http(b: _EvidenceBuilder) -> list[EvidenceItem]:
    it = b.new("eve trap: origin-form URL with http:// in its query", Expect(), b.internal, b.public, 80,
               module="suricata")
    host = b.name("eve-www")
    b.flow(it, "http", http=b.eve_http("GET", f"/out?u=http://{b.name('eve-x')}/", host))
    return [it]


#: (maker, weight): background heavy, every hit and trap kind present.
_EVIDENCE_CASES: tuple[tuple[Callable[[_EvidenceBuilder], list[EvidenceItem]], int], ...] = (
    (_x_web_tls, 40), (_x_web_http, 30), (_x_origin_form_mentions_http, 4),
    (_x_proxy_port, 6), (_x_proxy_port_tls, 6), (_x_proxy_port_http, 5), (_x_proxy_port_http_tls, 3),
    (_x_socks_name, 6), (_x_socks_http, 4), (_x_socks_tls, 4), (_x_socks_address_http, 3),
    (_x_socks4_proxy_port, 4), (_x_socks4a_name, 2), (_x_socks_v6_target, 2), (_x_mixed_port, 2),
    (_x_socks_no_conn, 3), (_x_socks_private, 4), (_x_socks_inbound, 3),
    (_x_socks_ula, 3), (_x_socks_link_local, 3), (_x_socks_strict_only, 3),
    (_x_connect, 6), (_x_connect_443, 4), (_x_connect_proxy_port, 4), (_x_connect_http_inside, 3),
    (_x_connect_lower, 3),
    (_x_connect_junk, 3), (_x_connect_v6_literal, 2), (_x_connect_bad_target, 3), (_x_connect_public, 4),
    (_x_connect_v2_outbound, 3), (_x_connect_internal_proxy, 5), (_x_connect_link_local, 3),
    (_x_connect_link_local_proxy_port, 2), (_x_connect_ula, 3), (_x_connect_ula_documentation, 2),
    (_x_connect_strict_only, 3),
    (_x_absolute_proxy_port, 4), (_x_absolute_other_port, 4), (_x_origin_then_absolute, 3), (_x_absolute_internal, 3),
    (_x_tunnel_socks_alone, 4), (_x_tunnel_http_alone, 3), (_x_tunnel_close_alone, 3), (_x_tunnel_twice, 2),
    (_x_tunnel_proxy_port, 3), (_x_tunnel_link_local, 2), (_x_tunnel_other_types, 3),
    (_x_v2_public_outbound, 3), (_x_v2_internal_outbound, 3), (_x_udp_proxy_port, 4), (_x_ula_proxy_port, 3),
    (_x_strict_only_proxy_port, 3), (_x_link_local_proxy_port, 3), (_x_internal_proxy_port, 5),
    (_x_proxy_port_as_source, 3), (_x_inbound_proxy_port, 3),
    (_e_tls, 5), (_e_http, 4), (_e_connect_other_port, 5), (_e_connect_proxy_port, 3), (_e_connect_lower, 2),
    (_e_connect_public, 3), (_e_connect_link_local, 2), (_e_connect_ula, 2), (_e_connect_internal, 3),
    (_e_absolute_proxy_port, 3), (_e_absolute_other_port, 3), (_e_tls_only_open, 3), (_e_tls_background, 20),
    (_e_dns, 15), (_e_udp_proxy_port, 3), (_e_origin_form_mentions_http, 3),
)


def evidence_items(connections: int = 400, seed: int = 11) -> list[EvidenceItem]:
    """The labelled connections of a sensor folder: every case once first, then cases
    drawn by weight, until `connections` were drawn (a case may give two)."""
    b = _EvidenceBuilder(seed)
    weights = [w for _, w in _EVIDENCE_CASES]
    items: list[EvidenceItem] = []
    for i in range(connections):
        maker = _EVIDENCE_CASES[i][0] if i < len(_EVIDENCE_CASES) else b.rng.choices(_EVIDENCE_CASES, weights)[0][0]
        items.extend(maker(b))
    return items


def _zeek_tsv_cell(value: object, kind: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "T" if value else "F"
    if kind in ("time", "interval"):
        return f"{value:.6f}"
    if isinstance(value, list):
        return ",".join(map(str, value)) if value else "(empty)"
    return str(value) if value != "" else "(empty)"


def _write_zeek_log(path: Path, log: str, rows: list[dict[str, object]], zeek_format: str) -> None:
    fields = ZEEK_LOGS[log]
    with open(path, "w") as out:
        if zeek_format == "tsv":
            out.write(f"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
                      f"#path\t{log}\n#open\t2026-11-27-10-00-00\n")
            out.write("#fields\t" + "\t".join(f for f, _ in fields) + "\n")
            out.write("#types\t" + "\t".join(t for _, t in fields) + "\n")
            for row in rows:
                out.write("\t".join(_zeek_tsv_cell(row.get(f), t) for f, t in fields) + "\n")
            out.write("#close\t2026-11-27-11-00-00\n")
        else:  # Zeek JSON lines: unset fields omitted
            for row in rows:
                record: dict[str, object] = {"_path": log}
                record.update({f: row[f] for f, _ in fields if row.get(f) is not None})
                out.write(json.dumps(record, separators=(",", ":")) + "\n")


def write_evidence_folder(directory: Path, connections: int = 400, seed: int = 11, zeek_format: str = "tsv") -> None:
    """A sensor folder for --evidence: conn.log, http.log, ssl.log, socks.log,
    tunnel.log (Zeek TSV or JSON, as `zeek_format` says) and eve.json, holding the
    connections of `evidence_items(connections, seed)`."""
    if zeek_format not in ("tsv", "json"):
        raise ValueError(f"zeek_format must be tsv or json, not {zeek_format!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    items = evidence_items(connections, seed)
    for log in ZEEK_LOGS:
        rows = sorted((row for it in items for row in it.records.get(log, ())), key=lambda row: row["ts"])
        _write_zeek_log(directory / f"{log}.log", log, rows, zeek_format)
    events = sorted((e for it in items for e in it.records.get("eve", ())), key=lambda e: e[0])
    with open(directory / "eve.json", "w") as out:
        for _, event in events:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")


def evidence_summary(items: list[EvidenceItem]) -> str:
    """Expected alerts per profile, with and without --evidence, as the labels say."""
    lines = []
    for profile in EVIDENCE_PROFILES:
        port = sum(it.expect.rule(profile, True) == PORT_RULE for it in items)
        protocol = sum(it.expect.rule(profile, True) == PROTOCOL_RULE for it in items)
        plain = sum(it.expect.rule(profile, False) == PORT_RULE for it in items)
        lines.append(f"{profile}: --evidence {port} port + {protocol} protocol alerts; without {plain}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, nargs="?")
    parser.add_argument("--rows", type=int, help="write large files of this many rows instead of the fixtures")
    parser.add_argument("--formats", default="tsv,json,eve", help="with --rows: tsv, json, eve")
    parser.add_argument("--seed", type=int, help="default 7 (with --evidence: 11)")
    parser.add_argument("--evidence", type=Path, metavar="DIR",
                        help="write a sensor folder for --evidence (conn, http, ssl, socks, tunnel, eve) to DIR")
    parser.add_argument("--connections", type=int, default=400, help="with --evidence (default: %(default)s)")
    parser.add_argument("--zeek-format", choices=("tsv", "json"), default="tsv", help="with --evidence")
    parser.add_argument("--mix", action="store_true", help="with --rows: the second benchmark mix")
    args = parser.parse_args()
    if args.evidence is not None:
        seed = 11 if args.seed is None else args.seed
        write_evidence_folder(args.evidence, args.connections, seed, args.zeek_format)
        print(f"{args.evidence}: expected alerts by the labels")
        print(evidence_summary(evidence_items(args.connections, seed)))
        return
    if args.directory is None:
        parser.error("a directory (or --evidence DIR) is required")
    if args.rows is None:
        for name, hits in write_fixtures(args.directory).items():
            print(f"{args.directory / name}: {hits} expected alerts")
        return
    args.directory.mkdir(parents=True, exist_ok=True)
    writers = {"tsv": ("conn.log", write_zeek_tsv), "json": ("conn.json.log", write_zeek_json),
               "eve": ("eve.json", write_eve_mix if args.mix else write_eve)}
    for fmt in args.formats.split(","):
        name, writer = writers[fmt]
        with open(args.directory / name, "w", buffering=1 << 20) as out:
            writer(connections(args.rows, 7 if args.seed is None else args.seed, mix=args.mix), out)  # type: ignore[operator]
        print(args.directory / name)


if __name__ == "__main__":
    main()
