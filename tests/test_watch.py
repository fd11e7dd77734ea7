"""The follower behind `watch`: which files it reads at each look, and through what."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

from conftest import FIXTURES
from zeek_proxy.reading.inputs import Opened
from zeek_proxy.watch import IDLE_CLOSE, Follower

CONN = FIXTURES / "conn.log"


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_archives_are_read_by_path_once_and_hold_no_descriptor(tmp_path: Path) -> None:
    archive, current = tmp_path / "archive", tmp_path / "current"
    archive.mkdir(), current.mkdir()
    old = time.time() - 2 * IDLE_CLOSE
    for hour in range(40):
        packed = archive / f"conn.{hour:02d}:00:00-{hour + 1:02d}:00:00.log.gz"
        packed.write_bytes(gzip.compress(CONN.read_bytes()))
        os.utime(packed, (old, old))
    (current / "conn.log").write_bytes(CONN.read_bytes())
    follower = Follower([str(current), str(archive)])
    before = open_descriptors()
    sources, unchanged, _, _ = follower.look()
    assert [s for s in sources if isinstance(s, Opened)] == [Opened(str(current / "conn.log"), sources[0].fd)]
    assert len([s for s in sources if isinstance(s, str)]) == 40 and not unchanged
    assert open_descriptors() == before + 1  # the live log only
    follower.done()
    sources, unchanged, _, _ = follower.look()
    assert sources == [] and len(unchanged) == 41  # nothing changed: nothing read
    with open(current / "conn.log", "a") as log:
        log.write("")
        log.flush()
    os.utime(current / "conn.log")
    sources, _, _, _ = follower.look()
    assert [s.path for s in sources if isinstance(s, Opened)] == [str(current / "conn.log")]
    follower.close()
    assert open_descriptors() == before


def test_a_rotated_file_is_drained_through_its_descriptor_before_the_new_one(tmp_path: Path) -> None:
    current, archive = tmp_path / "current", tmp_path / "archive"
    current.mkdir(), archive.mkdir()
    log = current / "conn.log"
    log.write_bytes(CONN.read_bytes()[:3000])
    follower = Follower([str(log)])
    [first], _, _, _ = follower.look()
    follower.done()
    with open(log, "ab") as out:  # written just before rotation, not read yet
        out.write(b"tail\n")
    rotated = archive / "conn.10:00:00-11:00:00.log"
    log.rename(rotated)
    rotated.with_name(rotated.name + ".gz").write_bytes(gzip.compress(rotated.read_bytes()))
    rotated.unlink()  # gzip removes it: only the open descriptor still reaches it
    log.write_bytes(b"#separator \\x09\n")
    drained, new = follower.look()[0]
    assert isinstance(drained, Opened) and drained.fd == first.fd and drained.path == str(rotated)
    assert os.pread(drained.fd, 10_000, 0).endswith(b"tail\n")
    assert isinstance(new, Opened) and new.path == str(log) and new.fd != first.fd
    follower.close()


def test_suricata_writing_on_into_its_renamed_log_is_still_followed(tmp_path: Path) -> None:
    """logrotate renames eve.json, Suricata writes on into it until told to reopen: those
    events are read through the old descriptor, and the new eve.json from its start."""
    import json
    import signal
    import subprocess
    import sys

    from conftest import wait_for
    from zeek_proxy import scan

    folder = tmp_path / "suricata"
    folder.mkdir()
    eve, out = folder / "eve.json", tmp_path / "alerts.ndjson"
    events = (FIXTURES / "eve.json").read_text().splitlines(keepends=True)
    thirds = len(events) // 3
    eve.write_text("".join(events[:thirds]))
    watcher = subprocess.Popen([sys.executable, "-m", "zeek_proxy", "watch", "--interval", "0.2",
                                "-o", str(out), str(eve)], stderr=subprocess.PIPE, text=True)

    def written() -> list[str]:
        return [json.loads(line)["event"]["id"] for line in out.read_text().splitlines()] if out.exists() else []

    try:
        first = set(scan([str(eve)]).alerts["event.id"])
        wait_for(lambda: set(written()) == first)
        with open(eve, "a") as old:
            eve.rename(folder / "eve.json.1")
            time.sleep(0.5)  # the watcher sees the rename before Suricata stops writing
            old.write("".join(events[thirds : 2 * thirds]))
        eve.write_text("".join(events[2 * thirds :]))
        whole = tmp_path / "whole.json"
        whole.write_text("".join(events))
        expected = set(scan([str(whole)]).alerts["event.id"])
        wait_for(lambda: set(written()) == expected)
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    assert len(written()) == len(expected)


NOTICE = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tnotice\n"
          "#fields\tts\tuid\tnote\tmsg\n#types\ttime\tstring\tenum\tstring\n1.0\t-\tScan::Port_Scan\tscan\n")


def test_files_under_other_names_are_judged_once_and_only_logs_followed(tmp_path: Path) -> None:
    """An eve file Suricata's config named otherwise is followed; a notice.log beside it
    is named in a warning and costs no descriptor; an empty file waits to be judged."""
    folder = tmp_path / "logs"
    folder.mkdir()
    eve = FIXTURES / "eve.json"
    (folder / "sensor1.suricata.json").write_bytes(eve.read_bytes())
    (folder / "notice.log").write_text(NOTICE)
    (folder / "later.json").write_text("")
    follower = Follower([str(folder)])
    before = open_descriptors()
    sources, _, warnings, errors = follower.look()
    assert [s.path for s in sources if isinstance(s, Opened)] == [str(folder / "sensor1.suricata.json")]
    assert warnings == [f"1 file skipped: not Zeek conn or Suricata logs ({folder / 'notice.log'})"] and not errors
    assert open_descriptors() == before + 1
    follower.done()
    (folder / "later.json").write_text(eve.read_text().splitlines(keepends=True)[0])
    sources, _, warnings, _ = follower.look()
    assert [s.path for s in sources if isinstance(s, Opened)] == [str(folder / "later.json")]
    assert len(warnings) == 1
    follower.close()


def test_watch_stats_print_only_when_something_was_read(tmp_path: Path) -> None:
    """An idle watch prints its --stats table once, not every --interval."""
    import signal
    import subprocess
    import sys

    from conftest import wait_for

    log, out = tmp_path / "conn.log", tmp_path / "alerts.ndjson"
    lines = [line for line in CONN.read_text().splitlines(keepends=True) if not line.startswith("#close")]
    log.write_text("".join(lines))
    watcher = subprocess.Popen([sys.executable, "-m", "zeek_proxy", "watch", "--stats", "--interval", "0.1",
                                "-o", str(out), str(log)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: out.exists() and len(out.read_text().splitlines()) == 5)
        time.sleep(1.5)  # some fifteen idle batches
        with open(log, "a") as more:
            more.write(lines[-1])  # a record read again: counted, no new alert
        time.sleep(1.0)
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    tables = [line for line in err.splitlines() if line.startswith("input ")]
    assert len(tables) == 2, err  # the first batch, and the one that read the appended line
