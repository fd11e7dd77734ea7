"""Which log a stream holds, judged from its first bytes."""

from __future__ import annotations

import json

from zeek_proxy.adapters.base import Adapter
from zeek_proxy.adapters.suricata import SuricataAdapter
from zeek_proxy.adapters.zeek_json import ZeekJSONAdapter
from zeek_proxy.adapters.zeek_tsv import ZeekTSVAdapter

#: --format spellings -> the adapters they allow.
ADAPTERS: dict[str, tuple[type[Adapter], ...]] = {
    "auto": (ZeekTSVAdapter, ZeekJSONAdapter, SuricataAdapter),
    "zeek": (ZeekTSVAdapter, ZeekJSONAdapter),
    "suricata": (SuricataAdapter,),
}
FORMATS = tuple(ADAPTERS)

_EVE_KEYS = ("event_type", "src_ip", "dest_ip", "flow_id")
_ZEEK_KEYS = ("uid", "id.orig_h", "_path", "id")


def sniff(head: bytes) -> type[Adapter] | None:
    """The adapter for a log starting with `head`, or None when it is no log we know."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"#"):
        return ZeekTSVAdapter
    if not text.startswith(b"{"):
        return None
    for line in text.splitlines()[:20]:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            if any(k in obj for k in _EVE_KEYS):
                return SuricataAdapter
            if any(k in obj for k in _ZEEK_KEYS):
                return ZeekJSONAdapter
    return None


def choose(head: bytes, fmt: str = "auto") -> type[Adapter] | None:
    """The adapter for a log whose text starts with `head`, within what `fmt` allows."""
    found = sniff(head)
    allowed = ADAPTERS[fmt]
    if found in allowed:
        return found
    if fmt == "suricata":
        return SuricataAdapter
    if fmt == "zeek":
        return ZeekTSVAdapter if head.lstrip()[:1] != b"{" else ZeekJSONAdapter
    return None
