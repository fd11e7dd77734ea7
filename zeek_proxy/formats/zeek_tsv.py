"""Zeek's ASCII (TSV) logs, read the way Zeek's own reader does.

Columns are found by `#fields` name, never by position; `#separator`, `#set_separator`,
`#empty_field` and `#unset_field` are honoured per header block, and a file may hold
several blocks (concatenated logs).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zeek_proxy.reading import linescan
from zeek_proxy.formats.base import Format, decode
from zeek_proxy.reading.blocks import Block
from zeek_proxy.reading.prefilter import (
    KeyCell, Lookup, Prefilter, Selection, blank_lines, cell_endpoints, keyed_lines, lines_starting_with,
    not_starting_with, records_of,
)
from zeek_proxy.formats.zeek import CONN, HTTP, SSL, ZeekLog, log_of_fields, log_of_path, not_read

logger = logging.getLogger(__name__)

_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|\\)")
_TUPLE = ("proto", "id.orig_h", "id.resp_h", "id.resp_p")
#: First bytes of a line that may be a header: "#", a BOM, or white space str.lstrip() removes.
_HEADER_FIRST_BYTES = b"#\xef \t\r\x0b\x0c\x1c\x1d\x1e\x1f"
#: The longest text of an address `ipaddress` accepts, without white space around it
#: (stripped), escapes (undone) or an IPv6 scope id: "0000:0000:0000:0000:0000:ffff:255.255.255.255".
_LONGEST_ADDRESS = 45


def unescape(text: str) -> str:
    """Undo Zeek's `\\xNN` and `\\\\` escapes."""
    if "\\" not in text:
        return text
    raw = text.encode("utf-8", "surrogateescape")
    out = _ESCAPE.sub(lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)]), raw)
    return out.decode("utf-8", "replace")


class ZeekTSVFormat(Format):
    name = "zeek-tsv"
    module = "zeek"
    dataset = "zeek.connection"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quiet = False  # a probe copy (the pre-filter's) does not warn
        self._new_block()

    def _new_block(self) -> None:
        self.separator = "\t"
        self.set_separator = ","
        self.empty_field = "(empty)"
        self.unset_field = "-"
        self.log_path: str | None = None
        self.fields: list[str] | None = None
        self.index: dict[str, int] = {}
        self.positions: list[tuple[str, int]] = []  # the fields the mapping reads, and where
        self.log: ZeekLog | None = CONN
        self.why_not_read = ""
        self.header_lines: list[str] = []

    def header(self) -> list[str]:
        return list(self.header_lines)

    def parse(self, lineno: int, line: bytes, terminated: bool) -> dict[str, Any] | None:
        text = decode(line)
        stripped = text.lstrip()
        if not stripped:
            return None
        if stripped.startswith("#"):
            self._header(stripped)
            return None
        if self.fields is None:
            raise ValueError("record before any #fields header")
        if self.log is None:
            self.skip(lineno, self.why_not_read)
            return None
        if not terminated:
            raise ValueError("record cut short (no newline at end of file)")
        cells = text.split(self.separator)
        if len(cells) != len(self.fields):
            raise ValueError(f"{len(cells)} fields where #fields names {len(self.fields)}")
        unset, empty = self.unset_field, self.empty_field
        present = {}  # only the fields the mapping reads: unset ones are left out
        for name, position in self.positions:
            cell = cells[position]
            if cell != unset:
                present[name] = "" if cell == empty else unescape(cell)
        return self.log.row(present.get)

    def _header(self, line: str) -> None:
        if line.startswith("#separator"):
            self._new_block()
            self.header_lines.append(line)
            value = line[len("#separator"):].strip(" \t")
            self.separator = unescape(value) or "\t"
            return
        key, _, value = line.partition(self.separator)
        if key in ("#set_separator", "#empty_field", "#unset_field", "#path", "#fields", "#types"):
            self.header_lines.append(line)
        if key == "#set_separator":
            self.set_separator = unescape(value)
        elif key == "#empty_field":
            self.empty_field = unescape(value)
        elif key == "#unset_field":
            self.unset_field = unescape(value)
        elif key == "#path":
            self.log_path = value
            self._judge()
        elif key == "#fields":
            self.fields = value.split(self.separator)
            self.index = {name: i for i, name in enumerate(self.fields)}
            self._judge()

    @property
    def is_conn(self) -> bool:
        return self.log is not None and self.log.name == CONN.name  # a worker process holds a copy

    def _judge(self) -> None:
        """Decide which log this block is (conn, socks), or that no mapping reads it;
        warn once when none does."""
        was = self.log
        if self.log_path is not None:
            self.log = log_of_path(self.log_path, self.logs)
            self.why_not_read = "#path " + not_read(self.logs, self.log_path)
        elif self.fields is not None:
            self.log = log_of_fields(self.fields, self.logs)
            self.why_not_read = not_read(self.logs, None)
        if self.log is not None and self.fields is not None:
            self.positions = [(name, self.index[name]) for name in self.log.fields if name in self.index]
        if was is not None and self.log is None and not self.quiet:
            logger.warning("%s: %s; its records are skipped", self.path, self.why_not_read)

    # -- fast path ------------------------------------------------------------------
    def needs_main_thread(self, block: Block) -> bool:
        """The first block holds the header that every other block is read under;
        header lines further on are caught when their block is taken in order."""
        return block.offset == 0

    def select(self, lines: pa.Array, force: list[int], prefilter: Prefilter) -> Selection:
        headers = self._header_lines(lines)
        if not headers:
            return self._select_segment(lines, force, prefilter)
        # The layout changes inside this block. Work each segment out on a copy of the
        # reader, and send the header lines on to the parser with the chosen records, so
        # that the main thread applies them in file order, each exactly once.
        probe = copy.copy(self)
        probe.header_lines = list(self.header_lines)
        probe.quiet = True
        total = Selection(parse=list(headers))
        line_keys: list[np.ndarray | None] = []  # of each segment's lines (a header line has no key)
        start = 0
        for h in [*headers, len(lines)]:
            if h > start:
                part = probe._select_segment(
                    lines.slice(start, h - start), [i - start for i in force if start <= i < h], prefilter
                )
                total.parse.extend(i + start for i in part.parse)
                total.filtered += part.filtered
                total.skipped += part.skipped
                line_keys.append(part.line_keys)
            if h < len(lines):
                probe.parse(h + 1, lines[h].as_py(), True)
            start = h + 1
        total.parse = sorted(set(total.parse))
        if all(keys is not None for keys in line_keys):
            total.line_keys = np.sort(np.concatenate([*line_keys, np.zeros(0, dtype=np.uint64)]))
        return total

    @staticmethod
    def _header_lines(lines: pa.Array) -> list[int]:
        """Indices of header lines, read as the full parser reads them (after a BOM and
        any leading white space)."""
        maybe = lines_starting_with(lines, _HEADER_FIRST_BYTES)
        return [int(i) for i in maybe if decode(lines[int(i)].as_py()).lstrip().startswith("#")]

    def _first_pass(self, lines: pa.Array, prefilter: Prefilter) -> str:
        """A pattern for the lines that may hold a hit: the `id.resp_p` cell is a proxy
        port and, when `id.resp_h` is the column before it (Zeek's own layout), that
        cell does not begin like an address the rule always rejects. Most port matches
        (traffic to internal proxies) end here, before a line is cut into cells.

        RE2 reads line by line, so its pattern is anchored at the columns and never
        reads the rest of a line. Hyperscan is fastest on short unanchored patterns, so
        for it the cell before a port cell is bounded in length; that is exact while no
        cell before a port cell in the block is longer than an address can be written."""
        bounded = self._bounded_first_pass(prefilter)
        if bounded is not None and not linescan.found(lines, self._long_cell(prefilter)):
            return bounded
        sep = re.escape(self.separator)
        cell = rf"[^{sep}\n]*{sep}"
        host, port_column = self.index["id.resp_h"], self.index["id.resp_p"]
        kept = self._kept_host(prefilter)
        if kept is None:
            return rf"^(?:{cell}){{{port_column}}}{self._port(prefilter)}"
        return rf"^(?:{cell}){{{host}}}{kept}{cell}{self._port(prefilter)}"

    def _bounded_first_pass(self, prefilter: Prefilter) -> str | None:
        """Hyperscan's pattern, when it applies to this layout (Zeek's own)."""
        kept = self._kept_host(prefilter)
        if kept is None or not linescan.BLOCK_SCAN or self.index["id.resp_h"] == 0:
            return None
        sep = re.escape(self.separator)
        return rf"{sep}{kept}[^{sep}\n]{{0,{_LONGEST_ADDRESS}}}{sep}{self._port(prefilter)}"

    def _long_cell(self, prefilter: Prefilter) -> str:
        """A pattern for a cell longer than an address is written, before a port cell:
        the one cell the bounded pattern cannot judge (white space, escapes or a scope
        id can lengthen an address's text), so a block holding one is judged by the
        anchored pattern."""
        sep = re.escape(self.separator)
        return rf"[^{sep}\n]{{{_LONGEST_ADDRESS + 1}}}{sep}{self._port(prefilter)}"

    def _kept_host(self, prefilter: Prefilter) -> str | None:
        """A pattern for an `id.resp_h` cell the rule may accept, when `id.resp_p` is
        the next column and the excluded networks are known."""
        excluded = prefilter.excluded_destinations
        prefixes = excluded.ipv4_prefixes if excluded is not None else None
        if not prefixes or self.index["id.resp_p"] != self.index["id.resp_h"] + 1 or len(self.separator) != 1:
            return None
        return not_starting_with(prefixes, end=self.separator, inside=self.separator + "\n")

    def _port(self, prefilter: Prefilter) -> str:
        sep = re.escape(self.separator)
        return rf"{prefilter.port_pattern}(?:{sep}|\r?\n?$)"

    def sparse_pass(self, prefilter: Prefilter) -> tuple[str, tuple[str, ...]] | None:
        """The bounded first pass, for a conn layout that allows it; a block holding a
        long cell before a port cell goes the full way (where the anchored pattern is
        used)."""
        if not self.is_conn or prefilter.lookup is not None or self.fields is None \
                or any(name not in self.index for name in _TUPLE):
            return None
        bounded = self._bounded_first_pass(prefilter)
        return None if bounded is None else (bounded, (self._long_cell(prefilter),))

    def _select_segment(self, lines: pa.Array, force: list[int], prefilter: Prefilter) -> Selection:
        """Stage one for lines under one header block."""
        records, forced = records_of(lines, force, blank_lines(lines))
        if self.log is None:
            return Selection(parse=forced, skipped=records - len(forced))
        log = self.log.name  # by name: a worker process holds a copy of the mapping
        if prefilter.lookup is not None and log in (HTTP.name, SSL.name):  # other logs: the rule's lines
            keyed, line_keys = self._looked_up(lines, prefilter.lookup)
            chosen = keyed.tolist()
            if log == HTTP.name and prefilter.evidence:  # --evidence's one read of http.log
                chosen += self._proxy_requests(lines)
            parse = sorted({*forced, *chosen})
            return Selection(parse=parse, filtered=records - len(parse), line_keys=line_keys)
        if log == HTTP.name and prefilter.evidence:
            chosen = self._proxy_requests(lines)
        elif log in (SSL.name, HTTP.name):  # context only: read again for the alerts' uids
            chosen = []
        elif not self.is_conn or self.fields is None or any(name not in self.index for name in _TUPLE):
            everything = np.setdiff1d(np.arange(len(lines)), blank_lines(lines))
            return Selection(parse=everything.tolist())
        else:
            chosen = self._conn_candidates(lines, prefilter)
        parse = sorted({*forced, *chosen})
        return Selection(parse=parse, filtered=records - len(parse))

    def _looked_up(self, lines: pa.Array, lookup: Lookup) -> tuple[np.ndarray, np.ndarray | None]:
        """Lines whose `uid` cell is one of the looked-up connections', and if asked the
        uid prefixes of all lines (`keyed_lines`)."""
        cell = self.key_cell()
        if cell is None:
            return np.zeros(0, dtype=np.int64), None
        return keyed_lines(lines, cell, lookup.uids, lookup.seen)

    def key_cell(self) -> KeyCell | None:
        if self.fields is None or "uid" not in self.index or len(self.separator) != 1:
            return None
        sep = re.escape(self.separator)
        pattern = rf"^(?:[^{sep}\n]*{sep}){{{self.index['uid']}}}(?P<key>[^{sep}\r\n]*)"
        # Zeek writes uid second: the key follows the first separator (one byte, so that
        # no byte of a key is taken for it).
        after = self.separator if self.index["uid"] == 1 and self.separator.isascii() else None
        return KeyCell(pattern, after, (self.separator + "\r\n").encode())

    def _proxy_requests(self, lines: pa.Array) -> list[int]:
        """http.log lines whose method cell is CONNECT (any case) or whose uri cell is
        an absolute URI: the only http records that are proxy use on their own."""
        pattern = self._proxy_request_pattern()
        if pattern is None:
            return []
        # RE2 line by line: anchored at the columns it stops early, three times faster
        # here than Hyperscan's scan of the whole block.
        return np.flatnonzero(pc.match_substring_regex(lines, pattern).to_numpy(zero_copy_only=False)).tolist()

    def _proxy_request_pattern(self) -> str | None:
        """One pattern for both, anchored on their columns (a referrer cell holding a
        URL does not count)."""
        sep = re.escape(self.separator)
        cell = rf"[^{sep}\n]*{sep}"
        wanted = (("method", rf"[Cc][Oo][Nn][Nn][Ee][Cc][Tt](?:{sep}|\r?\n?$)"), ("uri", "[A-Za-z][A-Za-z0-9+.-]*://"))
        patterns = [rf"^(?:{cell}){{{self.index[name]}}}{value}" for name, value in wanted if name in self.index]
        return "|".join(patterns) or None

    def _conn_candidates(self, lines: pa.Array, prefilter: Prefilter) -> list[int]:
        """conn.log lines that may be hits: the port pattern, then the rule on their cells."""
        candidates = linescan.matching(lines, self._first_pass(lines, prefilter))
        if not len(candidates):
            return []
        chosen = lines.take(pa.array(candidates))
        cells = pc.split_pattern(chosen, self.separator)
        whole = pc.equal(pc.list_value_length(cells), len(self.fields)).to_numpy(zero_copy_only=False)
        parse = set(candidates[~whole].tolist())  # wrong column count: the parser says why
        rows = cells.filter(pa.array(whole))
        tuple_cells = [pc.list_element(rows, self.index[name]) for name in _TUPLE]
        escaped = np.zeros(len(rows), dtype=bool)
        for cell in tuple_cells:
            escaped |= pc.match_substring(cell, "\\").to_numpy(zero_copy_only=False)
        keep = np.fromiter(map(prefilter.keep, cell_endpoints(*tuple_cells)), dtype=bool, count=len(rows))
        parse.update(candidates[whole][keep | escaped].tolist())
        return sorted(parse)
