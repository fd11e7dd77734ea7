"""The scan pipeline: inputs -> formats -> ECS frames -> rule -> one alert per connection.

This is the library entry point the CLI calls; it does no printing and never exits.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from zeek_proxy.lazy import load_pandas, pd
from zeek_proxy import core
from zeek_proxy.reading.reader import Reader
from zeek_proxy.reading.workers import leave_signals_to_parent, shared_processes
from zeek_proxy.reading.blocks import MAX_RECORD
from zeek_proxy.reading.inputs import (
    EVIDENCE_NAME_PATTERNS, HEAD_SIZE, LOG_NAME_PATTERNS, SOCKS_NAME_PATTERNS, OpenLog, Opened, expand, open_log,
)
from zeek_proxy.reading.prefilter import LineKeys, Lookup, Prefilter, keep_nothing
from zeek_proxy.formats.base import CONNECTION_LOGS, Format
from zeek_proxy.formats.eve import EveFormat
from zeek_proxy.formats.sniff import FORMATS_ALLOWED, choose, sniff, zeek_log
from zeek_proxy.formats.zeek import EVIDENCE_LOGS, LOGS
from zeek_proxy.config import DEFAULT_SETTINGS, Settings
from zeek_proxy.errors import InputError, MalformedRecordError, SourceLocation
from zeek_proxy.ledger import admit, unseen
from zeek_proxy.progress import Progress
from zeek_proxy.state import Start, State
from zeek_proxy.schema import SUPPRESSED_BY, empty_frame
from zeek_proxy.stats import InputStats


@dataclass
class ScanResult:
    """Alerts (oldest first), suppressed hits, per-input counts, per-allow-entry counts,
    the input errors met on the way, and warnings (folders with no log yet)."""

    alerts: pd.DataFrame
    suppressed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())
    inputs: list[InputStats] = field(default_factory=list)
    allow_counts: dict[str, int] = field(default_factory=dict)
    errors: list[InputError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outside_window: int = 0  # connections before --since or at/after --until
    dropped: int = 0  # alerts beyond --max-signals, without a state
    carried: int = 0  # alerts beyond --max-signals, waiting in the state for the next run
    hits: int = 0  # connections that raised a detection (in the time window)
    grouped: int = 0  # hits counted into suppression windows opened in this run
    grouped_earlier: int = 0  # hits counted into windows opened in earlier runs
    known: int = 0  # hits whose --new-terms combination was not new


def read_frames(
    paths: Sequence[str | Opened], input_format: str = "auto", strict: bool = False,
    inputs: list[InputStats] | None = None, errors: list[InputError] | None = None,
    prefilter: Prefilter | None = None, jobs: int = 1, progress: Progress | None = None,
    state: State | None = None, max_record: int = MAX_RECORD, warnings: list[str] | None = None,
    names: tuple[str, ...] = LOG_NAME_PATTERNS, logs: frozenset[str] = CONNECTION_LOGS,
    wanted: Callable[[bytes, type[Format]], bool] | None = None, skip: frozenset[str] = frozenset(),
    line_keys: LineKeys | None = None,
) -> Iterator[pd.DataFrame]:
    """ECS frames of the records in `paths`, input after input.

    Without a `prefilter` every record is parsed; with one, records that cannot pass it
    are counted as filtered and never parsed. Per-input counts are appended to `inputs`,
    non-fatal input errors to `errors` and folders or globs with no log to `warnings`
    as they happen; under `strict` every record is parsed and the first malformed one
    raises, after the frame of the records before it. With a `state`, each file is read
    from where the last run stopped, and the state is advanced (not saved). `Opened`
    logs are read first. An empty log is 0 records. Folders are searched for `names`;
    of Zeek logs, those named in `logs` are read; a file for which `wanted(head,
    format)` is false is passed over. Files a folder holds under other names are read
    when they are eve files or Zeek logs of a kind `names` are there for, and passed
    over otherwise, with one warning naming them. Files in `skip` are read elsewhere.
    A look-up's `line_keys` keeps the key prefix of every line it reads.
    """
    inputs = inputs if inputs is not None else []
    errors = errors if errors is not None else []
    expansion = expand([p for p in paths if isinstance(p, str)], names)
    errors.extend(expansion.errors)
    if warnings is not None:
        warnings.extend(expansion.warnings)
    kinds, passed_over = zeek_kinds(names), []
    for source in [p for p in paths if isinstance(p, Opened)] + [f for f in expansion.files if f not in skip]:
        path, fd = (source.path, source.fd) if isinstance(source, Opened) else (source, None)
        stats = InputStats(path)
        inputs.append(stats)
        try:
            with open_log(path, fd) as log:
                if path in expansion.sniffed:
                    verdict = None if _not_begun(log.head, live=True) else is_ours(log.head, input_format, kinds)
                    if not verdict:  # not ours, or empty yet: no input of the run
                        inputs.pop()
                        passed_over += [path] if verdict is False else []
                        continue
                if _not_begun(log.head, live=state is not None):
                    stats.format = "empty"
                    continue
                format_class = choose(log.head, input_format)
                if format_class is None:
                    raise InputError("not a Zeek or Suricata log (format not recognised)",
                                     SourceLocation(path))
                if wanted is not None and not wanted(log.head, format_class):
                    inputs.pop()
                    continue
                reader = Reader(format_class(path, stats, logs), strict=strict, max_record=max_record)
                reader.line_keys = line_keys
                start = None
                if state is not None and path != "-":
                    start = _resume(state, path, log, reader)
                    if start is None:  # an archive read to its end before: nothing new
                        continue
                tick = (lambda _: progress.update(log.position(), inputs)) if progress else None
                try:
                    yield from reader.frames(log.stream, prefilter, jobs, tick)
                    if start is not None and log.stream is not log.raw:
                        start.progress.archive_size = _raw_size(log) or 0
                finally:
                    if start is not None:
                        State.advance(start, reader.consumed, reader.lines_read, reader.header())
        except MalformedRecordError:
            raise
        except InputError as exc:
            errors.append(exc)
        if progress:
            progress.file_done(_size(path))
    if passed_over and warnings is not None:
        warnings.append(passed_over_warning(passed_over, kinds))


def zeek_kinds(names: tuple[str, ...]) -> frozenset[str]:
    """The Zeek logs a run that searches folders for `names` reads: those a name is
    there for (conn; socks under the profiles with a socks branch; the evidence logs
    with --evidence)."""
    return frozenset(log for log in EVIDENCE_LOGS if any(fnmatch.fnmatch(f"{log}.log", p) for p in names))


def is_ours(head: bytes, input_format: str, kinds: frozenset[str]) -> bool:
    """Whether a file a folder holds under no log name is a log the run reads: an eve
    file (whatever Suricata's config named it), or a Zeek log of one of `kinds`. A
    notice.log or dns.log in the same folder is not, nor is a README."""
    found = sniff(head)
    if found is None or found not in FORMATS_ALLOWED[input_format]:
        return False
    return found is EveFormat or zeek_log(head) in kinds


def judge_file(path: str, input_format: str, kinds: frozenset[str]) -> bool | None:
    """`is_ours` for a file by its path; None while it is empty (it cannot be told yet),
    True when it cannot be opened (reading it says why)."""
    try:
        with open_log(path) as log:
            if _not_begun(log.head, live=True):
                return None
            return is_ours(log.head, input_format, kinds)
    except InputError:
        return True


def passed_over_warning(paths: list[str], kinds: frozenset[str], shown: int = 5) -> str:
    """One line for the files of folders that are no log the run reads."""
    what = "/".join(log.name for log in LOGS if log.name in kinds)
    names = ", ".join(paths[:shown]) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")
    count = f"{len(paths)} file{'s' if len(paths) != 1 else ''}"
    return f"{count} skipped: not Zeek {what} or Suricata logs ({names})"


def _not_begun(head: bytes, live: bool) -> bool:
    """An empty log (a file just created by rotation), or, in a checkpointed run, one
    whose first record is still being written: nothing to read yet, and no error. A
    first line longer than the head is a long record, not one being written."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    return not text.strip() or (live and b"\n" not in text and len(head) < HEAD_SIZE)


def _raw_size(log: OpenLog) -> int | None:
    try:
        return os.fstat(log.raw.fileno()).st_size
    except (OSError, ValueError):
        return None


def _resume(state: State, path: str, log: OpenLog, reader: Reader) -> Start | None:
    """Position `log` and `reader` where the last run stopped reading `path`; None for
    an archive read to its end before (inflating it again would find nothing new)."""
    start = state.start(path, log.head)
    size = _raw_size(log)
    compressed = log.stream is not log.raw
    if compressed and size and start.progress.archive_size == size:
        return None
    if not compressed and size is not None and size < start.offset:
        start = State.restart(start)  # truncated below what was read: start over
    if start.offset:
        if not compressed:
            log.raw.seek(start.offset)
        else:
            remaining = start.offset
            while remaining:
                chunk = log.stream.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
    reader.resume(start.line, start.header)
    reader.hold_partial = True
    return start


def _size(path: str) -> int:
    try:
        return os.path.getsize(path) if path != "-" else 0
    except OSError:
        return 0


def input_size(paths: list[str], names: tuple[str, ...] = LOG_NAME_PATTERNS) -> tuple[int, int]:
    """Total bytes and number of the files `paths` stand for (for progress)."""
    files = expand(paths, names).files
    return sum(_size(f) for f in files), len(files)


def log_names(settings: Settings) -> tuple[str, ...]:
    """The file names a folder is searched for: conn and eve logs, socks logs when the
    profile alerts on them, and the other evidence logs with --evidence."""
    if settings.evidence:
        return LOG_NAME_PATTERNS + EVIDENCE_NAME_PATTERNS
    return LOG_NAME_PATTERNS + (SOCKS_NAME_PATTERNS if settings.socks else ())


def rule_prefilter(settings: Settings) -> Prefilter:
    """The pre-filter equivalent to the rules: lines it drops can never match (under
    elastic-v2 no destination is excluded: an outbound connection alerts wherever it goes)."""
    return Prefilter(ports=settings.ports, keep=partial(core.may_match, settings=settings),
                     excluded_destinations=None if settings.outbound else settings.not_internet,
                     any_port_in_socks=settings.socks, evidence=settings.evidence)


def _hits(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The records of `frame` that raise a detection, each marked with the one it raises."""
    port = core.match(frame, settings)
    if not settings.evidence:
        return frame.loc[port]
    protocol = core.protocol_match(frame, settings)
    return frame.loc[port | protocol].assign(_detection=np.where(port, core.PORT, core.PROTOCOL)[port | protocol])


def _zeek_log_of(*names: str) -> Callable[[bytes, type[Format]], bool]:
    """`wanted` for the Zeek logs of `names` (eve files are wanted by no name)."""
    return lambda head, format_class: format_class is not EveFormat and zeek_log(head) in names


def _not_deferred(head: bytes, format_class: type[Format]) -> bool:
    """Whether a file is read in the scan when http and ssl logs are read after it
    (`_looked_up`)."""
    return not _DEFERRED(head, format_class)


_DEFERRED = _zeek_log_of("http", "ssl")


def _archives(paths: Sequence[str | Opened], names: tuple[str, ...], jobs: int) -> list[str]:
    """The gzip files among `paths` that are read one per process: a gzip stream inflates
    on one core, so only reading several at once keeps every core busy. Two or more, when
    there are several jobs; files a folder holds under other names (judged by content)
    stay with the main scan."""
    if jobs < 2 or "-" in paths:
        return []
    expansion = expand([p for p in paths if isinstance(p, str)], names)
    found = [f for f in expansion.files if f not in expansion.sniffed and f.endswith(".gz") and os.path.isfile(f)]
    return found if len(found) >= 2 else []


@dataclass(frozen=True)
class _ArchiveJob:
    """What reading one archive needs, inherited by the forked processes."""

    settings: Settings
    input_format: str
    prefilter: bool
    max_record: int
    names: tuple[str, ...]
    logs: frozenset[str]
    defer: bool


_archive_job: _ArchiveJob | None = None  # set before the processes fork


def _scan_archives(archives: list[str], job: _ArchiveJob, jobs: int, inputs: list[InputStats],
                   errors: list[InputError], progress: Progress | None) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """The hits and tunnel records of `archives`, read one per forked process; their counts
    and errors are added to `inputs` and `errors` in the order of `archives`."""
    global _archive_job
    if not archives:
        return [], []
    _archive_job = job
    load_pandas()  # before the processes fork, which build frames: one import, shared
    hits, tunnels = [], []
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(min(jobs, len(archives)), mp_context=context,
                                 initializer=leave_signals_to_parent) as pool:
            for path, (found, tunnel, counted, failed) in zip(archives, pool.map(_archive_hits, archives)):
                hits += found
                tunnels += tunnel
                inputs += counted
                errors += failed
                if progress:
                    progress.file_done(_size(path))
                    progress.update(0, inputs)
    finally:
        _archive_job = None
    return hits, tunnels


def _archive_hits(path: str) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[InputStats], list[InputError]]:
    """One archive read whole in a worker process: its hits, tunnel records, counts, errors."""
    job = _archive_job
    assert job is not None
    inputs: list[InputStats] = []
    errors: list[InputError] = []
    hits: list[pd.DataFrame] = []
    tunnels: list[pd.DataFrame] = []
    _judge(read_frames([path], job.input_format, False, inputs, errors,
                       rule_prefilter(job.settings) if job.prefilter else None, 1, None, None, job.max_record,
                       None, job.names, job.logs, wanted=_not_deferred if job.defer else None),
           job.settings, inputs, hits, tunnels)
    return hits, tunnels, inputs, errors


def _judge(frames: Iterator[pd.DataFrame], settings: Settings, inputs: list[InputStats],
           hits: list[pd.DataFrame], tunnels: list[pd.DataFrame]) -> None:
    """The rule over each frame as it is read: its hits (counted to the input being read)
    and, with --evidence, its tunnel records are kept; the rest is let go."""
    for frame in frames:
        _judge_frame(frame, settings, inputs[-1], hits, tunnels)


def _judge_frame(frame: pd.DataFrame, settings: Settings, stats: InputStats, hits: list[pd.DataFrame],
                 tunnels: list[pd.DataFrame]) -> pd.DataFrame:
    """`_judge` for one frame, of the input `stats` counts; its hits are returned too."""
    selected = _hits(frame, settings)
    stats.matched += len(selected)
    if not selected.empty:
        hits.append(selected)
    if settings.evidence:
        tunnels.append(core.proxy_tunnels(frame))
    return selected


def _looked_up(paths: Sequence[str | Opened], input_format: str, hits: list[pd.DataFrame], settings: Settings,
               jobs: int, max_record: int, names: tuple[str, ...], tunnels: list[pd.DataFrame],
               counted: _Counted | None = None) -> list[pd.DataFrame]:
    """The records, in http and ssl logs (and, for connections only the protocol
    detection saw, in eve files), of the connections of `hits`: what they add to the
    alerts. Files read again are read whole and uncounted (their counts come from the
    scan); standard input cannot be read again. With `counted`, http and ssl logs were
    left out of the scan: `_deferred_logs` reads them."""
    found = pd.concat(hits, ignore_index=True) if hits else empty_frame().assign(_detection=core.PORT)
    keys = core.connection_keys(found)
    uids = frozenset(found["zeek.session_id"].dropna().astype(str))
    port_keys = set(keys[found["_detection"].eq(core.PORT).to_numpy()]) if "_detection" in found else set(keys)
    flows = found.loc[~keys.isin(port_keys).to_numpy(), "suricata.eve.flow_id"].dropna()
    flow_ids = frozenset(int(f) for f in flows)
    files = [p.path if isinstance(p, Opened) else p for p in paths]
    files = [f for f in files if f != "-"]
    common = {"jobs": jobs, "max_record": max_record, "names": names, "logs": EVIDENCE_LOGS}
    new_hits: list[pd.DataFrame] = []
    context: list[pd.DataFrame] = []
    again: tuple[str, ...] = ("http", "ssl")  # the logs read a second time
    if counted is not None:
        new_hits, context = _deferred_logs(files, input_format, uids, settings, tunnels, counted, common)
        again = ()

    def read_again(head: bytes, format_class: type[Format]) -> bool:
        return bool(flow_ids) if format_class is EveFormat else bool(uids) and zeek_log(head) in again

    if (uids and again) or flow_ids:
        context += read_frames(files, input_format, prefilter=_lookup(uids, flow_ids), wanted=read_again,
                               errors=[], **common)
    wanted_keys = set(keys).union(*(core.connection_keys(frame) for frame in new_hits))
    return new_hits + [frame.loc[core.connection_keys(frame).isin(wanted_keys).to_numpy()].assign(
        _detection=core.CONTEXT) for frame in context if not frame.empty]


@dataclass
class _Counted:
    """What the reads of logs left out of the scan count into."""

    inputs: list[InputStats]
    errors: list[InputError]
    progress: Progress | None


def _lookup(uids: frozenset[str], flow_ids: frozenset[int] = frozenset(), settings: Settings | None = None,
            seen: bool = False) -> Prefilter:
    """A look-up of these connections' records (telling every line's uid prefix if
    `seen`); with `settings`, and of the rule's lines in logs other than http and ssl
    (a file whose first log is one of those may hold others after it)."""
    if settings is None:
        return Prefilter(ports=(), keep=keep_nothing, lookup=Lookup(uids, flow_ids, seen))
    return dataclasses.replace(rule_prefilter(settings), lookup=Lookup(uids, flow_ids, seen, rule=True))


def _deferred_logs(files: list[str], input_format: str, uids: frozenset[str], settings: Settings,
                   tunnels: list[pd.DataFrame], counted: _Counted, common: dict[str, Any],
                   ) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """http and ssl logs, left out of the scan, read once each in the common case and
    counted: their hits, and the records of the connections of hits.

    http logs first, for the records of `uids` and the proxy requests (hits of their
    own); then ssl logs, for the connections of both. A proxy request's connection may
    have other http records (requests inside a CONNECT tunnel): the first read keeps the
    uid prefix of every line (`LineKeys`), and the http logs are read again for such
    connections only when a line not parsed may hold one of their uids. Hits of the
    rule in other logs that such a file holds after its first (concatenated logs, mixed
    JSON streams) are found too, and their http and ssl records read again."""
    seen = LineKeys()
    hits: list[pd.DataFrame] = []
    http = _counted_read(files, input_format, _lookup(uids, settings=settings, seen=True), _zeek_log_of("http"),
                         settings, counted, common, hits, tunnels, uids, seen)
    more = frozenset(_uids(hits)) - uids
    lines, kept = seen.lines_with(more), Counter(_uids(http))
    http_again = more if lines is None or any(lines[uid] > kept[uid] for uid in more) else frozenset()
    ssl_hits: list[pd.DataFrame] = []
    ssl = _counted_read(files, input_format, _lookup(uids | more, settings=settings), _zeek_log_of("ssl"),
                        settings, counted, common, ssl_hits, tunnels, uids | more, None)
    late = frozenset(_uids(ssl_hits)) - uids - more  # in an ssl log's other logs: after the http read
    context = [*ssl, *http]  # as when http logs were read in the scan: ssl records first
    for log, wanted in (("http", http_again | late), ("ssl", late)):
        if wanted:
            context += read_frames(files, input_format, prefilter=_lookup(wanted), wanted=_zeek_log_of(log),
                                   errors=[], **common)
    return hits + ssl_hits, context


def _counted_read(files: list[str], input_format: str, prefilter: Prefilter,
                  wanted: Callable[[bytes, type[Format]], bool], settings: Settings, counted: _Counted,
                  common: dict[str, Any], hits: list[pd.DataFrame], tunnels: list[pd.DataFrame],
                  uids: frozenset[str], seen: LineKeys | None) -> list[pd.DataFrame]:
    """One counted read of the `wanted` files: their hits and tunnel records are added
    to `hits` and `tunnels`; returned are the records of `uids` (or of a hit's
    connection), the rest let go as they are read. Files the scan counted already
    (empty, unreadable) and its errors are not counted again."""
    inputs: list[InputStats] = []
    errors: list[InputError] = []
    kept = []
    for frame in read_frames(files, input_format, inputs=inputs, errors=errors, prefilter=prefilter,
                             progress=counted.progress, wanted=wanted, line_keys=seen, **common):
        found = _judge_frame(frame, settings, inputs[-1], hits, tunnels)
        session = frame["zeek.session_id"]
        kept.append(frame.loc[(session.isin(uids) | session.isin(_uids([found]))).to_numpy()])
    known = {stats.path for stats in counted.inputs}
    counted.inputs += [stats for stats in inputs if stats.path not in known]
    said = set(counted.errors)
    counted.errors += [error for error in errors if error not in said]
    return kept


def _uids(frames: list[pd.DataFrame]) -> list[str]:
    """The Zeek uid of each record of `frames` that has one."""
    return [uid for frame in frames for uid in frame["zeek.session_id"].dropna().astype(str).tolist()]


def scan(
    paths: Sequence[str | Opened], settings: Settings = DEFAULT_SETTINGS, input_format: str = "auto",
    strict: bool = False, jobs: int | None = None, prefilter: bool = True,
    progress: Progress | None = None, since: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None, max_signals: int = 0, state: State | None = None,
    max_record: int = MAX_RECORD,
) -> ScanResult:
    """Run the rule over every record of `paths`.

    Args:
        paths: files, folders (recursed), globs, or "-" for stdin; `Opened` logs too.
        settings: ports, transports, networks and allow entries of the rule.
        input_format: "auto", "zeek" or "suricata".
        strict: parse every record, and stop at the first malformed one: the result has
            the alerts of the records before it, and the MalformedRecordError in `errors`.
        jobs: workers that pre-filter raw lines: threads, or forked processes for large
            mapped files (default: all cores); two or more gzip files are read one per
            forked process, as many at once.
        prefilter: drop lines that cannot match before parsing them (the same alerts,
            much faster); False parses, and so validates, every record.
        progress: a meter to update as the scan goes.
        since, until: keep connections with since <= time < until.
        max_signals: at most this many alerts, oldest first (0: no cap); the rest are
            dropped, or with a `state` carried to the next run.
        max_record: records (lines) longer than this many bytes are malformed.
        state: a checkpoint: read only what is new since it was saved, leave out alerts
            raised before, and advance it (the caller saves it with the alerts written).

    Returns:
        A ScanResult; its `errors` are input errors (missing paths, broken files) that
        did not stop the scan of the other inputs.
    """
    inputs: list[InputStats] = []
    errors: list[InputError] = []
    warnings: list[str] = []
    jobs = jobs or os.cpu_count() or 1
    names = log_names(settings)
    # With --evidence, http and ssl logs are read after the scan (`_deferred_logs`) when
    # they can be read then: not from stdin, without a state to advance as they are read,
    # and through the pre-filter (without it, every record is parsed in the scan).
    defer = (settings.evidence and prefilter and state is None and not strict and "-" not in paths
             and not any(isinstance(path, Opened) for path in paths))  # read again by path, not descriptor
    logs = EVIDENCE_LOGS if settings.evidence else CONNECTION_LOGS
    archives = _archives(paths, names, jobs) if state is None and not strict else []
    hits, tunnels = _scan_archives(archives, _ArchiveJob(settings, input_format, prefilter, max_record, names, logs,
                                                          defer), jobs, inputs, errors, progress)
    with shared_processes():  # one set of pre-filter processes for every file and pass
        frames = read_frames(paths, input_format, strict, inputs, errors,
                             rule_prefilter(settings) if prefilter else None, jobs, progress, state,
                             max_record, warnings, names, logs, wanted=_not_deferred if defer else None,
                             skip=frozenset(archives))
        try:
            _judge(frames, settings, inputs, hits, tunnels)
        except MalformedRecordError as exc:  # --strict: what was read before it still counts
            errors.append(exc)
        if settings.evidence:
            hits += _looked_up(paths, input_format, hits, settings, jobs, max_record, names, tunnels,
                               _Counted(inputs, errors, progress) if defer else None)
    if archives or defer:  # counted out of turn: put every input back in the order of the paths
        order = {path: i for i, path in enumerate(expand([p for p in paths if isinstance(p, str)], names).files)}
        inputs.sort(key=lambda stats: order.get(stats.path, -1))
    result = conclude(hits, inputs, errors, settings, since, until, max_signals, state, tunnels)
    result.warnings = warnings
    return result


def conclude(hits: list[pd.DataFrame], inputs: list[InputStats], errors: list[InputError],
             settings: Settings, since: pd.Timestamp | None = None,
             until: pd.Timestamp | None = None, max_signals: int = 0,
             state: State | None = None, tunnels: list[pd.DataFrame] | None = None) -> ScanResult:
    """From rule hits to the run's result: one alert per connection (with what proxy
    `tunnels` add), time window,
    allow entries, alerts raised in earlier runs (with a `state`), --max-signals, and
    the per-input alert counts. The same for every engine, so that they agree alert
    for alert."""
    result = ScanResult(alerts=core.finalize(core.collapse(empty_frame()), settings), inputs=inputs,
                        allow_counts={entry.name: 0 for entry in settings.allow}, errors=errors)
    hits = [h for h in hits if not h.empty]
    collapsed = core.collapse(pd.concat(hits, ignore_index=True)) if hits else core.collapse(empty_frame())
    tunnels = [t for t in tunnels or [] if not t.empty]
    if tunnels:
        collapsed = core.join_tunnels(collapsed, pd.concat(tunnels, ignore_index=True), settings)
    connections = core.finalize(collapsed, settings) if hits or tunnels else result.alerts
    inside = _in_window(connections["@timestamp"], since, until)
    result.outside_window = int((~inside).sum())
    connections = connections.loc[inside].reset_index(drop=True)
    by = core.suppressing_entry(connections, settings.allow)
    result.alerts = connections.loc[by.isna()].reset_index(drop=True)
    result.suppressed = _marked(connections.loc[by.notna()], by[by.notna()])
    result.allow_counts.update(result.suppressed[SUPPRESSED_BY].value_counts().to_dict())
    result.hits = len(connections)
    if settings.new_terms is not None:  # which hits may alert; suppression then groups them
        novel = core.new_terms(result.alerts, settings.new_terms, state.terms if state is not None else {})
        result.alerts, result.known = novel.alerts, novel.known
    if settings.suppression is not None:
        grouped = core.suppress(result.alerts, settings.suppression, state.windows if state is not None else None)
        result.alerts, result.grouped, result.grouped_earlier = grouped.alerts, grouped.into_this_run, grouped.into_earlier
    if state is not None:
        result.suppressed = unseen(result.suppressed, state)
        state.remember(result.suppressed["event.id"].tolist())
        result.alerts, result.carried = admit(result.alerts, state, max_signals)
    elif max_signals and len(result.alerts) > max_signals:  # alerts are oldest first
        result.dropped = len(result.alerts) - max_signals
        result.alerts = result.alerts.iloc[:max_signals]
    alerts = result.alerts["log.file.path"].value_counts()
    allowed = result.suppressed["log.file.path"].value_counts()
    for stats in result.inputs:
        stats.alerts = int(alerts.get(stats.path, 0))
        stats.allowlisted = int(allowed.get(stats.path, 0))
    return result


def _marked(suppressed: pd.DataFrame, by: pd.Series) -> pd.DataFrame:
    """Suppressed hits, each naming the entry that suppressed it, in its own column and
    first in its message: written beside alerts (--show-suppressed), they must not
    read as alerts."""
    message = "Suppressed by " + by.astype(str) + ": " + suppressed["message"].astype(str)
    return suppressed.assign(**{SUPPRESSED_BY: by, "message": message}).reset_index(drop=True)


def _in_window(times: pd.Series, since: pd.Timestamp | None, until: pd.Timestamp | None) -> pd.Series:
    inside = pd.Series(True, index=times.index)
    if since is not None:
        inside &= times >= since
    if until is not None:
        inside &= times < until
    return inside.fillna(False).astype(bool)


def with_suppressed(result: ScanResult) -> pd.DataFrame:
    """Alerts and suppressed hits together, oldest first (`--show-suppressed`)."""
    if result.suppressed.empty:
        return result.alerts
    both = pd.concat([result.alerts.assign(**{SUPPRESSED_BY: None}), result.suppressed], ignore_index=True)
    return both.sort_values(["@timestamp", "event.id"], kind="stable").reset_index(drop=True)
