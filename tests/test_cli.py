"""The command line end to end: outputs, exit codes and one-line errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from zat.zeek_log_reader import ZeekLogReader

from conftest import FIXTURES, ROOT
from zeek_proxy.cli import cli
from zeek_proxy.emit.notice import FIELDS

CONN = str(FIXTURES / "conn.log")
EVE = str(FIXTURES / "eve.json")


def run(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def ndjson(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_scan_fixtures_prints_ecs_alerts() -> None:
    result = run("scan", str(FIXTURES))
    assert result.exit_code == 0
    alerts = ndjson(result.stdout)
    assert len(alerts) == 18
    assert {a["event"]["module"] for a in alerts} == {"zeek", "suricata"}
    assert all(a["event"]["kind"] == "alert" and "alert" in a["tags"] for a in alerts)
    assert [a["@timestamp"] for a in alerts] == sorted(a["@timestamp"] for a in alerts)


def test_same_input_same_event_ids() -> None:
    first, second = (ndjson(run("scan", CONN, EVE).stdout) for _ in range(2))
    assert [a["event"]["id"] for a in first] == [a["event"]["id"] for a in second]


def test_stdin_and_gzip_stdin() -> None:
    data = Path(CONN).read_bytes()
    plain = ndjson(run("scan", "-", stdin=data).stdout)
    zipped = ndjson(run("scan", stdin=gzip.compress(data)).stdout)
    assert len(plain) == 5
    assert [a["event"]["id"] for a in plain] == [a["event"]["id"] for a in zipped]


def test_stats_on_stderr_only() -> None:
    result = run("scan", "--stats", CONN)
    assert "evaluated" in result.stderr and "fixtures/conn.log" in result.stderr
    assert all(line.startswith("{") for line in result.stdout.splitlines())
    quiet = run("scan", "--no-stats", CONN)
    assert quiet.stderr == ""


def test_notice_output_reads_back_with_zat(tmp_path: Path) -> None:
    out = tmp_path / "notice.log"
    result = run("scan", "-t", "notice", "-o", str(out), str(FIXTURES))
    assert result.exit_code == 0 and result.stdout == ""
    rows = list(ZeekLogReader(str(out)).readrows())
    assert len(rows) == 18
    assert all(len(row) == 26 for row in rows)
    assert list(rows[0]) == [name for name, _ in FIELDS]
    assert {r["note"] for r in rows} == {"ProxyPort::Internet_Activity"}
    text = out.read_text()
    assert text.count("#close\t") == 1 and text.startswith("#separator \\x09\n")


def test_notice_json_and_csv() -> None:
    notices = ndjson(run("scan", "-t", "notice-json", CONN).stdout)
    assert len(notices) == 5 and all(n["actions"] == ["Notice::ACTION_LOG"] for n in notices)
    lines = run("scan", "-t", "csv", CONN).stdout.splitlines()
    assert lines[0].startswith("@timestamp,event.id,source.ip") and len(lines) == 6


def test_fail_on_alert() -> None:
    assert run("scan", "--fail-on-alert", CONN).exit_code == 1
    clean = FIXTURES / "conn.log"
    assert run("scan", "--fail-on-alert", "-f", "suricata", str(clean)).exit_code == 0


def test_missing_path_is_exit_3_with_one_line(tmp_path: Path) -> None:
    result = run("scan", str(tmp_path / "nope.log"))
    assert result.exit_code == 3
    assert result.stderr == f"Error: {tmp_path / 'nope.log'}: no such file or directory\n"


def test_folder_without_logs_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    result = run("scan", str(tmp_path), str(tmp_path / "2026-12-0*" / "conn.*.log.gz"))
    assert result.exit_code == 0 and "Error" not in result.stderr
    assert f"WARNING: {tmp_path}: no input logs" in result.stderr
    assert "no files match this pattern yet" in result.stderr


def test_other_inputs_still_scanned_when_one_is_missing(tmp_path: Path) -> None:
    result = run("scan", CONN, str(tmp_path / "missing"))
    assert result.exit_code == 3
    assert len(ndjson(result.stdout)) == 5


def test_malformed_counted_or_strict_exit_3(tmp_path: Path) -> None:
    lines = Path(CONN).read_text().splitlines(keepends=True)
    lines[10] = "1.0\tCx\t10.0.0.1\t5\t8.8.8.8\t8080\ttcp\n"  # a proxy port: the pre-filter passes it on
    bad = tmp_path / "conn.log"
    bad.write_text("".join(lines))
    counted = run("scan", "--stats", str(bad))
    assert counted.exit_code == 0
    assert "malformed" in counted.stderr and f"{bad}: 1 malformed record(s) skipped, first: line 11" in counted.stderr
    strict = run("scan", "--strict", str(bad))
    assert strict.exit_code == 3
    assert strict.stderr == f"Error: {bad}:11: malformed record: 7 fields where #fields names 21\n"


def test_lines_without_a_proxy_port_are_filtered_not_parsed(tmp_path: Path) -> None:
    """Honest accounting: a line the pre-filter drops is counted as filtered, never as
    evaluated; only --strict parses (and so validates) every line."""
    lines = Path(CONN).read_text().splitlines(keepends=True)
    lines[10] = "garbage\tline\n"
    bad = tmp_path / "conn.log"
    bad.write_text("".join(lines))
    result = run("scan", "--stats", str(bad))
    header = result.stderr.splitlines()[0].split()
    row = dict(zip(header[2:], map(int, result.stderr.splitlines()[1].split()[2:])))
    assert row["read"] == 300 and row["malformed"] == 0
    assert row["evaluated"] + row["filtered"] == 300 and row["filtered"] > 250
    assert run("scan", "--strict", str(bad)).exit_code == 3


def test_truncated_gzip_scans_what_it_can(tmp_path: Path) -> None:
    whole = gzip.compress(Path(CONN).read_bytes() * 3)
    cut = tmp_path / "conn.log.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    result = run("scan", "--stats", str(cut))
    assert result.exit_code == 3
    assert f"Error: {cut}: input breaks off after line" in result.stderr
    assert len(ndjson(result.stdout)) == 5  # uids repeat: each connection once


def test_not_a_log_is_exit_3(tmp_path: Path) -> None:
    junk = tmp_path / "conn.log"
    junk.write_bytes(bytes(range(256)) * 10)
    result = run("scan", str(junk))
    assert result.exit_code == 3
    assert "not a Zeek or Suricata log" in result.stderr
    assert "Traceback" not in result.stderr


def test_non_conn_zeek_log_is_skipped_with_warning(tmp_path: Path) -> None:
    dns = tmp_path / "dns.log"
    dns.write_text("#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\t"
                   "id.resp_p\tproto\tquery\n1.0\tCx\t10.0.0.1\t5\t8.8.8.8\t8080\ttcp\texample.com\n")
    result = run("scan", "--stats", str(dns))
    assert result.exit_code == 0 and result.stdout == ""
    assert f"{dns}: #path dns is not a conn or socks log; its records are skipped" in result.stderr


def test_format_forced() -> None:
    result = run("scan", "--stats", "-f", "zeek", EVE)
    assert result.exit_code == 0 and result.stdout == ""
    assert "zeek-json" in result.stderr  # eve records are not conn records: skipped, counted
    assert len(ndjson(run("scan", "-f", "suricata", EVE).stdout)) == 5


def test_output_never_overwrites_an_input(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    log.write_bytes(Path(CONN).read_bytes())
    result = run("scan", "-o", str(log), str(log))
    assert result.exit_code == 2
    assert "output file is one of the inputs" in result.stderr
    assert log.read_bytes() == Path(CONN).read_bytes()


def test_normalize_writes_every_connection_record() -> None:
    result = run("normalize", "--stats", EVE)
    docs = ndjson(result.stdout)
    assert result.exit_code == 0
    assert len(docs) == 366  # every eve event with addresses; stats events skipped
    assert all(d["event"]["kind"] == "event" and "rule" not in d for d in docs)
    assert all(d["network"]["community_id"].startswith("1:") for d in docs if d["network"]["transport"] == "tcp")


def test_usage_error_is_exit_2() -> None:
    result = CliRunner().invoke(cli, ["scan", "--to", "xml", CONN])
    assert result.exit_code == 2


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented(name: str) -> None:
    command = cli.commands[name]
    assert command.help and "Example:" in command.help
    assert f"zeek-proxy {name}" in (ROOT / "README.md").read_text()


def test_output_to_a_device_or_pipe_is_written_in_place(tmp_path: Path) -> None:
    """-o /dev/null (or a fifo) must not replace the device with a regular file."""
    import os
    import stat
    import threading

    fifo = tmp_path / "alerts.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = run("scan", "-o", str(fifo), CONN)
    reader.join(timeout=10)
    assert result.exit_code == 0
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert len(received[0].splitlines()) == 5
    assert run("scan", "-o", os.devnull, CONN).exit_code == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_progress_only_when_asked_or_on_a_terminal() -> None:
    shown = run("scan", "--progress", str(FIXTURES))
    assert "records/s" in shown.stderr and "left" in shown.stderr
    assert shown.stderr.endswith("\r\x1b[2K")  # the line is erased at the end
    assert run("scan", str(FIXTURES)).stderr == ""  # CliRunner's stderr is no terminal
    assert run("scan", "--no-progress", str(FIXTURES)).stderr == ""


def test_jobs_do_not_change_the_alerts() -> None:
    one = ndjson(run("scan", "-j", "1", str(FIXTURES)).stdout)
    two = ndjson(run("scan", "--jobs", "2", str(FIXTURES)).stdout)
    assert [a["event"]["id"] for a in one] == [a["event"]["id"] for a in two]
    assert run("scan", "-j", "0", CONN).exit_code == 2


def test_since_inclusive_until_exclusive() -> None:
    times = [a["@timestamp"] for a in ndjson(run("scan", CONN).stdout)]
    assert len(times) == 5
    since, until = times[1], times[3]
    window = [a["@timestamp"] for a in ndjson(run("scan", "--since", since, "--until", until, CONN).stdout)]
    assert window == times[1:3]
    result = run("scan", "--stats", "--since", since, "--until", until, CONN)
    assert "outside --since/--until: 3 connection(s)" in result.stderr


def test_since_date_math_keeps_recent_connections(tmp_path: Path) -> None:
    """--since now-6m keeps a connection from 3 minutes ago and drops one from 10."""
    import time

    now = time.time()
    header = Path(CONN).read_text().split("\n")[:8]
    row = "{ts:.6f}\tC{uid}\t10.0.0.1\t50000\t198.51.100.7\t8080\ttcp\t-\t1.0\t1\t1\tSF\tT\tF\t0\tS\t1\t41\t1\t41\t(empty)"
    log = tmp_path / "conn.log"
    log.write_text("\n".join(header + [row.format(ts=now - 180, uid="recent"), row.format(ts=now - 600, uid="old")]) + "\n")
    alerts = ndjson(run("scan", "--since", "now-6m", str(log)).stdout)
    assert [a["zeek"]["session_id"] for a in alerts] == ["Crecent"]


def test_max_signals_oldest_first_and_dropped_reported() -> None:
    every = ndjson(run("scan", CONN).stdout)
    capped = run("scan", "--stats", "--max-signals", "2", CONN)
    assert ndjson(capped.stdout) == [dict(a, event=dict(a["event"], created=b["event"]["created"]))
                                     for a, b in zip(every[:2], ndjson(capped.stdout))]
    assert "--max-signals 2: 3 alert(s) dropped (with --state they would wait" in capped.stderr
    assert "beyond --max-signals 2: 0 carried to the next run, 3 dropped" in capped.stderr
    assert len(ndjson(run("scan", "--max-signals", "0", CONN).stdout)) == 5


def test_bad_since_is_a_usage_error() -> None:
    result = run("scan", "--since", "yesterday-ish", CONN)
    assert result.exit_code == 2 and "--since" in result.stderr


# -- export: the same config for Sigma, Zeek and Suricata ----------------------------------

SITE = '[[allow]]\nname = "corp-proxy"\ndestination = ["203.0.113.0/24"]\nports = [8080]\n'


def test_export_writes_each_target(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(SITE)
    sigma = run("export", "sigma", "-c", str(config), "--fields", "ecs", "-o", str(tmp_path / "r.yml"))
    assert sigma.exit_code == 0 and sigma.stdout == ""
    text = (tmp_path / "r.yml").read_text()
    assert "destination.ip|cidr: 203.0.113.0/24" in text and "filter_allow_corp_proxy" in text
    suricata = run("export", "suricata", "-c", str(config))
    assert suricata.exit_code == 0 and "!203.0.113.0/24" not in suricata.stdout.split("-> ")[0]
    assert "203.0.113.0/24" in suricata.stdout
    package = run("export", "zeek", "-c", str(config), "--package", str(tmp_path / "pkg"))
    assert package.exit_code == 0 and package.stdout == ""
    assert (tmp_path / "pkg" / "zkg.meta").is_file()
    assert "203.0.113.0/24" in (tmp_path / "pkg" / "scripts" / "main.zeek").read_text()


def test_export_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    nothing = tmp_path / "nothing.toml"
    nothing.write_text("[rule]\nports = []\n")
    (tmp_path / "a-file").write_text("")
    for args in (["sigma", "-c", str(nothing)],
                 ["suricata", "--sid-base", "4294967296"],
                 ["zeek", "--package", str(tmp_path / "a-file")]):
        result = CliRunner().invoke(cli, ["export", *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr


# -- rough edges a new user meets (issue 19, part 3) -----------------------------------------

def test_a_text_starting_with_a_hash_is_not_a_zeek_log(tmp_path: Path) -> None:
    """Markdown (or a shell script) starts with `#` too; without #separator or #fields
    in its first lines it is no Zeek log: exit 3, not 'N malformed' and exit 0."""
    notes = tmp_path / "README.md"
    notes.write_text("# Proxy hunting\n\nSome *notes* on the sensor.\n" + "- a line\n" * 90)
    result = run("scan", str(notes))
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr == f"Error: {notes}: not a Zeek or Suricata log (format not recognised)\n"


def test_a_zeek_header_after_a_comment_line_is_still_zeek(tmp_path: Path) -> None:
    log = tmp_path / "baseline.log"
    log.write_text("### BTest baseline data generated by btest-diff.\n" + Path(CONN).read_text())
    result = run("scan", str(log))
    assert result.exit_code == 0 and len(ndjson(result.stdout)) == 5


def _long_first_line(tmp_path: Path, zeek: bool, size: int) -> Path:
    """An eve (or Zeek JSON) file whose first record is `size` bytes long, then the
    fixtures' records."""
    if zeek:
        first = '{"ts":1795773600.0,"uid":"Chuge","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"8.8.8.8",' \
                '"id.resp_p":8080,"proto":"tcp","history":"' + "D" * size + '"}\n'
        rest = Path(FIXTURES / "conn.json.log").read_text()
    else:
        first = '{"timestamp":"2026-11-27T10:00:00.000000+0000","flow_id":1,"event_type":"alert",' \
                '"src_ip":"10.0.0.1","dest_ip":"8.8.8.8","payload":"' + "A" * size + '"}\n'
        rest = Path(EVE).read_text()
    log = tmp_path / ("long.json.log" if zeek else "long-eve.json")
    log.write_text(first + rest)
    return log


@pytest.mark.parametrize("zeek", [False, True], ids=["eve", "zeek-json"])
def test_a_first_line_longer_than_the_head_is_sniffed_from_its_start(tmp_path: Path, zeek: bool) -> None:
    """The format is judged from the first line's start; the line itself is then one
    malformed record (over --max-record-size), as with -f."""
    log = _long_first_line(tmp_path, zeek, 200_000)
    forced = run("scan", "-f", "zeek" if zeek else "suricata", "--max-record-size", "65536", str(log))
    result = run("scan", "--stats", "--max-record-size", "65536", str(log))
    assert result.exit_code == 0, result.stderr
    assert ndjson(result.stdout) and [a["event"]["id"] for a in ndjson(result.stdout)] == \
        [a["event"]["id"] for a in ndjson(forced.stdout)]
    assert f"{log}: 1 malformed record(s) skipped, first: line 1: record longer than" in result.stderr
    with_state = run("scan", "--state", str(tmp_path / "state"), "--max-record-size", "65536", str(log))
    assert with_state.exit_code == 0 and len(ndjson(with_state.stdout)) == len(ndjson(result.stdout))


def test_a_64_mb_first_line_is_one_malformed_record(tmp_path: Path) -> None:
    log = _long_first_line(tmp_path, False, 64 << 20)
    result = run("scan", "--stats", str(log))
    assert result.exit_code == 0 and len(ndjson(result.stdout)) == 5
    assert "1 malformed record(s) skipped, first: line 1: record longer than the 1048576-byte limit" in result.stderr


NOTICE_LOG = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tnotice\n"
              "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tnote\tmsg\n"
              "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\n"
              "1.0\tCx\t10.0.0.1\t5\t8.8.8.8\t8080\tScan::Port_Scan\tscan\n")
HTTP_LOG = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\thttp\n"
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tmethod\thost\turi\n"
            "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring\n"
            "1795773600.5\tChttp\t10.9.9.9\t40000\t9.9.9.9\t8000\tCONNECT\t-\ttarget.example:443\n")


def _sensor_folder(tmp_path: Path) -> Path:
    """A folder as a sensor leaves it: an eve file Suricata's config named otherwise,
    a notice.log, an http.log under another name, a JSON file that is no log, notes."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "sensor1.suricata.json").write_bytes(Path(EVE).read_bytes())
    (folder / "notice.log").write_text(NOTICE_LOG)
    (folder / "web.log").write_text(HTTP_LOG)
    (folder / "settings.json").write_text('{"retention": 7}\n')
    (folder / "empty.log").write_text("")
    (folder / "README.md").write_text("# not a log\n")
    return folder


def test_a_folder_is_sniffed_for_eve_files_under_any_name(tmp_path: Path) -> None:
    folder = _sensor_folder(tmp_path)
    result = run("scan", "--stats", str(folder))
    assert result.exit_code == 0, result.stderr
    assert len(ndjson(result.stdout)) == len(ndjson(run("scan", EVE).stdout)) == 5
    [warning] = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert warning == (f"zeek-proxy: WARNING: 3 files skipped: not Zeek conn or Suricata logs "
                       f"({folder / 'notice.log'}, {folder / 'settings.json'}, {folder / 'web.log'})")
    listed = [line.split()[0] for line in result.stderr.splitlines() if line.startswith(str(folder))]
    assert listed == [str(folder / "sensor1.suricata.json")]  # not the files skipped, nor the empty one


def test_a_folder_with_evidence_reads_an_http_log_under_any_name(tmp_path: Path) -> None:
    folder = _sensor_folder(tmp_path)
    result = run("scan", "--stats", "--evidence", str(folder))
    assert result.exit_code == 0, result.stderr
    assert "2 files skipped: not Zeek conn/socks/http/ssl/tunnel or Suricata logs" in result.stderr
    listed = [line.split()[0] for line in result.stderr.splitlines() if line.startswith(str(folder))]
    assert listed == [str(folder / "sensor1.suricata.json"), str(folder / "web.log")]
    assert any(a.get("http", {}).get("request", {}).get("method") == "CONNECT" for a in ndjson(result.stdout))


def test_named_files_are_read_whatever_they_hold(tmp_path: Path) -> None:
    """Sniffing decides for files a folder holds under other names; a file named on the
    command line (or by its name in a folder) is read as before."""
    folder = _sensor_folder(tmp_path)
    result = run("scan", "--stats", str(folder / "notice.log"))
    assert result.exit_code == 0 and "notice is not a conn or socks log" in result.stderr


@pytest.mark.parametrize("command", ["scan", "watch"])
def test_since_after_until_is_a_usage_error(command: str) -> None:
    result = run(command, "--since", "2026-11-28", "--until", "2026-11-27", CONN)
    assert result.exit_code == 2 and result.stdout == ""
    assert "--since (2026-11-28T00:00:00+00:00) is not before --until (2026-11-27T00:00:00+00:00)" in result.stderr


def test_watch_help_lists_only_what_watch_takes() -> None:
    text = run("watch", "--help").stdout
    for option in ("--engine", "--scheduler", "--progress"):
        assert option not in text
        assert run("watch", option, "x", CONN).exit_code == 2
    for option in ("--interval", "--state", "--sensor", "--since", "--stats"):
        assert option in text
    assert "--engine" in run("scan", "--help").stdout


def _with_node_name(tmp_path: Path, node: str = "worker-eth0-1") -> Path:
    """The fixtures' conn.log as a zeekctl cluster writes it: `_node_name` first."""
    lines = []
    for line in Path(CONN).read_text().splitlines():
        if line.startswith("#fields\t") or line.startswith("#types\t"):
            key, rest = line.split("\t", 1)
            line = f"{key}\t{'_node_name' if key == '#fields' else 'string'}\t{rest}"
        elif not line.startswith("#"):
            line = f"{node}\t{line}"
        lines.append(line)
    log = tmp_path / "conn.log"
    log.write_text("\n".join(lines) + "\n")
    return log


def test_sensor_is_observer_name_from_the_log_the_option_or_the_config(tmp_path: Path) -> None:
    log = _with_node_name(tmp_path)
    assert {a["observer"]["name"] for a in ndjson(run("scan", str(log)).stdout)} == {"worker-eth0-1"}
    assert {a["observer"]["name"] for a in ndjson(run("scan", "--sensor", "dmz-1", str(log)).stdout)} == {"dmz-1"}
    config = tmp_path / "site.toml"
    config.write_text('[sensor]\nname = "hq-sensor"\n')
    assert {a["observer"]["name"] for a in ndjson(run("scan", "-c", str(config), CONN).stdout)} == {"hq-sensor"}
    assert {a["observer"]["name"] for a in ndjson(run("scan", "-c", str(config), str(log)).stdout)} == \
        {"worker-eth0-1"}  # what the log says wins over the config
    assert all("observer" not in a for a in ndjson(run("scan", CONN).stdout))
    notices = ndjson(run("scan", "-t", "notice-json", str(log)).stdout)
    assert {n["peer_descr"] for n in notices} == {"worker-eth0-1"}


def test_a_zeekctl_archive_names_its_node(corpus: Path) -> None:
    log = corpus / "zeek-tsv" / "rita__proxy_rolling__conn.15:00:00-16:00:00.log.gz"
    docs = ndjson(run("normalize", str(log)).stdout)
    assert len(docs) == 290 and {d["observer"]["name"] for d in docs} == {"worker-eth0-1"}
