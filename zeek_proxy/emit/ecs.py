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
    # Constants are nested once; each document shares their objects (they are only
    # serialised) and copies just the objects it adds its own fields to.
    shared = _nested(constant)
    names = [name for name in columns if name != "@timestamp"]
    layout = [name.split(".") for name in names]
    sources, destinations = columns.get("source.ip"), columns.get("destination.ip")
    docs = []
    for i, row in enumerate(zip(*(columns[name] for name in names))):
        doc: dict[str, Any] = {"@timestamp": columns["@timestamp"][i], **shared}
        mine: set[int] = set()  # ids of the objects this document owns
        for path, value in zip(layout, row):
            if value is None:
                continue
            node = doc
            for part in path[:-1]:
                child = node.get(part)
                if child is None or id(child) not in mine:
                    child = node[part] = {} if child is None else dict(child)
                    mine.add(id(child))
                node = child
            node[path[-1]] = value
        related = [ip for ip in (sources[i] if sources else None,
                                 destinations[i] if destinations else None) if ip]
        doc["related"] = {"ip": list(dict.fromkeys(related))}
        docs.append(doc)
    return docs


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
