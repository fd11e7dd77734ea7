"""CSV for spreadsheets: one row per alert, formula-looking cells neutralised."""

from __future__ import annotations

import csv

from zeek_proxy.lazy import pd
from zeek_proxy.core.rule import RULES
from zeek_proxy.core.suppression import DOCS_COUNT, END, START
from zeek_proxy.emit.base import Emitter, iso_times, python_values
from zeek_proxy.schema import SUPPRESSED_BY

COLUMNS = (
    "@timestamp", "event.id", "source.ip", "source.port", "destination.ip",
    "destination.port", "network.transport", "network.protocol", "event.module",
    "zeek.session_id", "suricata.eve.flow_id", "network.community_id", "log.file.path",
    "message", "rule.name", "destination.domain", "zeek_proxy.evidence", "http.request.method",
    "url.original", "user_agent.original", "tls.client.server_name", "zeek.socks.request.host",
    "zeek.socks.request.port", "suppression_count", "first_seen", "last_seen", SUPPRESSED_BY,
    "observer.name",
)
#: CSV names of the suppression fields.
_RENAMED = {DOCS_COUNT: "suppression_count", START: "first_seen", END: "last_seen"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: object) -> object:
    """Prefix a quote to text a spreadsheet would run as a formula (a lone "-" is not one)."""
    if isinstance(cell, str) and len(cell) > 1 and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


class CSVEmitter(Emitter):
    name = "csv"
    description = "CSV, one alert a row, with a header"

    def begin(self) -> None:
        self.writer = csv.writer(self.out, lineterminator="\n")
        self.writer.writerow(COLUMNS)

    def write(self, alerts: pd.DataFrame) -> None:
        if "rule.id" in alerts:
            alerts = alerts.assign(**{"rule.name": [RULES[r].name if r in RULES else None for r in alerts["rule.id"]]})
        alerts = alerts.rename(columns=_RENAMED)
        columns = [
            iso_times(alerts[c]) if c == "@timestamp"
            else python_values(alerts[c]) if c in alerts else [None] * len(alerts)
            for c in COLUMNS
        ]
        for row in zip(*columns):
            self.writer.writerow(["" if v is None else neutralise(",".join(v) if isinstance(v, (list, tuple)) else v)
                                  for v in row])
