"""Which log a stream holds, judged from its first bytes."""

from __future__ import annotations

import json
import re

from zeek_proxy.formats.base import Format
from zeek_proxy.formats.eve import EveFormat
from zeek_proxy.formats.zeek_json import ZeekJSONFormat
from zeek_proxy.formats.zeek import EVIDENCE_LOGS, ZeekLog, log_of_fields, log_of_path
from zeek_proxy.formats.zeek_tsv import ZeekTSVFormat, unescape

#: --format spellings -> the adapters they allow.
FORMATS_ALLOWED: dict[str, tuple[type[Format], ...]] = {
    "auto": (ZeekTSVFormat, ZeekJSONFormat, EveFormat),
    "zeek": (ZeekTSVFormat, ZeekJSONFormat),
    "suricata": (EveFormat,),
}
FORMATS = tuple(FORMATS_ALLOWED)

_EVE_KEYS = ("event_type", "src_ip", "dest_ip", "flow_id")
_ZEEK_KEYS = ("uid", "id.orig_h", "_path", "id")
#: Lines of the head looked at: Zeek's header is the first eight, after at most a
#: comment line or two (Zeek's btest baselines start with one).
_LINES = 20
#: The same keys, as they start a JSON object's members: how a first line too long to
#: end within the head is judged.
_EVE_MEMBER = re.compile(rb'"(?:event_type|src_ip|dest_ip|flow_id)"\s*:')
_ZEEK_MEMBER = re.compile(rb'"(?:uid|id\.orig_h|_path)"\s*:|"id"\s*:\s*\{')
_OBJECT_START = re.compile(rb'\{\s*"')
_PATH_MEMBER = re.compile(rb'"_path"\s*:\s*"([^"\\]{1,100})"')


def sniff(head: bytes) -> type[Format] | None:
    """The adapter for a log starting with `head`, or None when it is no log we know.

    Zeek TSV needs its header (`#separator` or `#fields`): a text that merely starts
    with `#` (Markdown, a shell script) is no log. JSON lines are judged by their keys;
    a line that does not end within the head (a record of megabytes) by the keys its
    start holds, so that the reader, not the sniffer, counts it as malformed.
    """
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"#"):
        return ZeekTSVFormat if _zeek_header(text) else None
    if not text.startswith(b"{"):
        return None
    lines = text.splitlines()[:_LINES]
    for index, line in enumerate(lines):
        try:
            obj = json.loads(line)
        except ValueError:
            if index == len(lines) - 1 and not text.endswith((b"\n", b"\r")):
                return _judged_by_start(line)
            continue
        if isinstance(obj, dict):
            if any(k in obj for k in _EVE_KEYS):
                return EveFormat
            if any(k in obj for k in _ZEEK_KEYS):
                return ZeekJSONFormat
    return None


def _zeek_header(text: bytes) -> bool:
    """Whether the first lines hold a Zeek TSV header line."""
    return any(line.startswith((b"#separator", b"#fields")) for line in text.splitlines()[:_LINES])


def _judged_by_start(line: bytes) -> type[Format] | None:
    """The adapter for a JSON object line cut off by the end of the head, judged by the
    members its start names."""
    if not _OBJECT_START.match(line):
        return None
    if _EVE_MEMBER.search(line):
        return EveFormat
    if _ZEEK_MEMBER.search(line):
        return ZeekJSONFormat
    return None


def choose(head: bytes, fmt: str = "auto") -> type[Format] | None:
    """The adapter for a log whose text starts with `head`, within what `fmt` allows."""
    found = sniff(head)
    allowed = FORMATS_ALLOWED[fmt]
    if found in allowed:
        return found
    if fmt == "suricata":
        return EveFormat
    if fmt == "zeek":
        return ZeekTSVFormat if head.lstrip()[:1] != b"{" else ZeekJSONFormat
    return None


def zeek_log(head: bytes) -> str | None:
    """Which Zeek log (conn, http...) a Zeek log starting with `head` holds, judged by
    its first `#path` or `_path`, or its fields; None when that cannot be told."""
    separator = "\t"
    for line in head.removeprefix(b"\xef\xbb\xbf").splitlines()[:40]:
        text = line.decode("utf-8", "replace").strip()
        if text.startswith("#separator"):
            separator = unescape(text[len("#separator"):].strip(" \t")) or "\t"
        elif text.startswith("#path"):
            return _named(log_of_path(text[len("#path"):].strip(), EVIDENCE_LOGS))
        elif text.startswith("#fields"):  # before any #path: a log written without one
            return _named(log_of_fields(text.split(separator)[1:], EVIDENCE_LOGS))
        elif text.startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError:  # broken, or a record too long for the head: its _path, if any
                found = _PATH_MEMBER.search(line)
                if found is not None:
                    return _named(log_of_path(found.group(1).decode("utf-8", "replace"), EVIDENCE_LOGS))
                continue
            if isinstance(obj, dict):
                path = obj.get("_path")
                return _named(log_of_path(path, EVIDENCE_LOGS) if isinstance(path, str)
                              else log_of_fields(obj, EVIDENCE_LOGS))
    return None


def _named(log: ZeekLog | None) -> str | None:
    return None if log is None else log.name
