"""Alert suppression (--suppress-for, --group-by): windows as Elastic opens them, checked
against a slow checker written from the contract, in one run and across --state runs
(also killed with SIGKILL); the options, the config table and the outputs."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from zeek_proxy.cli import cli

T0 = 1795773600  # 2026-11-27T10:00:00Z
HOUR = 3600
HEADER = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
          "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto",
          "#types\ttime\tstring\taddr\tport\taddr\tport\tenum"]


def hits(seed: int, count: int = 300) -> list[tuple[float, str, str, str, int]]:
    """Proxy-port hits of a few sources and destinations over three hours, oldest first:
    (ts, uid, source, destination, port). Some go to private destinations (no hit)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        rows.append((T0 + rng.uniform(0, 3 * HOUR), f"C{seed}x{i}", f"10.0.0.{rng.randint(1, 4)}",
                     rng.choice(["8.8.8.1", "8.8.8.2", "8.8.8.3", "10.9.9.9"]), rng.choice([8080, 3128])))
    return sorted(rows)


def write_conn(path: Path, rows: list[tuple], header: bool = True) -> None:
    lines = HEADER if header else []
    lines = lines + ["\t".join([f"{ts:.6f}", uid, src, "40000", dst, str(port), "tcp"]) for ts, uid, src, dst, port in rows]
    with path.open("a") as out:
        out.write("\n".join(lines) + "\n")


def checker(rows: list[tuple], seconds: int, fields: tuple[int, ...]) -> list[tuple[tuple, float, float, int]]:
    """The contract, slowly: per group (the chosen columns), sorted by time, the first hit
    opens a window of `seconds`, hits before it ends are counted into it, the first hit
    after it opens the next. Private destinations are no hits. (terms, start, end, count)."""
    windows: dict[tuple, list] = {}
    out: list[list] = []
    for row in rows:
        if row[3].startswith("10."):
            continue
        terms = tuple(row[i] for i in fields)
        open_window = windows.get(terms)
        if open_window is not None and row[0] < open_window[1] + seconds:
            open_window[2] = row[0]
            open_window[3] += 1
            continue
        windows[terms] = [terms, row[0], row[0], 0]
        out.append(windows[terms])
    return [tuple(w) for w in out]


def run(*args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["scan", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def pd_timestamp(iso: str) -> float:
    import pandas as pd

    return pd.Timestamp(iso).timestamp()


def windows_of(alerts: list[dict]) -> list[tuple[tuple, float, float, int]]:
    out = []
    for alert in alerts:
        s = alert["kibana"]["alert"]["suppression"]
        out.append((tuple(t["value"] for t in s["terms"]), round(pd_timestamp(s["start"]), 6),
                    round(pd_timestamp(s["end"]), 6), s["docs_count"]))
    return out


def rounded(windows: list[tuple]) -> list[tuple]:
    return [(t, round(a, 6), round(b, 6), n) for t, a, b, n in windows]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("length, seconds, group_by, columns", [
    ("10m", 600, "source.ip,destination.ip,destination.port", (2, 3, 4)),
    ("1h", 3600, "source.ip", (2,)),
    ("30s", 30, "destination.ip,destination.port", (3, 4)),
])
def test_windows_match_the_checker(tmp_path: Path, seed: int, length: str, seconds: int, group_by: str,
                                   columns: tuple[int, ...]) -> None:
    rows = hits(seed)
    log = tmp_path / "conn.log"
    write_conn(log, rows)
    alerts = run("--suppress-for", length, "--group-by", group_by, str(log))
    expected = rounded(checker(rows, seconds, columns))
    assert sorted(windows_of(alerts)) == sorted(expected)
    assert sum(n + 1 for *_, n in expected) == sum(1 for r in rows if not r[3].startswith("10."))
    assert len(alerts) < len([r for r in rows if not r[3].startswith("10.")])  # it did group
    assert [a["@timestamp"] for a in alerts] == sorted(a["@timestamp"] for a in alerts)
    assert run("--suppress-for", length, "--group-by", group_by, str(log))[0]["event"]["id"] == alerts[0]["event"]["id"]


@pytest.mark.parametrize("seed", [4, 5])
def test_the_same_data_in_two_state_runs_gives_the_same_windows_and_ids(tmp_path: Path, seed: int) -> None:
    rows = hits(seed)
    whole = tmp_path / "whole.log"
    write_conn(whole, rows)
    one_run = run("--suppress-for", "1h", str(whole))
    live, state, out = tmp_path / "conn.log", tmp_path / "state", tmp_path / "alerts.ndjson"
    half = len(rows) // 2
    write_conn(live, rows[:half])
    first = CliRunner().invoke(cli, ["scan", "--suppress-for", "1h", "--state", str(state), "--stats", "-o", str(out), str(live)])
    write_conn(live, rows[half:], header=False)
    second = CliRunner().invoke(cli, ["scan", "--suppress-for", "1h", "--state", str(state), "--stats", "-o", str(out), str(live)])
    assert first.exit_code == second.exit_code == 0
    split = [json.loads(line) for line in out.read_text().splitlines()]
    assert [a["event"]["id"] for a in split] == [a["event"]["id"] for a in one_run]
    assert [w[:2] for w in windows_of(split)] == [w[:2] for w in windows_of(one_run)]
    earlier = int(second.stderr.split("suppressed into earlier alerts: ")[1].split(")")[0])
    assert earlier > 0  # the second run's hits inside the first run's windows raised nothing
    counted = sum(w[3] for w in windows_of(split)) + earlier
    assert counted == sum(w[3] for w in windows_of(one_run))
    assert len(json.loads(state.read_text())["windows"]) <= len({(r[2], r[3], r[4]) for r in rows})


def test_kill9_between_runs_loses_no_window_and_repeats_none(tmp_path: Path) -> None:
    """Chunks appended to a live log, each followed by a run killed at a random moment
    (or not), then a last run: the windows written are those of one run over all of it."""
    rows = hits(9, 400)
    whole = tmp_path / "whole.log"
    write_conn(whole, rows)
    reference = [a["event"]["id"] for a in run("--suppress-for", "10m", str(whole))]
    live, out = tmp_path / "conn.log", tmp_path / "alerts.ndjson"
    command = [sys.executable, "-m", "zeek_proxy", "scan", "--suppress-for", "10m", "--state",
               str(tmp_path / "state"), "-o", str(out), str(live)]
    rng = random.Random(9)
    for i, start in enumerate(range(0, len(rows), 50)):
        write_conn(live, rows[start:start + 50], header=i == 0)
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        if rng.random() < 0.6:
            time.sleep(rng.uniform(0.05, 1.2))
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert subprocess.run(command, stderr=subprocess.DEVNULL).returncode == 0
    written = [json.loads(line)["event"]["id"] for line in out.read_text().splitlines()]
    assert written == reference


def test_missing_group_fields_suppress_together_unless_told(tmp_path: Path) -> None:
    rows = [r for r in hits(6) if not r[3].startswith("10.")][:40]
    log = tmp_path / "conn.log"
    write_conn(log, rows)
    grouped = run("--suppress-for", "24h", "--group-by", "destination.domain", str(log))
    assert len(grouped) == 1 and grouped[0]["kibana"]["alert"]["suppression"]["docs_count"] == 39
    assert grouped[0]["kibana"]["alert"]["suppression"]["terms"] == [{"field": "destination.domain", "value": None}]
    alone = run("--suppress-for", "24h", "--group-by", "destination.domain", "--no-suppress-missing", str(log))
    assert len(alone) == 40 and all("kibana" not in a for a in alone)


def test_allow_entries_act_before_grouping_and_max_signals_after(tmp_path: Path) -> None:
    rows = hits(7)
    log = tmp_path / "conn.log"
    write_conn(log, rows)
    allow = tmp_path / "allow.txt"
    allow.write_text("8.8.8.1\n")
    alerts = run("--suppress-for", "1h", "-a", str(allow), str(log))
    assert alerts and all(a["destination"]["ip"] != "8.8.8.1" for a in alerts)
    kept = [r for r in rows if r[3] not in ("8.8.8.1", "10.9.9.9")]
    assert sorted(windows_of(alerts)) == sorted(rounded(checker(kept, 3600, (2, 3, 4))))
    capped = CliRunner().invoke(cli, ["scan", "--suppress-for", "1h", "--max-signals", "2", "-a", str(allow), str(log)])
    assert [json.loads(line)["event"]["id"] for line in capped.stdout.splitlines()] == \
        [a["event"]["id"] for a in alerts[:2]]


def test_notice_and_csv_say_the_window(tmp_path: Path) -> None:
    rows = hits(8)
    log = tmp_path / "conn.log"
    write_conn(log, rows)
    alerts = run("--suppress-for", "1h", "--group-by", "source.ip", str(log))
    notice = CliRunner().invoke(cli, ["scan", "--suppress-for", "1h", "--group-by", "source.ip", "-t",
                                      "notice-json", str(log)]).stdout.splitlines()
    records = [json.loads(line) for line in notice]
    assert [r["n"] for r in records] == [a["kibana"]["alert"]["suppression"]["docs_count"] + 1 for a in alerts]
    assert {r["suppress_for"] for r in records} == {3600.0}
    assert all(f"suppression=source.ip={r['src']}" in r["sub"] for r in records)
    rows_csv = CliRunner().invoke(cli, ["scan", "--suppress-for", "1h", "--group-by", "source.ip", "-t", "csv",
                                        str(log)]).stdout.splitlines()
    header = rows_csv[0].split(",")
    assert {"suppression_count", "first_seen", "last_seen"} <= set(header)


@pytest.mark.parametrize("args, message", [
    (["--suppress-for", "1h", "--group-by", "source.ipx"], "cannot group by source.ipx (fields: "),
    (["--suppress-for", "1h", "--group-by", "source.ip,destination.ip,destination.port,network.transport"],
     "group by 1 to 3"),
    (["--suppress-for", "soon"], "not a duration"),
    (["--group-by", "source.ip"], "go with --suppress-for"),
])
def test_bad_suppression_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    log = tmp_path / "conn.log"
    write_conn(log, hits(1, 5))
    result = CliRunner().invoke(cli, ["scan", *args, str(log)])
    assert result.exit_code == 2 and message in result.stderr


def test_the_config_table_and_rule(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[suppression]\nfor = "1h"\ngroup_by = ["source.ip"]\n')
    log = tmp_path / "conn.log"
    rows = hits(3)
    write_conn(log, rows)
    assert windows_of(run("-c", str(config), str(log))) == \
        windows_of(run("--suppress-for", "1h", "--group-by", "source.ip", str(log)))
    printed = CliRunner().invoke(cli, ["rule", "-c", str(config)]).stdout
    assert '[suppression]\nfor = "1h"\ngroup_by = ["source.ip"]\nmissing = "suppress"' in printed
    config.write_text('[suppression]\ngroup_by = ["source.ip"]\n')
    assert CliRunner().invoke(cli, ["rule", "-c", str(config)]).exit_code == 2
