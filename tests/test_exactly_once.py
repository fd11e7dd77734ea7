"""Every hit is alerted exactly once, through log rotation, kill -9 and restarts.

A simulated sensor (sensor_sim) writes and rotates Zeek and Suricata logs while
zeek-proxy follows them (`watch`) or runs from cron (`scan --state`), and is killed or
restarted at random moments. The alerts expected are those of one scan of everything
the sensor wrote (kept aside), checked against the generator's own labels. Each seed
gives the same sensor steps, sleeps and kill moments; only the processes' timing varies,
and the contract must hold under any timing.

Folder runs never lose a log before it is read (Suricata's oldest log is not deleted):
a watcher may be down for a while. By-path watching is restarted only when caught up,
as a restart during a rotation needs the archive folder.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest

from sensor_sim import Sensor

ZEEK_PROXY = [sys.executable, "-m", "zeek_proxy"]
WATCHED = ["current/", "archive/", "suricata/"]
STATE, ALERTS = "out/state.json", "out/alerts.ndjson"
#: 8 seeds a test in the suite; ZEEK_PROXY_SEEDS=40 for a longer soak.
SEEDS = range(int(os.environ.get("ZEEK_PROXY_SEEDS", "8")))


class Run:
    """A zeek-proxy process working in the sensor's folder; its stderr goes to a file
    shared by the test's runs, for failure messages (a pipe could fill and block it)."""

    def __init__(self, root: Path, *args: str) -> None:
        self.root, self.args = root, list(args)
        self.stderr = root / "out" / "stderr.txt"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Run":
        self.stderr.parent.mkdir(exist_ok=True)
        with open(self.stderr, "ab") as err:
            err.write(f"$ zeek-proxy {' '.join(self.args)}\n".encode())
            err.flush()
            self.process = subprocess.Popen([*ZEEK_PROXY, *self.args], cwd=self.root,
                                            stdout=subprocess.DEVNULL, stderr=err)
        return self

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        """SIGTERM: the batch in hand finishes, the state is saved, exit 0."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")[-6000:] if self.stderr.exists() else ""


@pytest.fixture
def zeek_proxy(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """Makes runs in `tmp_path`; any still running when the test ends is killed."""
    runs: list[Run] = []

    def make(*args: str) -> Run:
        runs.append(Run(tmp_path, *args))
        return runs[-1]

    yield make
    for run in runs:
        if run.process is not None and run.process.poll() is None:
            run.kill()


def written(path: Path, final: bool = False) -> tuple[list[dict], list[str]]:
    """The alerts in an NDJSON file, and its lines that are no JSON (a cut-off write). A
    last line without its newline is being written, unless `final`: then it is broken."""
    if not path.exists():
        return [], []
    *lines, tail = path.read_text(encoding="utf-8", errors="replace").split("\n")
    alerts, broken = [], [tail] if final and tail else []
    for line in lines:
        try:
            alerts.append(json.loads(line))
        except ValueError:
            broken.append(line)
    return alerts, broken


def ids(path: Path) -> list[str]:
    return [alert["event"]["id"] for alert in written(path)[0]]


def catch_up(path: Path, expected: set[str], timeout: float = 30.0, quiet: float = 5.0) -> bool:
    """Wait until every expected alert is in `path`; give up when it has not grown for
    `quiet` seconds (the watcher has settled without them) or after `timeout`."""
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if expected <= set(ids(path)):
            return True
        now = path.stat().st_size if path.exists() else 0
        if now != size:
            size, since = now, time.monotonic()
        elif time.monotonic() - since > quiet:
            return False
        time.sleep(0.1)
    return False


def finished(sensor: Sensor, rotations: int = 2) -> set[str]:
    """Stop the sensor; the alerts of all it wrote, checked against the generator's labels
    so that a harness that rotates nothing or writes no hits fails too."""
    sensor.finish()
    expected = sensor.expected()
    assert len(expected) == sensor.hits > 10, (len(expected), sensor.hits)
    assert min(sensor.rotations["zeek"], sensor.rotations["eve"]) >= rotations, sensor.rotations
    return expected


def report(path: Path, expected: set[str], sensor: Sensor, run: Run, codes: Sequence[int] = ()) -> str:
    """What went wrong, for an assertion message: counts, exit codes, steps, stderr."""
    alerts, broken = written(path, final=True)
    got = [alert["event"]["id"] for alert in alerts]
    twice = sum(1 for n in Counter(got).values() if n > 1)
    return (f"{len(got)} alerts written for {len(expected)} expected: {len(expected - set(got))} missing, "
            f"{len(set(got) - expected)} unexpected, {twice} written more than once, "
            f"{len(broken)} broken line(s) {broken[:1]}; exit codes {list(codes)}\n"
            f"sensor steps: {' / '.join(sensor.journal)}\nstderr (tail):\n{run.log()}")


def assert_exactly_once(path: Path, expected: set[str], sensor: Sensor, run: Run,
                        codes: Sequence[int] = ()) -> None:
    """Every expected alert once, nothing else, every line whole, every exit 0."""
    alerts, broken = written(path, final=True)
    got = [alert["event"]["id"] for alert in alerts]
    ok = not broken and len(got) == len(set(got)) and set(got) == expected and set(codes) <= {0}
    assert ok, report(path, expected, sensor, run, codes)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_watch_folders_through_rotation_and_kill9(tmp_path: Path, seed: int,
                                                  zeek_proxy: Callable[..., Run]) -> None:
    """A watcher of the log folders killed with SIGKILL at random moments (starting,
    reading, writing alerts, saving) and restarted, sometimes after the sensor wrote
    and rotated more: when it has caught up, each hit was alerted once."""
    sensor, rng = Sensor(tmp_path, seed), random.Random(f"schedule {seed}")
    alerts = tmp_path / ALERTS
    watcher = zeek_proxy("watch", "--interval", "0.2", "--state", STATE, "-o", ALERTS, *WATCHED).start()
    kinds = sensor.plan(14)
    kills = {2 + 4 * k + rng.randrange(2) for k in range(3)}
    for i, kind in enumerate(kinds):
        sensor.step(kind)
        time.sleep(rng.uniform(0, 0.1))
        if i in kills:
            time.sleep(rng.uniform(0.2, 1.1))  # mostly past its start-up (~0.7 s), in or between batches
            watcher.kill()
            if rng.random() < 0.5:
                sensor.step()  # the sensor goes on while the watcher is down
            watcher.start()
    expected = finished(sensor)
    catch_up(alerts, expected)
    time.sleep(0.4)  # a few more batches: an alert written twice would show now
    assert_exactly_once(alerts, expected, sensor, watcher, [watcher.stop()])


@pytest.mark.slow
@pytest.mark.parametrize("restarts", [0, 2], ids=["running", "sigterm-restarts"])
@pytest.mark.parametrize("seed", SEEDS)
def test_watch_paths_through_rotation(tmp_path: Path, seed: int, restarts: int,
                                      zeek_proxy: Callable[..., Run]) -> None:
    """A watcher of `current/conn.log` and `suricata/eve.json` by path drains each log
    rotated away (moved to the archive, gzipped, deleted; Suricata's oldest deleted too),
    and with `restarts`, is stopped by SIGTERM (exit 0) and started again while no
    rotation is in progress: each hit alerted once."""
    sensor, rng = Sensor(tmp_path, seed, keep_eve=2), random.Random(f"schedule {seed}")
    alerts = tmp_path / ALERTS
    watcher = zeek_proxy("watch", "--interval", "0.2", "--state", STATE, "-o", ALERTS,
                         "current/conn.log", "suricata/eve.json").start()
    codes: list[int] = []

    def caught_up(moment: str) -> None:
        """A log about to move must have been opened by the watcher (by path, nothing
        else finds it), and a restart must not fall in a rotation: wait for the alerts."""
        expected = sensor.expected()
        assert catch_up(alerts, expected), f"not caught up {moment}: " + report(alerts, expected, sensor, watcher, codes)

    kinds = sensor.plan(10)
    restart_at = set(rng.sample(range(len(kinds)), restarts))
    for i, kind in enumerate(kinds):
        sensor.step(kind, before_rotation=lambda: caught_up("before a rotation"))
        time.sleep(rng.uniform(0, 0.1))
        if i in restart_at:
            caught_up("before a restart")
            codes.append(watcher.stop())
            watcher.start()
            sensor.step("zeek")  # new hits in both logs: once they are alerted, the new
            sensor.step("eve")  # watcher has opened both, and can drain them when they move
            caught_up("after a restart")
    expected = finished(sensor)
    catch_up(alerts, expected)
    time.sleep(0.4)
    codes.append(watcher.stop())
    assert_exactly_once(alerts, expected, sensor, watcher, codes)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_cron_scans_through_kill9(tmp_path: Path, seed: int, zeek_proxy: Callable[..., Run]) -> None:
    """`scan --state` runs between sensor steps, some killed with SIGKILL after a random
    short time, then a final run: each hit alerted once; one more run writes nothing."""
    sensor, rng = Sensor(tmp_path, seed), random.Random(f"schedule {seed}")
    alerts = tmp_path / ALERTS
    scan = ["scan", "--state", STATE, "-o", ALERTS, *WATCHED]
    codes: list[int] = []
    runs = ["kill", "kill", "run", "run", "none", rng.choice(["kill", "run", "none"])]
    rng.shuffle(runs)
    for kind, after in zip(sensor.plan(len(runs)), runs):
        sensor.step(kind)
        if after == "kill":
            victim = zeek_proxy(*scan).start()
            time.sleep(rng.uniform(0.05, 0.9))
            victim.kill()
        elif after == "run":
            codes.append(zeek_proxy(*scan).start().wait())
    expected = finished(sensor)
    last = zeek_proxy(*scan)
    codes.append(last.start().wait())
    assert_exactly_once(alerts, expected, sensor, last, codes)
    size = alerts.stat().st_size
    codes.append(last.start().wait())
    assert alerts.stat().st_size == size and codes[-1] == 0, report(alerts, expected, sensor, last, codes)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_max_signals_bursts_carry_over(tmp_path: Path, seed: int, zeek_proxy: Callable[..., Run]) -> None:
    """`scan --max-signals 3 --state` between sensor steps, then runs with nothing new:
    the alerts held back by the cap come out in later runs, at most 3 a run, oldest
    first within a run, each once."""
    sensor = Sensor(tmp_path, seed, max_rows=60, hit_chunks=0.0)  # fewer hits, fewer runs
    alerts = tmp_path / ALERTS
    run = zeek_proxy("scan", "--max-signals", "3", "--state", STATE, "-o", ALERTS, *WATCHED)
    codes: list[int] = []
    batches: list[list[dict]] = []

    def one_run() -> None:
        before = len(written(alerts)[0])
        codes.append(run.start().wait())
        batches.append(written(alerts)[0][before:])

    for kind in sensor.plan(3, rotations=1):
        sensor.step(kind)
        one_run()
    expected = finished(sensor, rotations=1)
    bound = len(batches) + len(expected) // 3 + 2
    while True:  # runs with nothing new, until all is out or a run writes nothing
        one_run()
        if expected <= set(ids(alerts)) or not batches[-1] or len(batches) > bound:
            break
    assert_exactly_once(alerts, expected, sensor, run, codes)
    for n, batch in enumerate(batches, 1):
        times = [datetime.fromisoformat(alert["@timestamp"]) for alert in batch]
        assert len(batch) <= 3 and times == sorted(times), (
            f"run {n} wrote {[str(t) for t in times]}\n" + report(alerts, expected, sensor, run, codes))


@pytest.mark.parametrize("seed", SEEDS)
def test_hunt_without_state_leaves_live_state_alone(tmp_path: Path, seed: int,
                                                    zeek_proxy: Callable[..., Run]) -> None:
    """`scan --no-state` over logs a cron `scan --state` has been reading (one run killed,
    so the state may hold an unfinished delivery): every hit, once, and the state and
    the cron alerts byte for byte as they were."""
    sensor, rng = Sensor(tmp_path, seed, max_rows=120), random.Random(f"schedule {seed}")
    cron = ["scan", "--state", STATE, "-o", ALERTS, *WATCHED]
    kinds = sensor.plan(6)
    ran, killed = rng.randrange(len(kinds)), rng.randrange(len(kinds))
    codes: list[int] = []
    for i, kind in enumerate(kinds):
        sensor.step(kind)
        if i == ran:
            codes.append(zeek_proxy(*cron).start().wait())
        if i == killed:
            victim = zeek_proxy(*cron).start()
            time.sleep(rng.uniform(0.3, 1.0))
            victim.kill()
    expected = finished(sensor)
    live = {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir() if path.name != "stderr.txt"}
    assert "state.json" in live
    hunt = zeek_proxy("scan", "--no-state", "-o", "hunt.ndjson", *WATCHED)
    codes.append(hunt.start().wait())
    assert_exactly_once(tmp_path / "hunt.ndjson", expected, sensor, hunt, codes)
    after = {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir() if path.name != "stderr.txt"}
    assert after == live, f"the hunt changed {sorted(n for n in after.keys() | live.keys() if after.get(n) != live.get(n))}"
