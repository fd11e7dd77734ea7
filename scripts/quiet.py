#!/usr/bin/env python3
"""How quiet allow entries, new terms and suppression make an enterprise day.

Writes a generated day of an enterprise's conn.log (a few hundred hosts; a dozen SaaS
endpoints that answer on 8080, 3128 or 1080 all day; one-off visits; three hosts that
start beaconing to a new server on 8080 in the last two hours), and the week before it
(the same SaaS traffic, for new terms to learn), then counts the alerts of each way of
running the rule, and whether the beacons still alert. Also times loading a state that
holds 100,000 new-terms combinations.

    python scripts/quiet.py               # the table, as text
    python scripts/quiet.py --markdown    # the table, for the README
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAY = 1795737600  # 2026-11-27T00:00:00Z
SAAS = [f"52.{16 + i}.{i * 7 % 250}.{10 + i}" for i in range(12)]
SAAS_PORTS = [8080, 3128, 1080]
BEACONS = [("10.20.3.41", "185.220.101.9"), ("10.20.7.12", "185.220.101.9"), ("10.30.1.5", "91.92.240.17")]


@functools.lru_cache(maxsize=1)  # loaded once, whoever asks
def load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate", ROOT / "scripts" / "generate.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["generate"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def enterprise(start: float, days: int, seed: int, beacons: bool) -> list:
    """The hits of `days` days from `start`: SaaS repeaters, one-offs and (today) beacons.
    The same `seed` gives the same hosts and SaaS users; `start` the traffic and uids."""
    gen, rng = load_generator(), random.Random(seed)
    hosts = [f"10.{rng.choice([10, 20, 30])}.{rng.randint(0, 15)}.{rng.randint(2, 250)}" for _ in range(300)]
    users = [(host, rng.choice(range(len(SAAS)))) for host in rng.sample(hosts, 60)]
    rng = random.Random(f"{seed} {start}")  # the same people, another day's traffic
    conns: list[tuple[float, str, str, int]] = []
    for day in range(days):
        base = start + day * 86400
        for host, saas in users:  # business hours, every 5 to 15 minutes
            t = base + 8 * 3600 + rng.uniform(0, 600)
            while t < base + 18 * 3600:
                conns.append((t, host, SAAS[saas], SAAS_PORTS[saas % 3]))
                t += rng.uniform(300, 900)
        for _ in range(40):  # one-off visits to proxy ports on the Internet
            conns.append((base + rng.uniform(0, 86400), rng.choice(hosts),
                          f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                          rng.choice(SAAS_PORTS)))
        if beacons and day == days - 1:
            for host, c2 in BEACONS:  # every minute for the last two hours
                conns.extend((base + 22 * 3600 + i * 60 + rng.uniform(0, 5), host, c2, 8080) for i in range(120))
    conns.sort()
    return [gen.Conn(ts, f"C{int(start)}q{i}", i, src, 40000 + i % 20000, dst, port, "tcp", "ssl", 1.0, 100, 100, 5, 5,
                     "SF", "ShADadFf", True, "enterprise") for i, (ts, src, dst, port) in enumerate(conns)]


def count(argv: list[str]) -> tuple[int, list[str]]:
    """Alerts of a CLI run, and the sources alerted on."""
    out = subprocess.run([sys.executable, "-m", "zeek_proxy", "scan", *argv], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.splitlines()
    return len(out), [line.split('"source":{"ip":"', 1)[1].split('"', 1)[0] for line in out]


def history_load_seconds(directory: Path) -> tuple[float, int]:
    """Seconds to load a state holding 100,000 new-terms combinations, and its size."""
    sys.path.insert(0, str(ROOT))
    from zeek_proxy.core.new_terms import NewTerms, new_terms
    from zeek_proxy.schema import frame_from_rows
    from zeek_proxy.state import State

    rows = [{"@timestamp": (DAY + i) * 1_000_000, "source.ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
             "destination.ip": "8.8.8.8", "destination.port": 8080} for i in range(100_000)]
    state = State(str(directory / "history.state"))
    new_terms(frame_from_rows(rows), NewTerms(("source.ip", "destination.ip")), state.terms)
    state.save()
    start = time.perf_counter()
    State.load(state.path).release()
    return time.perf_counter() - start, (directory / "history.state").stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    gen = load_generator()
    with tempfile.TemporaryDirectory(prefix="zeek-proxy-quiet-") as tmp:
        folder = Path(tmp)
        (folder / "week").mkdir(), (folder / "today").mkdir()
        for name, conns in (("week", enterprise(DAY - 7 * 86400, 7, 1, beacons=False)),
                            ("today", enterprise(DAY, 1, 1, beacons=True))):
            with open(folder / name / "conn.log", "w") as out:
                gen.write_zeek_tsv(conns, out)
        (folder / "saas.txt").write_text("\n".join(SAAS) + "\n")
        today, state = str(folder / "today"), str(folder / "state")
        subprocess.run([sys.executable, "-m", "zeek_proxy", "scan", "--new-terms", "source.ip,destination.ip",
                        "--state", state, "-o", str(folder / "seed.ndjson"), str(folder / "week")], check=True, cwd=ROOT)
        runs = [
            ("the rule alone", []),
            ("allowlist of the 12 SaaS endpoints", ["-a", str(folder / "saas.txt")]),
            ("--suppress-for 1h", ["--suppress-for", "1h"]),
            ("--suppress-for 24h --group-by source.ip,destination.ip", ["--suppress-for", "24h", "--group-by",
                                                                         "source.ip,destination.ip"]),
            ("--new-terms source.ip,destination.ip (learnt last week)", ["--new-terms", "source.ip,destination.ip"]),
            ("new terms, then --suppress-for 1h", ["--new-terms", "source.ip,destination.ip", "--suppress-for", "1h"]),
        ]
        rows, plain = [], None
        for name, extra in runs:
            argv = [*extra, today]
            if "--new-terms" in extra:  # each run from the seeded history, not the previous run's
                copy = folder / "state.copy"
                copy.write_bytes(Path(state).read_bytes())
                argv = [*extra, "--state", str(copy), today]
            alerts, sources = count(argv)
            plain = plain or alerts
            beacons = sum(host in sources for host, _ in BEACONS)
            rows.append([name, f"{alerts:,}", f"{plain / alerts:.0f}x" if alerts else "-", f"{beacons}/3"])
        seconds, size = history_load_seconds(folder)
    header = ["how", "alerts", "quieter", "beaconing hosts alerted"]
    if args.markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        print("\n".join("| " + " | ".join(row) + " |" for row in rows))
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    print(f"\nnew-terms history of 100,000 combinations: {size / 1e6:.1f} MB, loaded in {seconds:.2f} s")


if __name__ == "__main__":
    main()
