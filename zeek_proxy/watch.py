"""Following live logs: scan what is new, write the alerts, checkpoint, sleep, again.

Each batch is a checkpointed scan, so rotation, compression and truncation are handled
as in `scan --state`, and new files appearing in a watched folder are picked up when
the paths are expanded again. A stop request (SIGTERM, SIGINT) lets the batch in hand
finish and its state be saved.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Callable

from zeek_proxy.config import Settings
from zeek_proxy.scan import ScanResult, scan
from zeek_proxy.state import State

logger = logging.getLogger(__name__)

RECENT_IDS = 100_000  # alert ids remembered, so a flow spread over two batches alerts once


def follow(paths: list[str], settings: Settings, state: State, write: Callable[[ScanResult], None],
           stop: threading.Event, interval: float = 5.0, save: bool = True,
           **scan_options: object) -> int:
    """Scan `paths` every `interval` seconds until `stop` is set; returns the batches run.

    `write` receives each batch's result with alerts already written before not repeated;
    the state is saved after `write` returns, so an alert is never lost to a crash (at
    worst written twice, with the same event.id).
    """
    recent: OrderedDict[str, None] = OrderedDict()
    complained: set[str] = set()
    batches = 0
    while True:
        result = scan(paths, settings, state=state, **scan_options)  # type: ignore[arg-type]
        fresh = ~result.alerts["event.id"].isin(recent)
        result.alerts = result.alerts.loc[fresh].reset_index(drop=True)
        for event_id in result.alerts["event.id"]:
            recent[event_id] = None
        while len(recent) > RECENT_IDS:
            recent.popitem(last=False)
        for error in result.errors:  # a log not created yet is normal while watching
            if str(error) not in complained:
                complained.add(str(error))
                logger.warning("%s (still watching)", error)
        write(result)
        if save:
            state.save()
        batches += 1
        if stop.wait(0 if stop.is_set() else interval):
            return batches
