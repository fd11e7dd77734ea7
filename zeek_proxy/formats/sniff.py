"""Which log a stream holds, judged from its first bytes."""

from __future__ import annotations

import json

from zeek_proxy.formats.base import Format
from zeek_proxy.formats.eve import EveFormat
from zeek_proxy.formats.zeek_json import ZeekJSONFormat
from zeek_proxy.formats.zeek import EVIDENCE_LOGS, log_of_fields, log_of_path
from zeek_proxy.formats.zeek_tsv import ZeekTSVFormat

#: --format spellings -> the adapters they allow.
FORMATS_ALLOWED: dict[str, tuple[type[Format], ...]] = {
    "auto": (ZeekTSVFormat, ZeekJSONFormat, EveFormat),
    "zeek": (ZeekTSVFormat, ZeekJSONFormat),
    "suricata": (EveFormat,),
}
FORMATS = tuple(FORMATS_ALLOWED)

_EVE_KEYS = ("event_type", "src_ip", "dest_ip", "flow_id")
_ZEEK_KEYS = ("uid", "id.orig_h", "_path", "id")


def sniff(head: bytes) -> type[Format] | None:
    """The adapter for a log starting with `head`, or None when it is no log we know."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"#"):
        return ZeekTSVFormat
    if not text.startswith(b"{"):
        return None
    for line in text.splitlines()[:20]:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            if any(k in obj for k in _EVE_KEYS):
                return EveFormat
            if any(k in obj for k in _ZEEK_KEYS):
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
    for line in head.removeprefix(b"\xef\xbb\xbf").splitlines()[:40]:
        text = line.decode("utf-8", "replace").strip()
        if text.startswith("#path"):
            log = log_of_path(text[len("#path"):].strip(), EVIDENCE_LOGS)
            return None if log is None else log.name
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if isinstance(obj, dict):
                path = obj.get("_path")
                log = log_of_path(path, EVIDENCE_LOGS) if isinstance(path, str) else log_of_fields(obj, EVIDENCE_LOGS)
                return None if log is None else log.name
    return None
