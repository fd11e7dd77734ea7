"""Zeek JSON logs (one object per line): flat dotted keys, unset fields omitted or null."""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from zeek_proxy.formats.base import Format
from zeek_proxy.formats.jsonlines import also_matching, load_object, plus, select_json, select_keyed
from zeek_proxy.reading.prefilter import KeyCell, Prefilter, Selection
from zeek_proxy.formats.zeek import log_of_fields, log_of_path, not_read

logger = logging.getLogger(__name__)


#: A line that may be a socks.log record (its `request_p` field, or its `_path`).
_SOCKS_RECORD = r'"request_p"|"_path"\s*:\s*"socks'
#: A line that may be other proxy evidence: a tunnel record, a CONNECT, an absolute URI.
_EVIDENCE_RECORD = (r'"tunnel_type"|"method"\s*:\s*"[Cc][Oo][Nn][Nn][Ee][Cc][Tt]"'
                    r'|"uri"\s*:\s*"[A-Za-z][A-Za-z0-9+.-]*://')
#: Where a line's uid is: Zeek writes `"uid":"…"`; the pattern reads any spacing.
_UID = KeyCell(r'"uid"\s*:\s*"(?P<key>[^"]*)"', '"uid":"', b'"', '"uid"')


class ZeekJSONFormat(Format):
    name = "zeek-json"
    module = "zeek"
    dataset = "zeek.connection"

    def select(self, lines: pa.Array, force: list[int], prefilter: Prefilter) -> Selection:
        keyed = None
        if prefilter.lookup is not None:  # the records of these connections, in whatever log
            keyed = select_keyed(lines, force, _UID, prefilter.lookup.uids, seen=prefilter.lookup.seen)
            if not prefilter.lookup.rule:
                return keyed
        # The rule's lines: a look-up with the rule too (--evidence's read of http and ssl
        # logs) finds them in a file that holds other logs after its first.
        chosen = select_json(lines, force, prefilter, ("id.resp_h", "id.resp_p"), endpoints)
        patterns = [_SOCKS_RECORD] * prefilter.any_socks + [_EVIDENCE_RECORD] * prefilter.evidence
        if patterns:  # proxy evidence alerts on any port: parse it all
            chosen = also_matching(chosen, lines, "|".join(patterns))
        return chosen if keyed is None else plus(keyed, chosen.parse)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._warned: set[str] = set()

    def parse(self, lineno: int, line: bytes, terminated: bool) -> dict[str, Any] | None:
        obj = load_object(line)
        if obj is None:
            return None
        _flatten(obj)
        path = obj.get("_path")
        if isinstance(path, str):
            log = log_of_path(path, self.logs)
            reason = "_path " + not_read(self.logs, path)
        else:
            log = log_of_fields(obj, self.logs)
            reason = not_read(self.logs, None)
        if log is None:
            if reason not in self._warned:
                self._warned.add(reason)
                logger.warning("%s:%d: %s; such records are skipped", self.path, lineno, reason)
            self.skip(lineno, reason)
            return None
        return log.row(obj.get)


def _flatten(obj: dict[str, Any]) -> None:
    """Some exporters nest the 4-tuple ({"id": {"orig_h": ...}}); its names then win."""
    nested = obj.get("id")
    if isinstance(nested, dict):
        obj.update({f"id.{k}": v for k, v in nested.items()})


def endpoints(obj: dict[str, Any]) -> tuple[str, str, str, int] | None:
    """The 4-tuple the parser reads from `obj`, for the pre-filter (None: let the
    parser judge)."""
    _flatten(obj)
    transport, source, destination, port = (obj.get(name) for name in ("proto", "id.orig_h", "id.resp_h", "id.resp_p"))
    if isinstance(port, str) and port.isdigit() and len(port) <= 5:
        port = int(port)
    if not isinstance(transport, str) or not isinstance(source, str) or not isinstance(destination, str) \
            or type(port) is not int:
        return None
    return transport.lower(), source, destination, port
