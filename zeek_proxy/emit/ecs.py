"""ECS NDJSON: one nested JSON object per line, as Elastic's ingest pipelines write them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
import pandas as pd

from zeek_proxy.core.rule import RULE
from zeek_proxy.emit.base import Emitter, iso_times, python_values
from zeek_proxy.schema import TIME_COLUMNS

#: Frame columns not written as they are (they are rewritten or internal).
_NOT_COPIED = {"@timestamp", "_key"}


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """`{"a.b": 1}` as `{"a": {"b": 1}}`."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _rule_fields(created: str) -> dict[str, Any]:
    return {
        "event.kind": "alert",
        "event.created": created,
        "event.risk_score": RULE.risk_score,
        "event.severity": RULE.severity_code,
        "event.severity_label": RULE.severity,
        "rule.id": RULE.id,
        "rule.name": RULE.name,
        "rule.version": RULE.version,
        "rule.description": RULE.description,
        "rule.reference": RULE.reference[0],
        "threat.framework": RULE.threat_framework,
        "threat.tactic.id": [RULE.tactic_id],
        "threat.tactic.name": [RULE.tactic_name],
        "threat.tactic.reference": [RULE.tactic_reference],
        "threat.technique.id": [RULE.technique_id],
        "threat.technique.name": [RULE.technique_name],
        "threat.technique.reference": [RULE.technique_reference],
        "tags": ["alert", *RULE.tags],
    }


def documents(frame: pd.DataFrame, alert: bool = True) -> list[dict[str, Any]]:
    """ECS documents for an alert frame (alert=True) or a plain ECS frame (normalize)."""
    if frame.empty:
        return []
    columns: dict[str, list[Any]] = {"@timestamp": iso_times(frame["@timestamp"])}
    for name in frame.columns:
        if name in _NOT_COPIED:
            continue
        columns[name] = iso_times(frame[name]) if name in TIME_COLUMNS else python_values(frame[name])
    constant: dict[str, Any] = {
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": ["connection"],
    }
    if alert:
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        constant.update(_rule_fields(created))
    # Constants are nested once and shared by every document (they are only
    # serialised); the columns are nested column by column, not value by value.
    shared = _nested(constant)
    sources, destinations = columns.get("source.ip"), columns.get("destination.ip")
    docs = []
    for i, row in enumerate(_objects(_nested(dict(zip(columns, columns))), columns, len(frame))):
        doc = {"@timestamp": row.pop("@timestamp")} if "@timestamp" in row else {}
        doc.update(shared)
        for key, value in row.items():
            base = doc.get(key)
            doc[key] = _merged(base, value) if isinstance(base, dict) and isinstance(value, dict) else value
        related = [ip for ip in (sources[i] if sources else None,
                                 destinations[i] if destinations else None) if ip]
        doc["related"] = {"ip": list(dict.fromkeys(related))}
        docs.append(doc)
    return docs


def _objects(layout: dict[str, Any], columns: dict[str, list[Any]], count: int) -> list[dict[str, Any]]:
    """One object per row for a nested `layout` (leaf: column name), nulls and empty
    objects left out."""
    keys = list(layout)
    values = [columns[v] if isinstance(v, str) else [o or None for o in _objects(v, columns, count)]
              for v in layout.values()]
    return [{k: v for k, v in zip(keys, row) if v is not None} for row in zip(*values)] if keys \
        else [{} for _ in range(count)]


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra` laid over it, object by object."""
    out = dict(base)
    for key, value in extra.items():
        below = out.get(key)
        out[key] = _merged(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return out


class ECSEmitter(Emitter):
    name = "ecs"
    description = "ECS NDJSON, one alert object a line"
    alert = True

    def write(self, alerts: pd.DataFrame) -> None:
        lines = [orjson.dumps(doc).decode("utf-8") for doc in documents(alerts, alert=self.alert)]
        if lines:
            self.out.write("\n".join(lines) + "\n")


class ECSEventEmitter(ECSEmitter):
    """Every connection record as an ECS event (the `normalize` command)."""

    name = "ecs-events"
    description = "ECS NDJSON, one connection event a line"
    alert = False
