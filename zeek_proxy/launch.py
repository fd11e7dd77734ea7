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
    # numpy's OpenBLAS starts a thread per core that spins after start-up; nothing here
    # does linear algebra, and on two cores the spinning took 8% of a scan's CPU.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from zeek_proxy.cli import main as run

    run()
