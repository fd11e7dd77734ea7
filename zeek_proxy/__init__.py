"""zeek-proxy: Elastic's "Proxy Port Activity to the Internet" over Zeek and Suricata logs.

Library use::

    from zeek_proxy import scan
    result = scan(["conn.log.gz", "eve.json"])
    result.alerts      # one row per connection, ECS column names
    result.inputs      # per-input counts
"""

__version__ = "0.1.0"

from zeek_proxy.config import DEFAULT_SETTINGS, Settings  # noqa: E402
from zeek_proxy.errors import (  # noqa: E402
    ConfigError, InputError, MalformedRecordError, SourceLocation, ZeekProxyError,
)
from zeek_proxy.scan import ScanResult, read_frames, scan  # noqa: E402

__all__ = [
    "DEFAULT_SETTINGS", "ConfigError", "InputError", "MalformedRecordError", "ScanResult",
    "Settings", "SourceLocation", "ZeekProxyError", "__version__", "read_frames", "scan",
]
