"""ECS NDJSON: one nested JSON object per line, as Elastic's ingest pipelines write them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
import orjson

from zeek_proxy.lazy import pd
from zeek_proxy.core.rule import RULE, RULES, RuleMeta
from zeek_proxy.emit.base import Emitter, iso_times, python_values
from zeek_proxy.schema import SUPPRESSED_BY, TIME_COLUMNS

#: Frame columns not written as they are (they are rewritten or internal; `rule.id`
#: picks the rule whose fields the alert carries).
_NOT_COPIED = {"@timestamp", "_key", "rule.id"}
#: Lines joined per write, about a megabyte: one text of all of them (and its UTF-8
#: copy) would be fresh memory, whose first touch cost more than the joining itself.
_LINES_PER_WRITE = 1024


def _rule_fields(created: str, rule: RuleMeta = RULE, suppressed: bool = False) -> dict[str, Any]:
    """What a rule's alert carries; a hit an allow entry suppressed (--show-suppressed)
    carries the rule too, but is an event, tagged so, not an alert."""
    return {
        "event.kind": "event" if suppressed else "alert",
        "event.created": created,
        "event.risk_score": rule.risk_score,
        "event.severity": rule.severity_code,
        "event.severity_label": rule.severity,
        "rule.id": rule.id,
        "rule.name": rule.name,
        "rule.version": rule.version,
        "rule.description": rule.description,
        "rule.reference": rule.reference[0],
        "threat.framework": rule.threat_framework,
        "threat.tactic.id": [rule.tactic_id],
        "threat.tactic.name": [rule.tactic_name],
        "threat.tactic.reference": [rule.tactic_reference],
        "threat.technique.id": [rule.technique_id],
        "threat.technique.name": [rule.technique_name],
        "threat.technique.reference": [rule.technique_reference],
        "tags": ["suppressed" if suppressed else "alert", *rule.tags],
    }


def documents(frame: pd.DataFrame, alert: bool = True) -> list[dict[str, Any]]:
    """ECS documents for an alert frame (alert=True) or a plain ECS frame (normalize)."""
    return [orjson.loads(line) for line in json_lines(frame, alert)]


def json_lines(frame: pd.DataFrame, alert: bool = True) -> list[str]:
    """The ECS documents of `frame` as JSON text, one per row, nulls and empty objects
    left out.

    Rows with the same null columns share one template of the document's text, filled
    with their values each encoded by orjson; building a nested object per row cost
    several times more than the scan of the rows' whole log."""
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
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rule_ids = frame["rule.id"].tolist() if "rule.id" in frame else [RULE.id] * len(frame)
    suppressed = frame[SUPPRESSED_BY].notna().tolist() if SUPPRESSED_BY in frame else [False] * len(frame)
    kinds = list(zip(rule_ids, suppressed))
    layouts = {kind: _layout(list(columns), {**constant, **(_rule_fields(created, RULES[kind[0]], kind[1])
                                                               if alert else {})})
               for kind in set(kinds)}
    values = [_encoded(column) for column in columns.values()]
    templates: dict[tuple[tuple[str, bool], int], tuple[str, list[int]]] = {}
    lines = []
    for kind, shape, row, related in zip(kinds, _shapes(values), zip(*values), _related(columns, values)):
        if (kind, shape) not in templates:
            text, order = _template(layouts[kind], shape)
            templates[kind, shape] = ("{" + text + ',"related":{"ip":[%s]}}', order)
        template, order = templates[kind, shape]
        lines.append(template % (*[row[j] for j in order], related))
    return lines


def _shapes(values: list[list[str | None]]) -> list[int]:
    """Which columns each row has, as one integer (a bit per column position)."""
    present = np.column_stack([np.not_equal(np.array(column, dtype=object), None) for column in values])
    packed = np.packbits(present, axis=1, bitorder="little")
    return [int.from_bytes(row, "little") for row in map(bytes, packed)]


def _related(columns: dict[str, list[Any]], values: list[list[str | None]]) -> list[str]:
    """The text inside each row's `related.ip` list: its source and destination
    addresses that are set, each once."""
    encoded = dict(zip(columns, values))
    unset = [None] * len(values[0])
    sources = zip(columns.get("source.ip", unset), encoded.get("source.ip", unset))
    destinations = zip(columns.get("destination.ip", unset), encoded.get("destination.ip", unset))
    return [",".join(dict.fromkeys(text for raw, text in pair if raw)) for pair in zip(sources, destinations)]


def _encoded(column: list[Any]) -> list[str | None]:
    """Each value as JSON text. Integers, and strings that need no escape, are encoded
    by one orjson call per column and cut apart; the rest once per distinct value."""
    present = [value for value in column if value is not None]
    texts = _encoded_all(present)
    if len(present) == len(column):
        return texts
    remaining = iter(texts)
    return [None if value is None else next(remaining) for value in column]


def _encoded_all(values: list[Any]) -> list[str]:
    kinds = {type(value) for value in values}
    if list in kinds:  # lists (suppression terms, evidence read back from a state): one by one
        return [_json(value) for value in values]
    if kinds == {int}:
        return _json(values)[1:-1].split(",")
    if kinds == {str}:
        text = _json(values)
        if "\\" not in text:  # no quote, backslash or control character inside a value
            return [f'"{value}"' for value in text[2:-2].split('","')]
    text_of = {value: _json(value) for value in set(values)}
    return [text_of[value] for value in values]


def _json(value: Any) -> str:
    """orjson's text as a str: its bytes keep a kilobyte of room each, which many
    small values held at once would waste."""
    return orjson.dumps(value).decode()


class _Constant(str):
    """A value the same in every document, already encoded."""


def _layout(columns: list[str], constant: dict[str, Any]) -> dict[str, Any]:
    """The documents' nesting: leaves are column positions or constants, in document
    order (@timestamp, the constants' objects, the columns' objects)."""
    layout: dict[str, Any] = {"@timestamp": 0}
    leaves: list[tuple[str, Any]] = [(name, _Constant(_json(value))) for name, value in constant.items()]
    leaves += [(name, position) for position, name in enumerate(columns) if position]
    for name, leaf in leaves:
        *parents, last = name.split(".")
        node = layout
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = leaf
    return layout


def _template(node: dict[str, Any], shape: int) -> tuple[str, list[int]]:
    """The text of `node` for rows holding the columns set in `shape` (bit per
    position): `%s` where a column's value goes, and those positions in order."""
    parts, order = [], []
    for key, leaf in node.items():
        name = _json(key).replace("%", "%%") + ":"
        if isinstance(leaf, dict):
            inner, inner_order = _template(leaf, shape)
            if inner:
                parts.append(name + "{" + inner + "}")
                order += inner_order
        elif isinstance(leaf, _Constant):
            parts.append(name + leaf.replace("%", "%%"))
        elif shape >> leaf & 1:
            parts.append(name + "%s")
            order.append(leaf)
    return ",".join(parts), order


class ECSEmitter(Emitter):
    name = "ecs"
    description = "ECS NDJSON, one alert object a line"
    alert = True

    def write(self, alerts: pd.DataFrame) -> None:
        lines = json_lines(alerts, alert=self.alert)
        for start in range(0, len(lines), _LINES_PER_WRITE):
            self.out.write("\n".join(lines[start : start + _LINES_PER_WRITE]) + "\n")


class ECSEventEmitter(ECSEmitter):
    """Every connection record as an ECS event (the `normalize` command)."""

    name = "ecs-events"
    description = "ECS NDJSON, one connection event a line"
    alert = False
