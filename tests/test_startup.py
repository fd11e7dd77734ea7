"""Start-up: --help, --version and usage errors answer without importing pandas, numpy
or pyarrow (half a second of a run that cron starts every five minutes). The budget is
pinned by what is imported, not by a clock; and the plain names the command line offers
agree with the tables that implement them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zeek_proxy import choices, pipeline
from zeek_proxy.config import PROFILES
from zeek_proxy.core.explain import EVIDENCE_KINDS
from zeek_proxy.core.new_terms import DEFAULT_HISTORY
from zeek_proxy.core.suppression import DEFAULT_GROUP_BY, GROUP_FIELDS
from zeek_proxy.emit import EMITTERS
from zeek_proxy.formats.sniff import FORMATS
from zeek_proxy.reading import workers
from zeek_proxy.reading.blocks import MAX_RECORD

PROJECT = Path(__file__).resolve().parent.parent

HEAVY = ("pandas", "numpy", "pyarrow", "pyarrow.compute", "hyperscan", "re2", "orjson")


def imported(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules a run of the CLI imports, as `python -X importtime` lists them."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "zeek_proxy", *args],
                         capture_output=True, text=True, timeout=60)
    names = {line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "zeek_proxy.cli" in names, run.stderr[-2000:]
    return names, run


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["scan", "--help"], ["watch", "--help"],
                                  ["export", "sigma", "--help"], ["scan", "--to", "nonsense", "x.log"],
                                  ["explain", "--src", "foo", "--dst", "1.1.1.1", "--port", "8080"]],
                         ids=["version", "help", "scan-help", "watch-help", "export-help", "bad-choice",
                              "bad-address"])
def test_answers_without_the_data_libraries(args: list[str]) -> None:
    names, run = imported(*args)
    assert run.returncode in (0, 2), run.stderr[-2000:]
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def test_a_scan_does_import_them(tmp_path) -> None:
    """The test above would pass if importtime stopped listing modules: a scan, which
    needs pandas, shows that it lists them."""
    empty = tmp_path / "conn.log"
    empty.write_text("")
    names, run = imported("scan", "-o", str(tmp_path / "out.ndjson"), str(empty))
    assert run.returncode == 0, run.stderr[-2000:]
    assert {"pandas", "numpy", "pyarrow"} <= names


def test_the_offered_names_are_the_implemented_ones() -> None:
    assert choices.FORMATS == FORMATS
    assert choices.OUTPUTS == tuple(EMITTERS)
    assert choices.PROFILES == tuple(PROFILES)
    assert choices.EVIDENCE_KINDS == tuple(EVIDENCE_KINDS)
    assert choices.MAX_RECORD == MAX_RECORD
    assert choices.DEFAULT_HISTORY == DEFAULT_HISTORY
    assert set(DEFAULT_GROUP_BY) <= set(GROUP_FIELDS)


_FORKED_SCAN = """
import sys
from zeek_proxy import pipeline
from zeek_proxy.reading import blocks, workers
workers.PROCESS_MIN_BYTES = 0  # every mapped file to forked workers,
blocks.BLOCK_SIZE = 16 << 10  # in many blocks
forks = []  # (processes?, pandas imported?) at each first hand-out, when processes fork
submit = workers.StageOne.submit
def noted(self, *args):
    if not getattr(self, "noted", False):
        self.noted = True
        forks.append((self.forked, "pandas" in sys.modules))
    return submit(self, *args)
workers.StageOne.submit = noted
assert "pandas" not in sys.modules, "imported before the scan"
result = pipeline.scan([sys.argv[1]], jobs=2)
print(forks[0], len(result.alerts), sorted(result.alerts["event.id"])[:3])
"""


@pytest.mark.parametrize("name", ["conn.log", "conn.json.log", "eve.json"])
def test_a_scan_imports_pandas_beside_its_workers_with_the_same_alerts(name: str, tmp_path: Path) -> None:
    """A fresh process forks its pre-filter workers before it imports pandas (`lazy`),
    hands them blocks while it imports it, and finds the alerts of a process that had
    pandas from the start. (A file is mapped, and so read by processes, once it has
    not changed for a minute: the copy is dated an hour back.)"""
    path = tmp_path / name
    shutil.copy(PROJECT / "fixtures" / name, path)
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    fresh = subprocess.run([sys.executable, "-c", _FORKED_SCAN, str(path)], capture_output=True, text=True,
                           timeout=120)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(workers, "PROCESS_MIN_BYTES", 0)
        result = pipeline.scan([str(path)], jobs=2)
    assert len(result.alerts) > 0
    expected = f'(True, False) {len(result.alerts)} {sorted(result.alerts["event.id"])[:3]}'
    assert fresh.stdout.strip() == expected  # forked, pandas not yet imported; the same alerts


def test_a_worker_judges_blocks_without_pandas() -> None:
    """pyarrow imports pandas at its first array when it can; a forked worker says it
    cannot, and its kernels work all the same."""
    script = ("import sys; from zeek_proxy.reading import workers; workers._prepare_worker()\n"
              "import numpy as np, pyarrow as pa, pyarrow.compute as pc\n"
              "found = pc.equal(pa.array(np.arange(3)), 1).to_numpy(zero_copy_only=False).tolist()\n"
              "print(found, 'pandas' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "[False, True, False] False", run.stderr[-2000:]
