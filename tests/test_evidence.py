"""`--evidence`: Zeek's socks, http, ssl and tunnel logs and eve's http/tls events read
with the connection logs; the second detection (Proxy Protocol to the Internet) on any
port; what every alert carries; passwords nowhere. Zeek's own baselines first, then
small logs written here, each built to show one thing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zeek_proxy import scan
from zeek_proxy.cli import cli
from zeek_proxy.config import build_settings
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE
from zeek_proxy.formats.http_request import connect_target, request_domain, request_kind
from zeek_proxy.security_onion import Preset

EVIDENCE = "zeek-evidence"
T0 = 1795773600
HEADER = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-"]
FIELDS = {
    "conn": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service conn_state",
    "http": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri user_agent "
            "status_code username password",
    "ssl": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version server_name established",
    "socks": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version user password status "
             "request.host request.name request_p bound.host bound.name bound_p",
    "tunnel": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p tunnel_type action",
}


def write_tsv(folder: Path, log: str, rows: list[list[object]]) -> Path:
    path = folder / f"{log}.log"
    fields = FIELDS[log].split()
    lines = [*HEADER, f"#path\t{log}", "#open\t2026-11-27-10-00-00", "#fields\t" + "\t".join(fields),
             "#types\t" + "\t".join(["time"] + ["string"] * (len(fields) - 1))]
    lines += ["\t".join(str(cell) for cell in row) for row in rows]
    path.write_text("\n".join(lines + ["#close\t2026-11-27-11-00-00"]) + "\n")
    return path


def write_json(folder: Path, log: str, rows: list[list[object]]) -> Path:
    path = folder / f"{log}.log"
    fields = FIELDS[log].split()
    with path.open("w") as out:
        for row in rows:
            record = {"_path": log, **{f: v for f, v in zip(fields, row) if v != "-"}}
            record["ts"] = float(record["ts"])
            for count in ("id.orig_p", "id.resp_p", "request_p", "trans_depth", "status_code"):
                if count in record:
                    record[count] = int(record[count])
            out.write(json.dumps(record) + "\n")
    return path


def sensor_folder(folder: Path, write=write_tsv) -> Path:
    """One of each: a port hit with TLS inside; a CONNECT on 8888 with TLS inside and a
    captured password; a SOCKS5 tunnel on 9050 with its tunnel record; a tunnel record
    alone; an absolute-form request; a CONNECT between private hosts; plain web traffic."""
    folder.mkdir(parents=True, exist_ok=True)
    write(folder, "conn", [
        [T0 + 0, "Cport", "10.1.1.1", 40000, "8.8.8.8", 8080, "tcp", "ssl", "SF"],
        [T0 + 1, "Cconnect", "10.1.1.2", 40001, "9.9.9.9", 8888, "tcp", "http,ssl", "SF"],
        [T0 + 2, "Csocks", "10.1.1.3", 40002, "7.7.7.7", 9050, "tcp", "socks", "SF"],
        [T0 + 3, "Cweb", "10.1.1.4", 40003, "6.6.6.6", 443, "tcp", "ssl", "SF"],
        [T0 + 4, "Cabs", "10.1.1.5", 40004, "5.5.5.5", 8000, "tcp", "http", "SF"],
        [T0 + 5, "Cinside", "10.1.1.6", 40005, "10.9.9.9", 3128, "tcp", "http", "SF"],
    ])
    write(folder, "http", [
        [T0 + 1.1, "Cconnect", "10.1.1.2", 40001, "9.9.9.9", 8888, 1, "CONNECT", "-",
         "target.example:443 /", "curl/8", 200, "bob", "hunter2-SECRET"],
        [T0 + 4.1, "Cabs", "10.1.1.5", 40004, "5.5.5.5", 8000, 1, "GET", "site.example",
         "http://site.example/x", "wget", 200, "-", "-"],
        [T0 + 5.1, "Cinside", "10.1.1.6", 40005, "10.9.9.9", 3128, 1, "CONNECT", "-",
         "inside.example:443", "curl/8", 200, "-", "-"],
    ])
    write(folder, "ssl", [
        [T0 + 0.2, "Cport", "10.1.1.1", 40000, "8.8.8.8", 8080, "TLSv13", "c2.example", "T"],
        [T0 + 1.2, "Cconnect", "10.1.1.2", 40001, "9.9.9.9", 8888, "TLSv13", "target.example", "T"],
        [T0 + 3.2, "Cweb", "10.1.1.4", 40003, "6.6.6.6", 443, "TLSv13", "web.example", "T"],
    ])
    write(folder, "socks", [
        [T0 + 2.1, "Csocks", "10.1.1.3", 40002, "7.7.7.7", 9050, 5, "carol", "pw-SECRET", "succeeded",
         "-", "hidden.example", 443, "7.7.7.7", "-", 0],
    ])
    write(folder, "tunnel", [
        [T0 + 2.0, "-", "10.1.1.3", 0, "7.7.7.7", 9050, "Tunnel::SOCKS", "Tunnel::DISCOVER"],
        [T0 + 6.0, "-", "10.1.1.7", 0, "4.4.4.4", 1081, "Tunnel::SOCKS", "Tunnel::DISCOVER"],
        [T0 + 7.0, "-", "10.1.1.7", 0, "4.4.4.4", 1081, "Tunnel::SOCKS", "Tunnel::CLOSE"],
    ])
    return folder


def alerts_of(folder: Path, *args: str) -> dict[str, dict]:
    """The alerts of a CLI scan, by session id (a tunnel's own alert by its source)."""
    result = CliRunner().invoke(cli, ["scan", *args, str(folder)])
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    return {d.get("zeek", {}).get("session_id") or d["source"]["ip"]: d for d in docs}


# -- Zeek's own baselines -------------------------------------------------------------------

@pytest.mark.parametrize("profile, rule", [("elastic-v3", PROTOCOL_RULE), ("elastic-v4", RULE),
                                           ("elastic-v6", RULE), ("strict", RULE)])
def test_zeek_socks_trace_alerts_under_every_profile_with_evidence(corpus: Path, profile: str, rule) -> None:
    """SOCKS5 to 60.190.189.214:8124 (not a proxy port): the port rule's socks branch
    where the profile has one, the protocol detection where not; one alert, the tunnel
    record joined to it; the private SOCKS with a password and the public CONNECT alert
    nowhere."""
    found = alerts_of(corpus / EVIDENCE, "--profile", profile, "--evidence")
    assert list(found) == ["ClEkJM2Vm5giqnMf4h"]
    alert = found["ClEkJM2Vm5giqnMf4h"]
    assert alert["rule"]["id"] == rule.id and alert["rule"]["name"] == rule.name
    assert alert["destination"] == {"ip": "60.190.189.214", "port": 8124, "domain": "www.osnews.com"}
    assert alert["zeek_proxy"]["evidence"] == ["socks"]
    assert "SOCKS5 for www.osnews.com:80" in alert["message"]


def test_without_evidence_v3_reads_no_socks_and_says_why_http_is_skipped(corpus: Path) -> None:
    assert alerts_of(corpus / EVIDENCE) == {}
    result = CliRunner().invoke(cli, ["scan", str(corpus / EVIDENCE / "http-connect__http.log")])
    assert result.exit_code == 0 and result.stdout == ""
    assert "#path http is not a conn or socks log (read with --evidence)" in result.stderr


@pytest.mark.parametrize("to", ["ecs", "notice", "notice-json", "csv"])
def test_captured_passwords_reach_no_output(corpus: Path, tmp_path: Path, to: str) -> None:
    folder = sensor_folder(tmp_path / "logs")
    for target in (corpus / EVIDENCE, folder):
        for args in (["scan", "--evidence", "--profile", "strict", "-t", to, "--show-suppressed"],
                     ["normalize"]):
            result = CliRunner().invoke(cli, [*args, str(target)])
            assert result.exit_code == 0, result.output
            text = result.stdout + result.stderr
            assert "alice" not in text and "SECRET" not in text and "hunter2" not in text


# -- the join, record by record -------------------------------------------------------------

@pytest.mark.parametrize("write", [write_tsv, write_json], ids=["tsv", "json"])
def test_each_connection_is_one_alert_with_what_its_logs_say(tmp_path: Path, write) -> None:
    found = alerts_of(sensor_folder(tmp_path / "logs", write), "--evidence")
    assert set(found) == {"Cport", "Cconnect", "Csocks", "Cabs", "10.1.1.7"}
    port, connect, socks, absolute, tunnel = (found[k] for k in ("Cport", "Cconnect", "Csocks", "Cabs", "10.1.1.7"))
    # The port hit keeps the port rule and its id, and says TLS for c2.example.
    assert port["rule"]["id"] == RULE.id and port["zeek_proxy"]["evidence"] == ["tls"]
    assert port["destination"]["domain"] == "c2.example" and port["tls"]["client"]["server_name"] == "c2.example"
    assert port["message"].endswith("(Internet, proxy port; TLS for c2.example; SF)")  # no byte counts in that log
    # CONNECT on 8888: the protocol detection; the TLS inside is found by uid; the
    # CONNECT target (cut at its white space) outranks the SNI.
    assert connect["rule"]["id"] == PROTOCOL_RULE.id
    assert connect["zeek_proxy"]["evidence"] == ["http-connect", "tls"]
    assert connect["destination"] == {"ip": "9.9.9.9", "port": 8888, "domain": "target.example"}
    assert connect["http"]["request"]["method"] == "CONNECT"
    assert connect["url"]["original"] == "target.example:443 /"
    assert connect["user_agent"]["original"] == "curl/8"
    assert connect["threat"]["technique"]["id"] == ["T1090"]
    assert "HTTP CONNECT for target.example" in connect["message"]
    # SOCKS on 9050: its socks record and its tunnel record are one alert.
    assert socks["rule"]["id"] == PROTOCOL_RULE.id and socks["zeek_proxy"]["evidence"] == ["socks"]
    assert socks["destination"]["domain"] == "hidden.example"
    assert socks["event"]["id"] != port["event"]["id"]
    # An absolute-form request on 8000.
    assert absolute["zeek_proxy"]["evidence"] == ["http-proxy-request"]
    assert absolute["destination"]["domain"] == "site.example"
    # A tunnel record with no other record of its endpoints alerts alone, once
    # (its CLOSE record adds nothing), with originator port 0.
    assert tunnel["rule"]["id"] == PROTOCOL_RULE.id and tunnel["source"]["port"] == 0
    assert tunnel["zeek_proxy"]["evidence"] == ["socks"] and "session_id" not in tunnel.get("zeek", {})


def test_evidence_never_changes_the_port_rule_s_alerts(tmp_path: Path) -> None:
    folder = sensor_folder(tmp_path / "logs")
    plain = alerts_of(folder)
    told = alerts_of(folder, "--evidence")
    assert list(plain) == ["Cport"]
    assert told["Cport"]["event"]["id"] == plain["Cport"]["event"]["id"]
    assert "zeek_proxy" not in plain["Cport"] or "evidence" not in plain["Cport"]["zeek_proxy"]


def test_the_same_connection_is_the_same_alert_whatever_logs_are_given(tmp_path: Path) -> None:
    """The CONNECT alert's id is the connection's: given with or without its conn and
    ssl records, in one run or in a --state run after another."""
    folder = sensor_folder(tmp_path / "logs")
    whole = alerts_of(folder, "--evidence")["Cconnect"]["event"]["id"]
    alone = alerts_of(folder / "http.log", "--evidence")["Cconnect"]
    assert alone["event"]["id"] == whole and alone["zeek_proxy"]["evidence"] == ["http-connect"]
    state = tmp_path / "state"
    first = alerts_of(folder, "--evidence", "--state", str(state))
    again = CliRunner().invoke(cli, ["scan", "--evidence", "--state", str(state), str(folder)])
    assert again.exit_code == 0 and again.stdout == "" and len(first) == 5


def test_eve_connect_and_tls_events_are_evidence(tmp_path: Path) -> None:
    def event(kind: str, flow_id: int, port: int, **extra) -> str:
        return json.dumps({"timestamp": f"2026-11-27T10:00:0{flow_id}.000000+0000", "flow_id": flow_id,
                           "event_type": kind, "src_ip": "192.168.1.5", "src_port": 50000 + flow_id,
                           "dest_ip": "203.0.114.7", "dest_port": port, "proto": "TCP", **extra})
    eve = tmp_path / "eve.json"
    eve.write_text("\n".join([
        event("flow", 1, 8080, flow={"start": "2026-11-27T10:00:01.000000+0000"}),
        event("http", 1, 8080, http={"hostname": "api.example", "url": "/v1", "http_method": "GET"}),
        event("flow", 2, 8443, flow={"start": "2026-11-27T10:00:02.000000+0000"}),
        event("http", 2, 8443, http={"url": "secret.example:443", "http_method": "CONNECT",
                                     "http_user_agent": "ua"}),
        event("tls", 2, 8443, tls={"sni": "secret.example"}),
        event("tls", 3, 443, tls={"sni": "plain.example"}),
    ]) + "\n")
    result = CliRunner().invoke(cli, ["scan", "--evidence", str(eve)])
    docs = {d["suricata"]["eve"]["flow_id"]: d for d in map(json.loads, result.stdout.splitlines())}
    assert set(docs) == {1, 2}
    assert docs[1]["rule"]["id"] == RULE.id and docs[1]["zeek_proxy"]["evidence"] == ["http"]
    assert docs[1]["destination"]["domain"] == "api.example"
    assert docs[2]["rule"]["id"] == PROTOCOL_RULE.id
    assert docs[2]["zeek_proxy"]["evidence"] == ["http-connect", "tls"]  # the tls event looked up by flow id
    assert docs[2]["destination"]["domain"] == "secret.example"
    plain = [json.loads(line) for line in CliRunner().invoke(cli, ["scan", str(eve)]).stdout.splitlines()]
    assert [d["suricata"]["eve"]["flow_id"] for d in plain] == [1] and "evidence" not in plain[0]["zeek_proxy"]


def test_notice_and_csv_carry_the_evidence(tmp_path: Path) -> None:
    folder = sensor_folder(tmp_path / "logs")
    notice = CliRunner().invoke(cli, ["scan", "--evidence", "-t", "notice-json", str(folder)]).stdout
    notes = {json.loads(line)["uid"]: json.loads(line) for line in notice.splitlines() if '"uid"' in line}
    assert notes["Cport"]["note"] == "ProxyPort::Internet_Activity"
    assert notes["Cconnect"]["note"] == "ProxyPort::Protocol_Activity"
    assert "evidence=http-connect,tls domain=target.example method=CONNECT" in notes["Cconnect"]["sub"]
    rows = CliRunner().invoke(cli, ["scan", "--evidence", "-t", "csv", str(folder)]).stdout.splitlines()
    header = rows[0].split(",")
    assert {"rule.name", "destination.domain", "zeek_proxy.evidence", "tls.client.server_name"} <= set(header)
    assert any("Proxy Protocol to the Internet,target.example,\"http-connect,tls\",CONNECT" in r for r in rows)


def test_security_onion_reads_the_evidence_logs(tmp_path: Path) -> None:
    current = tmp_path / "nsm" / "zeek" / "logs" / "current"
    sensor_folder(current)
    paths = Preset(str(tmp_path)).inputs()
    assert [Path(p).name for p in paths] == ["conn.log"]
    paths = Preset(str(tmp_path)).inputs(evidence=True)
    assert [Path(p).name for p in paths] == ["conn.log", "socks.log", "http.log", "ssl.log", "tunnel.log"]
    result = CliRunner().invoke(cli, ["scan", "--security-onion", "--so-root", str(tmp_path), "--no-state",
                                      "-o", str(tmp_path / "alerts.ndjson")])
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in (tmp_path / "alerts.ndjson").read_text().splitlines()]
    assert len(alerts) == 5 and {a["rule"]["name"] for a in alerts} == {RULE.name, PROTOCOL_RULE.name}


def test_explain_says_which_detection_applies() -> None:
    def verdict(*args: str) -> str:
        result = CliRunner().invoke(cli, ["explain", "--src", "10.0.0.55", "--dst", "60.190.189.214", *args])
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()[0]

    assert verdict("--port", "8124", "--evidence", "socks") == f"ALERT: {PROTOCOL_RULE.name}"
    assert verdict("--port", "8124", "--evidence", "socks", "--profile", "elastic-v4") == "ALERT"
    assert verdict("--port", "8124", "--evidence", "tls").startswith("NO MATCH: destination port 8124")
    assert verdict("--port", "8080", "--evidence", "tls", "--domain", "x.example") == "ALERT"
    assert verdict("--port", "8888", "--evidence", "http-connect", "--transport", "udp").startswith("NO MATCH")
    assert CliRunner().invoke(cli, ["explain", "--src", "10.0.0.1", "--dst", "8.8.8.8", "--port", "1",
                                    "--domain", "x"]).exit_code == 2


def test_the_scan_and_explain_agree_on_the_sensor_folder(tmp_path: Path) -> None:
    from zeek_proxy.core.explain import explain

    folder = sensor_folder(tmp_path / "logs")
    settings = build_settings()
    settings = type(settings)(**{**settings.__dict__, "evidence": True})
    result = scan([str(folder)], settings)
    for _, alert in result.alerts.iterrows():
        kinds = alert["zeek_proxy.evidence"]
        proxy = [k for k in kinds if k in ("socks", "http-connect", "http-proxy-request")]
        verdict = explain(settings, alert["source.ip"], alert["destination.ip"], int(alert["destination.port"]),
                          evidence=(proxy or list(kinds))[0]).verdict
        assert verdict == ("ALERT" if alert["rule.id"] == RULE.id else f"ALERT: {PROTOCOL_RULE.name}")


# -- request lines ---------------------------------------------------------------------------

@pytest.mark.parametrize("uri, target", [
    ("mailin03.sul.t-online.de:25 /", ("mailin03.sul.t-online.de", 25)),
    ("target.example:443", ("target.example", 443)),
    ("[2001:db8::1]:443", ("2001:db8::1", 443)),
    ("10.0.0.1:8080 HTTP/1.1", ("10.0.0.1", 8080)),
    ("[not-v6]:443", None), ("host:99999", None), ("no-port", None), ("", None), ("   ", None),
    ("user@host:443", None), (":443", None),
])
def test_connect_targets_are_parsed_defensively(uri: str, target) -> None:
    assert connect_target(uri) == target


@pytest.mark.parametrize("method, uri, host, kind, domain", [
    ("CONNECT", "a.example:443", None, "http-connect", "a.example"),
    ("connect", "a.example:443", None, "http-connect", "a.example"),
    ("GET", "http://b.example:8080/x?y", "proxy.example", "http-proxy-request", "b.example"),
    ("GET", "https://user:pw@[2001:db8::2]/", None, "http-proxy-request", "2001:db8::2"),
    ("GET", "/index.html", "c.example:8080", "http", "c.example"),
    ("GET", "/", "[2001:db8::3]:80", "http", "2001:db8::3"),
    (None, None, None, "http", None),
])
def test_what_a_request_says(method, uri, host, kind: str, domain) -> None:
    assert request_kind(method, uri) == kind
    assert request_domain(kind, uri, host) == domain


def test_a_worker_process_s_copy_of_the_format_chooses_the_same_lines(tmp_path: Path) -> None:
    """Large files are pre-filtered in forked processes, on a pickled copy of the format:
    it must know its log (http) as the original does, and keep CONNECT lines only."""
    import pickle
    from dataclasses import replace

    import pyarrow as pa

    from zeek_proxy.formats.zeek import EVIDENCE_LOGS
    from zeek_proxy.formats.zeek_tsv import ZeekTSVFormat
    from zeek_proxy.pipeline import rule_prefilter

    text = write_tsv(tmp_path, "http", [
        [T0, "C1", "10.1.1.1", 1, "8.8.8.8", 8888, 1, "CONNECT", "-", "a.example:443", "-", 200, "-", "-"],
        [T0, "C2", "10.1.1.1", 2, "8.8.8.8", 80, 1, "GET", "b.example", "/", "-", 200, "-", "-"],
    ]).read_bytes().splitlines(keepends=True)
    format = ZeekTSVFormat("http.log", logs=EVIDENCE_LOGS)
    for line in text[:8]:
        format.parse(0, line, True)
    lines = pa.array(text[8:10], pa.large_binary())
    prefilter = rule_prefilter(replace(build_settings(), evidence=True))
    copy = pickle.loads(pickle.dumps(format))
    assert copy.select(lines, [], prefilter).parse == format.select(lines, [], prefilter).parse == [0]


def _http_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The http logs scans read, once for each time they are read."""
    from zeek_proxy import pipeline

    read: list[str] = []
    reader = pipeline.Reader

    def noted(format, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(format.path).name == "http.log":
            read.append(format.path)
        return reader(format, *args, **kwargs)

    monkeypatch.setattr(pipeline, "Reader", noted)
    return read


@pytest.mark.parametrize("write", [write_tsv, write_json], ids=["tsv", "json"])
def test_http_logs_are_read_once_unless_a_proxy_request_s_connection_has_more(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write) -> None:
    """The sensor folder's CONNECTs have no other http record: http.log is read once,
    for the alerts' uids and for the proxy requests at once. A GET inside the CONNECT
    tunnel on 8888 (same uid, a line the first read did not parse) makes it read again
    for that connection, and the alert says so."""
    opened = _http_reads(monkeypatch)
    folder = sensor_folder(tmp_path / "once", write)
    _as_zeek_writes_it(folder / "http.log")
    once = alerts_of(folder, "--evidence")
    assert len(opened) == 1
    assert once["Cconnect"]["zeek_proxy"]["evidence"] == ["http-connect", "tls"]

    opened.clear()
    folder = sensor_folder(tmp_path / "twice", write)
    http = (folder / "http.log").read_text().splitlines(keepends=True)
    inside = [T0 + 1.5, "Cconnect", "10.1.1.2", 40001, "9.9.9.9", 8888, 2, "GET", "target.example", "/in",
              "curl/8", 200, "-", "-"]
    write(folder, "http", [[*row] for row in _rows(http, write)] + [inside])
    _as_zeek_writes_it(folder / "http.log")
    twice = alerts_of(folder, "--evidence")
    assert len(opened) == 2
    assert twice["Cconnect"]["zeek_proxy"]["evidence"] == ["http", "http-connect", "tls"]


def _as_zeek_writes_it(path: Path) -> None:
    """JSON lines without spaces, as Zeek writes them (`"uid":"…"`: where the uid
    prefix is read; a spaced line is looked at the slow way, and the read not trusted
    to have seen every uid)."""
    if path.read_text().startswith("{"):
        path.write_text("".join(json.dumps(json.loads(line), separators=(",", ":")) + "\n"
                                for line in path.read_text().splitlines()))


def _rows(lines: list[str], write) -> list[list[object]]:  # type: ignore[no-untyped-def]
    """The rows of a log `write` wrote, back as cells."""
    fields = FIELDS["http"].split()
    if write is write_json:
        return [[json.loads(line).get(field, "-") for field in fields] for line in lines]
    return [line.rstrip("\n").split("\t") for line in lines if not line.startswith("#")]


def test_line_keys_count_the_lines_holding_each_key_prefix() -> None:
    import numpy as np

    from zeek_proxy.reading import prefilter

    seen = prefilter.LineKeys()
    _, first = prefilter.keyed_lines(_tsv_lines(["CAAAAAAA1", "CAAAAAAA2", "Cb", "Cb"]), _TSV_UID, frozenset(),
                                          seen=True)
    seen.add(first)
    seen.add(np.zeros(0, dtype=np.uint64))
    assert seen.lines_with(frozenset({"CAAAAAAA9", "Cb", "Cc"})) == {"CAAAAAAA9": 2, "Cb": 2, "Cc": 0}
    seen.add(None)  # a block whose keys could not all be told
    assert not seen.complete and seen.lines_with(frozenset({"Cb"})) is None
    seen.add(first)
    assert seen.lines_with(frozenset({"Cb"})) is None


def _tsv_lines(uids: list[str]):  # type: ignore[no-untyped-def]
    from zeek_proxy.reading.blocks import Block, lines_of

    data = "".join(f"{T0}.000001\t{uid}\t10.0.0.1\n" for uid in uids).encode()
    return lines_of(Block(bytearray(data), len(data), 0))


def _tsv_uid():  # type: ignore[no-untyped-def]
    from zeek_proxy.reading.prefilter import KeyCell

    return KeyCell(r"^(?:[^\t\n]*\t){1}(?P<key>[^\t\r\n]*)", "\t", b"\t\r\n")


_TSV_UID = _tsv_uid()


@pytest.mark.parametrize("first", ["http", "ssl"])
@pytest.mark.parametrize("write", [write_tsv, write_json], ids=["tsv", "json"])
def test_a_file_whose_first_log_is_http_or_ssl_may_hold_others(tmp_path: Path, write, first: str) -> None:
    """http and ssl logs are read after the scan, judged by their first log; a file that
    holds other logs after it (concatenated, or one JSON stream of every log) gives the
    alerts of the same logs in files of their own."""
    folder = sensor_folder(tmp_path / "apart", write)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    logs = [first] + [log for log in ("http", "conn", "socks", "tunnel", "ssl") if log != first]
    (mixed / f"{first}.log").write_text("".join((folder / f"{log}.log").read_text() for log in logs))

    def said(alerts: dict[str, dict]) -> dict[str, tuple]:
        return {key: (a["rule"]["name"], tuple(a.get("zeek_proxy", {}).get("evidence") or ()),
                      a["destination"].get("domain")) for key, a in alerts.items()}

    expected = said(alerts_of(folder, "--evidence"))
    assert {"Cport", "Cconnect", "Csocks", "Cabs"} <= set(expected)
    assert said(alerts_of(mixed, "--evidence")) == expected


def test_inputs_and_errors_are_listed_once(tmp_path: Path) -> None:
    """Each read after the scan passes over the files the scan counted (empty, not a
    log, missing): they are listed once."""
    folder = sensor_folder(tmp_path / "logs")
    (folder / "empty_conn.log").write_text("")
    (folder / "junk_conn.log").write_text("not a log\n")
    result = scan([str(folder), str(tmp_path / "missing")], _EVIDENCE_SETTINGS)
    paths = [stats.path for stats in result.inputs]
    assert len(paths) == len(set(paths)) == 7
    assert len(result.errors) == len({str(error) for error in result.errors}) == 2


def test_without_the_prefilter_every_http_record_is_parsed(tmp_path: Path) -> None:
    folder = sensor_folder(tmp_path / "logs")
    with (folder / "http.log").open("a") as log:
        log.write("not\ta\trecord\n")
    fast = scan([str(folder)], _EVIDENCE_SETTINGS)
    full = scan([str(folder)], _EVIDENCE_SETTINGS, prefilter=False)
    http = {Path(s.path).name: s for s in full.inputs}["http.log"]
    assert (http.malformed, http.filtered) == (1, 0)
    assert sorted(full.alerts["event.id"]) == sorted(fast.alerts["event.id"])


_EVIDENCE_SETTINGS = dataclasses.replace(build_settings(), evidence=True)


@pytest.mark.parametrize("write", [write_tsv, write_json], ids=["tsv", "json"])
def test_proxy_protocols_alert_with_no_proxy_port(tmp_path: Path, write) -> None:
    """`ports = []`: only the protocol detection; the reads after the scan still find
    every proxy request (a look-up of no uid, and the rule's lines)."""
    folder = sensor_folder(tmp_path / "logs", write)
    settings = dataclasses.replace(_EVIDENCE_SETTINGS, ports=())
    fast = scan([str(folder)], settings)
    full = scan([str(folder)], settings, prefilter=False)
    assert sorted(fast.alerts["zeek.session_id"].dropna()) == sorted(full.alerts["zeek.session_id"].dropna()) \
        == ["Cabs", "Cconnect", "Csocks"]
