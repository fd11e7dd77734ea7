"""The console entry point: an interrupt during start-up (importing pandas takes a
while) ends the run with one line and 130 or 143, never a traceback."""

from __future__ import annotations

import os
import signal


def _during_start_up(signum: int, frame: object) -> None:
    os.write(2, b"zeek-proxy: interrupted\n" if signum == signal.SIGINT else b"zeek-proxy: terminated\n")
    os._exit(128 + signum)


def main() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _during_start_up)
    from zeek_proxy.cli import main as run

    run()
