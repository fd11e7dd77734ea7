"""A day of gzip archives is read one archive per process: the alerts, the per-input
counts (in the order of the paths) and the errors are those of reading them one after
another."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from conftest import generate
from zeek_proxy import scan
from zeek_proxy.pipeline import _archives


def _archive(path: Path, hour: int, rows: int = 600) -> None:
    text = io.StringIO()
    generate.write_zeek_tsv(generate.connections(rows, seed=40 + hour, every_case_first=True), text)
    path.write_bytes(gzip.compress(text.getvalue().encode()))


@pytest.fixture
def day(tmp_path: Path) -> Path:
    for hour in range(5):
        _archive(tmp_path / f"conn.{hour:02d}:00:00-{hour + 1:02d}:00:00.log.gz", hour)
    with open(tmp_path / "eve.json", "w") as out:  # a plain file beside them: read by the main scan
        generate.write_eve(generate.connections(300, seed=3), out)
    broken = gzip.compress((tmp_path / "eve.json").read_bytes())
    (tmp_path / "conn.23:00:00-00:00:00.log.gz").write_bytes(broken[: len(broken) // 2])  # cut short
    return tmp_path


def _summary(result) -> tuple:  # type: ignore[no-untyped-def]
    return (sorted(result.alerts["event.id"]),
            [(s.path, s.format, s.read, s.evaluated, s.filtered, s.malformed, s.matched) for s in result.inputs],
            [str(e) for e in result.errors])


def test_archives_in_processes_read_as_one_after_another(day: Path) -> None:
    assert len(_archives([str(day)], ("*conn*.log*", "*eve*.json*"), 2)) == 6
    paths = [str(day / "eve.json"), str(day)]  # the plain file first: so are its counts
    parallel, serial = scan(paths, jobs=2), scan(paths, jobs=1)
    assert len(parallel.alerts) > 20
    assert _summary(parallel) == _summary(serial)
    assert [Path(s.path).name for s in parallel.inputs][:2] == ["eve.json", "conn.00:00:00-01:00:00.log.gz"]
    assert any("breaks off" in e or "ended" in e for e in _summary(parallel)[2])


def test_only_several_gzip_files_without_state_go_to_processes(day: Path) -> None:
    one = sorted(day.glob("*.gz"))[0]
    assert _archives([str(one)], ("*conn*.log*",), 2) == []  # one archive: the main scan's workers
    assert _archives([str(day)], ("*conn*.log*",), 1) == []  # one job
    assert _archives([str(day), "-"], ("*conn*.log*",), 2) == []  # stdin in the run
