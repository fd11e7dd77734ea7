"""pandas, imported when first used rather than when a module is.

Importing pandas takes 0.4-0.5 s on one core, as long as a large scan's pre-filter. A
scan forks its pre-filter workers first and imports pandas while they read
(`reading.reader`), so the import no longer comes before the first byte. Modules on a
scan's path take `pd` from here; a workload that never builds a frame never pays for it.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any


class _OnFirstUse(types.ModuleType):
    """A stand-in for a module that imports it at the first attribute asked for, then
    keeps each attribute it hands out, so that later lookups are plain ones."""

    def __getattr__(self, name: str) -> Any:
        value = getattr(__import__(self.__name__), name)  # not importlib's: -X importtime lists this
        setattr(self, name, value)
        return value


if TYPE_CHECKING:  # type checkers see pandas itself
    import pandas as pd
else:
    pd = _OnFirstUse("pandas")


def load_pandas() -> None:
    """Import pandas now (a scan calls this once its workers are reading)."""
    __import__("pandas")


def pandas_loaded() -> bool:
    return "pandas" in sys.modules
