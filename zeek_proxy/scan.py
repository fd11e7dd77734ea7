"""The scan pipeline: inputs -> adapters -> ECS frames -> rule -> one alert per connection.

This is the library entry point the CLI calls; it does no printing and never exits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterator

import pandas as pd

from zeek_proxy import core
from zeek_proxy.adapters.base import Adapter
from zeek_proxy.adapters.inputs import expand, open_log
from zeek_proxy.adapters.sniff import choose
from zeek_proxy.config import DEFAULT_SETTINGS, Settings
from zeek_proxy.errors import InputError, MalformedRecordError, SourceLocation
from zeek_proxy.schema import ECS_COLUMNS
from zeek_proxy.stats import InputStats

logger = logging.getLogger(__name__)


@dataclass
class ScanResult:
    """Alerts (oldest first), per-input counts, and the input errors met on the way."""

    alerts: pd.DataFrame
    inputs: list[InputStats] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


def read_frames(
    paths: list[str], input_format: str = "auto", strict: bool = False,
    inputs: list[InputStats] | None = None, errors: list[InputError] | None = None,
) -> Iterator[pd.DataFrame]:
    """ECS frames of every record in `paths`, input after input.

    Per-input counts are appended to `inputs` and non-fatal input errors to `errors`
    as they happen; under `strict` the first malformed record raises.
    """
    inputs = inputs if inputs is not None else []
    errors = errors if errors is not None else []
    expansion = expand(paths)
    errors.extend(expansion.errors)
    for path in expansion.files:
        stats = InputStats(path)
        inputs.append(stats)
        try:
            with open_log(path) as (stream, start):
                adapter_class = choose(start, input_format)
                if adapter_class is None:
                    raise InputError("not a Zeek or Suricata log (format not recognised)",
                                     SourceLocation(path))
                adapter: Adapter = adapter_class(path, stats, strict=strict)
                yield from adapter.frames(stream)
        except MalformedRecordError:
            raise
        except InputError as exc:
            errors.append(exc)


def scan(
    paths: list[str], settings: Settings = DEFAULT_SETTINGS, input_format: str = "auto",
    strict: bool = False,
) -> ScanResult:
    """Run the rule over every record of `paths`.

    Args:
        paths: files, folders (recursed), globs, or "-" for stdin.
        settings: ports, transports and networks of the rule.
        input_format: "auto", "zeek" or "suricata".
        strict: raise MalformedRecordError at the first malformed record.

    Returns:
        A ScanResult; its `errors` are input errors (missing paths, broken files) that
        did not stop the scan of the other inputs.

    Raises:
        MalformedRecordError: under `strict`.
    """
    result = ScanResult(alerts=pd.DataFrame(columns=list(ECS_COLUMNS)))
    hits: list[pd.DataFrame] = []
    for frame in read_frames(paths, input_format, strict, result.inputs, result.errors):
        selected = core.select(frame, settings)
        result.inputs[-1].matched += len(selected)
        if not selected.empty:
            hits.append(selected)
    if hits:
        result.alerts = core.finalize(core.collapse(pd.concat(hits, ignore_index=True)), settings)
        counts = result.alerts["log.file.path"].value_counts()
        for stats in result.inputs:
            stats.alerts = int(counts.get(stats.path, 0))
    return result
