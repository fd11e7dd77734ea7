"""From rule hits to alerts: one alert per connection, with a stable id and a message.

A connection is its Zeek `uid`, or its Suricata `flow_id` with the flow's endpoints and
transport (every eve event of a flow carries those, flow start does not). The same
connection met in several records or inputs is one alert.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hashlib
import uuid

import numpy as np

from zeek_proxy.lazy import pd
from zeek_proxy.core.community_id import fill_community_id
from zeek_proxy.core.evidence import CONTEXT, DOMAIN, EVIDENCE, PORT, gather
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE, RuleMeta
from zeek_proxy.schema import CONNECT, ECS_COLUMNS, HTTP, PROXY_REQUEST, SOCKS, TLS, plain_values

if TYPE_CHECKING:  # config imports core.networks; only the type is needed here
    from zeek_proxy.config import Settings

_ID_NAMESPACE = uuid.UUID("6f0b3c8e-52a4-4c59-9a57-0d7c1f0e2a91")


def connection_keys(frame: pd.DataFrame) -> pd.Series:
    """The identity of the connection each record describes (stable across runs and files).

    Zeek: `zeek|uid`. Suricata: `suricata|flow_id|transport|end|end`, the two ends
    sorted so that events logged in either direction agree. Otherwise the ends and time.
    """
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=object)
    session = frame["zeek.session_id"]
    has_session = session.notna() & session.astype(object).ne("")
    if has_session.all():  # Zeek logs: the uid is the whole key
        return "zeek|" + session.astype(object)
    # Plain lists: a few string operations per row cost less than a dozen column-wide ones.
    columns = [_texts(frame[name]) for name in ("network.transport", "source.ip", "source.port",
                                                 "destination.ip", "destination.port", "suricata.eve.flow_id")]
    stamps = frame["@timestamp"].astype("int64").tolist()
    keys = []
    for uid, transport, source, source_port, destination, destination_port, flow_id, stamp in zip(
            _texts(session), *columns, stamps):
        if uid:
            keys.append(f"zeek|{uid}")
            continue
        a, b = f"{source}:{source_port}", f"{destination}:{destination_port}"
        ends = f"{transport}|{a}|{b}" if a <= b else f"{transport}|{b}|{a}"
        keys.append(f"suricata|{flow_id}|{ends}" if flow_id else f"flow|{ends}|{stamp}")
    return pd.Series(keys, index=frame.index, dtype=object)


def _texts(column: pd.Series) -> list[str]:
    """A column as strings, nulls as ""."""
    return [str(value) for value in column.astype(object).where(column.notna(), "").tolist()]


def event_id(key: str, rule_id: str = RULE.id) -> str:
    """The alert id: derived from the rule and the connection only, never the run or file."""
    # uuid5, written out: the uuid module's objects cost more than the hash for every alert.
    digest = bytearray(hashlib.sha1(_ID_NAMESPACE.bytes + f"{rule_id}|{key}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def collapse(hits: pd.DataFrame) -> pd.DataFrame:
    """One row per connection, oldest first, with the detection it raised (`_detection`,
    the strongest of its records': the port rule over the protocol one) and what all its
    records say (`evidence.gather`).

    The connection's own record is preferred (Zeek's conn record, Suricata's `flow`
    event, which has the flow's start, bytes and packets), then records carrying the flow
    start; fields a preferred record lacks are taken from the others of the same
    connection.
    """
    if "_detection" not in hits:
        hits = hits.assign(_detection=PORT)
    if hits.empty:
        return hits.assign(_key=pd.Series(dtype=object))[list(ECS_COLUMNS) + ["_key", "_detection"]]
    keys = connection_keys(hits)
    merged = hits.assign(_key=keys.to_numpy())
    if keys.duplicated().any():  # else one record per connection: nothing to fold
        dataset = hits["event.dataset"]
        preference = np.select(
            [(hits["suricata.eve.event_type"].eq("flow") | dataset.eq("zeek.connection")).to_numpy(dtype=bool),
             hits["event.start"].notna().to_numpy()],
            [0, 1], default=2,
        )
        ordered = merged.assign(_pref=preference).sort_values(["_key", "_pref", "@timestamp"], kind="stable")
        grouped = ordered.groupby("_key", sort=False, dropna=False)
        folded = grouped.first()
        folded["_detection"] = grouped["_detection"].max()
        if ordered[EVIDENCE].notna().any():
            kinds, domains = gather(ordered)
            folded[EVIDENCE] = kinds.reindex(folded.index)
            folded[DOMAIN] = [d if isinstance(d, str) else None for d in domains.reindex(folded.index).tolist()]
        merged = folded.reset_index()
    if merged[EVIDENCE].notna().any():  # one record's kind, or the kinds gathered, as a tuple
        merged[EVIDENCE] = [(v,) if isinstance(v, str) else v if isinstance(v, tuple) else None
                            for v in merged[EVIDENCE].tolist()]
    merged = merged.loc[merged["_detection"] > CONTEXT]
    merged = merged.sort_values(["@timestamp", "_key"], kind="stable").reset_index(drop=True)
    return merged[list(ECS_COLUMNS) + ["_key", "_detection"]]


def finalize(alerts: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Add what every alert carries: the rule that raised it, event.id, community id,
    the internal network, the sensor (observer.name), a message."""
    out = fill_community_id(alerts.drop(columns=["_key", "_detection"]).astype(
        {c: t for c, t in ECS_COLUMNS.items()}
    ))
    rules = [RULE if detection == PORT else PROTOCOL_RULE for detection in alerts["_detection"].tolist()]
    out["rule.id"] = [rule.id for rule in rules]
    # A plain list: iterating the Arrow-backed strings pandas infers costs ten times more.
    out["event.id"] = [event_id(key, rule.id) for key, rule in zip(alerts["_key"].tolist(), rules)]
    out["zeek_proxy.internal_network"] = settings.internal.first_holding(out["source.ip"])
    out["observer.name"] = _observer(out["observer.name"], settings)
    exchanges = [_exchange(*row) for row in zip(*(plain_values(out[c]) for c in (
        "zeek.connection.state", "suricata.eve.tcp.state", "source.bytes", "destination.bytes")))]
    out["message"] = [
        _message(rule, *row) for rule, row in zip(rules, zip(*(out[c].tolist() for c in (
            "source.ip", "zeek_proxy.internal_network", "destination.ip", "destination.port",
            "network.transport", "event.dataset", EVIDENCE, DOMAIN, "zeek.socks.request.host",
            "zeek.socks.request.port", "zeek.socks.version")), exchanges))
    ]
    return out


def _observer(names: pd.Series, settings: Settings) -> pd.Series:
    """observer.name: --sensor for every alert; else the sensor the log names (a zeekctl
    cluster's `_node_name`), else the config's [sensor] name."""
    if settings.sensor_override:
        return pd.Series(settings.sensor_override, index=names.index, dtype=object)
    if settings.sensor:
        return names.astype(object).where(names.notna(), settings.sensor)
    return names


#: Zeek conn_state values in which the responder never answered the SYN.
_UNANSWERED = {"S0", "SH", "RSTOS0"}


def _exchange(state: str | None, tcp_state: str | None, sent: int | None, received: int | None) -> str | None:
    """Whether the connection was established and how much moved, as the logs say:
    Zeek's conn_state with the bytes each way ("SF, 3.2 kB out, 88 kB in", "S0: no
    answer", "REJ: refused"); Suricata's flow bytes, with the TCP state its flow
    events carry ("tcp closed, ...", "tcp syn_sent: no answer"). None when the logs
    say nothing of it."""
    if state is None and tcp_state == "syn_sent":  # Suricata: no SYN-ACK; what came back was a reset
        return f"tcp syn_sent: {'refused' if received else 'no answer'}"
    if state in _UNANSWERED:
        return f"{state}: no answer"
    if state == "REJ":
        return "REJ: refused"
    parts = [state or (f"tcp {tcp_state}" if tcp_state else None)]
    parts += [f"{_amount(sent)} out" if sent is not None else None,
              f"{_amount(received)} in" if received is not None else None]
    said = [part for part in parts if part]
    return ", ".join(said) if said else None


def _amount(count: int) -> str:
    """Bytes as a person reads them: 512 B, 3.2 kB, 88 kB, 1.4 MB (decimal units)."""
    if count < 1000:
        return f"{count} B"
    value, units = count / 1000, ["kB", "MB", "GB", "TB"]
    while True:
        shown = f"{value:.1f}" if value < 9.95 else f"{value:.0f}"
        if float(shown) < 1000 or len(units) == 1:
            return f"{shown} {units[0]}"
        value, units = value / 1000, units[1:]


def _message(rule: RuleMeta, source: str, network: str | None, destination: str, port: int,
             transport: str, dataset: str | None, kinds: tuple[str, ...] | None, domain: str | None,
             asked_host: str | None, asked_port: int | None, socks_version: int | None,
             exchange: str | None = None) -> str:
    """What an alert says: who went where, why that is a hit (elastic-v2 also alerts on
    what Zeek marks outbound, elastic-v4 on a SOCKS record on any port), what the logs
    say the connection was, and whether it was answered and how much moved (a refused
    or unanswered attempt weighs less than megabytes sent)."""
    side = f"internal, {network}" if network else "outbound, as Zeek marks it"
    told = []
    for kind in sorted(kinds if isinstance(kinds, tuple) else (), key=_TOLD_ORDER.index):
        if kind == SOCKS:
            version = "" if socks_version is None or pd.isna(socks_version) else socks_version
            told.append(f"SOCKS{version} for {_short(asked_host or domain)}:{'?' if asked_port is None or pd.isna(asked_port) else asked_port}")
        else:
            told.append(f"{_TOLD[kind]} {_short(domain)}" if isinstance(domain, str) else _TOLD[kind])
    if rule is RULE:
        why = "SOCKS server" if dataset == "zeek.socks" else "proxy port"
    else:
        why, told = told[0] if told else "proxy protocol", told[1:]
    said = f"; {', '.join(told)}" if told else ""
    said += f"; {exchange}" if exchange else ""
    return f"{rule.name}: {source} ({side}) to {destination}:{port}/{transport} (Internet, {why}{said})"


_TOLD_ORDER = [SOCKS, CONNECT, PROXY_REQUEST, TLS, HTTP]
_TOLD = {CONNECT: "HTTP CONNECT for", PROXY_REQUEST: "proxy request for", TLS: "TLS for", HTTP: "HTTP for"}


def _short(text: str | None, limit: int = 100) -> str:
    """A value from a log, cut to fit a one-line message."""
    if not isinstance(text, str):
        return "?"
    return text if len(text) <= limit else text[: limit - 3] + "..."
