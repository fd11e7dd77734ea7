"""Alerts exactly once across runs: those already written are not raised again, and
those beyond `--max-signals` wait in the state for the next runs, oldest first.

A connection can reach two runs (Suricata logs a flow's tls event when it happens and
its flow event when the flow ends), and a file can be read again when its fingerprint
was short; the alert ids in the state make either harmless.
"""

from __future__ import annotations

from zeek_proxy.lazy import pd
from zeek_proxy.schema import frame_from_json_rows, json_rows
from zeek_proxy.state import State


def unseen(frame: pd.DataFrame, state: State) -> pd.DataFrame:
    """The rows of `frame` whose alert was not written (or carried) before."""
    if frame.empty or not state.alerted:
        return frame
    return frame.loc[~frame["event.id"].isin(state.alerted)].reset_index(drop=True)


def admit(alerts: pd.DataFrame, state: State, max_signals: int = 0) -> tuple[pd.DataFrame, int]:
    """This run's alerts: the carried ones and the new ones, oldest first, at most
    `max_signals` (0: all); the rest are carried in `state`. Returns the alerts and
    how many were carried. Every alert returned or carried is remembered as raised."""
    fresh = unseen(alerts, state)
    state.remember(fresh["event.id"].tolist())
    if state.pending:
        carried = frame_from_json_rows(state.pending, list(alerts.columns))
        both = pd.concat([carried, fresh.astype(carried.dtypes.to_dict())], ignore_index=True)
        fresh = both.sort_values(["@timestamp", "event.id"], kind="stable").reset_index(drop=True)
    if max_signals and len(fresh) > max_signals:
        state.pending = json_rows(fresh.iloc[max_signals:])
        return fresh.iloc[:max_signals].reset_index(drop=True), len(state.pending)
    state.pending = []
    return fresh, 0
