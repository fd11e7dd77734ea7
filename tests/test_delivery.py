"""Exactly once in operation: file identity by content, the outbox, alerts carried by
--max-signals, --no-state, empty logs, interrupts and closed pipes."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, generate
from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.errors import ConfigError
from zeek_proxy.output import append_once, settle
from zeek_proxy.state import State

CONN = FIXTURES / "conn.log"
ZEEK_PROXY = [sys.executable, "-m", "zeek_proxy"]


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["event"]["id"] for line in path.read_text().splitlines()]


def zeek_log(path: Path, rows: int, seed: int, opened: str) -> set[str]:
    """A Zeek TSV log with its own #open time; returns its alert ids."""
    text = Path(path)
    with open(text, "w") as out:
        generate.write_zeek_tsv(generate.connections(rows, seed=seed, every_case_first=True), out)
    lines = text.read_text().splitlines(keepends=True)
    text.write_text("".join(f"#open\t{opened}\n" if line.startswith("#open") else line for line in lines))
    return set(scan([str(text)]).alerts["event.id"])


# -- file identity ---------------------------------------------------------------------

def test_rotated_and_gzipped_log_resumes_even_when_its_inode_is_reused(tmp_path: Path) -> None:
    """The old checkpoint knew files by inode first: a new conn.log on the freed inode
    made it forget the old one, whose archive was then read again from the start."""
    current, archive = tmp_path / "current", tmp_path / "archive"
    current.mkdir(), archive.mkdir()
    state, out = tmp_path / "state.json", tmp_path / "alerts.ndjson"
    first = zeek_log(current / "conn.log", 400, 31, "2026-12-03-10-00-00")
    lines = (current / "conn.log").read_text().splitlines(keepends=True)
    (current / "conn.log").write_text("".join(lines[:200]))
    assert run("scan", "--state", str(state), "-o", str(out), str(current), str(archive)).exit_code == 0
    with open(current / "conn.log", "a") as log:  # the rest, then zeekctl's rotation
        log.write("".join(lines[200:]))
    rotated = archive / "conn.10:00:00-11:00:00.log"
    (current / "conn.log").rename(rotated)
    rotated.with_name(rotated.name + ".gz").write_bytes(gzip.compress(rotated.read_bytes()))
    rotated.unlink()
    second = zeek_log(current / "conn.log", 300, 32, "2026-12-03-11-00-00")  # likely the freed inode
    assert run("scan", "--state", str(state), "-o", str(out), str(current), str(archive)).exit_code == 0
    written = ids(out)
    assert sorted(written) == sorted(first | second)  # every alert, none twice


def test_version_1_state_is_migrated(tmp_path: Path) -> None:
    log, state = tmp_path / "conn.log", tmp_path / "state.json"
    log.write_bytes(CONN.read_bytes())
    head = CONN.read_bytes()[:4096]

    lines = CONN.read_bytes().splitlines(keepends=True)
    done = sum(len(line) for line in lines[:100])
    header = [line.decode().rstrip("\n") for line in lines[:100] if line.startswith(b"#")]
    state.write_text(json.dumps({"version": 1, "files": [{
        "path": str(log), "device": 1, "inode": 2, "fingerprint": hashlib.sha1(head).hexdigest(),
        "fingerprint_length": len(head), "offset": done, "line": 100, "header": header,
        "seen": time.time()}]}))
    result = run("scan", "--state", str(state), "-o", str(tmp_path / "a.ndjson"), str(log))
    assert result.exit_code == 0, result.stderr
    expected = scan([str(CONN)]).alerts
    assert set(ids(tmp_path / "a.ndjson")) == set(expected.loc[expected["zeek_proxy.line"] > 100, "event.id"])
    saved = json.loads(state.read_text())
    assert saved["version"] == 2 and "inode" not in saved["files"][0]


def test_a_second_run_on_the_same_state_is_refused(tmp_path: Path) -> None:
    held = State.load(str(tmp_path / "state.json"))
    try:
        with pytest.raises(ConfigError, match="in use by another zeek-proxy run"):
            State.load(str(tmp_path / "state.json"))
        result = run("scan", "--state", str(tmp_path / "state.json"), str(CONN))
        assert result.exit_code == 2 and "in use by another zeek-proxy run" in result.stderr
    finally:
        held.release()
    assert run("scan", "--state", str(tmp_path / "state.json"), "-o", str(tmp_path / "a"), str(CONN)).exit_code == 0


# -- the outbox ------------------------------------------------------------------------

@pytest.mark.parametrize("cut", [0, 1, 37, -1])
def test_a_write_cut_short_is_completed_once_by_the_next_run(tmp_path: Path, cut: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed after saving its outbox, with `cut` bytes of its alerts written."""
    out, state_path = tmp_path / "alerts.ndjson", str(tmp_path / "state.json")
    out.write_text("earlier\n")
    text = "".join(f'{{"n": {i}}}\n' for i in range(5))
    import zeek_proxy.output as output

    def killed(handle, start, data):  # type: ignore[no-untyped-def]
        handle.write(data[: cut if cut >= 0 else len(data)])
        handle.flush()
        raise KeyboardInterrupt  # stands for SIGKILL: nothing after this point runs

    state = State.load(state_path)
    monkeypatch.setattr(output, "_write_from", killed)
    with pytest.raises(KeyboardInterrupt):
        append_once(str(out), text, state)
    state.release()
    monkeypatch.undo()
    again = State.load(state_path)
    settle(again)
    settle(again)  # settling twice writes nothing more
    again.release()
    assert out.read_text() == "earlier\n" + text


def test_a_rotated_output_is_not_written_into_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out, state = tmp_path / "alerts.ndjson", State("")
    state.outbox = None
    append_once(str(out), "one\n", state)
    assert state.outbox is not None
    out.rename(tmp_path / "alerts.1.ndjson")
    out.write_text("")
    settle(state)
    assert out.read_text() == "" and "changed (rotated?) since the last run" in caplog.text


# -- --max-signals with a state --------------------------------------------------------

def test_alerts_beyond_max_signals_come_in_the_next_runs_exactly_once(tmp_path: Path) -> None:
    state, out = tmp_path / "s.json", tmp_path / "a.ndjson"
    every = scan([str(FIXTURES)]).alerts
    per_run = []
    for _ in range(6):
        before = len(ids(out))
        result = run("scan", "--max-signals", "5", "--state", str(state), "-o", str(out), str(FIXTURES))
        assert result.exit_code == 0, result.stderr
        per_run.append(ids(out)[before:])
        if len(ids(out)) < len(every):
            assert "alert(s) carried to the next run" in result.stderr
    assert [len(batch) for batch in per_run] == [5, 5, 5, 3, 0, 0]
    assert ids(out) == list(every["event.id"])  # exactly once, oldest first overall


def test_max_signals_without_state_says_dropped() -> None:
    result = run("scan", "--max-signals", "2", str(CONN))
    assert "3 alert(s) dropped" in result.stderr and "held back" not in result.stderr


# -- --no-state ------------------------------------------------------------------------

def test_a_hunt_with_no_state_beside_the_preset_leaves_its_state_unchanged(tmp_path: Path) -> None:
    root = tmp_path / "so"
    current = root / "nsm" / "zeek" / "logs" / "current"
    current.mkdir(parents=True)
    (current / "conn.log").write_bytes(CONN.read_bytes())
    live = run("scan", "--security-onion", "--so-root", str(root))
    assert live.exit_code == 0, live.stderr
    state = root / "nsm" / "zeek-proxy" / "state"
    before = state.read_bytes()
    hunt = run("scan", "--security-onion", "--so-root", str(root), "--no-state", "-o", str(tmp_path / "hunt.ndjson"))
    assert hunt.exit_code == 0, hunt.stderr
    assert state.read_bytes() == before
    assert set(ids(tmp_path / "hunt.ndjson")) == set(scan([str(CONN)]).alerts["event.id"])
    both = run("scan", "--state", str(state), "--no-state", str(CONN))
    assert both.exit_code == 2 and "exclude each other" in both.stderr


# -- empty is not broken ---------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"\n", gzip.compress(b""), b"#separator \\x09\n#fields\tts\tuid\n"])
def test_an_empty_log_is_zero_records(tmp_path: Path, content: bytes) -> None:
    log = tmp_path / "eve.json"
    log.write_bytes(content)
    result = run("scan", "--stats", str(log), str(CONN))
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stderr.splitlines() if line.startswith(str(log)))
    assert row.split()[2] == "0"  # records read
    assert len(ids_of(result.stdout)) == 5


def ids_of(stdout: str) -> list[str]:
    return [json.loads(line)["event"]["id"] for line in stdout.splitlines()]


def test_a_first_record_still_being_written_waits_under_state(tmp_path: Path) -> None:
    log, state = tmp_path / "eve.json", tmp_path / "s.json"
    line = (FIXTURES / "eve.json").read_text().splitlines(keepends=True)
    log.write_text(line[0][:40])
    result = run("scan", "--state", str(state), "-o", str(tmp_path / "a"), str(log))
    assert result.exit_code == 0, result.stderr


# -- output ----------------------------------------------------------------------------

def test_output_into_a_missing_folder_is_created(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "alerts.ndjson"
    assert run("scan", "-o", str(target), str(CONN)).exit_code == 0
    assert len(ids(target)) == 5


def test_notice_appended_by_checkpointed_runs_has_one_header(tmp_path: Path) -> None:
    log, state, out = tmp_path / "conn.log", tmp_path / "s.json", tmp_path / "notice.log"
    lines = CONN.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:150]))
    for _ in range(2):
        assert run("scan", "-t", "notice", "--state", str(state), "-o", str(out), str(log)).exit_code == 0
        with open(log, "a") as f:
            f.write("".join(lines[150:]))
    text = out.read_text()
    assert text.count("#fields") == 1 and "#close" not in text
    from zat.log_to_dataframe import LogToDataFrame

    assert len(LogToDataFrame().create_dataframe(str(out))) == 5


# -- interrupts --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log = tmp_path_factory.mktemp("big") / "conn.log"
    with open(log, "w") as out:
        generate.write_zeek_tsv(generate.connections(400_000, seed=3, every_case_first=True), out)
    return log


@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_a_signal_ends_a_scan_with_its_code_and_no_partial_output(tmp_path: Path, big_log: Path,
                                                                  signum: int, code: int, word: str) -> None:
    target = tmp_path / "alerts.ndjson"
    victim = subprocess.Popen([*ZEEK_PROXY, "scan", "--no-progress", "-o", str(target), "-"],
                              stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    victim.stdin.write(big_log.read_bytes()[: 8 << 20])  # type: ignore[union-attr]
    victim.stdin.flush()  # type: ignore[union-attr]
    time.sleep(1.5)  # inside the scan, waiting for the rest of the log
    victim.send_signal(signum)
    _, raw = victim.communicate(timeout=30)
    err = raw.decode()
    assert victim.returncode == code, err
    assert err == f"zeek-proxy: {word}\n"
    assert os.listdir(tmp_path) == []  # neither the output nor a temporary file


@pytest.mark.parametrize("library", ["_multiarray_umath", "pyarrow", "pandas/_libs"])
def test_an_interrupt_during_start_up_is_one_line(library: str) -> None:
    """Ctrl-C while the libraries load (once the interpreter itself is up: before that,
    Python's own start-up answers it)."""
    victim = subprocess.Popen([*ZEEK_PROXY, "scan", str(CONN)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    maps = Path(f"/proc/{victim.pid}/maps")
    deadline = time.monotonic() + 20
    while library not in maps.read_text() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    victim.send_signal(signal.SIGINT)
    _, err = victim.communicate(timeout=30)
    assert "Traceback" not in err
    if victim.returncode != 0:  # it may have finished first
        assert victim.returncode == 130 and err == "zeek-proxy: interrupted\n"


def test_a_closed_pipe_ends_quietly(big_log: Path) -> None:
    reader = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    writer = subprocess.run([*ZEEK_PROXY, "scan", str(big_log)], stdout=reader.stdin, stderr=subprocess.PIPE,
                            text=True, timeout=120)
    reader.stdin.close()  # type: ignore[union-attr]
    reader.wait()
    assert writer.returncode == 141 and writer.stderr == ""


def test_scan_without_a_path_at_a_terminal_says_it_reads_stdin() -> None:
    main, terminal = pty.openpty()
    victim = subprocess.Popen([*ZEEK_PROXY, "scan"], stdin=terminal, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    os.close(terminal)
    os.write(main, CONN.read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n\x04")
    out, err = victim.communicate(timeout=30)
    os.close(main)
    assert "reading a log from standard input" in err
    assert victim.returncode == 0


def test_watch_ends_on_sigint_with_130_after_saving_its_batch(tmp_path: Path) -> None:
    log, out, state = tmp_path / "conn.log", tmp_path / "a.ndjson", tmp_path / "s.json"
    log.write_bytes(CONN.read_bytes())
    watcher = subprocess.Popen([*ZEEK_PROXY, "watch", "--interval", "0.2", "--state", str(state),
                                "-o", str(out), str(log)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(ids(out)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    watcher.send_signal(signal.SIGINT)
    _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 130 and err == "zeek-proxy: interrupted\n"
    assert len(ids(out)) == 5 and json.loads(state.read_text())["files"][0]["offset"] > 0


def test_a_signal_during_the_held_section_waits_for_its_end() -> None:
    """Alerts and the checkpoint are written together: a SIGTERM in between is acted
    on only once both are done."""
    from zeek_proxy.interrupts import Interrupted, Interrupts

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    done = []
    try:
        interrupts = Interrupts().install()
        with pytest.raises(Interrupted) as stopped:
            with interrupts.held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler runs here, and must not raise
                done.append("alerts and state written")
        assert done and stopped.value.exit_code == 143
        with pytest.raises(Interrupted):  # outside a held section it stops at once
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
