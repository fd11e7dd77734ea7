"""Zeek notice.log, TSV or JSON lines, with Zeek's own header and escaping.

Anything copied from a log is attacker-controlled, so every string is escaped as Zeek's
ASCII writer escapes it: one alert is always exactly one line.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from zeek_proxy.lazy import pd
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE
from zeek_proxy.core.suppression import DOCS_COUNT, FOR, TERMS
from zeek_proxy.emit.base import Emitter, epoch_seconds, python_values
from zeek_proxy.schema import SUPPRESSED_BY

NOTE = "ProxyPort::Internet_Activity"
#: The note of the second detection (--evidence), by rule id.
NOTES = {RULE.id: NOTE, PROTOCOL_RULE.id: "ProxyPort::Protocol_Activity"}
#: The note of a hit an allow entry suppressed (--show-suppressed): no alert, whichever rule.
SUPPRESSED_NOTE = "ProxyPort::Suppressed_Activity"
#: Evidence fields written to `sub` as name=value, when set.
_SUB_EVIDENCE = (("zeek_proxy.evidence", "evidence"), ("destination.domain", "domain"),
                 ("http.request.method", "method"), ("url.original", "uri"),
                 ("tls.client.server_name", "sni"), ("zeek.socks.request.host", "socks_target"),
                 ("zeek.socks.request.port", "socks_port"))
ACTION = "Notice::ACTION_LOG"
SUPPRESS_FOR = 3600.0

#: The current 26-column notice.log layout (Zeek 6/7).
FIELDS: tuple[tuple[str, str], ...] = (
    ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
    ("id.resp_h", "addr"), ("id.resp_p", "port"), ("fuid", "string"),
    ("file_mime_type", "string"), ("file_desc", "string"), ("proto", "enum"),
    ("note", "enum"), ("msg", "string"), ("sub", "string"), ("src", "addr"),
    ("dst", "addr"), ("p", "port"), ("n", "count"), ("peer_descr", "string"),
    ("actions", "set[enum]"), ("email_dest", "set[string]"), ("suppress_for", "interval"),
    ("remote_location.country_code", "string"), ("remote_location.region", "string"),
    ("remote_location.city", "string"), ("remote_location.latitude", "double"),
    ("remote_location.longitude", "double"),
)
SEPARATOR, SET_SEPARATOR, EMPTY, UNSET = "\t", ",", "(empty)", "-"


#: Also escaped, though Zeek's writer leaves them: readers built on CSV parsers (zat's
#: LogToDataFrame, pandas) take `#` for a comment and `"` for a quote anywhere in a line.
_READER_HAZARDS = ("#", '"')


def escape(value: str, separators: tuple[str, ...] = (SEPARATOR,)) -> str:
    """Zeek's ASCII-writer escaping of one string value.

    Backslash doubles; separators, `#`, `"`, control and non-ASCII bytes become \\xNN; a
    value that would read as the unset or empty marker gets its first byte escaped; "" is
    (empty). Every Zeek reader undoes \\xNN, so values read back unchanged.
    """
    if value == "":
        return EMPTY
    out = []
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if char == "\\":
            out.append("\\\\")
        elif byte < 0x20 or byte >= 0x7F or char in separators or char in _READER_HAZARDS:
            out.append(f"\\x{byte:02x}")
        else:
            out.append(char)
    text = "".join(out)
    if text in (UNSET, EMPTY):
        text = f"\\x{ord(text[0]):02x}{text[1:]}"
    return text


def notice_records(alerts: pd.DataFrame) -> list[dict[str, Any]]:
    """One notice record per alert, keyed by notice field name (unset fields absent)."""
    column = {name: python_values(alerts[name]) for name in alerts.columns if name != "@timestamp"}
    ts = epoch_seconds(alerts["@timestamp"])
    records = []
    for i in range(len(alerts)):
        get = {name: values[i] for name, values in column.items()}.get
        sub = [f"event.id={get('event.id')}"]
        if get("network.community_id"):
            sub.append(f"community_id={get('network.community_id')}")
        if get("suricata.eve.flow_id") is not None:
            sub.append(f"flow_id={get('suricata.eve.flow_id')}")
        for name, key in _SUB_EVIDENCE:
            value = get(name)
            if value is not None:
                sub.append(f"{key}={','.join(value) if isinstance(value, (list, tuple)) else value}")
        terms = get(TERMS)
        if terms:  # --suppress-for: the group, as Zeek's $identifier would name it
            sub.append("suppression=" + ",".join(f"{t['field']}={t['value']}" for t in terms))
        suppressed_by = get(SUPPRESSED_BY)
        if suppressed_by is not None:  # --show-suppressed
            sub.append(f"suppressed_by={suppressed_by}")
        count = get(DOCS_COUNT)
        records.append({
            "ts": ts[i],
            "uid": get("zeek.session_id"),
            "id.orig_h": get("source.ip"), "id.orig_p": get("source.port"),
            "id.resp_h": get("destination.ip"), "id.resp_p": get("destination.port"),
            "proto": get("network.transport"),
            "note": SUPPRESSED_NOTE if suppressed_by is not None else NOTES.get(get("rule.id") or RULE.id, NOTE),
            "msg": get("message"),
            "sub": " ".join(sub),
            "src": get("source.ip"), "dst": get("destination.ip"), "p": get("destination.port"),
            "n": None if count is None else count + 1,  # the hits in the window
            "peer_descr": get("observer.name"),  # the sensor, as a Zeek cluster names its nodes
            "actions": [ACTION],
            "email_dest": [],
            "suppress_for": get(FOR) or SUPPRESS_FOR,
        })
    return records


def _tsv_cell(value: Any, zeek_type: str) -> str:
    if value is None:
        return UNSET
    if zeek_type.startswith("set["):
        return SET_SEPARATOR.join(escape(str(v), (SEPARATOR, SET_SEPARATOR)) for v in value) or EMPTY
    if zeek_type == "interval":
        return f"{value:.6f}"
    if zeek_type == "time":
        return str(value)
    return escape(str(value))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")


class NoticeEmitter(Emitter):
    name = "notice"
    description = "Zeek notice.log (TSV)"

    def begin(self) -> None:
        self.out.write(
            "#separator \\x09\n"
            f"#set_separator{SEPARATOR}{SET_SEPARATOR}\n"
            f"#empty_field{SEPARATOR}{EMPTY}\n"
            f"#unset_field{SEPARATOR}{UNSET}\n"
            f"#path{SEPARATOR}notice\n"
            f"#open{SEPARATOR}{_now()}\n"
            f"#fields{SEPARATOR}{SEPARATOR.join(n for n, _ in FIELDS)}\n"
            f"#types{SEPARATOR}{SEPARATOR.join(t for _, t in FIELDS)}\n"
        )

    def write(self, alerts: pd.DataFrame) -> None:
        for record in notice_records(alerts):
            self.out.write(SEPARATOR.join(_tsv_cell(record.get(n), t) for n, t in FIELDS) + "\n")

    def end(self) -> None:
        self.out.write(f"#close{SEPARATOR}{_now()}\n")


class NoticeJSONEmitter(Emitter):
    name = "notice-json"
    description = "Zeek notice.log as JSON lines"

    def write(self, alerts: pd.DataFrame) -> None:
        for record in notice_records(alerts):
            doc = {n: record[n] for n, _ in FIELDS if record.get(n) is not None}
            doc["ts"] = float(doc["ts"])
            self.out.write(json.dumps(doc, separators=(",", ":")) + "\n")
