"""CSV for spreadsheets: one row per alert, formula-looking cells neutralised."""

from __future__ import annotations

import csv

import pandas as pd

from zeek_proxy.emit.base import Emitter, iso_times, python_values

COLUMNS = (
    "@timestamp", "event.id", "source.ip", "source.port", "destination.ip",
    "destination.port", "network.transport", "network.protocol", "event.module",
    "zeek.session_id", "suricata.eve.flow_id", "network.community_id", "log.file.path",
    "message", "zeek_proxy.suppressed_by",
)
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
        columns = [
            iso_times(alerts[c]) if c == "@timestamp"
            else python_values(alerts[c]) if c in alerts else [None] * len(alerts)
            for c in COLUMNS
        ]
        for row in zip(*columns):
            self.writer.writerow(["" if v is None else neutralise(v) for v in row])
