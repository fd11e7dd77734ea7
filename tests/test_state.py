"""Checkpoints, rotation and watch: every record judged once, whatever happens."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, generate, wait_for
from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.state import State

CONN = FIXTURES / "conn.log"
ZEEK_PROXY = [sys.executable, "-m", "zeek_proxy"]


def ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["event"]["id"] for line in path.read_text().splitlines()]


def run_scan(*args: str) -> None:
    result = CliRunner().invoke(cli, ["scan", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr


def big_log(directory: Path, rows: int = 60_000) -> tuple[Path, set[str]]:
    log = directory / "conn.log"
    with open(log, "w") as out:
        generate.write_zeek_tsv(generate.connections(rows, seed=11, every_case_first=True), out)
    expected = set(scan([str(log)]).alerts["event.id"])
    assert len(expected) > 50
    return log, expected


def test_append_rotate_compress_then_nothing_new(tmp_path: Path) -> None:
    """Half a log, more appended (with a half-written line), rotation by rename, the
    rotated log compressed, then a run with nothing new: together one full scan."""
    lines = CONN.read_text().splitlines(keepends=True)
    full = set(scan([str(CONN)]).alerts["event.id"])
    log, state, out = tmp_path / "conn.log", tmp_path / "state.json", tmp_path / "alerts.ndjson"
    per_run = []

    def one_run(*paths: Path) -> None:
        before = len(ids(out))
        run_scan("--state", str(state), "-o", str(out), *map(str, paths))
        per_run.append(ids(out)[before:])

    log.write_text("".join(lines[:14]))  # header and the first hits
    one_run(log)
    with open(log, "a") as f:  # more records, the last one half written
        f.write("".join(lines[14:99]) + lines[99][:10])
    one_run(log)
    with open(log, "a") as f:
        f.write(lines[99][10:] + "".join(lines[100:200]))
    rotated = tmp_path / "conn.10:00:00-11:00:00.log"
    log.rename(rotated)
    one_run(rotated)
    with open(rotated, "a") as f:  # Zeek writes the rest, then the archive is compressed
        f.write("".join(lines[200:]))
    archive = rotated.with_name(rotated.name + ".gz")
    archive.write_bytes(gzip.compress(rotated.read_bytes()))
    rotated.unlink()
    one_run(archive)
    one_run(archive)
    every = [i for batch in per_run for i in batch]
    assert set(every) == full and len(every) == len(full)  # all, none twice
    assert per_run[-1] == []  # nothing new, nothing written


def test_truncated_file_starts_over(tmp_path: Path) -> None:
    log, state, out = tmp_path / "conn.log", tmp_path / "state.json", tmp_path / "a.ndjson"
    log.write_bytes(CONN.read_bytes())
    run_scan("--state", str(state), "-o", str(out), str(log))
    assert len(ids(out)) == 5
    fresh = generate.connections(300, seed=21, every_case_first=True)
    with open(log, "w") as f:  # copytruncate, then a new log
        generate.write_zeek_tsv(fresh, f)
    run_scan("--state", str(state), "-o", str(out), str(log))
    assert set(ids(out)[5:]) == set(scan([str(log)]).alerts["event.id"])


def test_reused_inode_or_other_file_is_not_mistaken(tmp_path: Path) -> None:
    log, state = tmp_path / "conn.log", tmp_path / "state.json"
    log.write_bytes(CONN.read_bytes())
    run_scan("--state", str(state), "-o", str(tmp_path / "a"), str(log))
    other = tmp_path / "other" / "conn.log"
    other.parent.mkdir()
    with open(other, "w") as f:
        generate.write_zeek_tsv(generate.connections(300, seed=22, every_case_first=True), f)
    result = scan([str(other)], state=State.load(str(state)))
    assert result.inputs[0].read == 300  # read from its start


def test_state_file_errors_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(cli, ["scan", "--state", str(bad), str(CONN)])
    assert result.exit_code == 2 and "unreadable state file" in result.stderr


@pytest.mark.parametrize("delay", [0.4, 0.8, 1.3])
def test_sigkill_loses_no_alert(tmp_path: Path, delay: float) -> None:
    log, expected = big_log(tmp_path)
    state, out = tmp_path / "state.json", tmp_path / "alerts.ndjson"
    command = [*ZEEK_PROXY, "scan", "--state", str(state), "-o", str(out), str(log)]
    victim = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    written = ids(out)
    assert set(written) == expected  # nothing lost
    assert len(written) == len(expected)  # nothing twice


def test_watch_follows_appends_and_rotation_and_exits_on_sigterm(tmp_path: Path) -> None:
    lines = CONN.read_text().splitlines(keepends=True)
    folder = tmp_path / "logs"
    folder.mkdir()
    log, out, state = folder / "conn.log", tmp_path / "alerts.ndjson", tmp_path / "state.json"
    log.write_text("".join(lines[:13]))
    watcher = subprocess.Popen([*ZEEK_PROXY, "watch", "--interval", "0.3", "--state", str(state),
                                "-o", str(out), str(folder)], stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(ids(out)) >= 1)
        with open(log, "a") as f:
            f.write("".join(lines[13:16]))
        wait_for(lambda: len(ids(out)) >= 4)
        log.rename(folder / "conn.1.log")
        (folder / "conn.log").write_text("".join(lines[:8] + lines[16:]))  # a new log after rotation
        wait_for(lambda: len(ids(out)) >= 5)
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    assert set(ids(out)) == set(scan([str(CONN)]).alerts["event.id"])
    assert len(ids(out)) == 5
    assert json.loads(state.read_text())["files"]

