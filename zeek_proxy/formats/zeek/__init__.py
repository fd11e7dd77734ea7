"""One ECS mapping per Zeek log, shared by the TSV and JSON syntaxes, and how a log's
`#path`/`_path` (or, without one, its fields) picks the mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from zeek_proxy.formats.zeek import conn, socks


@dataclass(frozen=True)
class ZeekLog:
    """A Zeek log the formats can map: the fields its mapping reads and how."""

    name: str
    fields: tuple[str, ...]
    row: Callable[[Callable[[str], Any]], dict[str, Any]]
    is_path: Callable[[str], bool]
    looks_like: Callable[[Iterable[str]], bool]


CONN = ZeekLog("conn", conn.FIELDS, conn.conn_row, conn.is_conn_path, conn.looks_like_conn)
SOCKS = ZeekLog("socks", socks.FIELDS, socks.socks_row, socks.is_socks_path, socks.looks_like_socks)
LOGS = (CONN, SOCKS)


def log_of_path(path: str) -> ZeekLog | None:
    """The mapping for a log's `#path` or `_path`, None for a log no mapping reads."""
    return next((log for log in LOGS if log.is_path(path)), None)


def log_of_fields(names: Iterable[str]) -> ZeekLog | None:
    """The mapping for a log without a path, judged by its fields."""
    present = set(names)
    return next((log for log in LOGS if log.looks_like(present)), None)
