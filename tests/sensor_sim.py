"""A simulated sensor for fault-injection tests: Zeek and Suricata writing, rotating and
compressing their logs the way they do in production, the same way for the same seed.

Zeek writes `current/conn.log` (TSV, its header first), sometimes leaving a last line
half-written until the next append, and rotates it zeekctl-style: `#close`, move to
`archive/conn.HH:MM:SS-HH:MM:SS.log`, gzip to `.log.gz` and delete the plain file (now
or a step later), then a new `current/conn.log` with a fresh `#open` time. Suricata
appends alert, tls and flow events to `suricata/eve.json` (an alerted flow's flow event
often an append later, maybe in the next file, as it is logged at flow timeout) and
rotates by renaming it to `eve.json.1` (older ones shifted to `.2`, `.3`…, the oldest
deleted beyond `keep_eve`).

Everything written is also appended to a side copy per stream, outside the watched
folders, so the alerts a fault-free scan raises can be computed at any moment.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import string
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from conftest import generate

SECONDS_PER_CONNECTION = 0.05  # simulated time; a chunk of >= 20 rows spans >= 1 s
KINDS = ("zeek", "eve", "rotate zeek", "rotate eve")


@dataclass
class Stream:
    """One log being written: where it lives, its side copy, and a half-written line."""

    name: str  # "zeek" or "eve"
    live: Path
    side: Path
    partial: str = ""  # the rest of the last line, written by the next append
    file_no: int = 0  # the sensor's number for the current file (unique uids, flow ids)
    rows: int = 0  # connections in the current file
    opened: float = 0.0  # simulated time the current file was opened


class Sensor:
    """Writes and rotates logs under `root`, one random `step()` at a time.

    `current`, `archive` and `suricata` are the folders a scan or watch is given;
    `side` holds the copies.
    `hits` counts the connections the generator labelled as alerts, written so far:
    an oracle that does not trust the scanner.
    """

    def __init__(self, root: Path, seed: int, max_rows: int = 200, hit_chunks: float = 1.0,
                 keep_eve: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.max_rows, self.hit_chunks, self.keep_eve = max_rows, hit_chunks, keep_eve
        self.current, self.archive, self.suricata, self.side = (
            root / name for name in ("current", "archive", "suricata", "side"))
        for folder in (self.current, self.archive, self.suricata, self.side):
            folder.mkdir(parents=True, exist_ok=True)
        self.zeek = Stream("zeek", self.current / "conn.log", self.side / "conn.log")
        self.eve = Stream("eve", self.suricata / "eve.json", self.side / "eve.json")
        self.clock = generate.BASE_TS
        self.files = 0
        self.hits = 0
        self.rotations: Counter[str] = Counter()
        self.journal: list[str] = []  # what each step did, for failure messages
        self.later: list[Callable[[], None]] = []  # compression and deletion left to the next step
        self.held: list[str] = []  # eve flow events of alerted flows, logged later
        self._open(self.zeek)
        self._open(self.eve)

    def step(self, kind: str | None = None, before_rotation: Callable[[], None] | None = None) -> str:
        """One thing a sensor does: append to a log, or rotate one (`kind` chooses).

        `before_rotation` runs first when the step rotates (a test waiting for a
        watcher to reach the log that is about to move)."""
        for action in self.later:
            action()
        self.later.clear()
        kind = kind or self.rng.choices(KINDS, weights=(4, 4, 1, 1))[0]
        stream = self.zeek if kind.endswith("zeek") else self.eve
        if kind.startswith("rotate"):
            if before_rotation:
                before_rotation()
            (self._rotate_zeek if stream is self.zeek else self._rotate_eve)()
        else:
            self._write(stream, self._records(stream), cut=self.rng.random() < 0.4)
        self.journal.append(kind)
        return kind

    def plan(self, steps: int, rotations: int = 2) -> list[str]:
        """`steps` random kinds of step holding at least `rotations` rotations of each
        log, so that every run of a test rotates."""
        kinds = self.rng.choices(KINDS, weights=(4, 4, 1, 1), k=steps)
        for kind in ("rotate zeek", "rotate eve"):
            while kinds.count(kind) < rotations:
                at = self.rng.choice([i for i, k in enumerate(kinds) if not k.startswith("rotate")])
                kinds[at] = kind
        return kinds

    def finish(self) -> None:
        """Stop writing: complete a half-written line, compress what waits to be."""
        for action in self.later:
            action()
        self.later.clear()
        self._write(self.zeek, "", cut=False)
        self._write(self.eve, "".join(self.held), cut=False)
        self.held = []
        self.journal.append("finish")

    def expected(self) -> set[str]:
        """Event ids a scan of everything completely written so far raises."""
        from zeek_proxy import scan

        snapshot = self.side / "snapshot"
        snapshot.mkdir(exist_ok=True)
        paths = []
        for stream in (self.zeek, self.eve):
            data = stream.side.read_bytes()
            copy = snapshot / stream.side.name
            copy.write_bytes(data[: data.rfind(b"\n") + 1])  # a half-written line is not there yet
            paths.append(str(copy))
        return set(scan(paths).alerts["event.id"])

    # writing

    def _write(self, stream: Stream, text: str, cut: bool) -> None:
        """Append `text` after the rest of a half-written line; with `cut`, leave the new
        last line half-written in turn."""
        text, stream.partial = stream.partial + text, ""
        if cut and text:
            last = text.rstrip("\n").rfind("\n") + 1  # where the last line starts
            at = self.rng.randrange(last + 1, len(text))  # inside it, before its newline
            text, stream.partial = text[:at], text[at:]
        for path in (stream.live, stream.side):
            with open(path, "a", encoding="utf-8") as out:
                out.write(text)

    def _connections(self, stream: Stream) -> list[generate.Conn]:
        """A chunk of connections: every hit kind and trap (a file's first chunk always,
        others by `hit_chunks`) among background, shuffled, in time order, each with a
        uid and flow id no other connection of the run has."""
        first = stream.rows == 0
        rows = list(generate.connections(self.rng.randint(20, self.max_rows), seed=self.rng.randrange(2**32),
                                         every_case_first=first or self.rng.random() < self.hit_chunks))
        self.rng.shuffle(rows)
        chunk = []
        for row in rows:
            stream.rows += 1
            self.clock += SECONDS_PER_CONNECTION
            tail = "".join(self.rng.choices(string.ascii_letters + string.digits, k=6))
            chunk.append(replace(row, ts=round(self.clock, 6), uid=f"C{stream.file_no:05d}{stream.rows:06d}{tail}",
                                 flow_id=(stream.file_no << 24) + stream.rows))
        self.hits += sum(row.expected for row in chunk)
        return chunk

    def _records(self, stream: Stream) -> str:
        out = io.StringIO()
        if stream is self.zeek:
            generate.write_zeek_tsv(self._connections(stream), out)
            return "".join(line for line in out.getvalue().splitlines(True) if not line.startswith("#"))
        generate.write_eve(self._connections(stream), out)
        return self._defer_flows(out.getvalue())

    def _defer_flows(self, text: str) -> str:
        """Suricata logs a flow event when the flow times out, long after its alert: hold
        back half of the flow events of alerted flows until the next append (maybe in the
        next file), so one connection's events fall in two reads, runs or files."""
        lines = text.splitlines(True)
        events = [json.loads(line) for line in lines]
        alerted = {event["flow_id"] for event in events if event["event_type"] == "alert"}
        now, later = [], []
        for event, line in zip(events, lines):
            late = event["event_type"] == "flow" and event["flow_id"] in alerted and self.rng.random() < 0.5
            (later if late else now).append(line)
        now += self.held
        self.held = later
        return "".join(now)

    def _open(self, stream: Stream) -> None:
        """A new file at the live path: a fresh header (Zeek) and a first chunk, complete."""
        self.files += 1
        stream.file_no, stream.rows, stream.opened = self.files, 0, self.clock
        header = ""
        if stream is self.zeek:
            out = io.StringIO()
            generate.write_zeek_tsv([], out)
            header = "".join(f"#open\t{_stamp(self.clock)}\n" if line.startswith("#open") else line
                             for line in out.getvalue().splitlines(True) if not line.startswith("#close"))
        self._write(stream, header + self._records(stream), cut=False)

    # rotating

    def _rotate_zeek(self) -> None:
        """Last records and `#close`, move to the archive, gzip (now or a step later),
        delete the plain copy (now or a step later), a new log."""
        zeek = self.zeek
        self._write(zeek, self._records(zeek) + f"#close\t{_stamp(self.clock)}\n", cut=False)
        rotated = self.archive / f"conn.{_hms(zeek.opened)}-{_hms(self.clock)}.log"
        packed = rotated.with_name(rotated.name + ".gz")
        assert not rotated.exists() and not packed.exists(), f"archive name reused: {rotated}"
        os.rename(zeek.live, rotated)

        def compress() -> None:
            packed.write_bytes(gzip.compress(rotated.read_bytes(), mtime=0))

        when = self.rng.choice(("now", "delete later", "compress later"))
        if when == "now":
            compress()
            rotated.unlink()
        elif when == "delete later":
            compress()
            self.later.append(rotated.unlink)
        else:
            self.later += [compress, rotated.unlink]
        self.rotations["zeek"] += 1
        self._open(zeek)

    def _rotate_eve(self) -> None:
        """Last events, shift eve.json.N to .N+1 (the oldest deleted beyond `keep_eve`),
        rename eve.json to eve.json.1, a new eve.json."""
        eve = self.eve
        self._write(eve, self._records(eve), cut=False)
        older = sorted((int(p.suffix[1:]) for p in self.suricata.glob("eve.json.*")), reverse=True)
        for n in older:
            source = self.suricata / f"eve.json.{n}"
            if self.keep_eve is not None and n >= self.keep_eve:
                source.unlink()
            else:
                os.rename(source, self.suricata / f"eve.json.{n + 1}")
        os.rename(eve.live, self.suricata / "eve.json.1")
        self.rotations["eve"] += 1
        self._open(eve)


def _stamp(ts: float) -> str:
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(ts))


def _hms(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))
