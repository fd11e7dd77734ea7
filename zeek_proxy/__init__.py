"""zeek-proxy: Elastic's "Proxy Port Activity to the Internet" over Zeek and Suricata logs.

Library use::

    from zeek_proxy import scan
    result = scan(["conn.log.gz", "eve.json"])
    result.alerts      # one row per connection, ECS column names
    result.inputs      # per-input counts

Names are imported when first used, so that the command line can take charge of
interrupts before pandas and the rest load.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "DEFAULT_SETTINGS": "zeek_proxy.config", "Settings": "zeek_proxy.config",
    "ConfigError": "zeek_proxy.errors", "InputError": "zeek_proxy.errors",
    "MalformedRecordError": "zeek_proxy.errors", "SourceLocation": "zeek_proxy.errors",
    "ZeekProxyError": "zeek_proxy.errors",
    "ScanResult": "zeek_proxy.pipeline", "read_frames": "zeek_proxy.pipeline", "scan": "zeek_proxy.pipeline",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'zeek_proxy' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


__all__ = ["__version__", *_EXPORTS]
