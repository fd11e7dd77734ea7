"""The same scan on a Dask cluster: partitions of the inputs, run where the workers are.

Inputs become partitions: one per gzip file (gzip cannot be split), one per remote
(fsspec URL) file, and line-aligned byte ranges of large plain files. Each partition
runs the very function the local engine runs (format -> ECS frame -> rule) and returns
its rule hits and counts; the client folds them with `conclude`, exactly as locally, so
the two engines agree alert for alert and id for id. Only this module imports Dask.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import BinaryIO

from zeek_proxy.lazy import pd
from zeek_proxy import core
from zeek_proxy.reading.blocks import MAX_RECORD
from zeek_proxy.reading.inputs import GZIP_MAGIC, expand, is_url, open_log
from zeek_proxy.formats.sniff import choose
from zeek_proxy.config import Settings
from zeek_proxy.errors import ConfigError, InputError, SourceLocation
from zeek_proxy.pipeline import (
    ScanResult, conclude, judge_file, log_names, passed_over_warning, rule_prefilter, zeek_kinds,
)
from zeek_proxy.reading.reader import Reader
from zeek_proxy.stats import InputStats

PARTITION_BYTES = 64 << 20


@dataclass(frozen=True)
class Partition:
    """A whole file, or the whole lines of a plain file between two byte offsets."""

    path: str
    start: int = 0
    end: int | None = None
    first_line: int = 0  # lines before `start`
    header: tuple[str, ...] = ()  # Zeek TSV header lines in force at `start`


@dataclass
class PartitionResult:
    path: str
    hits: pd.DataFrame
    stats: InputStats
    errors: list[InputError] = field(default_factory=list)


def plan(path: str, size: int = PARTITION_BYTES) -> list[Partition]:
    """The partitions of one input file."""
    if is_url(path) or path == "-" or os.path.getsize(path) <= size:
        return [Partition(path)]
    with open(path, "rb") as raw:
        if raw.read(2) == GZIP_MAGIC:
            return [Partition(path)]
        raw.seek(0)
        header: list[str] = []
        parts: list[Partition] = []
        start = line = offset = 0
        in_header = True
        while True:
            chunk = raw.read(size)
            if not chunk:
                break
            if in_header:
                for text in chunk.split(b"\n"):
                    if not text.lstrip().startswith(b"#"):
                        in_header = False
                        break
                    header.append(text.decode("utf-8", "replace").strip())
            elif chunk.count(b"\n#") != chunk.count(b"\n#close"):  # a second header block
                return [Partition(path)]  # the layout changes within the file: keep it whole
            end_of_line = raw.readline()  # a boundary falls at a line's end
            chunk += end_of_line
            line_count = chunk.count(b"\n")
            offset += len(chunk)
            parts.append(Partition(path, start, offset, line, tuple(header) if start else ()))
            start, line = offset, line + line_count
        return parts or [Partition(path)]


class _Range(io.RawIOBase):
    """The bytes of `raw` from its position up to `length` bytes further."""

    def __init__(self, raw: BinaryIO, length: int) -> None:
        self.raw, self.left = raw, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.left <= 0:
            return 0
        data = self.raw.read(min(len(buffer), self.left))
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)


def scan_partition(partition: Partition, settings: Settings, input_format: str = "auto",
                   strict: bool = False, max_record: int = MAX_RECORD) -> PartitionResult:
    """Rule hits and counts of one partition (runs on a worker)."""
    stats = InputStats(partition.path)
    hits: list[pd.DataFrame] = []
    errors: list[InputError] = []
    try:
        with open_log(partition.path) as log:
            format_class = choose(log.head, input_format)
            if format_class is None:
                raise InputError("not a Zeek or Suricata log (format not recognised)",
                                 SourceLocation(partition.path))
            reader = Reader(format_class(partition.path, stats), strict=strict, max_record=max_record)
            stream = log.stream
            if partition.end is not None:
                log.raw.seek(partition.start)
                reader.resume(partition.first_line, list(partition.header))
                stream = io.BufferedReader(_Range(log.raw, partition.end - partition.start), 1 << 20)
            for frame in reader.frames(stream, None if strict else rule_prefilter(settings), jobs=1):
                selected = core.select(frame, settings)
                stats.matched += len(selected)
                hits.append(selected)
    except InputError as exc:
        errors.append(exc)
    frame = pd.concat(hits, ignore_index=True) if hits else pd.DataFrame()
    return PartitionResult(partition.path, frame, stats, errors)


def scan_dask(paths: list[str], settings: Settings, scheduler: str | None = None,
              workers: int | None = None, input_format: str = "auto", strict: bool = False,
              since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
              max_signals: int = 0, max_record: int = MAX_RECORD) -> ScanResult:
    """`scan` on Dask: an existing cluster at `scheduler`, or a LocalCluster of `workers`
    processes.

    Raises:
        ConfigError: Dask is not installed, or the scheduler cannot be reached.
        MalformedRecordError: under `strict`, the first malformed record of any partition.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--engine dask needs Dask: pip install 'zeek-proxy[dask]'") from None
    names = log_names(settings)
    expansion = expand([p for p in paths if not is_url(p)], names)
    kinds = zeek_kinds(names)
    verdicts = {path: judge_file(path, input_format, kinds) for path in expansion.sniffed}
    passed_over = [path for path in expansion.files if verdicts.get(path) is False]
    files = [path for path in expansion.files if verdicts.get(path, True)] + _remote([p for p in paths if is_url(p)])
    partitions = [part for path in files for part in plan(path)]
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="10s")
        else:
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    try:
        futures = client.map(scan_partition, partitions, settings=settings, input_format=input_format,
                             strict=strict, max_record=max_record, retries=2, pure=False)
        results: list[PartitionResult] = client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    result = _merge(results, expansion.errors, settings, strict, since, until, max_signals)
    result.warnings = expansion.warnings + ([passed_over_warning(passed_over, kinds)] if passed_over else [])
    return result


def _remote(urls: list[str]) -> list[str]:
    """fsspec URLs, their globs expanded."""
    if not urls:
        return []
    import fsspec

    out = []
    for url in urls:
        protocol = url.split("://", 1)[0]
        out.extend(f"{protocol}://{f.path}" for f in fsspec.open_files(url))
    return out


def _merge(results: list[PartitionResult], errors: list[InputError], settings: Settings,
           strict: bool, since: pd.Timestamp | None, until: pd.Timestamp | None,
           max_signals: int) -> ScanResult:
    inputs: dict[str, InputStats] = {}
    for part in results:
        if strict and part.errors:
            raise part.errors[0]
        merged = inputs.setdefault(part.path, InputStats(part.path, part.stats.format))
        merged.add(part.stats)
        merged.format = part.stats.format
        if merged.first_problem is None:
            merged.first_problem = part.stats.first_problem
        errors.extend(part.errors)
    hits = [part.hits for part in results if not part.hits.empty]
    return conclude(hits, list(inputs.values()), errors, settings, since, until, max_signals)
