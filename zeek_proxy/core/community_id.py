"""Community ID v1 (https://github.com/corelight/community-id-spec) for flows that lack one.

Computed only where the log has none, so Zeek's and Suricata's own values are kept as written.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from zeek_proxy.lazy import pd
from zeek_proxy.core.networks import packed_address

# Only transports whose ports are real ports; ICMP's type/code mapping is not done here.
PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132}


def community_id(
    source_ip: str, destination_ip: str, source_port: int, destination_port: int, transport: str, seed: int = 0
) -> str | None:
    """The v1 Community ID of a flow, or None when it cannot be computed."""
    proto = PROTOCOL_NUMBERS.get(transport)
    if proto is None or source_port is None or destination_port is None:
        return None
    src, dst = packed_address(source_ip), packed_address(destination_ip)
    if src is None or dst is None or len(src) != len(dst):
        return None
    a, b = (src, source_port), (dst, destination_port)
    if b < a:
        a, b = b, a
    data = struct.pack("!H", seed) + a[0] + b[0] + struct.pack("!BBHH", proto, 0, a[1], b[1])
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")


def fill_community_id(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with `network.community_id` computed where it is missing."""
    missing = frame["network.community_id"].isna()
    if not missing.any():
        return frame
    rows = frame.loc[missing]
    columns = ("source.ip", "destination.ip", "source.port", "destination.port", "network.transport")
    computed = [  # plain lists: iterating Arrow-backed columns costs more than the hashing
        community_id(s, d, None if sp is pd.NA else sp, None if dp is pd.NA else dp, t)
        for s, d, sp, dp, t in zip(*(rows[c].tolist() for c in columns))
    ]
    out = frame.copy()
    out.loc[missing, "network.community_id"] = pd.Series(computed, index=rows.index, dtype=object)
    return out
