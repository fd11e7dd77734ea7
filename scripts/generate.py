#!/usr/bin/env python3
"""Generate synthetic Zeek conn.log (TSV, JSON) and Suricata eve.json full of traps.

Every connection is labelled with whether Elastic's rule (v3) should alert on it, so
tests and benchmarks know the expected answer without trusting the scanner.

    python scripts/generate.py fixtures/            # the bundled fixtures
    python scripts/generate.py --rows 4000000 --formats tsv /tmp/bench/
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Iterator

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


def connections(rows: int, seed: int = 7, every_case_first: bool = False) -> Iterator[Conn]:
    """`rows` connections, reproducible for a seed, each labelled with its verdict.

    With `every_case_first`, the first rows hold one connection of every case (each hit
    kind and each trap), so that even a small file exercises them all.
    """
    rng = random.Random(seed)
    cases = _cases()
    weights = [c[2] for c in cases]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--rows", type=int, help="write large files of this many rows instead of the fixtures")
    parser.add_argument("--formats", default="tsv,json,eve", help="with --rows: tsv, json, eve")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.rows is None:
        for name, hits in write_fixtures(args.directory).items():
            print(f"{args.directory / name}: {hits} expected alerts")
        return
    args.directory.mkdir(parents=True, exist_ok=True)
    writers = {"tsv": ("conn.log", write_zeek_tsv), "json": ("conn.json.log", write_zeek_json),
               "eve": ("eve.json", write_eve)}
    for fmt in args.formats.split(","):
        name, writer = writers[fmt]
        with open(args.directory / name, "w", buffering=1 << 20) as out:
            writer(connections(args.rows, args.seed), out)  # type: ignore[operator]
        print(args.directory / name)


if __name__ == "__main__":
    main()
