"""Every corpus file scans without error and gives exactly MANIFEST.md's rule hits.

The corpus (../shared/corpus) holds real logs from public projects; it is read in place.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import CORPUS
from zeek_proxy import scan


def manifest_rows() -> list[tuple[str, int, int]]:
    """(file, records, expected alerts) from MANIFEST.md's table."""
    manifest = CORPUS / "MANIFEST.md"
    if not manifest.is_file():
        return []
    rows = []
    for line in manifest.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 10 or not cells[0].startswith("`"):
            continue
        name, records, hits = cells[0].strip("`"), int(cells[5]), cells[8]
        flows = re.search(r"\((\d+) flows?\)", hits)
        rows.append((name, records, int(flows.group(1)) if flows else int(hits.split()[0])))
    return rows


ROWS = manifest_rows()


def test_manifest_lists_files(corpus: Path) -> None:
    assert len(ROWS) >= 20
    assert {name for name, _, _ in ROWS} == {
        str(p.relative_to(corpus)) for p in corpus.rglob("*") if p.is_file() and p.name != "MANIFEST.md"
    }


@pytest.mark.parametrize("name,records,expected", ROWS, ids=[r[0] for r in ROWS])
def test_corpus_file_alerts_match_manifest(corpus: Path, name: str, records: int, expected: int) -> None:
    fast = scan([str(corpus / name)])
    result = scan([str(corpus / name)], prefilter=False)  # every record parsed
    assert fast.errors == result.errors == []
    assert fast.inputs[0].balanced and fast.inputs[0].read == result.inputs[0].read
    assert len(fast.alerts) == stats_alerts(fast) == expected
    assert fast.alerts["event.id"].tolist() == result.alerts["event.id"].tolist()
    (stats,) = result.inputs
    assert stats.balanced
    assert len(result.alerts) == expected
    assert stats.alerts == expected
    if stats.evaluated:  # conn and eve logs: every parseable record evaluated or skipped on purpose
        assert stats.evaluated + stats.skipped == records
        assert stats.malformed == stats.read - records
    else:  # notice logs given by mistake: nothing evaluated, everything skipped
        assert stats.skipped == stats.read


def stats_alerts(result) -> int:
    return sum(s.alerts for s in result.inputs)


def test_nicoaller_one_alert_per_flow(corpus: Path) -> None:
    result = scan([str(corpus / "suricata/nicoaller__eve.json")], prefilter=False)
    assert result.inputs[0].matched == 134
    assert len(result.alerts) == 52
    assert result.alerts["suricata.eve.flow_id"].is_unique
    assert set(result.alerts["source.ip"]) == {"172.16.0.149", "172.16.0.170"}
    assert (result.alerts["destination.port"] == 8080).all()


def test_trickbot_hits_are_the_two_documented(corpus: Path) -> None:
    alerts = scan([str(corpus / "zeek-tsv/trickbot-playbook__conn.log")]).alerts
    assert sorted(zip(alerts["source.ip"], alerts["destination.ip"], alerts["destination.port"])) == [
        ("172.16.9.5", "217.210.64.254", 8080), ("172.16.9.5", "5.196.66.241", 8080),
    ]


def test_whole_corpus_in_one_run(corpus: Path) -> None:
    result = scan([str(corpus)])
    assert result.errors == []
    assert len(result.alerts) == sum(expected for _, _, expected in ROWS)
    assert result.alerts["event.id"].is_unique


def test_a_folder_is_read_by_content_and_what_is_no_log_of_ours_is_named(corpus: Path) -> None:
    """The corpus as a folder: slips' `*.suricata.json` (5,000 eve events, named like no
    eve file) is read; its notice logs, and the socks and tunnel logs the default profile
    does not read, are skipped and counted in one warning, never read as malformed."""
    result = scan([str(corpus)])
    read = {str(Path(s.path).relative_to(corpus)): s for s in result.inputs}
    assert read["suricata/slips__test6-malicious.suricata.json"].read == 5000
    skipped = sorted(str(p) for p in corpus.rglob("*") if p.is_file() and p.name != "MANIFEST.md"
                     and str(p.relative_to(corpus)) not in read)
    assert len(skipped) == 9 and all(re.search(r"notice|socks-|__tunnel", p) for p in skipped)
    [warning] = [w for w in result.warnings if "skipped" in w]
    assert warning.startswith("9 files skipped: not Zeek conn or Suricata logs (") and warning.endswith(" and 4 more)")
    assert sum(s.malformed for s in result.inputs) == 1  # rita's truncated record, and only it


def test_event_ids_are_stable_across_runs_and_paths(corpus: Path, tmp_path: Path) -> None:
    source = corpus / "suricata/nicoaller__eve.json"
    copy = tmp_path / "renamed-eve.json"
    copy.write_bytes(source.read_bytes())  # a temporary copy, removed with tmp_path
    first = scan([str(source)]).alerts["event.id"].tolist()
    again = scan([str(copy)]).alerts["event.id"].tolist()
    assert first == again


def test_same_connection_in_two_inputs_is_one_alert(corpus: Path, tmp_path: Path) -> None:
    source = corpus / "zeek-tsv/trickbot-playbook__conn.log"
    copy = tmp_path / "conn.log"
    copy.write_bytes(source.read_bytes())
    result = scan([str(source), str(copy)])
    assert [s.matched for s in result.inputs] == [2, 2]
    assert len(result.alerts) == 2


def test_strict_writes_the_alerts_found_before_the_truncated_record(corpus: Path, tmp_path: Path) -> None:
    """rita's truncated conn.log ends in a record cut short: --strict stops there (exit 3)
    and writes the alerts of every record read before it, not none."""
    import json

    from click.testing import CliRunner

    from zeek_proxy.reading.inputs import expand
    from zeek_proxy.cli import cli

    files = expand([str(corpus)]).files
    truncated = next(f for f in files if f.endswith("rita__truncated__conn.log"))
    read_before = set(files[: files.index(truncated) + 1])
    every = scan([str(corpus)]).alerts
    expected = set(every.loc[every["log.file.path"].isin(read_before), "event.id"])
    out = tmp_path / "alerts.ndjson"
    result = CliRunner().invoke(cli, ["scan", "--strict", "-o", str(out), str(corpus)])
    assert result.exit_code == 3 and f"{truncated}:67: malformed record" in result.stderr
    written = [json.loads(line)["event"]["id"] for line in out.read_text().splitlines()]
    assert len(written) == len(expected) == 53 and set(written) == expected
