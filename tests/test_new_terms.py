"""New terms (--new-terms, --history): a hit alerts only when its combination is new,
checked against a slow checker in one run and across --state runs; the seeding recipe;
with suppression; the history's size."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from zeek_proxy.cli import cli
from zeek_proxy.core.new_terms import NewTerms, new_terms
from zeek_proxy.schema import frame_from_rows
from zeek_proxy.state import State
from test_suppression import HOUR, T0, checker as windows, hits, write_conn


def checker(rows: list[tuple], columns: tuple[int, ...], history: float,
            seen: dict[tuple, float] | None = None) -> list[tuple]:
    """The contract, slowly: a hit (private destinations are none) alerts when no hit of
    its combination came in the `history` seconds before it, once a run."""
    seen = {} if seen is None else seen
    alerted, out = set(), []
    for row in rows:
        if row[3].startswith("10."):
            continue
        terms = tuple(row[i] for i in columns)
        last = seen.get(terms)
        if (last is None or last < row[0] - history) and terms not in alerted:
            alerted.add(terms)
            out.append(row)
        seen[terms] = row[0] if last is None else max(last, row[0])
    return out


def scan(*args: str) -> tuple[list[dict], str]:
    result = CliRunner().invoke(cli, ["scan", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_only_new_combinations_alert_once_a_run(tmp_path: Path) -> None:
    rows = hits(11)
    log = tmp_path / "conn.log"
    write_conn(log, rows)
    alerts, stderr = scan("--new-terms", "source.ip,destination.ip", "--state", str(tmp_path / "s"), "--stats", str(log))
    expected = checker(rows, (2, 3), 7 * 86400)
    assert [a["zeek"]["session_id"] for a in alerts] == [r[1] for r in expected]
    assert [a["kibana"]["alert"]["new_terms"] for a in alerts] == [[r[2], r[3]] for r in expected]
    hits_count = sum(1 for r in rows if not r[3].startswith("10."))
    assert f"hits: {hits_count}, after allow entries: {hits_count}, after new terms: {len(expected)}" in stderr


def test_a_short_history_lets_a_combination_be_new_again_in_a_later_run(tmp_path: Path) -> None:
    rows = [r for r in hits(12) if r[2] == "10.0.0.1" and not r[3].startswith("10.")]
    early = [r for r in rows if r[0] < T0 + HOUR]
    late = [r for r in rows if r[0] >= T0 + 2 * HOUR + 60]
    state, log = tmp_path / "s", tmp_path / "conn.log"
    write_conn(log, early)
    first, _ = scan("--new-terms", "source.ip", "--history", "30m", "--state", str(state), str(log))
    write_conn(log, late, header=False)
    second, _ = scan("--new-terms", "source.ip", "--history", "30m", "--state", str(state), str(log))
    assert len(first) == 1 and len(second) == 1  # an hour of silence: new again
    write_conn(log, [(T0 + 4 * HOUR, "Cx", "10.0.0.1", "8.8.8.8", 8080)], header=False)
    third, _ = scan("--new-terms", "source.ip", "--history", "7d", "--state", str(state), str(log))
    assert third == []


def test_learn_last_week_then_alert_from_today_on(tmp_path: Path) -> None:
    """The README's recipe: a run over older logs with -o /dev/null seeds the history."""
    old, today = tmp_path / "old" / "conn.log", tmp_path / "today" / "conn.log"
    old.parent.mkdir(), today.parent.mkdir()
    rows = hits(13)
    write_conn(old, [(ts - 86400, *rest) for ts, *rest in rows])
    fresh = (T0 + 100, "Cnew", "10.0.0.7", "8.8.4.4", 8080)
    write_conn(today, sorted(rows[:50] + [fresh]))
    state = tmp_path / "state"
    seeded = CliRunner().invoke(cli, ["scan", "--new-terms", "source.ip,destination.ip", "--state", str(state),
                                      "-o", str(tmp_path / "discard.ndjson"), str(old.parent)])
    assert seeded.exit_code == 0
    alerts, _ = scan("--new-terms", "source.ip,destination.ip", "--state", str(state), str(today.parent))
    assert [a["zeek"]["session_id"] for a in alerts] == ["Cnew"]


def test_new_terms_then_suppression(tmp_path: Path) -> None:
    rows = hits(14)
    log = tmp_path / "conn.log"
    write_conn(log, rows)
    alerts, stderr = scan("--new-terms", "source.ip,destination.ip,destination.port", "--suppress-for", "1h",
                          "--group-by", "source.ip", "--state", str(tmp_path / "s"), "--stats", str(log))
    novel = checker(rows, (2, 3, 4), 7 * 86400)
    expected = windows(novel, 3600, (2,))
    got = [(tuple(t["value"] for t in a["kibana"]["alert"]["suppression"]["terms"]),
            a["kibana"]["alert"]["suppression"]["docs_count"]) for a in alerts]
    assert got == [(w[0], w[3]) for w in expected]
    assert f"after new terms: {len(novel)}, after suppression: {len(expected)}" in stderr


def test_without_a_state_it_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    write_conn(log, hits(1, 5))
    result = CliRunner().invoke(cli, ["scan", "--new-terms", "source.ip", str(log)])
    assert result.exit_code == 2 and "--new-terms needs --state" in result.stderr
    result = CliRunner().invoke(cli, ["scan", "--history", "1d", str(log)])
    assert result.exit_code == 2 and "--history goes with --new-terms" in result.stderr


def test_a_history_of_100k_combinations_stays_small(tmp_path: Path) -> None:
    """The size half of the target (load time is measured by scripts/quiet.py)."""
    rows = [{"@timestamp": (T0 + i) * 1_000_000, "source.ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
             "destination.ip": "8.8.8.8", "destination.port": 8080} for i in range(100_000)]
    state = State(str(tmp_path / "state"))
    out = new_terms(frame_from_rows(rows), NewTerms(("source.ip", "destination.ip")), state.terms)
    assert len(out.alerts) == 100_000 and len(state.terms) == 100_000
    state.save()
    assert (tmp_path / "state").stat().st_size < 20 << 20
    assert len(State.load(str(tmp_path / "state")).terms) == 100_000
    later = frame_from_rows([{"@timestamp": (T0 + 8 * 86400 + 100_000) * 1_000_000, "source.ip": "10.0.0.0",
                              "destination.ip": "8.8.8.8", "destination.port": 8080}])
    new_terms(later, NewTerms(("source.ip", "destination.ip")), state.terms)
    assert list(state.terms) == [json.dumps(["ad0e5e75-dd89-4875-8d0a-dfdc1828b5f3", "10.0.0.0", "8.8.8.8"])]
