"""The raw-line pre-filter: which lines could possibly match.

The caller says, in ECS terms, what a record must be to be worth parsing: its
destination port in `ports`, and `keep(frame)` true on a partial frame of four columns
(network.transport, source.ip, destination.ip, destination.port). Adapters find the
lines whose destination port is written as one of those numbers (one pattern over the
whole block, see `linescan`), read the four fields of those lines only (Arrow kernels
on TSV cells, a JSON decoder on JSON lines), and ask `keep`. A line is dropped only
when that is certain: anything unusual (an escaped cell, a value of an unusual type, a
wrong column count) goes on to the full parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from zeek_proxy.adapters.blocks import line_offsets
from zeek_proxy.adapters.jsonlines import load_object
from zeek_proxy.adapters.linescan import matching
from zeek_proxy.core.networks import END, NEVER, NetworkSet

PARTIAL_COLUMNS = ("network.transport", "source.ip", "destination.ip", "destination.port")


@dataclass(frozen=True)
class Prefilter:
    """Destination ports worth parsing, and a predicate on partial frames.

    `excluded_destinations`, when known, are networks whose addresses `keep` always
    rejects as destinations; lines whose destination is written as one of them are
    dropped by one pattern, before any field is cut out of them.
    """

    ports: tuple[int, ...]
    keep: Callable[[pd.DataFrame], np.ndarray]
    excluded_destinations: NetworkSet | None = None

    @property
    def port_pattern(self) -> str:
        """RE2 alternation of the ports, longest first."""
        if not self.ports:
            return NEVER
        return "(?:" + "|".join(sorted({str(p) for p in self.ports}, key=len, reverse=True)) + ")"


@dataclass
class Selection:
    """What stage one decided for a block: lines to parse, records not parsed."""

    parse: list[int]  # indices of lines that go to the full parser
    filtered: int = 0  # records that cannot match, never parsed
    skipped: int = 0  # records of a log that is not a conn log, never parsed


@dataclass(frozen=True)
class Chosen:
    """Stage one's answer for a block: how many lines it has, which of them to parse
    and where they lie in it, and the records not parsed."""

    lines: int
    parse: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    filtered: int
    skipped: int


_SPACE = np.frombuffer(b" \t\r\n\x0b\x0c", dtype=np.uint8)


def lines_starting_with(lines: pa.Array, first_bytes: bytes | np.ndarray) -> np.ndarray:
    """Indices of non-empty lines whose first byte is one of `first_bytes` (numpy on the
    offsets and the buffer: no kernel has to read the lines)."""
    offsets = line_offsets(lines)
    data = np.frombuffer(lines.buffers()[2], dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    nonempty = np.flatnonzero(ends > starts)
    wanted = np.frombuffer(first_bytes, dtype=np.uint8) if isinstance(first_bytes, bytes) else first_bytes
    return nonempty[np.isin(data[starts[nonempty]], wanted)]


def blank_lines(lines: pa.Array) -> np.ndarray:
    """Indices of lines holding only white space (empty ones included)."""
    offsets = line_offsets(lines)
    empty = np.flatnonzero(offsets[1:] == offsets[:-1])
    spaced = lines_starting_with(lines, _SPACE)
    if len(spaced):
        maybe = lines.take(pa.array(spaced))
        spaced = spaced[pc.match_substring_regex(maybe, r"^\s*$").to_numpy(zero_copy_only=False)]
    return np.union1d(empty, spaced)


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
    columns = dict(zip(PARTIAL_COLUMNS, (pc.utf8_lower(_cell(transport)), _cell(source),
                                         _cell(destination), number)))
    return pd.DataFrame({k: pd.arrays.ArrowExtensionArray(v) for k, v in columns.items()})


def records_of(lines: pa.Array, force: list[int], not_records: np.ndarray) -> tuple[int, list[int]]:
    """How many lines are records, and which forced lines are records."""
    excluded = set(not_records.tolist())
    return len(lines) - len(excluded), [i for i in force if i not in excluded]


#: A record's 4-tuple as the full parser reads it (transport, source, destination,
#: destination port), or None when a value is not the plain kind the pre-filter judges.
Endpoints = Callable[[dict[str, Any]], "tuple[str, str, str, int] | None"]


def select_json(lines: pa.Array, force: list[int], prefilter: Prefilter,
                keys: tuple[str, str], endpoints: Endpoints) -> Selection:
    """Stage one for JSON lines whose destination and destination port sit under `keys`.

    Lines that hold a proxy port under the port key, and a destination that is not an
    excluded address, are decoded, and `endpoints` reads their 4-tuple as the full parser
    would; a line it cannot judge (not JSON, an unusual value) goes to the parser.
    """
    destination_key, port_key = keys
    records, forced = records_of(lines, force, blank_lines(lines))
    candidates = matching(lines, rf'{_key(port_key)}\s*:\s*"?{prefilter.port_pattern}\b')
    parse = set(forced)
    prefixes = prefilter.excluded_destinations.ipv4_prefixes if prefilter.excluded_destinations else None
    chosen = lines.take(pa.array(candidates))
    if len(candidates) and prefixes:
        kept = matching(chosen, _destination_kept(destination_key, prefixes))
        candidates, chosen = candidates[kept], chosen.take(pa.array(kept))
    sure: list[int] = []
    tuples: list[tuple[str, str, str, int]] = []
    for index, line in zip(candidates.tolist(), chosen.to_pylist()):
        try:
            record = load_object(line)
        except ValueError:
            record = None  # malformed: the parser says why
        four = endpoints(record) if record is not None else None
        if four is None:
            parse.add(index)
        else:
            sure.append(index)
            tuples.append(four)
    if sure:
        keep = prefilter.keep(_frame_of(tuples))
        parse.update(np.asarray(sure)[keep].tolist())
    return Selection(parse=sorted(parse), filtered=records - len(parse))


def _frame_of(tuples: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """The partial frame of decoded 4-tuples."""
    transport, source, destination, port = zip(*tuples)
    return pd.DataFrame({
        "network.transport": pd.array(transport, dtype=object),
        "source.ip": pd.array(source, dtype=object),
        "destination.ip": pd.array(destination, dtype=object),
        "destination.port": pd.array(port, dtype="Int64"),
    })


def _destination_kept(key: str, prefixes: tuple[str, ...]) -> str:
    """A pattern for lines that hold `key` with a value the rule may accept: not a
    string, or a string that begins with none of `prefixes`. A line lacking it holds no
    destination at all, or all of its copies (duplicates, an initiator object's) are
    excluded; either way it cannot alert. A dotted key ("id.resp_h") may also be written
    nested ({"id": {"resp_h": ...}}); such lines are kept for the parser to judge."""
    value = not_starting_with(prefixes, end='"')
    pattern = rf'"{re.escape(key)}"\s*:\s*(?:[^"\s]|"{value})'
    if "." in key:
        pattern += rf'|"{re.escape(key.rsplit(".", 1)[1])}"\s*:'
    return pattern


def _key(key: str) -> str:
    """A pattern for `key` as a JSON key. A dotted key ("id.resp_p") may also be
    written nested ({"id": {"resp_p": ...}}), which the Zeek JSON reader accepts; the
    end of the name finds both forms, where an alternative of the two names would
    halve Hyperscan's speed (it also finds other keys ending so: the next steps judge)."""
    if "." in key:
        return re.escape(key.rsplit(".", 1)[1]) + '"'
    return f'"{re.escape(key)}"'


@lru_cache(maxsize=64)  # called for every block with the same few arguments
def not_starting_with(prefixes: tuple[str, ...], end: str, inside: str = "") -> str:
    """An RE2 (and Hyperscan) pattern for text that begins with none of `prefixes`;
    END in a prefix stands for the character `end` that closes a value. The characters
    of `inside` are never matched, so that the text stays inside one cell."""
    trie: dict[str, Any] = {}
    for prefix in prefixes:
        node = trie
        for char in prefix.replace(END, end):
            node = node.setdefault(char, {})
        node[END] = {}  # a whole prefix: what follows it is excluded

    def branch(node: dict[str, Any]) -> str:
        edges = [char for char in node if char != END]
        options = ["[^" + "".join(re.escape(char) for char in [*edges, *inside]) + "]"]
        options += [re.escape(char) + branch(node[char]) for char in edges if END not in node[char]]
        return "(?:" + "|".join(options) + ")"

    return branch(trie) if END not in trie else NEVER
