"""Proxy evidence: the second detection ("Proxy Protocol to the Internet"), and what
the records of a connection say together.

Every record of an ECS frame may carry one `zeek_proxy.evidence` kind (a SOCKS request,
a CONNECT, a TLS server name...). A record whose kind is proxy use on its own raises the
protocol detection on any port; an alert lists the kinds of all records of its
connection, and takes its `destination.domain` from the most telling of them. tunnel.log
records name no connection, only its endpoints: `join_tunnels` adds their kind to the
alerts of the same endpoints, and lets one alert alone when nothing else did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from zeek_proxy.lazy import pd
from zeek_proxy.schema import CONNECT, HTTP, PROXY_KINDS, PROXY_REQUEST, SOCKS, TLS

if TYPE_CHECKING:  # config imports core.networks; only the type is needed here
    from zeek_proxy.config import Settings

EVIDENCE = "zeek_proxy.evidence"
DOMAIN = "destination.domain"
#: Which record names the destination best: a CONNECT target first, a Host header last.
DOMAIN_RANK = {CONNECT: 0, PROXY_REQUEST: 1, SOCKS: 2, TLS: 3, HTTP: 4}
#: The detection a record raised: none (it only tells more), the protocol one, the port one.
CONTEXT, PROTOCOL, PORT = 0, 1, 2
TUNNEL = "zeek.tunnel"
_TRIPLE = ["source.ip", "destination.ip", "destination.port"]


def protocol_match(frame: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Boolean array: which rows are proxy use to the Internet by what they say (SOCKS,
    CONNECT, an absolute-form request), over TCP, on any port. tunnel.log records are
    judged with the other records of their endpoints (`join_tunnels`)."""
    if frame.empty:
        return np.zeros(0, dtype=bool)
    candidate = (frame[EVIDENCE].isin(PROXY_KINDS) & frame["network.transport"].eq("tcp").fillna(False)
                 & frame["event.dataset"].ne(TUNNEL)).to_numpy(dtype=bool)
    if not candidate.any():
        return candidate
    rows = frame.loc[candidate]
    hit = settings.internal.contains(rows["source.ip"]) & ~settings.not_internet.contains(rows["destination.ip"])
    result = np.zeros(len(frame), dtype=bool)
    result[np.flatnonzero(candidate)] = hit
    return result


def proxy_tunnels(frame: pd.DataFrame) -> pd.DataFrame:
    """The tunnel.log records of a frame that are proxy use (SOCKS and HTTP tunnels)."""
    return frame.loc[frame["event.dataset"].eq(TUNNEL).fillna(False) & frame[EVIDENCE].notna()]


def gather(ordered: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per connection (`_key`) of records sorted by preference: the sorted kinds of all
    its records, and the domain of its most telling one."""
    told = ordered.loc[ordered[EVIDENCE].notna()]
    found: dict[str, set[str]] = {}  # plain Python: a groupby calling back per group costs ten times more
    for key, kind in zip(told["_key"].tolist(), told[EVIDENCE].tolist()):
        found.setdefault(key, set()).add(kind)
    kinds = pd.Series({key: tuple(sorted(each)) for key, each in found.items()}, dtype=object)
    named = told.loc[told[DOMAIN].notna()]
    named = named.assign(_rank=named[EVIDENCE].map(DOMAIN_RANK)).sort_values(
        ["_key", "_rank", "@timestamp"], kind="stable")
    domains = named.groupby("_key", sort=False)[DOMAIN].first()
    return kinds, domains


def join_tunnels(alerts: pd.DataFrame, tunnels: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Add each proxy tunnel's kind to the alerts of its endpoints; a tunnel's DISCOVER
    record whose endpoints no alert has, and that goes from an internal source to the
    Internet, becomes a protocol alert of its own (`alerts` are collapsed: one per `_key`)."""
    if tunnels.empty:
        return alerts
    tunnel_ends = _ends(tunnels)
    kinds: dict[tuple, set[str]] = {}
    for ends, kind in zip(tunnel_ends, tunnels[EVIDENCE].tolist()):
        kinds.setdefault(ends, set()).add(kind)
    alert_ends = _ends(alerts)
    alerts = alerts.assign(**{EVIDENCE: [tuple(sorted(set(have or ()) | kinds.get(ends, set()))) or None
                                         for have, ends in zip(alerts[EVIDENCE].tolist(), alert_ends)]})
    taken = set(alert_ends)
    discover = tunnels["zeek.tunnel.action"].eq("Tunnel::DISCOVER").fillna(False).to_numpy(dtype=bool)
    inside = settings.internal.contains(tunnels["source.ip"]) & ~settings.not_internet.contains(tunnels["destination.ip"])
    alone = discover & inside & np.array([ends not in taken for ends in tunnel_ends], dtype=bool)
    if not alone.any():
        return alerts
    own = tunnels.loc[alone].assign(_detection=PROTOCOL)
    own_ends = [ends for ends, chosen in zip(tunnel_ends, alone) if chosen]
    own["_key"] = ["tunnel|" + "|".join(map(str, ends)) + f"|{stamp.value}" for ends, stamp in zip(own_ends, own["@timestamp"])]
    own[EVIDENCE] = [tuple(sorted(kinds[ends])) for ends in own_ends]
    both = pd.concat([alerts, own.drop_duplicates("_key")[alerts.columns]], ignore_index=True)
    return both.sort_values(["@timestamp", "_key"], kind="stable").reset_index(drop=True)


def _ends(frame: pd.DataFrame) -> list[tuple]:
    """Each row's source, destination and destination port."""
    return list(zip(*(frame[name].astype(object).tolist() for name in _TRIPLE))) if len(frame) else []
