"""On generated logs full of traps, alerts equal an independent slow checker.

The checker shares no code with the package: zat reads the TSV, the json module reads
JSON and eve, and the rule is applied row by row with the ipaddress module.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from zat.log_to_dataframe import LogToDataFrame

from conftest import generate
from zeek_proxy import scan
from zeek_proxy.reading import blocks, linescan, reader, workers
from zeek_proxy.reading.prefilter import Prefilter, keep_nothing

INTERNAL = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
EXCLUDED = [ipaddress.ip_network(n) for n in
            ("10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128")]


def rule(transport: str, src: str, dst: str, dport: int) -> bool:
    """Elastic's v3 query, evaluated for one connection."""
    source, destination = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    return (
        transport.lower() == "tcp"
        and int(dport) in (1080, 3128, 8080)
        and any(source in n for n in INTERNAL if n.version == source.version)
        and not any(destination in n for n in EXCLUDED if n.version == destination.version)
    )


def check_zeek_tsv(path: Path) -> set[str]:
    frame = LogToDataFrame().create_dataframe(str(path)).reset_index()
    return {
        row["uid"] for _, row in frame.iterrows()
        if rule(row["proto"], row["id.orig_h"], row["id.resp_h"], row["id.resp_p"])
    }


def check_zeek_json(path: Path) -> set[str]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["uid"] for r in records if rule(r["proto"], r["id.orig_h"], r["id.resp_h"], r["id.resp_p"])}


def check_eve(path: Path) -> set[int]:
    flows = set()
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if "src_ip" not in event:
            continue
        ends = event.get("flow", {}) if "src_ip" in event.get("flow", {}) else event
        if rule(event["proto"], ends["src_ip"], ends["dest_ip"], ends["dest_port"]):
            flows.add(event["flow_id"])
    return flows


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    directory = tmp_path_factory.mktemp("generated")
    conns = list(generate.connections(4000, seed=99, every_case_first=True))
    with open(directory / "conn.log", "w") as out:
        generate.write_zeek_tsv(conns, out)
    with open(directory / "conn.json.log", "w") as out:
        generate.write_zeek_json(conns, out)
    with open(directory / "eve.json", "w") as out:
        generate.write_eve(conns, out)
    return directory, conns


def test_generator_labels_agree_with_checker(generated: tuple[Path, list]) -> None:
    directory, conns = generated
    labelled = {c.uid for c in conns if c.expected}
    assert labelled and labelled == check_zeek_json(directory / "conn.json.log")
    assert all(not rule(c.proto, c.orig_h, c.resp_h, c.resp_p) for c in conns if c.label.startswith("trap"))


@pytest.mark.parametrize("name,checker,key", [
    ("conn.log", check_zeek_tsv, "zeek.session_id"),
    ("conn.json.log", check_zeek_json, "zeek.session_id"),
    ("eve.json", check_eve, "suricata.eve.flow_id"),
])
def test_alerts_equal_slow_checker(generated: tuple[Path, list], name: str, checker, key: str) -> None:
    directory, _ = generated
    result = scan([str(directory / name)])
    expected = checker(directory / name)
    assert len(expected) > 10
    assert set(result.alerts[key]) == expected
    assert len(result.alerts) == len(expected)  # one alert per connection
    assert result.inputs[0].malformed == 0 and result.inputs[0].balanced


def test_the_second_mix_is_shaped_as_said_and_alerts_as_checked(tmp_path: Path) -> None:
    """bench.py --mix: eve about 49% flow, 24% dns, 17% http and 10% alert events, about
    3% of connections on a proxy port; the scan agrees with the checker on it."""
    conns = list(generate.connections(6000, seed=5, mix=True))
    with open(tmp_path / "eve.json", "w") as out:
        generate.write_eve_mix(conns, out)
    events = [json.loads(line) for line in (tmp_path / "eve.json").read_text().splitlines()]
    share = {kind: sum(e["event_type"] == kind for e in events) / len(events)
             for kind in ("flow", "dns", "http", "alert")}
    assert abs(share["flow"] - 0.49) < 0.04 and abs(share["dns"] - 0.24) < 0.03, share
    assert abs(share["http"] - 0.17) < 0.03 and abs(share["alert"] - 0.10) < 0.03, share
    on_proxy_port = sum(c.resp_p in (1080, 3128, 8080) for c in conns) / len(conns)
    assert 0.02 < on_proxy_port < 0.04
    expected = check_eve(tmp_path / "eve.json")
    assert expected == {c.flow_id for c in conns if c.expected}
    assert set(scan([str(tmp_path / "eve.json")]).alerts["suricata.eve.flow_id"]) == expected


def test_formats_give_the_same_alerts(generated: tuple[Path, list], tmp_path: Path) -> None:
    """The same connections as TSV, gzip TSV and JSON give the same event ids."""
    directory, _ = generated
    archive = tmp_path / "conn.10:00:00-11:00:00.log.gz"
    archive.write_bytes(gzip.compress((directory / "conn.log").read_bytes()))
    ids = [set(scan([str(p)]).alerts["event.id"]) for p in
           (directory / "conn.log", archive, directory / "conn.json.log")]
    assert ids[0] == ids[1] == ids[2]
    # One run over TSV and JSON together: the same uids, so one alert each.
    both = scan([str(directory / "conn.log"), str(directory / "conn.json.log")])
    assert set(both.alerts["event.id"]) == ids[0]


def test_every_trap_and_hit_kind_is_in_the_fixtures() -> None:
    labels = {label for label, *_ in generate._cases()}
    first = list(generate.connections(len(labels), seed=1, every_case_first=True))
    assert {c.label for c in first} == labels


def test_bundled_fixtures_match_the_generator(tmp_path: Path) -> None:
    """fixtures/ is what scripts/generate.py writes: regenerate with `make fixtures`."""
    from conftest import FIXTURES

    expected = generate.write_fixtures(tmp_path)
    for name in expected:
        assert (FIXTURES / name).read_bytes() == (tmp_path / name).read_bytes(), name
    result = scan([str(FIXTURES)])
    assert {Path(s.path).name: s.alerts for s in result.inputs} == {
        Path(name).name: hits for name, hits in expected.items()
    }


@pytest.mark.parametrize("forked", [False, True], ids=["threads", "processes"])
@pytest.mark.parametrize("block_scan", [True, False], ids=["hyperscan", "re2"])
@pytest.mark.parametrize("name", ["conn.log", "conn.json.log", "eve.json"])
def test_prefilter_changes_nothing_but_speed(generated: tuple[Path, list], name: str, block_scan: bool,
                                             forked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same alerts and ids with the raw-line pre-filter (1 or 2 workers, threads or
    forked processes, either line scanner) as with every record parsed; the records it
    drops are counted as filtered."""
    if block_scan and not linescan.BLOCK_SCAN:
        pytest.skip("hyperscan is not installed")
    monkeypatch.setattr(linescan, "BLOCK_SCAN", block_scan)
    if forked:  # a mapped file of several blocks, as large files are
        if not workers._can_fork():
            pytest.skip("no fork on this platform")
        monkeypatch.setattr(workers, "PROCESS_MIN_BYTES", 0)
        monkeypatch.setattr(blocks, "BLOCK_SIZE", 1 << 16)
        old = time.time() - 2 * blocks.QUIET_SECONDS
        os.utime(generated[0] / name, (old, old))
    path = [str(generated[0] / name)]
    full = scan(path, prefilter=False)
    used: list[bool] = []  # whether each scan's stage one ran in processes
    start = workers.StageOne.__init__
    monkeypatch.setattr(workers.StageOne, "__init__",
                        lambda self, *args: (start(self, *args), used.append(self.forked))[0])
    for jobs in (1, 2):
        fast = scan(path, jobs=jobs)
        assert fast.alerts["event.id"].tolist() == full.alerts["event.id"].tolist()
        assert fast.alerts.drop(columns="event.created", errors="ignore").equals(full.alerts)
        (stats,) = fast.inputs
        assert stats.read == full.inputs[0].read and stats.balanced
        assert stats.filtered > stats.evaluated
    # Large mapped files fork when there is more than one job.
    assert (True in used) == forked


def _reordered(text: str, rows: set[int], copies: int) -> str:
    """A Zeek TSV log of `copies` times the lines numbered `rows` of `text`, each copy
    with other uids, under a header that puts the columns in another order."""
    lines = text.splitlines(keepends=True)
    fields = next(line for line in lines if line.startswith("#fields")).rstrip("\n").split("\t")[1:]
    order = list(range(len(fields)))
    order[2:6] = [5, 4, 3, 2]  # id.resp_p, id.resp_h, id.orig_p, id.orig_h
    out = []
    for line in lines:
        if line.startswith(("#fields", "#types")):
            head, *cells = line.rstrip("\n").split("\t")
            out.append("\t".join([head, *(cells[i] for i in order)]) + "\n")
        elif line.startswith("#") and not line.startswith("#close"):
            out.append(line)
    for copy in range(copies):
        for number in sorted(rows):
            cells = lines[number - 1].rstrip("\n").split("\t")
            cells[1] = f"R{copy}{cells[1]}"  # other connections, or they fold into the first part's
            out.append("\t".join(cells[i] for i in order) + "\n")
    return "".join(out)


@pytest.mark.parametrize("forked", [False, True], ids=["threads", "processes"])
def test_layout_changing_mid_file_is_followed_by_the_workers(generated: tuple[Path, list], tmp_path: Path,
                                                            forked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Concatenated Zeek logs whose second header reorders the columns, followed by
    hits only: blocks handed to workers under the first header are judged again under
    the second, and no hit is lost."""
    original = generated[0] / "conn.log"
    hits = set(scan([str(original)], prefilter=False).alerts["zeek_proxy.line"].tolist())
    text = original.read_text()
    path = tmp_path / "concatenated.log"
    path.write_text(text + _reordered(text, hits, copies=40))
    old = time.time() - 2 * blocks.QUIET_SECONDS
    os.utime(path, (old, old))
    monkeypatch.setattr(blocks, "BLOCK_SIZE", 1 << 15)
    monkeypatch.setattr(workers, "PROCESS_MIN_BYTES", 0 if forked else 1 << 62)
    full = scan([str(path)], prefilter=False)
    fast = scan([str(path)], jobs=2)
    assert full.alerts["zeek.session_id"].str.startswith("R").sum() == 40 * len(hits)
    assert fast.alerts["event.id"].tolist() == full.alerts["event.id"].tolist()
    assert fast.alerts.drop(columns="event.created", errors="ignore").equals(full.alerts)
    assert fast.inputs[0].read == full.inputs[0].read and fast.inputs[0].balanced


def _mapped_copy(generated: tuple[Path, list], tmp_path: Path, names: tuple[str, ...]) -> Path:
    """A folder of generated logs dated back, so that they are mapped, not read."""
    folder = tmp_path / "logs"
    folder.mkdir()
    old = time.time() - 2 * blocks.QUIET_SECONDS
    for name in names:
        (folder / name).write_bytes((generated[0] / name).read_bytes())
        os.utime(folder / name, (old, old))
    return folder


def test_one_set_of_processes_judges_every_file_of_a_scan(generated: tuple[Path, list], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The processes are forked once for a scan of several large files (not once per
    file), and find what threads find."""
    if not workers._can_fork():
        pytest.skip("no fork on this platform")
    folder = _mapped_copy(generated, tmp_path, ("conn.log", "conn.json.log", "eve.json"))
    monkeypatch.setattr(blocks, "BLOCK_SIZE", 1 << 16)
    monkeypatch.setattr(workers, "PROCESS_MIN_BYTES", 1 << 62)
    threads = scan([str(folder)], jobs=2)
    forks = []
    processes = workers._processes
    monkeypatch.setattr(workers, "_processes", lambda jobs: (forks.append(jobs), processes(jobs))[1])
    monkeypatch.setattr(workers, "PROCESS_MIN_BYTES", 0)
    forked = scan([str(folder)], jobs=2)
    assert forks == [2]
    assert forked.alerts["event.id"].tolist() == threads.alerts["event.id"].tolist() != []
    assert [(s.path, s.read, s.filtered, s.alerts) for s in forked.inputs] == \
        [(s.path, s.read, s.filtered, s.alerts) for s in threads.inputs]


def test_blocks_a_process_cannot_map_are_judged_by_the_parent(generated: tuple[Path, list], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that finds the path renamed over says so, and the parent judges the
    block itself: every other block here, with the same alerts and counts."""
    if not workers._can_fork():
        pytest.skip("no fork on this platform")
    folder = _mapped_copy(generated, tmp_path, ("conn.log",))
    monkeypatch.setattr(blocks, "BLOCK_SIZE", 1 << 16)
    monkeypatch.setattr(workers, "PROCESS_MIN_BYTES", 0)
    expected = scan([str(folder)], jobs=1)
    calls = iter(range(10**6))  # each forked process counts its own calls
    map_of = workers._map_of
    monkeypatch.setattr(workers, "_map_of", lambda file: map_of(file) if next(calls) % 2 else None)
    parent_judged = []
    judge = reader.chosen
    monkeypatch.setattr(reader, "chosen", lambda *args: (parent_judged.append(1), judge(*args))[1])
    result = scan([str(folder)], jobs=2)
    assert parent_judged
    assert result.alerts["event.id"].tolist() == expected.alerts["event.id"].tolist() != []
    assert (result.inputs[0].read, result.inputs[0].filtered) == (expected.inputs[0].read, expected.inputs[0].filtered)


def test_a_process_maps_only_the_file_the_parent_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "_mapped", None)
    path = tmp_path / "conn.log"
    path.write_bytes(b"first\n")
    info = path.stat()
    ref = blocks.FileRef(str(path), info.st_dev, info.st_ino)
    mapped = workers._map_of(ref)
    assert mapped is not None and mapped[:6] == b"first\n"
    other = tmp_path / "new.log"
    other.write_bytes(b"other\n")
    other.replace(path)  # rotated: the path names another file now
    monkeypatch.setattr(workers, "_mapped", None)
    assert workers._map_of(ref) is None


def test_a_prefilter_that_cannot_be_sent_is_run_in_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not workers._can_fork():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(workers, "PROCESS_MIN_BYTES", 0)
    path = tmp_path / "conn.log"
    path.write_bytes(b"x\n" * 100)
    old = time.time() - 2 * blocks.QUIET_SECONDS
    os.utime(path, (old, old))
    with path.open("rb") as stream:
        first = next(blocks.read_blocks(stream))
        assert first.file is not None
        sendable = workers.StageOne(Prefilter(ports=(8080,), keep=keep_nothing), 2, first)
        local = workers.StageOne(Prefilter(ports=(8080,), keep=lambda _: True), 2, first)
        assert sendable.forked and not local.forked
        sendable.shutdown()
        local.shutdown()
        del first


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="no /proc")
def test_a_file_opened_by_descriptor_is_mapped_by_the_processes_too(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`watch` opens its own descriptors; a process finds the file through /proc."""
    monkeypatch.setattr(workers, "_mapped", None)
    path = tmp_path / "conn.log"
    path.write_bytes(b"x\n" * 100)
    old = time.time() - 2 * blocks.QUIET_SECONDS
    os.utime(path, (old, old))
    with open(os.open(path, os.O_RDONLY), "rb") as stream:
        first = next(blocks.read_blocks(stream))
        assert first.file is not None and first.file.path.startswith("/proc/")
        mapped = workers._map_of(first.file)
        assert mapped is not None and mapped[:4] == b"x\nx\n"
        del first


def _json_conn(uid: str, port: int = 8080, ts: object = 1700000000.5, path: str = "conn") -> str:
    return json.dumps({"_path": path, "ts": ts, "uid": uid, "id.orig_h": "10.1.2.3", "id.orig_p": 40000,
                       "id.resp_h": "8.8.8.8", "id.resp_p": port, "proto": "tcp", "conn_state": "SF"}) + "\n"


_FORKED_CLI = """
import sys
from zeek_proxy.reading import blocks, workers
workers.PROCESS_MIN_BYTES, blocks.BLOCK_SIZE = 0, 1 << 15
from zeek_proxy.cli import main
sys.argv = ["zeek-proxy", "scan", "--jobs", "2", "-o", sys.argv[2], sys.argv[1]]
main()
"""


def test_workers_parse_the_chosen_lines_and_leave_the_rest_to_the_parent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Forked workers send their chosen lines parsed; a line they cannot parse to a
    record (a log not read, a malformed record) the parent parses, and counts and warns
    of once, exactly as without workers. The workers themselves print nothing."""
    if not workers._can_fork():
        pytest.skip("no fork on this platform")
    lines = []
    for i in range(3000):
        lines.append(_json_conn(f"C{i:07d}"))
        lines.append(_json_conn(f"N{i:07d}", port=443))
        if i % 500 == 7:
            lines.append(_json_conn(f"D{i:07d}", path="dns"))  # a log not read: skipped, warned of once
            lines.append(_json_conn(f"M{i:07d}", ts="yesterday"))  # malformed
    path = tmp_path / "conn.json.log"
    path.write_text("".join(lines))
    old = time.time() - 2 * blocks.QUIET_SECONDS
    os.utime(path, (old, old))
    monkeypatch.setattr(blocks, "BLOCK_SIZE", 1 << 15)
    full = scan([str(path)], prefilter=False)
    caplog.clear()
    parsed = []  # per block: how many rows a worker sent parsed, of how many chosen lines
    chosen = reader.Reader._chosen
    monkeypatch.setattr(reader.Reader, "_chosen", lambda self, block, result: (
        parsed.append((sum(row is not None for row in result.rows or []), len(result.parse))),
        chosen(self, block, result))[1])
    monkeypatch.setattr(workers, "PROCESS_MIN_BYTES", 0)
    fast = scan([str(path)], jobs=2)
    assert sum(done for done, _ in parsed) >= 2990 and len(parsed) > 10  # the workers parsed nearly all
    assert fast.alerts.equals(full.alerts) and len(fast.alerts) == 3000
    (stats,), (expected,) = fast.inputs, full.inputs
    assert (stats.read, stats.malformed, stats.skipped) == (expected.read, 6, 6) == \
        (expected.read, expected.malformed, expected.skipped)
    assert (stats.evaluated, stats.filtered) == (3000, 3000) and stats.balanced
    assert [r.getMessage() for r in caplog.records if "such records are skipped" in r.getMessage()] == \
        [f"{path}:{lines.index(_json_conn('D0000007', path='dns')) + 1}: _path dns is not a conn or socks log; "
         "such records are skipped"]
    run = subprocess.run([sys.executable, "-c", _FORKED_CLI, str(path), str(tmp_path / "alerts.ndjson")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stderr.count("such records are skipped") == 1  # by the parent; the workers print nothing


_CONN_FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes "
                "conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts "
                "resp_ip_bytes").split()


@pytest.mark.parametrize("first", ["#unset_field\tNULL", "#path\tsocks", "#empty_field\tNULL"])
def test_workers_parse_under_the_header_a_file_begins_with(first: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A Zeek TSV file whose first line is a header other than #separator: the workers
    parse its first block's records under it, as the parent does."""
    if not workers._can_fork():
        pytest.skip("no fork on this platform")
    records = ["\t".join([f"1700000000.{i:06d}", f"C{i:08d}", "10.1.2.3", "40000", "8.8.8.8", "8080", "tcp",
                          "NULL", "1.5", "10", "20", "SF", "T", "F", "0", "ShADad", "3", "100", "4", "200"])
               for i in range(4000)]
    path = tmp_path / "conn.log"
    path.write_text("\n".join([first, "#fields\t" + "\t".join(_CONN_FIELDS), *records]) + "\n")
    old = time.time() - 2 * blocks.QUIET_SECONDS
    os.utime(path, (old, old))
    monkeypatch.setattr(blocks, "BLOCK_SIZE", 1 << 15)
    full = scan([str(path)], prefilter=False)
    monkeypatch.setattr(workers, "PROCESS_MIN_BYTES", 0)
    fast = scan([str(path)], jobs=2)
    assert len(full.alerts) == 4000
    assert fast.alerts.equals(full.alerts)
    monkeypatch.setattr(workers, "PARSED_MAX", 0)  # blocks of many chosen lines: the parent parses them
    assert scan([str(path)], jobs=2).alerts.equals(full.alerts)
