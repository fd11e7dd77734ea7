"""The ECS frame: the one table shape every adapter produces and the core consumes.

Columns are ECS field names (or `zeek.*`, `suricata.*`, `zeek_proxy.*` for the rest).
Fixing the schema here is what lets adapters and the core evolve apart.
"""

from __future__ import annotations

from typing import Any

from zeek_proxy.lazy import pd

TIME = "datetime64[us, UTC]"
INT = "Int64"
STR = "object"

#: column -> dtype, in output order.
ECS_COLUMNS: dict[str, str] = {
    "@timestamp": TIME,
    "event.module": STR,
    "event.dataset": STR,
    "event.start": TIME,
    "event.end": TIME,
    "event.duration": INT,
    "source.ip": STR,
    "source.port": INT,
    "source.bytes": INT,
    "source.packets": INT,
    "destination.ip": STR,
    "destination.port": INT,
    "destination.bytes": INT,
    "destination.packets": INT,
    "destination.domain": STR,
    "network.transport": STR,
    "network.protocol": STR,
    "network.direction": STR,
    "network.community_id": STR,
    "observer.name": STR,
    "zeek.session_id": STR,
    "zeek.connection.state": STR,
    "zeek.connection.history": STR,
    "zeek.socks.request.host": STR,
    "zeek.socks.request.port": INT,
    "zeek.socks.version": INT,
    "zeek.tunnel.type": STR,
    "zeek.tunnel.action": STR,
    "http.request.method": STR,
    "url.original": STR,
    "user_agent.original": STR,
    "tls.client.server_name": STR,
    "suricata.eve.flow_id": INT,
    "suricata.eve.event_type": STR,
    "suricata.eve.tcp.state": STR,
    "log.file.path": STR,
    "zeek_proxy.evidence": STR,  # one kind per record; an alert lists its connection's, sorted
    "zeek_proxy.line": INT,
}

TIME_COLUMNS = tuple(c for c, t in ECS_COLUMNS.items() if t == TIME)

#: `zeek_proxy.evidence` kinds: what a record says its connection was.
SOCKS, CONNECT, PROXY_REQUEST, TLS, HTTP = "socks", "http-connect", "http-proxy-request", "tls", "http"
#: The kinds that are proxy use on their own (the protocol detection).
PROXY_KINDS = (SOCKS, CONNECT, PROXY_REQUEST)
#: The column naming the allow entry that suppressed a hit, on the hits `--show-suppressed`
#: writes beside the alerts (set there, and only there: emitters mark such rows).
SUPPRESSED_BY = "zeek_proxy.suppressed_by"
#: Datasets that describe a connection only through another log's: never a port hit.
CONTEXT_DATASETS = ("zeek.http", "zeek.ssl", "zeek.tunnel")


def frame_from_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build a typed ECS frame from row dicts (missing keys become nulls).

    Time columns arrive as integer microseconds since the epoch.
    """
    columns: dict[str, Any] = {}
    for name, dtype in ECS_COLUMNS.items():
        values = [row.get(name) for row in rows]
        if dtype == TIME:
            ints = pd.array(values, dtype=INT)
            columns[name] = pd.to_datetime(ints, unit="us", utc=True).astype(TIME)
        elif dtype == INT:
            columns[name] = pd.array(values, dtype=INT)
        else:
            columns[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns).reset_index(drop=True)


def empty_frame() -> pd.DataFrame:
    """A frame with the ECS columns and no rows."""
    return frame_from_rows([])


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (times as integer microseconds, nulls left out), so a
    frame can wait in a state file; `frame_from_json_rows` reads them back."""
    columns: dict[str, list[Any]] = {}
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            micros = series.to_numpy(dtype="datetime64[us]").astype("int64").tolist()
            columns[name] = [None if missing else v for v, missing in zip(micros, series.isna().tolist())]
        else:
            columns[name] = plain_values(series)
    return [{k: v[i] for k, v in columns.items() if v[i] is not None} for i in range(len(frame))]


def plain_values(column: pd.Series) -> list[Any]:
    """A column's values as plain Python scalars (numpy's unwrapped), nulls as None:
    what JSON, comparisons and messages want, at list speed."""
    values = column.astype(object).where(column.notna(), None).tolist()
    return [v.item() if hasattr(v, "item") else v for v in values]


def frame_from_json_rows(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows written by `json_rows`, as a frame of `columns` (ECS ones typed as always,
    the others as objects)."""
    typed = frame_from_rows(records)
    out = {name: typed[name] if name in ECS_COLUMNS else pd.Series([r.get(name) for r in records], dtype=object)
           for name in columns}
    return pd.DataFrame(out).reset_index(drop=True)
