"""The raw-line pre-filter: which lines could possibly match, decided by Arrow kernels.

The caller says, in ECS terms, what a record must be to be worth parsing: its
destination port in `ports`, and `keep(frame)` true on a partial frame of four columns
(network.transport, source.ip, destination.ip, destination.port). Adapters find the
lines whose destination port is written as one of those numbers (a regular expression
run by RE2 over every line, without the GIL), cut the four fields out of those lines
only, and ask `keep`. A line is dropped only when that is certain: anything unusual
(an escape, a duplicated key, a wrong column count) goes on to the full parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PARTIAL_COLUMNS = ("network.transport", "source.ip", "destination.ip", "destination.port")


@dataclass(frozen=True)
class Prefilter:
    """Destination ports worth parsing, and a predicate on partial frames."""

    ports: tuple[int, ...]
    keep: Callable[[pd.DataFrame], np.ndarray]

    @property
    def port_pattern(self) -> str:
        """RE2 alternation of the ports, longest first."""
        if not self.ports:
            return "(?!)"
        return "(?:" + "|".join(sorted({str(p) for p in self.ports}, key=len, reverse=True)) + ")"


@dataclass
class Selection:
    """What stage one decided for a block: lines to parse, records not parsed."""

    parse: list[int]  # indices of lines that go to the full parser
    filtered: int = 0  # records that cannot match, never parsed
    skipped: int = 0  # records of a log that is not a conn log, never parsed


def blank_lines(lines: pa.Array) -> np.ndarray:
    """Indices of lines holding only white space."""
    return np.flatnonzero(pc.match_substring_regex(lines, r"^\s*$").to_numpy(zero_copy_only=False))


def matching(lines: pa.Array, pattern: str) -> np.ndarray:
    """Indices of lines that contain a match of an RE2 pattern."""
    return np.flatnonzero(pc.match_substring_regex(lines, pattern).to_numpy(zero_copy_only=False))


def as_text(values: pa.Array) -> pa.Array:
    """Binary cells as UTF-8 strings; invalid bytes raise ArrowInvalid (the caller falls back)."""
    return pc.cast(values, pa.large_string())


def _cell(values: pa.Array) -> pa.Array:
    """A cell as text without the line end it may carry (the last column of a line)."""
    return pc.utf8_rtrim(as_text(values), "\r\n")


def partial_frame(transport: pa.Array, source: pa.Array, destination: pa.Array,
                  port: pa.Array) -> pd.DataFrame:
    """The four ECS columns the rule reads, from text cells (a bad port becomes null)."""
    port = _cell(port)
    digits = pc.and_(pc.utf8_is_digit(port), pc.less_equal(pc.utf8_length(port), 5))
    number = pc.cast(pc.if_else(digits, port, pa.scalar(None, pa.large_string())), pa.int64())
    columns = {
        "network.transport": pc.utf8_lower(_cell(transport)),
        "source.ip": _cell(source),
        "destination.ip": _cell(destination),
        "destination.port": number,
    }
    return pd.DataFrame({k: pd.arrays.ArrowExtensionArray(v) for k, v in columns.items()})


def json_field(lines: pa.Array, key: str, number: bool = False, within: str | None = None,
               times: int = 1) -> tuple[pa.Array, np.ndarray]:
    """The value of `key` in each JSON line, and whether it was read with certainty.

    Certain means the key occurs exactly `times` times and its value is a plain string
    (or number) without escapes; anything else is left to the full JSON parser. With
    `within`, the key is looked for inside that flat object (`"flow": {...}`).
    """
    quoted = f'"{key}"'
    value = r'"?(?P<v>[0-9]+)' if number else r'"(?P<v>[^"\\]*)"'
    scope = rf'"{within}"\s*:\s*\{{[^{{}}]*' if within else ""
    found = pc.extract_regex(lines, scope + quoted.replace(".", r"\.") + r"\s*:\s*" + value)
    values = pc.struct_field(found, "v")
    counted = pc.equal(pc.count_substring(lines, quoted), times)
    sure = pc.and_(counted, pc.is_valid(values)).fill_null(False).to_numpy(zero_copy_only=False)
    return values, sure




def records_of(lines: pa.Array, force: list[int], not_records: np.ndarray) -> tuple[int, list[int]]:
    """How many lines are records, and which forced lines are records."""
    excluded = set(not_records.tolist())
    return len(lines) - len(excluded), [i for i in force if i not in excluded]


def select_json(lines: pa.Array, force: list[int], prefilter: Prefilter,
                keys: tuple[str, str, str, str], initiator_object: str | None = None) -> Selection:
    """Stage one for JSON lines whose 4-tuple sits under `keys` (transport, source,
    destination, destination port).

    With `initiator_object` (eve's "flow"), a line whose source, destination and port
    keys appear twice, once inside that object, is judged on the object's values: they
    name the connection's initiator, as the full parser reads them.
    """
    transport_key, source_key, destination_key, port_key = keys
    records, forced = records_of(lines, force, blank_lines(lines))
    escaped_key = port_key.replace(".", r"\.")
    candidates = matching(lines, rf'"{escaped_key}"\s*:\s*"?{prefilter.port_pattern}\b')
    parse = set(forced)
    if len(candidates):
        text = as_text(lines.take(pa.array(candidates)))
        transport, sure_t = json_field(text, transport_key)
        source, sure_s = json_field(text, source_key)
        destination, sure_d = json_field(text, destination_key)
        port, sure_p = json_field(text, port_key, number=True)
        sure = sure_t & sure_s & sure_d & sure_p
        if initiator_object:
            twice = [json_field(text, k, k == port_key, initiator_object, 2)
                     for k in (source_key, destination_key, port_key)]
            inner = twice[0][1] & twice[1][1] & twice[2][1] & sure_t
            source, destination, port = (
                pa.array(np.where(inner, t[0].to_numpy(zero_copy_only=False), o.to_numpy(zero_copy_only=False)),
                         pa.large_string())
                for t, o in zip(twice, (source, destination, port))
            )
            sure |= inner
        keep = prefilter.keep(partial_frame(transport, source, destination, port))
        parse.update(candidates[keep | ~sure].tolist())
    return Selection(parse=sorted(parse), filtered=records - len(parse))
