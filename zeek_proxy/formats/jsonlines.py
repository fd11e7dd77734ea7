"""One JSON object per line, the shape of Zeek JSON logs and Suricata eve: decoding a
line, and stage one of the fast path for such lines."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Iterable

import orjson
import pyarrow as pa

from zeek_proxy.core.rule import Endpoints
from zeek_proxy.reading.linescan import matching
from zeek_proxy.reading.prefilter import (
    KeyCell, Prefilter, Selection, blank_lines, keyed_lines, not_starting_with, records_of,
)


def load_object(line: bytes) -> dict[str, Any] | None:
    """The object on a line, None for a blank line; ValueError when it is not one."""
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    if not line.strip():
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if "utf-8" not in str(exc).lower():
            raise ValueError(f"not valid JSON ({str(exc)[:80]})") from None
        try:  # bad bytes are replaced, as in Zeek's own output and in TSV logs
            obj = orjson.loads(line.decode("utf-8", "replace"))
        except (orjson.JSONDecodeError, RecursionError) as again:
            raise ValueError(f"not valid JSON ({str(again)[:80]})") from None
    except RecursionError as exc:
        raise ValueError(f"not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(obj, dict):
        raise ValueError("JSON value is not an object")
    return obj


#: A decoded record's endpoints as the full parser reads them, or None when a value is
#: not the plain kind the pre-filter judges.
EndpointsOf = Callable[[dict[str, Any]], Endpoints | None]


def select_json(lines: pa.Array, force: list[int], prefilter: Prefilter,
                keys: tuple[str, str], endpoints: EndpointsOf) -> Selection:
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
    for index, line in zip(candidates.tolist(), chosen.to_pylist()):
        try:
            record = load_object(line)
        except ValueError:
            record = None  # malformed: the parser says why
        four = endpoints(record) if record is not None else None
        if four is None or prefilter.keep(four):
            parse.add(index)
    return Selection(parse=sorted(parse), filtered=records - len(parse))


def select_keyed(lines: pa.Array, force: list[int], cell: KeyCell, keys: frozenset[str] | frozenset[int],
                 seen: bool = False) -> Selection:
    """Stage one of a lookup: the lines whose key (in `cell`) is one of `keys`, and the
    forced ones; the rest are filtered. With `seen`, the lines' key prefixes too."""
    records, forced = records_of(lines, force, blank_lines(lines))
    keyed, line_keys = keyed_lines(lines, cell, keys, seen)
    parse = sorted({*forced, *keyed.tolist()})
    return Selection(parse, records - len(parse), line_keys=line_keys)


def plus(chosen: Selection, lines: Iterable[int]) -> Selection:
    """`chosen`, and these lines too (counted as parsed, not filtered)."""
    more = set(lines) - set(chosen.parse)
    return dataclasses.replace(chosen, parse=sorted({*chosen.parse, *more}), filtered=chosen.filtered - len(more))


def also_matching(chosen: Selection, lines: pa.Array, pattern: str) -> Selection:
    """`chosen`, and the lines matching `pattern` too."""
    return plus(chosen, matching(lines, pattern).tolist())


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
