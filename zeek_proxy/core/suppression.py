"""Alert suppression, as Elastic's (8.6+): alerts grouped by up to three fields, one
alert per group and time window, the rest of the window's hits counted into it.

A group's first hit opens a window of `length`; its later hits before the window ends
are counted into the first hit's alert (`kibana.alert.suppression.docs_count`, and
`.end`, the last hit's time); the first hit after it opens a new window. Windows opened
in earlier runs (kept in the `--state` file) stay open until they end: their later hits
raise nothing and are counted as suppressed into earlier alerts. The alert's id comes
from the rule, the group and the window's start, so reruns give the same ids.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from zeek_proxy.lazy import pd
from zeek_proxy.choices import DEFAULT_GROUP_BY
from zeek_proxy.core.alerts import event_id
from zeek_proxy.core.rule import RULE
from zeek_proxy.schema import ECS_COLUMNS, TIME_COLUMNS, plain_values

#: The alert fields a group may be made of.
GROUP_FIELDS = tuple(c for c in ECS_COLUMNS if c not in TIME_COLUMNS and c != "zeek_proxy.line") + (
    "zeek_proxy.internal_network", "rule.id")
TERMS = "kibana.alert.suppression.terms"
START = "kibana.alert.suppression.start"
END = "kibana.alert.suppression.end"
DOCS_COUNT = "kibana.alert.suppression.docs_count"
FOR = "zeek_proxy.suppress_for"  # the window's length in seconds (notice.log's suppress_for)
#: What a window is known by in a state file: its start, its end, the alert's id.
Window = dict[str, Any]
_DURATION = re.compile(r"(\d+)(s|m|h|d)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def check_group_by(fields: tuple[str, ...]) -> tuple[str, ...]:
    """`fields` when they can group alerts (1 to 3 known alert fields, each once), else
    ValueError naming the valid ones."""
    unknown = [f for f in fields if f not in GROUP_FIELDS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)} (fields: {', '.join(GROUP_FIELDS)})")
    if not 1 <= len(fields) <= 3 or len(set(fields)) != len(fields):
        raise ValueError("group by 1 to 3 different fields")
    return fields


def parse_duration(text: str) -> int:
    """`30s`, `10m`, `1h`, `24h`, `7d` as seconds; ValueError for anything else."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration such as 30s, 10m, 1h or 7d")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


@dataclass(frozen=True)
class Suppression:
    """How alerts are grouped (1 to 3 alert fields) and for how long (seconds); a hit
    missing a group field is grouped with the others missing it (`missing_suppress`,
    Elastic's default) or alerts alone."""

    seconds: int
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    missing_suppress: bool = True
    text: str = field(default="", compare=False)  # the duration as given, for messages

    @property
    def length_us(self) -> int:
        return self.seconds * 1_000_000


@dataclass
class Suppressed:
    """What suppression did to a run's alerts."""

    alerts: pd.DataFrame
    into_this_run: int = 0  # hits counted into windows opened in this run
    into_earlier: int = 0  # hits counted into windows opened in earlier runs


def suppress(alerts: pd.DataFrame, rule: Suppression, windows: dict[str, Window] | None = None) -> Suppressed:
    """One alert per group and window, oldest first; `windows` (a state's open windows,
    group key -> window) is read and updated in place."""
    windows = windows if windows is not None else {}
    if alerts.empty:
        return Suppressed(_with_columns(alerts, [], [], [], [], []).assign(**{FOR: pd.Series(dtype=object)}))
    times = alerts["@timestamp"].to_numpy(dtype="datetime64[us]").astype("int64").tolist()  # microseconds
    rules = alerts["rule.id"].tolist() if "rule.id" in alerts else [RULE.id] * len(alerts)
    values = list(zip(*(plain_values(alerts[name]) for name in rule.group_by)))
    kept: list[int] = []
    opened: dict[int, list[Any]] = {}  # kept row -> [terms, start, end, count, id]
    result = Suppressed(alerts)
    for row, (stamp, rule_id, terms) in enumerate(zip(times, rules, values)):
        if not rule.missing_suppress and any(v is None for v in terms):
            kept.append(row)
            continue
        key = json.dumps([rule_id, *terms], default=str)
        window = windows.get(key)
        if window is not None and stamp < window["until"]:
            if "row" in window:  # opened in this run
                opened[window["row"]][2] = stamp
                opened[window["row"]][3] += 1
                result.into_this_run += 1
            else:
                result.into_earlier += 1
            continue
        identity = event_id(f"suppression|{key}|{stamp}", rule_id)
        windows[key] = {"start": stamp, "until": stamp + rule.length_us, "id": identity, "row": row}
        opened[row] = [terms, stamp, stamp, 0, identity]
        kept.append(row)
    for window in windows.values():
        window.pop("row", None)
    newest = max(times)
    for key in [k for k, w in windows.items() if w["until"] + rule.length_us < newest]:
        del windows[key]  # ended a window's length before the newest hit: late hits are not waited for
    out = alerts.iloc[kept].reset_index(drop=True)
    shown = [opened.get(row) for row in kept]
    result.alerts = _with_columns(
        out, [[{"field": f, "value": v} for f, v in zip(rule.group_by, s[0])] if s else None for s in shown],
        [_iso(s[1]) if s else None for s in shown], [_iso(s[2]) if s else None for s in shown],
        [s[3] if s else None for s in shown], [s[4] if s else None for s in shown])
    result.alerts[FOR] = [float(rule.seconds) if s else None for s in shown]
    return result


def _with_columns(alerts: pd.DataFrame, terms: list, start: list, end: list, count: list,
                  ids: list) -> pd.DataFrame:
    out = alerts.copy()
    out[TERMS] = pd.Series(terms, dtype=object, index=out.index)
    out[START] = pd.Series(start, dtype=object, index=out.index)
    out[END] = pd.Series(end, dtype=object, index=out.index)
    out[DOCS_COUNT] = pd.array(count, dtype="Int64")
    if len(out):
        out["event.id"] = [i if i is not None else old for i, old in zip(ids, out["event.id"].tolist())]
    return out


def _iso(micros: int) -> str:
    return pd.Timestamp(micros, unit="us", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
