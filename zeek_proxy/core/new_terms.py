"""New terms, as Elastic's new-terms rule (8.4+): a hit alerts only when its combination
of values (1 to 3 fields) was not among the hits of the history window before it.

The history (combination -> when last seen) lives in the `--state` file, so a run over
last week's logs seeds it; it is pruned beyond the window. A combination alerts once a
run, on its first hit; the alert carries `kibana.alert.new_terms`, the values in field
order. Each detection keeps its own history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from zeek_proxy.lazy import pd
from zeek_proxy.choices import DEFAULT_HISTORY
from zeek_proxy.core.rule import RULE
from zeek_proxy.schema import plain_values

NEW_TERMS = "kibana.alert.new_terms"


@dataclass(frozen=True)
class NewTerms:
    """The fields whose combination must be new, and how far back "new" looks (seconds)."""

    fields: tuple[str, ...]
    history_seconds: int = DEFAULT_HISTORY
    text: str = field(default="7d", compare=False)


@dataclass
class Novel:
    """The hits that may alert, and how many were not new."""

    alerts: pd.DataFrame
    known: int = 0


def new_terms(alerts: pd.DataFrame, rule: NewTerms, history: dict[str, int]) -> Novel:
    """The hits of `alerts` (oldest first) whose combination is new; `history` (a state's,
    combination -> microseconds last seen) is read and updated in place."""
    if alerts.empty:
        return Novel(alerts.assign(**{NEW_TERMS: pd.Series(dtype=object)}))
    span = rule.history_seconds * 1_000_000
    times = alerts["@timestamp"].to_numpy(dtype="datetime64[us]").astype("int64").tolist()
    rules = alerts["rule.id"].tolist() if "rule.id" in alerts else [RULE.id] * len(alerts)
    columns = [plain_values(alerts[name]) for name in rule.fields]
    kept: list[int] = []
    terms_of: list[list] = []
    alerted: set[str] = set()
    for row, (stamp, rule_id, *values) in enumerate(zip(times, rules, *columns)):
        key = json.dumps([rule_id, *values], default=str)
        last = history.get(key)
        if (last is None or last < stamp - span) and key not in alerted:
            alerted.add(key)
            kept.append(row)
            terms_of.append(values)
        history[key] = stamp if last is None else max(last, stamp)
    newest = max(times)
    for key in [k for k, seen in history.items() if seen < newest - span]:
        del history[key]
    out = alerts.iloc[kept].reset_index(drop=True)
    out[NEW_TERMS] = pd.Series(terms_of, dtype=object, index=out.index)
    return Novel(out, len(alerts) - len(kept))
