"""The Security Onion preset: where its sensors keep logs, state and alerts.

`--so-root DIR` stands for `/`, so tests and chroots can use a fake `/nsm` tree.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from datetime import date, timedelta

from zeek_proxy.lazy import pd
from zeek_proxy.reading.inputs import open_log

_FLOW_EVENT = (b'"event_type":"flow"', b'"event_type": "flow"')
#: The Zeek logs `--evidence` reads besides conn.log (Security Onion keeps them all).
EVIDENCE_LOGS = ("socks", "http", "ssl", "tunnel")


@dataclass(frozen=True)
class Preset:
    root: str = "/"

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def state(self) -> str:
        return self.path("nsm", "zeek-proxy", "state")

    @property
    def conn_log(self) -> str:
        return self.path("nsm", "zeek", "logs", "current", "conn.log")

    @property
    def alerts(self) -> str:
        return self.path("nsm", "zeek-proxy", "alerts.ndjson")

    def inputs(self, since: pd.Timestamp | None = None, today: date | None = None,
               evidence: bool = False) -> list[str]:
        """Zeek's current conn.log, Suricata's eve files, and, when `since` reaches back,
        Zeek's daily archives of those days (a missing eve file is fine); with
        `evidence`, Zeek's socks, http, ssl and tunnel logs beside them, where they exist."""
        logs = ("conn",) + (EVIDENCE_LOGS if evidence else ())
        current = os.path.dirname(self.conn_log)
        paths = [self.conn_log] + [p for name in logs[1:] if os.path.exists(p := os.path.join(current, f"{name}.log"))]
        if since is not None:
            today = today or pd.Timestamp.now(tz="UTC").date()
            day = since.date()
            while day <= today:
                folder = self.path("nsm", "zeek", "logs", day.isoformat())
                for name in logs:
                    paths.extend(sorted(glob.glob(os.path.join(folder, f"{name}.*.log.gz"))))
                day += timedelta(days=1)
        paths.extend(sorted(glob.glob(self.path("nsm", "suricata", "eve*.json*"))))
        return paths

    def followed(self) -> list[str]:
        """What `watch` follows: Zeek's current conn.log and its archive root (a watcher
        restarted during an hourly rotation finds the rotated log there), and Suricata's
        folder, where new and rotated eve files appear."""
        return [self.conn_log, self.path("nsm", "zeek", "logs"), self.path("nsm", "suricata")]


def without_flow_events(path: str) -> bool:
    """True when an eve file's first 64 KB hold events but no flow event: Security
    Onion's default metadata engine is Zeek, so its eve.json holds alerts only."""
    try:
        with open_log(path) as log:
            start = log.head
    except Exception:  # noqa: BLE001 - unreadable files are reported by the scan itself
        return False
    return b"event_type" in start and not any(marker in start for marker in _FLOW_EVENT)


__all__ = ["Preset", "without_flow_events"]
