"""The detection: Elastic's "Proxy Port Activity to the Internet", version 3 (and, by
`Settings`, the other versions' lists and version 2's outbound branch).

    network.transport:tcp and destination.port:(1080 or 3128 or 8080) and
    source.ip:(10.0.0.0/8 or 172.16.0.0/12 or 192.168.0.0/16) and
    not destination.ip:(10.0.0.0/8 or 127.0.0.0/8 or 172.16.0.0/12 or
                        192.168.0.0/16 or "::1")

Ports, transports and networks come from `Settings`; everything here is a pure
function of an ECS frame, so it runs the same on a chunk, a file or a Dask partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass

import numpy as np

from zeek_proxy.lazy import pd
from zeek_proxy.schema import CONTEXT_DATASETS

if TYPE_CHECKING:  # config imports core.networks; only the type is needed here
    from zeek_proxy.config import Settings


@dataclass(frozen=True)
class RuleMeta:
    """What an alert says about the rule that raised it."""

    id: str = "ad0e5e75-dd89-4875-8d0a-dfdc1828b5f3"
    name: str = "Proxy Port Activity to the Internet"
    version: str = "3"
    description: str = (
        "Detects TCP connections from an internal address to an Internet address on a "
        "common HTTP or SOCKS proxy port (1080, 3128, 8080). Environments usually reach "
        "the Internet through an internal proxy; a direct connection to a proxy port on "
        "the Internet can circumvent network controls and detection."
    )
    reference: tuple[str, ...] = (
        "https://www.elastic.co/guide/en/siem/guide/7.7/proxy-port-activity-to-the-internet.html",
    )
    severity: str = "medium"
    severity_code: int = 2  # Security Onion: 1 low, 2 medium, 3 high, 4 critical
    risk_score: float = 47.0
    tags: tuple[str, ...] = ("Elastic", "Network")
    threat_framework: str = "MITRE ATT&CK"
    tactic_id: str = "TA0011"
    tactic_name: str = "Command and Control"
    tactic_reference: str = "https://attack.mitre.org/tactics/TA0011/"
    technique_id: str = "T1090"
    technique_name: str = "Proxy"
    technique_reference: str = "https://attack.mitre.org/techniques/T1090/"
    false_positives: tuple[str, ...] = (
        "Internet proxy services that are expected",
        "screen-recording applications",
        "cloud instances reached without a VPN",
        "a NATed server whose reply goes to a client that used a port in the range",
    )


RULE = RuleMeta()
#: The second detection (`--evidence`): what the logs say the connection was, on any port.
PROTOCOL_RULE = RuleMeta(
    id="3b8f5d2a-6c41-4e7a-9f08-d15e7a2c4b96",
    name="Proxy Protocol to the Internet",
    version="1",
    description=(
        "Detects a proxy protocol spoken from an internal address to an Internet address on "
        "any port: a SOCKS request, an HTTP CONNECT, or an HTTP request in absolute form "
        "(GET http://...), as Zeek's socks, http and tunnel logs and Suricata's http events "
        "record them. Environments usually reach the Internet through an internal proxy; "
        "talking a proxy protocol to one on the Internet can circumvent network controls."
    ),
    reference=("https://attack.mitre.org/techniques/T1090/",),
    false_positives=(
        "Internet proxy services that are expected",
        "clients configured for a cloud proxy (allow its addresses)",
    ),
)
RULES = {RULE.id: RULE, PROTOCOL_RULE.id: PROTOCOL_RULE}

#: What the rule reads of a record: transport, source, destination, destination port.
Endpoints = tuple[str | None, str | None, str | None, int | None]


def match(frame: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Boolean array: which rows of an ECS frame the rule matches."""
    if frame.empty:
        return np.zeros(0, dtype=bool)
    transport = frame["network.transport"].isin(settings.transports).to_numpy(dtype=bool)
    port = frame["destination.port"].isin(settings.ports).fillna(False).to_numpy(dtype=bool)
    if settings.socks:  # elastic-v4 and later: or any Zeek socks.log record, on any port
        port |= frame["event.dataset"].eq("zeek.socks").fillna(False).to_numpy(dtype=bool)
    candidate = transport & port
    if candidate.any():  # http, ssl and tunnel records only tell more of a connection
        candidate &= ~frame["event.dataset"].isin(CONTEXT_DATASETS).to_numpy(dtype=bool)
    if not candidate.any():
        return candidate
    # Network tests cost the most, so they run on the few port/transport candidates only.
    rows = frame.loc[candidate]
    hit = settings.internal.contains(rows["source.ip"]) & ~settings.not_internet.contains(
        rows["destination.ip"]
    )
    if settings.outbound:  # elastic-v2: or Zeek says the connection went out
        hit |= rows["network.direction"].eq("outbound").fillna(False).to_numpy(dtype=bool)
    result = np.zeros(len(frame), dtype=bool)
    result[np.flatnonzero(candidate)] = hit
    return result


def matches(endpoints: Endpoints, settings: Settings) -> bool:
    """The rule on one record's transport, source, destination and destination port:
    what `match` says of a frame row holding them (under elastic-v2, of a row whose
    direction is not outbound). The pre-filter judges its few candidate lines of a
    block so, without building a frame for them."""
    transport, source, destination, port = endpoints
    return (transport in settings.transports and port in settings.ports
            and settings.internal.holds(source) and not settings.not_internet.holds(destination))


def may_match(endpoints: Endpoints, settings: Settings) -> bool:
    """What the pre-filter may drop a record for: `matches`, or under elastic-v2, where
    Zeek's direction alone can make a hit, transport and port only."""
    if settings.outbound:
        transport, _, _, port = endpoints
        return transport in settings.transports and port in settings.ports
    return matches(endpoints, settings)


def select(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The rows of `frame` the rule matches."""
    return frame.loc[match(frame, settings)]
