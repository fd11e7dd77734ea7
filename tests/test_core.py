"""The core on hand-built ECS frames: the v3 predicate and its traps, dedup, finalize."""

from __future__ import annotations

import io
import ipaddress
import re
import uuid
from dataclasses import replace
from typing import Any

import communityid
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from zeek_proxy import core
from zeek_proxy.formats.zeek_tsv import ZeekTSVFormat
from zeek_proxy.reading.reader import Reader
from zeek_proxy.config import DEFAULT_SETTINGS, Settings
from zeek_proxy.core import NetworkSet, collapse, community_id, event_id, finalize, match, matches, select
from zeek_proxy.core import networks as networks_module
from zeek_proxy.schema import ECS_COLUMNS, frame_from_rows

T0 = 1_541_117_137_618_695  # 2018-11-02T00:05:37.618695Z in microseconds


def conn(**over: Any) -> dict[str, Any]:
    """A Zeek connection row that the rule matches; keywords use `_` for `.`."""
    row: dict[str, Any] = {
        "@timestamp": T0, "event.module": "zeek", "event.dataset": "zeek.connection",
        "source.ip": "10.1.2.3", "source.port": 50000, "destination.ip": "203.0.113.7",
        "destination.port": 8080, "network.transport": "tcp", "zeek.session_id": "C1",
        "log.file.path": "conn.log",
    }
    row.update({k.replace("__", "."): v for k, v in over.items()})
    return row


def eve(event_type: str, **over: Any) -> dict[str, Any]:
    """A Suricata row of flow 77 (no Zeek uid)."""
    row = conn(**{"zeek__session_id": None, "event__module": "suricata",
                  "event__dataset": "suricata.eve", "log__file__path": "eve.json",
                  "suricata__eve__flow_id": 77, "suricata__eve__event_type": event_type})
    row.update({k.replace("__", "."): v for k, v in over.items()})
    return row


def hits(rows: list[dict[str, Any]]) -> list[bool]:
    """The rule on a frame of `rows`; its one-record form (the pre-filter's) must agree."""
    result = match(frame_from_rows(rows), DEFAULT_SETTINGS).tolist()
    one_by_one = [matches((row.get("network.transport"), row.get("source.ip"), row.get("destination.ip"),
                           row.get("destination.port")), DEFAULT_SETTINGS) for row in rows]
    assert one_by_one == result
    return result


def alerts(rows: list[dict[str, Any]], settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    frame = frame_from_rows(rows)
    return finalize(collapse(select(frame, settings)), settings)


# -- the predicate ----------------------------------------------------------------------

@pytest.mark.parametrize("over", [
    {},
    {"destination__port": 1080}, {"destination__port": 3128},
    {"source__ip": "172.16.0.1"}, {"source__ip": "172.31.255.255"}, {"source__ip": "192.168.0.1"},
    {"source__ip": "10.255.255.255"},
    {"destination__ip": "2001:db8::1"},        # an IPv6 destination other than ::1 is Internet
    {"destination__ip": "100.64.1.1"},         # CGNAT is not excluded by v3
    {"destination__ip": "169.254.1.1"},        # link-local: excluded only from v6 on
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "baseline")
def test_rule_matches(over: dict[str, Any]) -> None:
    assert hits([conn(**over)]) == [True]


@pytest.mark.parametrize("over", [
    {"network__transport": "udp"},
    {"network__transport": "TCP"},                          # adapters lower-case; core does not
    {"network__transport": None},
    {"source__ip": "172.32.0.1"},                           # just outside 172.16.0.0/12
    {"source__ip": "172.15.255.255"},
    {"source__ip": "100.64.1.1"},                           # CGNAT is not internal
    {"source__ip": "8.8.8.8"},
    {"destination__ip": "192.168.1.1"},                     # private -> private
    {"destination__ip": "10.9.9.9"},
    {"destination__ip": "172.20.0.1"},
    {"destination__ip": "127.0.0.1"},
    {"destination__ip": "::1"},
    {"source__ip": "203.0.113.7", "destination__ip": "10.1.2.3"},   # inbound
    {"source__port": 8080, "destination__port": 50000},   # proxy port as source port only
    {"destination__port": 18080},
    {"destination__port": 80},
    {"destination__port": None},
    {"source__ip": "fd00::1"},                              # IPv6 sources never match
    {"source__ip": None},
    {"source__ip": "not-an-ip"},
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_rule_traps(over: dict[str, Any]) -> None:
    assert hits([conn(**over)]) == [False]


@pytest.mark.parametrize(("over", "expected"), [
    ({"source__ip": "::ffff:10.1.2.3"}, True),
    ({"destination__ip": "::ffff:127.0.0.1"}, False),
    ({"destination__ip": "::ffff:192.168.1.1"}, False),
], ids=["mapped-internal-source", "mapped-loopback-destination", "mapped-private-destination"])
def test_ipv4_mapped_addresses_judged_as_ipv4(over: dict[str, Any], expected: bool) -> None:
    assert hits([conn(**over)]) == [expected]


def test_match_on_a_mixed_frame_keeps_row_order() -> None:
    rows = [conn(), conn(destination__port=80), conn(source__ip="8.8.8.8"),
            conn(destination__port=3128)]
    result = match(frame_from_rows(rows), DEFAULT_SETTINGS)
    assert result.dtype == bool and result.tolist() == [True, False, False, True]
    selected = select(frame_from_rows(rows), DEFAULT_SETTINGS)
    assert list(selected["destination.port"]) == [8080, 3128]


def test_match_on_an_empty_frame() -> None:
    assert match(frame_from_rows([]), DEFAULT_SETTINGS).shape == (0,)


def test_custom_settings() -> None:
    settings = Settings(ports=(8443,), transports=("tcp", "udp"),
                        internal=NetworkSet.parse(["100.64.0.0/10"]),
                        not_internet=NetworkSet.parse(["203.0.113.0/24"]))
    rows = [conn(source__ip="100.64.1.1", destination__ip="8.8.8.8", destination__port=8443,
                 network__transport="udp"),
            conn(source__ip="100.64.1.1", destination__port=8443)]
    assert match(frame_from_rows(rows), settings).tolist() == [True, False]


def test_upper_case_transport_is_lowered_by_adapters() -> None:
    """`TCP` in a log reaches the core as `tcp`, so the rule still fires."""
    fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
              "conn_state"]
    text = ("#separator \\x09\n#path\tconn\n#fields\t" + "\t".join(fields) + "\n"
            "1541117137.618695\tC1\t10.1.2.3\t50000\t203.0.113.7\t8080\tTCP\tSF\n")
    frame = next(Reader(ZeekTSVFormat("conn.log")).frames(io.BytesIO(text.encode())))
    assert frame.loc[0, "network.transport"] == "tcp"
    assert match(frame, DEFAULT_SETTINGS).tolist() == [True]


# -- NetworkSet -------------------------------------------------------------------------

def test_network_set_contains_with_nulls_and_invalid_strings() -> None:
    nets = NetworkSet.parse(["10.0.0.0/8", "::1/128"])
    series = pd.Series(["10.1.1.1", None, "nonsense", pd.NA, float("nan"), "", "::1",
                        "10.1.1.1", "11.0.0.1", "0:0:0:0:0:0:0:1"], dtype=object)
    result = nets.contains(series)
    assert isinstance(result, np.ndarray) and result.dtype == bool
    assert result.tolist() == [True, False, False, False, False, False, True, True, False, True]
    assert [nets.holds(value) for value in series] == result.tolist()


def test_network_set_contains_edge_shapes() -> None:
    nets = NetworkSet.parse(["10.0.0.0/8"])
    assert nets.contains(pd.Series([], dtype=object)).tolist() == []
    assert nets.contains(pd.Series([None, None], dtype=object)).tolist() == [False, False]


_octet_text = st.one_of(st.integers(0, 255).map(str), st.sampled_from(["256", "010", "00", "-1", "1a"]))
_address_text = st.one_of(
    st.lists(_octet_text, min_size=3, max_size=5).map(".".join),
    st.ip_addresses(v=4).map(str),
    st.sampled_from(["::1", "::ffff:10.1.2.3", "10.1.2.3 ", "", "2001:db8::1", "fe80::1%eth0",
                     "::ffff:010.1.2.3", "2001:db8::1::2", ":::", "2001:DB8::A"]),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda ip: ip.exploded),
    st.ip_addresses(v=4).map(lambda ip: f"::ffff:{ip}"),
)


@given(networks=st.lists(st.one_of(
           st.ip_addresses(v=4).flatmap(lambda ip: st.integers(0, 32).map(lambda bits: f"{ip}/{bits}")),
           st.ip_addresses(v=6).flatmap(lambda ip: st.integers(0, 128).map(lambda bits: f"{ip}/{bits}"))),
           min_size=1, max_size=4),
       addresses=st.lists(_address_text, min_size=1, max_size=30))
@pytest.mark.parametrize("few", [0, 4096], ids=["column-wise", "value-by-value"])
def test_network_set_contains_agrees_with_ipaddress(networks: list[str], addresses: list[str], few: int) -> None:
    """The spelled-out RE2 pattern and the integer path both say what `ipaddress` says,
    on whole columns and value by value (short columns)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(networks_module, "_FEW", few)
        _contains_agrees_with_ipaddress(networks, addresses)


def _contains_agrees_with_ipaddress(networks: list[str], addresses: list[str]) -> None:
    nets = NetworkSet.parse(networks)
    expected = [nets.find(a) is not None for a in addresses]
    assert nets.contains(pd.Series(addresses, dtype=object)).tolist() == expected
    assert [nets.holds(a) for a in addresses] == expected
    firsts = [None if nets.find(a) is None else str(nets.find(a)) for a in addresses]
    assert nets.first_holding(pd.Series(addresses, dtype=object)).tolist() == firsts
    assert nets.ipv4_pattern is not None
    pattern = f"^{nets.ipv4_pattern}$"  # on its own, the pattern is exact too
    assert [re.match(pattern, a) is not None for a in addresses] == [
        nets.find(a) is not None and ":" not in a and a.strip() == a for a in addresses]
    huge = NetworkSet.parse([*networks, "11.0.0.0/9"])  # 128 alternatives: still spelled
    assert huge.ipv4_pattern is not None
    v6_only = NetworkSet.parse(["2001:db8::/32", "::1/128"])
    assert v6_only.contains(pd.Series(addresses, dtype=object)).tolist() == [
        v6_only.find(a) is not None for a in addresses]
    unspelled = NetworkSet(nets.networks + tuple(ipaddress.ip_network(f"100.{i}.0.0/17") for i in range(40)))
    assert unspelled.ipv4_pattern is None  # 40 x 128 > MAX_SPELLED: the integer path
    assert unspelled.contains(pd.Series(addresses, dtype=object)).tolist() == [
        unspelled.find(a) is not None for a in addresses]
    assert [unspelled.holds(a) for a in addresses] == [unspelled.find(a) is not None for a in addresses]


def test_network_set_find_and_parse() -> None:
    nets = NetworkSet.parse([" 172.16.0.0/12", "10.0.0.0/8"])
    assert nets.find("172.20.1.1") == ipaddress.ip_network("172.16.0.0/12")
    assert nets.find("8.8.8.8") is None and nets.find("garbage") is None
    assert nets.to_list() == ["172.16.0.0/12", "10.0.0.0/8"]
    with pytest.raises(ValueError, match="10.0.0.0/33"):
        NetworkSet.parse(["10.0.0.0/33"])


# -- one alert per connection -----------------------------------------------------------

def test_same_zeek_uid_gives_one_alert() -> None:
    rows = [conn(log__file__path="a/conn.log") | {"@timestamp": T0 + 5},
            conn(log__file__path="b/conn.log"),
            conn(zeek__session_id="C2", source__port=50001)]
    out = alerts(rows)
    assert list(out["zeek.session_id"]) == ["C1", "C2"]
    assert out.loc[0, "@timestamp"] == pd.Timestamp(T0, unit="us", tz="UTC")  # the earliest


def test_suricata_events_of_one_flow_give_one_alert_at_flow_start() -> None:
    start = T0 - 3_000_000
    rows = [
        eve("alert", event__start=start) | {"@timestamp": start},
        eve("tls", network__protocol="tls") | {"@timestamp": T0 + 1_000_000},
        eve("flow", event__start=start, event__end=T0 + 9_000_000, source__bytes=900)
        | {"@timestamp": start},
        # the same flow logged in the reply direction (Suricata 6): same connection
        eve("tls", source__ip="203.0.113.7", source__port=8080, destination__ip="10.1.2.3",
            destination__port=50000) | {"@timestamp": T0 - 9_000_000},
    ]
    frame = frame_from_rows(rows)
    merged = collapse(frame.loc[[0, 1, 2]])
    assert len(merged) == 1
    row = merged.iloc[0]
    assert row["suricata.eve.event_type"] == "flow"
    assert row["@timestamp"] == pd.Timestamp(start, unit="us", tz="UTC")
    assert row["source.bytes"] == 900
    assert row["network.protocol"] == "tls"  # filled from another event of the flow
    keys = core.connection_keys(frame)
    assert keys.iloc[3] == keys.iloc[0]


def test_connection_keys_are_the_texts_event_ids_are_made_of() -> None:
    """The keys behind every event.id already written: changing them changes the ids."""
    rows = [conn(), eve("flow"),
            eve("tls", source__ip="203.0.113.7", source__port=8080, destination__ip="10.1.2.3",
                destination__port=50000),
            eve("flow", suricata__eve__flow_id=None),
            conn(zeek__session_id="", network__transport=None, source__port=None),
            eve("flow", destination__ip="2001:db8::1")]
    assert core.connection_keys(frame_from_rows(rows)).tolist() == [
        "zeek|C1",
        "suricata|77|tcp|10.1.2.3:50000|203.0.113.7:8080",
        "suricata|77|tcp|10.1.2.3:50000|203.0.113.7:8080",
        "flow|tcp|10.1.2.3:50000|203.0.113.7:8080|1541117137618695",
        "flow||10.1.2.3:|203.0.113.7:8080|1541117137618695",
        "suricata|77|tcp|10.1.2.3:50000|2001:db8::1:8080",
    ]


def test_flow_event_preferred_even_when_later() -> None:
    rows = [eve("alert") | {"@timestamp": T0 - 1_000_000},
            eve("flow", event__start=T0) | {"@timestamp": T0}]
    merged = collapse(frame_from_rows(rows))
    assert len(merged) == 1 and merged.loc[0, "@timestamp"] == pd.Timestamp(T0, unit="us", tz="UTC")


def test_different_flow_ids_are_different_alerts() -> None:
    out = alerts([eve("flow"), eve("flow", suricata__eve__flow_id=78)])
    assert len(out) == 2 and out["event.id"].nunique() == 2


def test_collapse_sorts_oldest_first_and_keeps_columns() -> None:
    rows = [conn(zeek__session_id="late") | {"@timestamp": T0 + 10},
            conn(zeek__session_id="early") | {"@timestamp": T0}]
    merged = collapse(frame_from_rows(rows))
    assert list(merged["zeek.session_id"]) == ["early", "late"]
    assert list(merged.columns) == [*ECS_COLUMNS, "_key", "_detection"]
    assert collapse(frame_from_rows([])).empty


# -- event.id ---------------------------------------------------------------------------

def test_event_id_is_stable_across_runs_files_and_order() -> None:
    first = alerts([conn(), conn(zeek__session_id="C2", log__file__path="x.log")])
    second = alerts([conn(zeek__session_id="C2", log__file__path="/elsewhere/conn.log.gz"),
                     conn(log__file__path="other.log")])
    ids = dict(zip(first["zeek.session_id"], first["event.id"]))
    assert ids == dict(zip(second["zeek.session_id"], second["event.id"]))
    assert ids["C1"] != ids["C2"]
    assert uuid.UUID(ids["C1"]).version == 5


@given(key=st.text(max_size=40), rule_id=st.sampled_from([core.RULE.id, "another-rule", ""]))
def test_event_id_is_the_uuid5_of_rule_and_connection(key: str, rule_id: str) -> None:
    namespace = uuid.UUID("6f0b3c8e-52a4-4c59-9a57-0d7c1f0e2a91")
    assert event_id(key, rule_id) == str(uuid.uuid5(namespace, f"{rule_id}|{key}"))


def test_event_id_function() -> None:
    assert event_id("zeek|C1") == event_id("zeek|C1")
    assert event_id("zeek|C1") != event_id("zeek|C2")
    assert event_id("zeek|C1") != event_id("zeek|C1", rule_id="another-rule")


def test_suricata_event_id_same_for_either_direction() -> None:
    forward = alerts([eve("flow")])
    reverse_key = core.connection_keys(frame_from_rows([eve(
        "tls", source__ip="203.0.113.7", source__port=8080, destination__ip="10.1.2.3",
        destination__port=50000)])).iloc[0]
    assert forward.loc[0, "event.id"] == event_id(reverse_key)


# -- finalize ---------------------------------------------------------------------------

def reference_community_id(src: str, dst: str, sport: int, dport: int, proto: str = "tcp") -> str:
    make = {"tcp": communityid.FlowTuple.make_tcp, "udp": communityid.FlowTuple.make_udp}[proto]
    return communityid.CommunityID().calc(make(src, dst, sport, dport))


def test_finalize_adds_id_community_id_and_message() -> None:
    out = alerts([conn(), conn(zeek__session_id="C2", source__ip="192.168.7.7", source__port=1,
                           destination__ip="198.51.100.200", destination__port=3128)])
    assert len(out) == 2
    for _, row in out.iterrows():
        assert row["event.id"] == event_id(f"zeek|{row['zeek.session_id']}")
        assert row["network.community_id"] == reference_community_id(
            row["source.ip"], row["destination.ip"], int(row["source.port"]),
            int(row["destination.port"]))
    assert out.loc[1, "zeek_proxy.internal_network"] == "192.168.0.0/16"
    message = out.loc[1, "message"]
    assert "192.168.7.7" in message and "198.51.100.200:3128/tcp" in message
    assert "192.168.0.0/16" in message and message.startswith(core.RULE.name)


@pytest.mark.parametrize("row, said", [
    (conn(zeek__connection__state="SF", source__bytes=3200, destination__bytes=88_000),
     "(Internet, proxy port; SF, 3.2 kB out, 88 kB in)"),
    (conn(zeek__connection__state="S0", source__bytes=120, destination__bytes=0), "(Internet, proxy port; S0: no answer)"),
    (conn(zeek__connection__state="REJ", source__bytes=44, destination__bytes=40), "(Internet, proxy port; REJ: refused)"),
    (conn(zeek__connection__state="S3", source__bytes=46_210, destination__bytes=1_120_000),
     "(Internet, proxy port; S3, 46 kB out, 1.1 MB in)"),
    (conn(zeek__connection__state="RSTO"), "(Internet, proxy port; RSTO)"),
    (conn(), "(Internet, proxy port)"),  # a log that says nothing of it
    (eve("flow", suricata__eve__tcp__state="closed", source__bytes=7799, destination__bytes=240_748),
     "(Internet, proxy port; tcp closed, 7.8 kB out, 241 kB in)"),
    (eve("flow", suricata__eve__tcp__state="syn_sent", source__bytes=74, destination__bytes=0),
     "(Internet, proxy port; tcp syn_sent: no answer)"),
    (eve("flow", suricata__eve__tcp__state="syn_sent", source__bytes=330, destination__bytes=270),
     "(Internet, proxy port; tcp syn_sent: refused)"),
    (eve("flow", source__bytes=900, destination__bytes=512), "(Internet, proxy port; 900 B out, 512 B in)"),
])
def test_the_message_says_whether_it_was_answered_and_how_much_moved(row: dict[str, Any], said: str) -> None:
    [message] = alerts([row])["message"].tolist()
    assert message.startswith(f"{core.RULE.name}: {row['source.ip']} (internal, 10.0.0.0/8) to 203.0.113.7:8080/tcp ")
    assert message.endswith(said), message


def test_sensor_from_the_log_the_option_or_the_config() -> None:
    rows = [conn(observer__name="zeek-worker-1"), conn(zeek__session_id="C2")]
    assert alerts(rows)["observer.name"].tolist() == ["zeek-worker-1", None]
    configured = replace(DEFAULT_SETTINGS, sensor="dmz-sensor")
    assert alerts(rows, configured)["observer.name"].tolist() == ["zeek-worker-1", "dmz-sensor"]
    forced = replace(configured, sensor_override="lab")
    assert alerts(rows, forced)["observer.name"].tolist() == ["lab", "lab"]


def test_finalize_keeps_the_logs_community_id() -> None:
    out = alerts([conn(network__community_id="1:fromTheLog=")])
    assert out.loc[0, "network.community_id"] == "1:fromTheLog="


@pytest.mark.parametrize(("src", "dst", "sport", "dport", "proto"), [
    ("10.1.2.3", "203.0.113.7", 50000, 8080, "tcp"),
    ("203.0.113.7", "10.1.2.3", 8080, 50000, "tcp"),     # order-independent
    ("10.0.0.1", "10.0.0.1", 2, 1, "tcp"),              # same address: ports decide
    ("192.168.1.1", "8.8.8.8", 5353, 53, "udp"),
    ("2001:db8::1", "fe80::1", 1080, 40000, "tcp"),
])
def test_community_id_matches_reference(src: str, dst: str, sport: int, dport: int,
                                        proto: str) -> None:
    assert community_id(src, dst, sport, dport, proto) == reference_community_id(
        src, dst, sport, dport, proto)


@given(v=st.sampled_from([4, 6]), data=st.data(), sport=st.integers(0, 65535),
       dport=st.integers(0, 65535), proto=st.sampled_from(["tcp", "udp"]))
def test_community_id_matches_reference_for_any_flow(v: int, data: st.DataObject, sport: int,
                                                    dport: int, proto: str) -> None:
    src, dst = (str(data.draw(st.ip_addresses(v=v))) for _ in range(2))
    assert community_id(src, dst, sport, dport, proto) == reference_community_id(
        src, dst, sport, dport, proto)


def test_community_id_impossible_cases() -> None:
    assert community_id("10.0.0.1", "not an address", 1, 8080, "tcp") is None
    assert community_id("010.0.0.1", "8.8.8.8", 1, 8080, "tcp") is None
    assert community_id("10.0.0.1", "2001:db8::1", 1, 8080, "tcp") is None
    assert community_id("10.0.0.1", "8.8.8.8", None, 8080, "tcp") is None  # type: ignore[arg-type]
    assert community_id("10.0.0.1", "8.8.8.8", 1, 2, "icmp") is None
