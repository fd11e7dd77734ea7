"""Zeek JSON logs (one object per line): flat dotted keys, unset fields omitted or null."""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from zeek_proxy.formats.base import Format
from zeek_proxy.formats.jsonlines import load_object, select_json
from zeek_proxy.reading.prefilter import Prefilter, Selection
from zeek_proxy.formats.zeek.conn import conn_row, is_conn_path, looks_like_conn

logger = logging.getLogger(__name__)


class ZeekJSONFormat(Format):
    name = "zeek-json"
    module = "zeek"
    dataset = "zeek.connection"

    def select(self, lines: pa.Array, force: list[int], prefilter: Prefilter) -> Selection:
        return select_json(lines, force, prefilter, ("id.resp_h", "id.resp_p"), endpoints)

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
            conn = is_conn_path(path)
            reason = f"_path {path} is not a conn log"
        else:
            conn = looks_like_conn(obj)
            reason = "fields are not those of a conn log"
        if not conn:
            if reason not in self._warned:
                self._warned.add(reason)
                logger.warning("%s:%d: %s; such records are skipped", self.path, lineno, reason)
            self.skip(lineno, reason)
            return None
        return conn_row(obj.get)


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
