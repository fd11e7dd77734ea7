"""One ECS mapping per Zeek log, shared by the TSV and JSON syntaxes, and how a log's
`#path`/`_path` (or, without one, its fields) picks the mapping."""

from __future__ import annotations

from typing import Iterable

from zeek_proxy.formats.base import CONNECTION_LOGS
from zeek_proxy.formats.zeek.conn import CONN
from zeek_proxy.formats.zeek.http import HTTP
from zeek_proxy.formats.zeek.mapping import ZeekLog
from zeek_proxy.formats.zeek.socks import SOCKS
from zeek_proxy.formats.zeek.ssl import SSL
from zeek_proxy.formats.zeek.tunnel import TUNNEL

LOGS = (CONN, SOCKS, HTTP, SSL, TUNNEL)
#: The logs `--evidence` reads too.
EVIDENCE_LOGS = frozenset(log.name for log in LOGS)


def log_of_path(path: str, names: frozenset[str] = CONNECTION_LOGS) -> ZeekLog | None:
    """The mapping for a log's `#path` or `_path`, None for a log no mapping of
    `names` reads."""
    return next((log for log in LOGS if log.name in names and log.is_path(path)), None)


def log_of_fields(fields: Iterable[str], names: frozenset[str] = CONNECTION_LOGS) -> ZeekLog | None:
    """The mapping for a log without a path, judged by its fields."""
    present = set(fields)
    return next((log for log in LOGS if log.name in names and log.looks_like(present)), None)


def not_read(names: frozenset[str], path: str | None) -> str:
    """Why records of the log at `path` (None: judged by its fields) are not read."""
    ordered = [log.name for log in LOGS if log.name in names]
    wanted = ", ".join(ordered[:-1]) + " or " + ordered[-1]
    if path is None:
        return f"fields are not those of a {wanted} log"
    hint = " (read with --evidence)" if log_of_path(path, EVIDENCE_LOGS) and names != EVIDENCE_LOGS else ""
    return f"{path} is not a {wanted} log{hint}"
