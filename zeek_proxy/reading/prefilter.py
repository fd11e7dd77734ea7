"""The raw-line pre-filter: which lines could possibly match.

The caller says, in ECS terms, what a record must be to be worth parsing: its
destination port in `ports`, and `keep` true of its endpoints (transport, source,
destination, destination port). Formats find the lines whose destination port is
written as one of those numbers (one pattern over the whole block, see `linescan`),
read the endpoints of those lines only (Arrow kernels on TSV cells, a JSON decoder on
JSON lines), and ask `keep` of each. A line is dropped only when that is certain:
anything unusual (an escaped cell, a value of an unusual type, a wrong column count)
goes on to the full parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zeek_proxy.reading.blocks import line_offsets
from zeek_proxy.core.networks import END, NEVER, NetworkSet
from zeek_proxy.core.rule import Endpoints


@dataclass(frozen=True)
class Lookup:
    """Connections whose every record is wanted, whatever it says: Zeek uids and
    Suricata flow ids (the evidence join reads the logs again for them)."""

    uids: frozenset[str] = frozenset()
    flow_ids: frozenset[int] = frozenset()
    seen: bool = False  # also tell every line's key prefix (`LineKeys`)
    rule: bool = False  # and the rule's lines, in logs other than http and ssl


#: Lines whose key prefixes `LineKeys` holds at most (8 bytes each).
LINE_KEYS_MAX = 4_000_000


@dataclass
class LineKeys:
    """The key prefixes of every line a look-up read (one sorted array per block), so
    that a later look-up for a few more keys can tell whether they are in lines it did
    not parse, without reading the files again. It knows nothing (`complete` false) once
    a block's keys could not all be told by their prefix, or past LINE_KEYS_MAX lines."""

    blocks: list[np.ndarray] = field(default_factory=list)
    lines: int = 0
    complete: bool = True

    def add(self, prefixes: np.ndarray | None) -> None:
        if prefixes is None or self.lines + len(prefixes) > LINE_KEYS_MAX:
            self.complete, self.blocks = False, []
        elif self.complete:
            self.blocks.append(prefixes)
            self.lines += len(prefixes)

    def lines_with(self, keys: frozenset[str]) -> dict[str, int] | None:
        """How many lines hold each key's prefix (more than hold the key, when keys
        share their first 8 bytes); None when that is not known."""
        if not self.complete:
            return None
        ordered = sorted(keys)
        prefixes = np.array([_prefix(str(key).encode()) for key in ordered], dtype=np.uint64)
        counts = np.zeros(len(ordered), dtype=np.int64)
        for block in self.blocks:
            counts += np.searchsorted(block, prefixes, "right") - np.searchsorted(block, prefixes, "left")
        return dict(zip(ordered, counts.tolist()))


@dataclass(frozen=True)
class Prefilter:
    """Destination ports worth parsing, and a predicate on a record's endpoints.

    `excluded_destinations`, when known, are networks whose addresses `keep` always
    rejects as destinations; lines whose destination is written as one of them are
    dropped by one pattern, before any field is cut out of them.
    """

    ports: tuple[int, ...]
    keep: Callable[[Endpoints], bool]
    excluded_destinations: NetworkSet | None = None
    any_port_in_socks: bool = False  # a SOCKS record may match on any port: never drop one
    evidence: bool = False  # also keep proxy evidence on any port: SOCKS, tunnels, CONNECT, absolute URIs
    lookup: Lookup | None = None  # instead of all the above: the records of these connections

    @property
    def any_socks(self) -> bool:
        """Whether every SOCKS record is kept."""
        return self.any_port_in_socks or self.evidence

    @property
    def port_pattern(self) -> str:
        """RE2 alternation of the ports, longest first."""
        if not self.ports:
            return NEVER
        return "(?:" + "|".join(sorted({str(p) for p in self.ports}, key=len, reverse=True)) + ")"


def keep_nothing(_: Endpoints) -> bool:
    """`keep` of a look-up, which keeps records by their key alone."""
    return False


@dataclass
class Selection:
    """What stage one decided for a block: lines to parse, records not parsed."""

    parse: list[int]  # indices of lines that go to the full parser
    filtered: int = 0  # records that cannot match, never parsed
    skipped: int = 0  # records of a log that is not a conn log, never parsed
    line_keys: np.ndarray | None = None  # for `LineKeys`, when asked for and known


@dataclass(frozen=True)
class Chosen:
    """Stage one's answer for a block: how many lines it has, which of them to parse
    and where they lie in it, and the records not parsed. A forked worker sends the
    lines to parse too (`texts`): the parent never reads the block's pages, and each
    page it would read, one line on each, costs a page fault. It parses them too
    (`rows`), while the parent is busy importing pandas or reading earlier blocks."""

    lines: int
    parse: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    filtered: int
    skipped: int
    texts: list[bytes] | None = None
    rows: list[dict[str, Any] | None] | None = None  # `texts` parsed by the worker, where it could
    line_keys: np.ndarray | None = None  # the block's `Selection.line_keys`


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


def cell_endpoints(transport: pa.Array, source: pa.Array, destination: pa.Array,
                   port: pa.Array) -> list[Endpoints]:
    """The endpoints in text cells, as the parser reads them: the transport lower-cased,
    a port that is not a plain number None."""
    port = _cell(port)
    digits = pc.and_(pc.utf8_is_digit(port), pc.less_equal(pc.utf8_length(port), 5))
    number = pc.cast(pc.if_else(digits, port, pa.scalar(None, pa.large_string())), pa.int64())
    return list(zip(pc.utf8_lower(_cell(transport)).to_pylist(), _cell(source).to_pylist(),
                    _cell(destination).to_pylist(), number.to_pylist()))


@dataclass(frozen=True)
class KeyCell:
    """Where a format writes a line's key (Zeek's uid), for the quick look-up: right
    after the first `after` (a Zeek TSV line's first separator, `"uid":"` in Zeek JSON),
    up to one of the bytes in `ends`. `unless` is a literal whose first occurrence must
    be that of `after` for this to hold (`"uid"`: the pattern's match begins there);
    `pattern` (RE2, group `key`) says exactly what the key is."""

    pattern: str
    after: str | None = None
    ends: bytes = b""
    unless: str | None = None


def keyed_lines(lines: pa.Array, cell: KeyCell, keys: frozenset[str] | frozenset[int],
                seen: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Indices of lines whose key, the group `key` of `cell.pattern` written as text, is
    one of `keys`, however many keys there are; with `seen`, the sorted key prefixes of
    every line that has a key, for `LineKeys` (None where some line's key cannot be
    told by its prefix).

    Where the key's place is known (`cell.after`), only the lines whose key begins with
    the first 8 bytes of one of `keys` (one substring search and one integer lookup per
    line), and lines where that cannot be told, are extracted with the pattern: a 12 MB
    block of ssl.log takes 10 ms. (A Hyperscan literal search for every key read a block
    2 ms faster but took 0.1-0.2 s to compile 4,000 keys, on one core, before the
    workers could start.)
    """
    nothing = np.zeros(0, dtype=np.int64)
    if not len(lines):
        return nothing, np.zeros(0, dtype=np.uint64) if seen else None
    if cell.after is None:
        return (_extracted_in(lines, cell.pattern, _key_values(keys)[0]) if keys else nothing), None
    first, unclear = key_prefixes(lines, cell)
    prefixes = np.sort(first[first != 0]) if seen and not unclear.any() else None
    if not keys:
        return nothing, prefixes
    values, wanted = _key_values(keys)
    maybe = np.flatnonzero(pc.is_in(pa.array(first), value_set=wanted).to_numpy(zero_copy_only=False) | unclear)
    if len(maybe):
        maybe = maybe[_extracted_in(lines.take(pa.array(maybe)), cell.pattern, values)]
    return maybe, prefixes


_PREFIX_BYTES = 8  # a key's first bytes, zero-padded, read as one integer
_ONES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)


def key_prefixes(lines: pa.Array, cell: KeyCell) -> tuple[np.ndarray, np.ndarray]:
    """Each line's key prefix (its first 8 bytes, zero-padded, as an integer; 0 when the
    line has no `cell.after`), and which lines' keys cannot be told this way (an empty
    key among them: its first byte is one of `cell.ends`)."""
    assert cell.after is not None
    data = np.frombuffer(lines.buffers()[2], dtype=np.uint8)
    words = _words(data)
    at = pc.find_substring(lines, cell.after).to_numpy(zero_copy_only=False)
    begins = line_offsets(lines)[:-1] + at + len(cell.after)
    readable = (at >= 0) & (begins + _PREFIX_BYTES <= len(data))
    unclear = (at >= 0) & ~readable
    if cell.unless is not None:
        other = pc.find_substring(lines, cell.unless).to_numpy(zero_copy_only=False)
        moved = other != at
        readable &= ~moved
        unclear |= moved & (other >= 0)
    if not len(words):
        return np.zeros(len(lines), dtype=np.uint64), unclear
    key = words[np.where(readable, begins, 0)]
    kept = _before_first(key, cell.ends)
    prefixes = key & kept
    prefixes[~readable] = 0
    # A key that ends at once is empty, or begins with white space the pattern may skip.
    return prefixes, unclear | (readable & (kept == 0))


def _words(data: np.ndarray) -> np.ndarray:
    """The 8 bytes from every offset of `data` as one little-endian integer: a view, so
    that one gather reads a whole word per line."""
    return np.ndarray((max(len(data) - 7, 0),), dtype="<u8", buffer=data, strides=(1,))


def _before_first(words: np.ndarray, wanted: bytes) -> np.ndarray:
    """For each word, a mask of its bytes before the first one that is in `wanted` (all
    eight when none is). The lowest byte that the zero-byte test flags in `word ^ byte`
    is exact: a borrow only runs upwards from a true zero."""
    hit = np.zeros(len(words), dtype=np.uint64)
    for byte in wanted:
        x = words ^ (_ONES * np.uint64(byte))
        hit |= (x - _ONES) & ~x & _HIGH
    lowest = hit & (~hit + np.uint64(1))
    return (lowest >> np.uint64(7)) - np.uint64(1)  # no hit: 0 - 1 wraps to every byte


@lru_cache(maxsize=8)  # the same keys for every block of a lookup
def _key_values(keys: frozenset[str] | frozenset[int]) -> tuple[pa.Array, pa.Array]:
    """The keys as they are written in a line, and their prefixes (see key_prefixes)."""
    encoded = [str(key).encode() for key in keys]
    return pa.array(encoded, pa.large_binary()), pa.array(np.unique([_prefix(key) for key in encoded]).astype(np.uint64))


def _prefix(key: bytes) -> np.uint64:
    """A key's first 8 bytes, zero-padded, as `key_prefixes` reads them."""
    return np.frombuffer(key[:_PREFIX_BYTES].ljust(_PREFIX_BYTES, b"\0"), "<u8")[0]


def _extracted_in(lines: pa.Array, pattern: str, values: pa.Array) -> np.ndarray:
    found = pc.struct_field(pc.extract_regex(lines, pattern), [0])  # bytes in, bytes out
    return np.flatnonzero(pc.is_in(found, value_set=values.cast(found.type)).to_numpy(zero_copy_only=False))


def records_of(lines: pa.Array, force: list[int], not_records: np.ndarray) -> tuple[int, list[int]]:
    """How many lines are records, and which forced lines are records."""
    excluded = set(not_records.tolist())
    return len(lines) - len(excluded), [i for i in force if i not in excluded]


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
