"""The Sigma export: valid for pySigma and its Lucene backend, a stable id, and the same
verdicts as `scan`, judged by an evaluator of the parsed rules written here (each rule
judges the records of the Zeek log its logsource names)."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, generate
from hypothesis import given
from hypothesis import strategies as st
from test_export_evidence import CONFIGS as EVIDENCE_CONFIGS
from test_export_evidence import OTHER_SCHEMES, proxied, records, scanned, settings_for

from zeek_proxy.config import DEFAULT_SETTINGS, Settings, parse_config
from zeek_proxy.core.allowlist import AllowEntry
from zeek_proxy.core.networks import NetworkSet
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE
from zeek_proxy.export.sigma import ABSOLUTE_SCHEMES, _scalar, to_sigma
from zeek_proxy.pipeline import scan

pytest.importorskip("sigma")  # pysigma is a test extra
yaml = pytest.importorskip("yaml")  # installed with pysigma
from sigma.backends.elasticsearch import LuceneBackend
from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaCIDRExpression, SigmaNumber, SigmaString, SpecialChars

TODAY = date(2026, 11, 27)  # the day of the generated logs
ECS = {"id.orig_h": "source.ip", "id.orig_p": "source.port", "id.resp_h": "destination.ip",
       "id.resp_p": "destination.port", "proto": "network.transport", "method": "http.request.method",
       "uri": "url.original"}

ENTRIES = """
[[allow]]
name = "corp-proxy"
destination = ["{proxy}"]
ports = [{proxy_port}]
reason = "the egress proxy"

[[allow]]
name = "vpn nat"
source = ["{nat}"]
source_ports = [{nat_port}]

[[allow]]
name = "old proxy"
destination = ["{old}"]
expires = 2020-01-01
"""
FUTURE = """
[[allow]]
name = "migration"
destination = ["{later}", "2001:db8::/32"]
expires = {expires}
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sigma") / "conn.json.log"
    with open(path, "w") as out:
        generate.write_zeek_json(generate.connections(3000, seed=11, every_case_first=True), out)
    return path


def _config(log: Path, expires: str | None = "2999-01-01", profile: str = "elastic-v3") -> Settings:
    """A config whose entries hit alerts of `log`: a proxy (destination /24 + port), a
    NAT (source + source port), an expired entry and, with `expires`, one that expires."""
    hits = scan([str(log)], DEFAULT_SETTINGS).alerts
    assert len(hits) >= 4
    row = lambda i: hits.iloc[i]
    text = f'[rule]\nprofile = "{profile}"\n' + ENTRIES.format(
        proxy=ipaddress.ip_network(f'{row(0)["destination.ip"]}/24', strict=False),  # its /24
        proxy_port=row(0)["destination.port"],
        nat=row(1)["source.ip"], nat_port=row(1)["source.port"], old=row(2)["destination.ip"])
    if expires:
        text += FUTURE.format(later=row(3)["destination.ip"], expires=expires)
    return parse_config(text)


def _rules(text: str) -> list[SigmaRule]:
    """Every rule of a YAML stream, none with errors."""
    collection = SigmaCollection.from_yaml(text)
    assert not collection.errors
    assert all(not rule.errors for rule in collection.rules)
    return list(collection.rules)


def _rule(text: str) -> SigmaRule:
    (rule,) = _rules(text)
    return rule


# -- an evaluator of the parsed rule, independent of zeek_proxy ------------------------

def _holds(node: Any, record: dict[str, Any]) -> bool:
    """Does `record` satisfy pySigma's parsed condition `node`?"""
    if isinstance(node, ConditionAND):
        return all(_holds(arg, record) for arg in node.args)
    if isinstance(node, ConditionOR):
        return any(_holds(arg, record) for arg in node.args)
    if isinstance(node, ConditionNOT):
        (arg,) = node.args
        return not _holds(arg, record)
    assert isinstance(node, ConditionFieldEqualsValueExpression), node
    value, expected = record.get(node.field), node.value
    if value is None:
        return False
    if isinstance(expected, SigmaCIDRExpression):
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return False
        ip = getattr(ip, "ipv4_mapped", None) or ip  # as Elasticsearch stores ::ffff:a.b.c.d
        return ip.version == expected.network.version and ip in expected.network
    if isinstance(expected, SigmaNumber):
        return not isinstance(value, bool) and value == expected.number
    assert isinstance(expected, SigmaString), expected
    if expected.contains_special():  # startswith & co.: wildcards, matched without case
        wildcards = {SpecialChars.WILDCARD_MULTI: ".*", SpecialChars.WILDCARD_SINGLE: "."}
        pattern = "".join(wildcards[part] if isinstance(part, SpecialChars) else re.escape(part)
                          for part in expected.s)
        return re.fullmatch(pattern, str(value), re.IGNORECASE | re.DOTALL) is not None
    return str(value).lower() == str(expected).lower()  # Sigma strings match without case


def _uids(rules: list[SigmaRule], found: list[dict[str, Any]], fields: str) -> set[str]:
    """The uids of the records some rule matches: a rule judges the records of the Zeek
    log its logsource names (`_path`; conn when a record has none)."""
    trees = [(rule.logsource.service, rule.detection.parsed_condition[0].parsed) for rule in rules]
    uids = set()
    for record in found:
        service = record.get("_path", "conn")
        if fields == "ecs":
            record = {ECS.get(key, key): value for key, value in record.items()}
        if any(log == service and _holds(tree, record) for log, tree in trees):
            uids.add(record["uid"])
    return uids


def _sigma_uids(rules: SigmaRule | list[SigmaRule], log: Path, fields: str) -> set[str]:
    found = [json.loads(line) for line in log.read_text().splitlines()]
    return _uids(rules if isinstance(rules, list) else [rules], found, fields)


def _scan_uids(log: Path, settings: Settings) -> set[str]:
    return set(scan([str(log)], settings).alerts["zeek.session_id"])


def test_evaluator_sees_what_the_rule_says() -> None:
    rule = _rule(to_sigma(DEFAULT_SETTINGS, today=TODAY))
    tree = rule.detection.parsed_condition[0].parsed
    base = {"proto": "TCP", "id.orig_h": "10.1.2.3", "id.orig_p": 5555, "id.resp_h": "5.6.7.8", "id.resp_p": 3128}
    assert _holds(tree, base)
    for change in ({"proto": "udp"}, {"id.resp_p": 443}, {"id.orig_h": "11.1.2.3"},
                   {"id.resp_h": "127.0.0.1"}, {"id.resp_h": "::1"}, {"id.resp_h": "::ffff:10.0.0.1"},
                   {"id.orig_h": "not an address"}, {"id.resp_p": None}):
        assert not _holds(tree, {**base, **change}), change


# -- valid Sigma -----------------------------------------------------------------------

@pytest.mark.parametrize("fields", ["zeek", "ecs"])
@pytest.mark.parametrize("profile", ["elastic-v3", "elastic-v6", "strict"])
def test_valid_for_pysigma_and_lucene(generated: Path, fields: str, profile: str) -> None:
    for settings in (parse_config(f'[rule]\nprofile = "{profile}"\n'), _config(generated, profile=profile)):
        text = to_sigma(settings, fields, TODAY)
        rule, *others = _rules(text)
        query, *more = LuceneBackend().convert(SigmaCollection.from_yaml(text))
        assert query and "1080" in query
        assert len(others) == len(more) == (profile != "elastic-v3")  # the socks branch: v4 and later
        names = set(rule.detection.detections)
        assert not any(name.startswith("not") for name in names)
        assert rule.logsource.product == "zeek" and rule.logsource.service == "conn"
        assert [str(t) for t in rule.tags] == ["attack.command-and-control", "attack.t1090"]
        assert str(rule.level) == "medium" and str(rule.status) == "experimental"
        assert str(rule.date) == TODAY.isoformat()
        field = "id.resp_h" if fields == "zeek" else "destination.ip"
        assert field in query and ("id.orig_h" in query) == (fields == "zeek")
        if profile != "elastic-v3":
            assert "fe80\\:\\:\\/10" in query  # IPv6 CIDRs survive |cidr


def test_allow_entries(generated: Path) -> None:
    settings = _config(generated, expires="2027-06-30")
    text = to_sigma(settings, today=TODAY)
    detections = _rule(text).detection.detections
    assert sorted(detections) == ["filter_allow_corp_proxy", "filter_allow_migration", "filter_allow_vpn_nat",
                                  "filter_excluded_destination", "selection"]
    fields = {item.field: item for item in detections["filter_allow_vpn_nat"].detection_items}
    assert set(fields) == {"id.orig_h", "id.orig_p"} and fields["id.orig_h"].modifiers
    fields = {item.field for item in detections["filter_allow_corp_proxy"].detection_items}
    assert fields == {"id.resp_h", "id.resp_p"}
    comments = [line for line in text.splitlines() if line.strip().startswith("#")]
    assert any("migration" in c and "2027-06-30" in c for c in comments)
    assert any("old proxy" in c and "left out" in c for c in comments)
    assert "selection and not filter_excluded_destination and not 1 of filter_allow_*" in text
    assert "filter_allow" not in to_sigma(DEFAULT_SETTINGS, today=TODAY)
    # on the day it expires, the entry goes
    assert "filter_allow_migration" not in to_sigma(settings, today=date(2027, 6, 30))


def test_hostile_names_and_reasons() -> None:
    entries = tuple(AllowEntry(name=name, destination=NetworkSet.parse(["203.0.113.0/24"]), reason=reason)
                    for name, reason in (("a-b", "x\ny: z # w"), ("a b", "'quoted' \"and\" \\"),
                                         ("not\u2028\x00evil\n  condition: selection", "\x85\ufeff")))
    text = to_sigma(DEFAULT_SETTINGS.with_allow(entries), "ecs", TODAY)
    detections = _rule(text).detection.detections
    assert {"filter_allow_a_b", "filter_allow_a_b_2", "filter_allow_not_evil_condition_selection"} <= set(detections)
    body = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert sum("condition:" in line for line in body) == 1


def test_rules_that_match_nothing_are_refused() -> None:
    with pytest.raises(ValueError, match="field names"):
        to_sigma(DEFAULT_SETTINGS, "splunk")
    with pytest.raises(ValueError, match="matches nothing"):
        to_sigma(parse_config("[rule]\nports = []\n"))


@given(st.text())
def test_scalars_load_back(value: str) -> None:
    assert yaml.safe_load(f"key: {_scalar(value)}\n") == {"key": value}


@pytest.mark.parametrize("value", ["yes", "No", "null", "10.0.0.0/8", "::1/128", "2026-01-01", "1080",
                                   "a: b", "a #b", "- x", "x ", "https://example.org/a#b", "it's"])
def test_awkward_scalars(value: str) -> None:
    test_scalars_load_back.hypothesis.inner_test(value)  # type: ignore[attr-defined]


# -- the id ----------------------------------------------------------------------------

def _id(text: str) -> str:
    """The id of the conn rule, the stream's first."""
    return str(_rules(text)[0].id)


def test_id_is_stable_and_follows_the_config(generated: Path) -> None:
    settings = _config(generated)
    first = _id(to_sigma(settings, today=TODAY))
    assert first == _id(to_sigma(_config(generated), today=date(2030, 1, 2)))  # another day, same rule
    others = {
        _id(to_sigma(settings, "ecs", TODAY)),
        _id(to_sigma(DEFAULT_SETTINGS, today=TODAY)),
        _id(to_sigma(parse_config("[rule]\nports = [8080]\n"), today=TODAY)),
        _id(to_sigma(parse_config('[rule]\nprofile = "strict"\n'), today=TODAY)),
        _id(to_sigma(_config(generated, expires=None), today=TODAY)),
    }
    assert first not in others and len(others) == 5
    # an entry left out (expired) changes nothing the rule matches, so nor its id
    assert _id(to_sigma(_config(generated, expires="2026-01-01"), today=TODAY)) == \
        _id(to_sigma(_config(generated, expires=None), today=TODAY))


# -- done when: the same connections as scan ---------------------------------------------

@pytest.mark.parametrize("fields", ["zeek", "ecs"])
def test_matches_exactly_what_scan_alerts_on(generated: Path, fields: str) -> None:
    configs = [
        DEFAULT_SETTINGS,
        _config(generated),  # the migration entry expires long after the log: it applies both ways
        _config(generated, expires=None, profile="strict"),
        parse_config('[rule]\nports = [8080, 443, 53]\ntransports = ["tcp", "udp"]\n'
                     '[networks]\ninternal = ["10.0.0.0/8", "fd00::/8"]\nnot_internet = []\n'),
    ]
    for log in (generated, FIXTURES / "conn.json.log"):
        alerts = [_scan_uids(log, settings) for settings in configs]
        assert alerts[1] < alerts[0] and alerts[3] - alerts[0]  # the configs make a difference
        for settings, expected in zip(configs, alerts):
            rules = _rules(to_sigma(settings, fields, TODAY))
            assert _sigma_uids(rules, log, fields) == expected


# -- proxy protocols: the socks.log and http.log rules ------------------------------------

def _by_title(text: str) -> dict[str, SigmaRule]:
    return {rule.title: rule for rule in _rules(text)}


@pytest.mark.parametrize("fields", ["zeek", "ecs"])
def test_protocol_rules_are_valid_and_say_what_they_are(fields: str) -> None:
    text = to_sigma(settings_for("site-evidence"), fields, TODAY)
    assert text.count("\n---\n") == 3  # one YAML document a rule
    rules = _by_title(text)
    assert list(rules) == [RULE.name, f"{PROTOCOL_RULE.name} - SOCKS", f"{PROTOCOL_RULE.name} - HTTP CONNECT",
                           f"{PROTOCOL_RULE.name} - HTTP proxy request"]
    assert len({rule.id for rule in rules.values()}) == 4
    queries = LuceneBackend().convert(SigmaCollection.from_yaml(text))
    assert len(queries) == 4 and all(queries)
    source, method, uri = ("id.orig_h", "method", "uri") if fields == "zeek" else \
        ("source.ip", "http.request.method", "url.original")
    for title, rule in list(rules.items())[1:]:
        assert [str(t) for t in rule.tags] == ["attack.command-and-control", "attack.t1090"]
        assert rule.logsource.product == "zeek" and str(rule.level) == "medium"
        assert PROTOCOL_RULE.id in rule.description and [str(r) for r in rule.references] == \
            list(PROTOCOL_RULE.reference)
        assert rule.falsepositives == list(PROTOCOL_RULE.false_positives)
        detections = rule.detection.detections
        assert {"selection", "filter_excluded_destination", "filter_allow_corp_proxy", "filter_allow_nat_web",
                "filter_allow_tor_lab"} <= set(detections) and "filter_allow_old_vendor" not in detections
        selection = {item.field: item for item in detections["selection"].detection_items}
        assert source in selection
        assert not {"id.resp_p", "destination.port", "proto", "network.transport"} & set(selection)  # any port
    assert rules[f"{PROTOCOL_RULE.name} - SOCKS"].logsource.service == "socks"
    connect = rules[f"{PROTOCOL_RULE.name} - HTTP CONNECT"]
    assert connect.logsource.service == "http"
    [item] = [i for i in connect.detection.detections["selection"].detection_items if i.field == method]
    assert [str(v) for v in item.value] == ["CONNECT"]
    request = rules[f"{PROTOCOL_RULE.name} - HTTP proxy request"]
    [item] = [i for i in request.detection.detections["selection"].detection_items if i.field == uri]
    assert [str(v) for v in item.value] == [f"{scheme}*" for scheme in ABSOLUTE_SCHEMES]
    assert f"{method}:CONNECT" in queries[2] and "http\\:\\/\\/*" in queries[3]


def test_the_socks_rule_is_the_port_rules_under_socks_profiles() -> None:
    for name, socks_title in (("v6", f"{RULE.name} - SOCKS"), ("v6-evidence", f"{RULE.name} - SOCKS"),
                              ("v3-evidence", f"{PROTOCOL_RULE.name} - SOCKS")):
        rules = _by_title(to_sigma(settings_for(name), today=TODAY))
        socks = rules[socks_title]
        assert socks.logsource.service == "socks"
        meta = RULE if socks_title.startswith(RULE.name) else PROTOCOL_RULE
        assert meta.id in socks.description and [str(r) for r in socks.references] == list(meta.reference)
    # no socks branch without TCP, and none under the v3 rule without evidence
    assert len(_rules(to_sigma(parse_config('[rule]\nprofile = "elastic-v6"\ntransports = ["udp"]\n'),
                               today=TODAY))) == 1
    assert len(_rules(to_sigma(DEFAULT_SETTINGS, today=TODAY))) == 1


def test_protocol_rule_ids_are_stable_and_the_conn_rule_keeps_its_own() -> None:
    def ids(settings: Settings, day: date = TODAY) -> dict[str, str]:
        return {rule.title: str(rule.id) for rule in _rules(to_sigma(settings, today=day))}

    evidence = ids(settings_for("v3-evidence"))
    assert evidence == ids(settings_for("v3-evidence"), date(2030, 1, 2))
    assert evidence[RULE.name] == ids(DEFAULT_SETTINGS)[RULE.name]  # --evidence leaves the conn rule alone
    v6 = ids(settings_for("v6"))
    # the same socks.log selection under another rule is another rule
    assert v6[f"{RULE.name} - SOCKS"] != ids(replace(settings_for("v6"), socks=False, evidence=True))[
        f"{PROTOCOL_RULE.name} - SOCKS"]
    site = ids(settings_for("site-evidence"))
    assert not set(site.values()) & set(evidence.values())  # the allow entries are part of each rule


@pytest.mark.parametrize("fields", ["zeek", "ecs"])
@pytest.mark.parametrize("name", EVIDENCE_CONFIGS)
def test_the_rules_match_exactly_what_scan_alerts_on_with_proxy_protocols(
        tmp_path: Path, name: str, fields: str) -> None:
    settings = settings_for(name)
    items = proxied()
    expected = scanned(items, settings, tmp_path)
    found = [record for log in ("conn", "socks", "http") for record in records(items, log)]
    rules = _rules(to_sigma(settings, fields, TODAY))
    assert _uids(rules, found, fields) == expected
    protocol_only = expected - _uids(rules[:1], found, fields)  # what the conn rule alone misses
    assert len(protocol_only) >= 20


def test_other_schemes_are_the_sigma_rules_limit(tmp_path: Path) -> None:
    """The scan takes an absolute-form request of any scheme; the Sigma rule names
    http, https and ftp (Lucene's regular expressions cannot anchor a `|re`)."""
    settings = settings_for("v3-evidence")
    items = proxied(other_schemes=True, seed=8)
    expected = scanned(items, settings, tmp_path)
    found = [record for log in ("conn", "socks", "http") for record in records(items, log)]
    matched = _uids(_rules(to_sigma(settings, today=TODAY)), found, "zeek")
    missed = {i.conn.uid for i in items if (i.method, i.uri) in OTHER_SCHEMES and i.conn.resp_p not in settings.ports}
    assert matched <= expected and expected - matched == missed & expected and missed & expected


def _zeek_tsv(path: Path) -> list[dict[str, Any]]:
    """The records of a Zeek TSV log, with its `_path`; ports as numbers, unset fields absent."""
    lines = path.read_text().splitlines()
    fields = next(line for line in lines if line.startswith("#fields")).split("\t")[1:]
    log = next(line for line in lines if line.startswith("#path")).split("\t")[1]
    out = []
    for line in (line for line in lines if line and not line.startswith("#")):
        record: dict[str, Any] = {"_path": log}
        for field, value in zip(fields, line.split("\t")):
            if value != "-":
                record[field] = int(value) if field.endswith("_p") else value
        out.append(record)
    return out


def test_zeeks_own_socks_and_connect_logs(corpus: Path) -> None:
    """Zeek's baselines: SOCKS5 from 10.0.0.55 to 60.190.189.214:8124, and an HTTP CONNECT
    from 79.26.245.236 to 254.228.86.79:8240 (public, so internal only by config)."""
    folder = corpus / "zeek-evidence"
    socks = folder / "socks-trace1__socks.log"
    http = folder / "http-connect__http.log"
    found = _zeek_tsv(socks) + _zeek_tsv(http)
    for settings, hits in (
        (parse_config('[rule]\nprofile = "elastic-v6"\n'), {"ClEkJM2Vm5giqnMf4h"}),
        (DEFAULT_SETTINGS, set()),
        (replace(parse_config('[networks]\ninternal = ["10.0.0.0/8", "79.0.0.0/8"]\nnot_internet = []\n'),
                 evidence=True), {"ClEkJM2Vm5giqnMf4h", "CHhAvVGS1DHFjwGM9"}),
    ):
        assert set(scan([str(socks), str(http)], settings).alerts["zeek.session_id"]) == hits
        for fields in ("zeek", "ecs"):
            assert _uids(_rules(to_sigma(settings, fields, TODAY)), found, fields) == hits
