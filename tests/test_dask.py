"""--engine dask equals the local engine, alert for alert and id for id."""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CORPUS, FIXTURES, generate
from zeek_proxy import scan
from zeek_proxy.cli import cli

distributed = pytest.importorskip("distributed")
from zeek_proxy.engine_dask import plan, scan_dask  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 zeekctl gzip archives and 2 eve files, as a sensor's log folder holds them."""
    folder = tmp_path_factory.mktemp("sensor")
    day = folder / "2026-11-27"
    day.mkdir()
    for hour in range(8):
        conns = generate.connections(3000, seed=100 + hour, every_case_first=True)
        text = Path(folder / "tmp.log")
        with open(text, "w") as out:
            generate.write_zeek_tsv(conns, out, extension_first=hour % 2 == 0)
        (day / f"conn.{hour:02d}:00:00-{hour + 1:02d}:00:00.log.gz").write_bytes(gzip.compress(text.read_bytes()))
        text.unlink()
    for n in range(2):
        with open(folder / f"eve-{n}.json", "w") as out:
            generate.write_eve(generate.connections(2000, seed=200 + n, every_case_first=True), out)
    return folder


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


def same(dask_result, local_result) -> None:
    assert dask_result.alerts["event.id"].tolist() == local_result.alerts["event.id"].tolist()
    assert dask_result.alerts.drop(columns="event.created", errors="ignore").equals(local_result.alerts)
    counts = lambda r: sorted((s.path, s.format, s.read, s.malformed, s.skipped, s.matched, s.alerts)  # noqa: E731
                              for s in r.inputs)
    assert counts(dask_result) == counts(local_result)
    assert [str(e) for e in dask_result.errors] == [str(e) for e in local_result.errors]


def test_archives_and_eve_on_a_local_cluster(archives: Path) -> None:
    local = scan([str(archives)])
    assert len(local.alerts) > 40 and len(local.inputs) == 10
    same(scan_dask([str(archives)], local_settings(), workers=2), local)


def test_suppression_as_locally(archives: Path, cluster) -> None:
    """Windows are made in the client from every partition's hits: the same windows,
    counts and ids as the local engine."""
    from dataclasses import replace

    from zeek_proxy.core.suppression import Suppression

    settings = replace(local_settings(), suppression=Suppression(600, ("source.ip",)))
    local = scan([str(archives)], settings)
    assert local.grouped > 0  # the windows did group hits
    same(scan_dask([str(archives)], settings, cluster.scheduler_address), local)


def test_corpus_on_an_existing_cluster(cluster) -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    same(scan_dask([str(CORPUS), str(FIXTURES)], local_settings(), cluster.scheduler_address),
         scan([str(CORPUS), str(FIXTURES)]))


def test_large_plain_file_is_split_into_line_aligned_ranges(tmp_path: Path, cluster) -> None:
    log = tmp_path / "conn.log"
    with open(log, "w") as out:
        generate.write_zeek_tsv(generate.connections(40_000, seed=7, every_case_first=True), out)
    parts = plan(str(log), size=1 << 20)
    assert len(parts) > 4 and parts[0].start == 0 and parts[-1].end == log.stat().st_size
    assert all(a.end == b.start for a, b in zip(parts, parts[1:]))
    from zeek_proxy import engine_dask

    original = engine_dask.PARTITION_BYTES
    engine_dask.PARTITION_BYTES = 1 << 20
    try:
        result = scan_dask([str(log)], local_settings(), cluster.scheduler_address)
    finally:
        engine_dask.PARTITION_BYTES = original
    same(result, scan([str(log)]))


def test_cli_with_a_separately_started_scheduler_and_worker(archives: Path, tmp_path: Path) -> None:
    dask = shutil.which("dask", path=os.path.dirname(sys.executable))
    if dask is None:
        pytest.skip("the dask command is not installed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1",
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        for to in ("ecs", "notice"):
            remote = CliRunner().invoke(cli, ["scan", "--engine", "dask", "--scheduler", address,
                                              "-t", to, str(archives)])
            here = CliRunner().invoke(cli, ["scan", "-t", to, str(archives)])
            assert remote.exit_code == here.exit_code == 0
            assert _stable(remote.stdout) == _stable(here.stdout)
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=30)


def test_input_errors_and_strict_as_locally(tmp_path: Path, cluster) -> None:
    bad = tmp_path / "conn.log"
    lines = (FIXTURES / "conn.log").read_text().splitlines(keepends=True)
    bad.write_text("".join(lines[:20]) + "1.0\tCx\t10.0.0.1\t5\t8.8.8.8\t8080\ttcp\n" + "".join(lines[20:]))
    args = ["scan", "--engine", "dask", "--scheduler", cluster.scheduler_address]
    missing = CliRunner().invoke(cli, [*args, str(bad), str(tmp_path / "nope.log")])
    assert missing.exit_code == 3 and f"Error: {tmp_path / 'nope.log'}: no such file or directory" in missing.stderr
    strict = CliRunner().invoke(cli, [*args, "--strict", str(bad)])
    assert strict.exit_code == 3 and f"Error: {bad}:21: malformed record" in strict.stderr


def test_without_dask_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = CliRunner().invoke(cli, ["scan", "--engine", "dask", str(FIXTURES)])
    assert result.exit_code == 2
    assert result.stderr == "Error: --engine dask needs Dask: pip install 'zeek-proxy[dask]'\n"


def test_local_engine_never_imports_dask() -> None:
    code = ("import sys; from zeek_proxy.cli import main; sys.argv=['zeek-proxy','scan','-o','/dev/null',"
            f"{str(FIXTURES)!r}]\ntry: main()\nexcept SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def local_settings():
    from zeek_proxy import DEFAULT_SETTINGS

    return DEFAULT_SETTINGS


def _stable(text: str) -> list[str]:
    """Output lines without the parts that name the moment of the run."""
    import re

    return [re.sub(r'"created":"[^"]*"|#(open|close)\t\S+', "", line) for line in text.splitlines()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fsspec_urls_on_both_engines(archives: Path, cluster) -> None:
    url = f"file://{archives}/2026-11-27/*.log.gz"
    from zeek_proxy import DEFAULT_SETTINGS

    remote = scan_dask([url], DEFAULT_SETTINGS, cluster.scheduler_address)
    local = scan([str(archives / "2026-11-27")])
    assert remote.alerts["event.id"].tolist() == local.alerts["event.id"].tolist()
    assert len(remote.inputs) == 8 and all(s.path.startswith("file://") for s in remote.inputs)
    single = f"file://{sorted((archives / '2026-11-27').glob('*.gz'))[0]}"
    assert scan([single]).inputs[0].read == 3000  # the local engine opens URLs too
