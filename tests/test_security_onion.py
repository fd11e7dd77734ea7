"""The Security Onion preset, on a fake /nsm tree under --so-root."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from conftest import FIXTURES, wait_for
from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.security_onion import Preset, without_flow_events


def fake_sensor(root: Path, eve_with_flows: bool = True) -> dict[str, Path]:
    zeek = root / "nsm" / "zeek" / "logs"
    (zeek / "current").mkdir(parents=True)
    (zeek / "2026-11-27").mkdir()
    (root / "nsm" / "suricata").mkdir(parents=True)
    conn = zeek / "current" / "conn.log"
    shutil.copy(FIXTURES / "conn.log", conn)
    archive = zeek / "2026-11-27" / "conn.10:00:00-11:00:00.log.gz"
    shutil.copy(FIXTURES / "2026-11-27" / "conn.10:00:00-11:00:00.log.gz", archive)
    eve = root / "nsm" / "suricata" / "eve.json"
    lines = (FIXTURES / "eve.json").read_text().splitlines(keepends=True)
    eve.write_text("".join(line for line in lines if eve_with_flows or '"event_type": "flow"' not in line))
    return {"conn": conn, "archive": archive, "eve": eve}


def ids(path: Path) -> list[str]:
    return [json.loads(line)["event"]["id"] for line in path.read_text().splitlines()]


def test_preset_writes_what_a_direct_scan_finds_and_a_second_run_adds_none(tmp_path: Path) -> None:
    files = fake_sensor(tmp_path)
    direct = set(scan([str(files["conn"]), str(files["eve"])]).alerts["event.id"])
    first = CliRunner().invoke(cli, ["scan", "--security-onion", "--so-root", str(tmp_path)])
    assert first.exit_code == 0, first.stderr
    alerts = tmp_path / "nsm" / "zeek-proxy" / "alerts.ndjson"
    assert set(ids(alerts)) == direct and len(ids(alerts)) == len(direct)
    assert (tmp_path / "nsm" / "zeek-proxy" / "state").is_file()
    again = CliRunner().invoke(cli, ["scan", "--security-onion", "--so-root", str(tmp_path)])
    assert again.exit_code == 0 and len(ids(alerts)) == len(direct)  # appended nothing


def test_since_reaches_the_daily_archives(tmp_path: Path) -> None:
    files = fake_sensor(tmp_path)
    preset = Preset(str(tmp_path))
    assert str(files["archive"]) not in preset.inputs()
    reach = preset.inputs(pd.Timestamp("2026-11-26T00:00:00Z"), today=pd.Timestamp("2026-11-28").date())
    assert reach == [str(files["conn"]), str(files["archive"]), str(files["eve"])]


def test_explicit_paths_and_output_win(tmp_path: Path) -> None:
    files = fake_sensor(tmp_path)
    out = tmp_path / "hunt.ndjson"
    result = CliRunner().invoke(cli, ["scan", "--security-onion", "--so-root", str(tmp_path),
                                      "-o", str(out), str(files["eve"])])
    assert result.exit_code == 0
    assert set(ids(out)) == set(scan([str(files["eve"])]).alerts["event.id"])
    assert not (tmp_path / "nsm" / "zeek-proxy" / "alerts.ndjson").exists()


def test_missing_eve_is_fine_and_alert_only_eve_is_named(tmp_path: Path) -> None:
    files = fake_sensor(tmp_path, eve_with_flows=False)
    assert without_flow_events(str(files["eve"])) and not without_flow_events(str(FIXTURES / "eve.json"))
    warned = CliRunner().invoke(cli, ["scan", "--security-onion", "--so-root", str(tmp_path)])
    assert warned.exit_code == 0
    assert f"{files['eve']} holds no flow events" in warned.stderr and "conn.log" in warned.stderr
    files["eve"].unlink()
    result = CliRunner().invoke(cli, ["scan", "--security-onion", "--so-root", str(tmp_path)])
    assert result.exit_code == 0, result.stderr


def test_watch_preset_follows_the_sensor_and_stops_on_sigterm(tmp_path: Path) -> None:
    files = fake_sensor(tmp_path)
    lines = files["conn"].read_text().splitlines(keepends=True)
    files["conn"].write_text("".join(lines[:13]))  # the rest arrives while watching
    (files["eve"].parent / "stats.log").write_text("Date: 11/27/2026 -- 10:00:00 (uptime: 0d)\n")
    alerts = tmp_path / "nsm" / "zeek-proxy" / "alerts.ndjson"
    # followed: the live conn.log, Zeek's archive root (a day's archive included) and eve
    direct = set(scan([str(FIXTURES / "conn.log"), str(files["archive"]), str(files["eve"])]).alerts["event.id"])
    watcher = subprocess.Popen([sys.executable, "-m", "zeek_proxy", "watch", "--security-onion",
                                "--so-root", str(tmp_path), "--interval", "0.3"], stderr=subprocess.PIPE)
    try:
        wait_for(lambda: alerts.exists() and len(ids(alerts)) >= 1)
        with open(files["conn"], "a") as log:
            log.write("".join(lines[13:]))
        wait_for(lambda: set(ids(alerts)) == direct)
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    assert len(ids(alerts)) == len(direct)
    again = CliRunner().invoke(cli, ["scan", "--security-onion", "--so-root", str(tmp_path)])
    assert again.exit_code == 0 and len(ids(alerts)) == len(direct)  # the state is shared

