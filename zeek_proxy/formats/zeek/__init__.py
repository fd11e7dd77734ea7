"""One ECS mapping per Zeek log, shared by the TSV and JSON syntaxes, and how a log's
`#path`/`_path` (or, without one, its fields) picks the mapping."""

from __future__ import annotations

from typing import Iterable

from zeek_proxy.formats.zeek.conn import CONN
from zeek_proxy.formats.zeek.mapping import ZeekLog
from zeek_proxy.formats.zeek.socks import SOCKS

LOGS = (CONN, SOCKS)


def log_of_path(path: str) -> ZeekLog | None:
    """The mapping for a log's `#path` or `_path`, None for a log no mapping reads."""
    return next((log for log in LOGS if log.is_path(path)), None)


def log_of_fields(names: Iterable[str]) -> ZeekLog | None:
    """The mapping for a log without a path, judged by its fields."""
    present = set(names)
    return next((log for log in LOGS if log.looks_like(present)), None)
