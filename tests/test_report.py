"""`zeek-proxy report` and `scan --report`: one self-contained HTML page of ECS alerts.

The counts on the page are checked against counts made here from the documents
themselves; the page references nothing on the network; 10,000 alerts stay under 5 MB
and 100,000 build in seconds with bounded tables; and a real browser (Debian's
chromium, skipped when absent) runs the page's scripts with no error, draws the charts,
fetches nothing, and shows the same counts.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from conftest import FIXTURES, generate
from zeek_proxy.cli import cli
from zeek_proxy.report import build_report, read_alerts
from zeek_proxy.report.data import MAX_ALERT_ROWS, MAX_GROUPS

PORT_RULE, PROTOCOL_RULE = "Proxy Port Activity to the Internet", "Proxy Protocol to the Internet"
FIVE_MB = 5_000_000


def run(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- inputs ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_alerts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`zeek-proxy scan fixtures/`, as a user would feed it to `report`."""
    path = tmp_path_factory.mktemp("fixtures") / "alerts.ndjson"
    result = run("scan", "-o", str(path), str(FIXTURES))
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def sensor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated sensor folder with socks, http, ssl and tunnel logs (--evidence), and
    an allowlist that silences some of its hits."""
    folder = tmp_path_factory.mktemp("sensor")
    generate.write_evidence_folder(folder / "logs")
    (folder / "site.toml").write_text(
        '[[allow]]\nname = "vendor-proxy"\ndestination = ["128.0.0.0/8"]\n\n'
        '[[allow]]\nname = "lab"\ndestination = ["135.0.0.0/8"]\n\n'
        '[[allow]]\nname = "never-hit"\ndestination = ["6.6.6.0/24"]\n')
    return folder


@pytest.fixture(scope="module")
def sensor_report(sensor: Path) -> tuple[list[dict], str, str]:
    """scan --evidence --show-suppressed --suppress-for 1h --report: the alerts written,
    the page, and the --stats text."""
    alerts, page = sensor / "alerts.ndjson", sensor / "report.html"
    result = run("scan", "--evidence", "--show-suppressed", "--suppress-for", "1h", "--stats",
                 "-c", str(sensor / "site.toml"), "-o", str(alerts), "--report", str(page),
                 str(sensor / "logs"))
    assert result.exit_code == 0, result.output
    return ndjson(alerts), page.read_text(), result.stderr


def synthetic_alerts(count: int, seed: int = 3) -> list[dict]:
    """`count` ECS documents shaped as scan writes them (a real alert is the template),
    addresses drawn as scripts/generate.py draws them: a few busy sources among many,
    both detections, evidence, names, suppression windows and allowlisted hits."""
    template = orjson.dumps(ndjson_first_alert())
    rng = random.Random(seed)
    sources = [generate._internal(rng) for _ in range(max(10, count // 20))]
    destinations = [generate._public(rng) for _ in range(max(10, count // 5))]
    kinds = ("socks", "http-connect", "http-proxy-request", "tls", "http")
    documents = []
    ts = generate.BASE_TS
    for n in range(count):
        ts += rng.random() * 2.0
        document = orjson.loads(template)
        document["@timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{n % 1_000_000:06d}Z"
        source = sources[min(int(rng.paretovariate(1.2)) - 1, len(sources) - 1)]
        destination = rng.choice(destinations)
        protocol = rng.random() < 0.2
        document["rule"]["name"] = PROTOCOL_RULE if protocol else PORT_RULE
        document["source"].update(ip=source, port=rng.randrange(1024, 65536))
        document["destination"].update(ip=destination, port=rng.choice((9050, 443, 8118)) if protocol
                                       else rng.choice((1080, 3128, 8080)))
        document["event"]["id"] = f"{n:08d}-0000-5000-8000-000000000000"
        document["log"]["file"]["path"] = f"/nsm/zeek/logs/2026-11-27/conn.{n % 24:02d}:00:00.log.gz"
        extra = document.setdefault("zeek_proxy", {})
        extra["line"] = n + 1
        if rng.random() < 0.5:
            extra["evidence"] = sorted(rng.sample(kinds, rng.randrange(1, 3)))
            document["destination"]["domain"] = f"host{rng.randrange(500)}.example.com"
        if rng.random() < 0.05:
            extra["suppressed_by"] = "vendor-proxy"
            document["event"]["kind"] = "event"
        elif rng.random() < 0.3:
            extra["suppress_for"] = 3600.0
            document["kibana"] = {"alert": {"suppression": {
                "terms": [{"field": "source.ip", "value": source}, {"field": "destination.ip", "value": destination}],
                "start": document["@timestamp"], "end": document["@timestamp"], "docs_count": rng.randrange(0, 9)}}}
        documents.append(document)
    return documents


_FIRST: list[dict] = []


def ndjson_first_alert() -> dict:
    if not _FIRST:
        result = run("scan", str(FIXTURES / "conn.log"))
        _FIRST.append(json.loads(result.stdout.splitlines()[0]))
    return _FIRST[0]


def write_ndjson(path: Path, documents: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in documents))
    return path


# -- what the page says ----------------------------------------------------------------------

def number(html: str, attribute: str) -> int:
    found = re.search(attribute + r'">([\d,]+)<', html)
    assert found, f"no {attribute} in the page"
    return int(found.group(1).replace(",", ""))


def first_top_row(html: str, table: str) -> tuple[str, int]:
    found = re.search(rf'id="top-{table}">.*?<tr><td>([^<]*)</td><td class="n">([\d,]+)</td>', html, re.S)
    assert found, f"no top-{table} table"
    return found.group(1), int(found.group(2).replace(",", ""))


def embedded(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="zp-data">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


def expected(documents: list[dict]) -> dict:
    alerts = [d for d in documents if not d.get("zeek_proxy", {}).get("suppressed_by")]
    sources = Counter(d["source"]["ip"] for d in alerts)
    return {
        "total": len(alerts),
        "allowed": len(documents) - len(alerts),
        "rules": Counter(d["rule"]["name"] for d in alerts),
        "top_source": sources.most_common(1)[0] if sources else None,
        "allow": Counter(d["zeek_proxy"]["suppressed_by"] for d in documents
                         if d.get("zeek_proxy", {}).get("suppressed_by")),
        "inputs": Counter(d["log"]["file"]["path"] for d in alerts),
    }


def assert_counts(html: str, documents: list[dict]) -> None:
    want = expected(documents)
    assert number(html, 'id="total-alerts') == want["total"]
    for rule in (PORT_RULE, PROTOCOL_RULE):  # both detections are always counted
        assert number(html, f'data-detection="{rule}') == want["rules"][rule]
    if want["allowed"]:
        assert number(html, 'id="allowlisted') == want["allowed"]
    source, count = first_top_row(html, "sources")
    assert count == want["top_source"][1]
    assert Counter(d["source"]["ip"] for d in documents
                   if not d.get("zeek_proxy", {}).get("suppressed_by"))[source] == count


def assert_offline(html: str) -> None:
    """Nothing in the page's markup or styles loads from the network."""
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)  # scripts checked below
    for pattern in (r'src\s*=\s*["\']?\s*(https?:)?//', r'<link[^>]+href\s*=\s*["\']?\s*(https?:)?//',
                    r"@import\s+url\(\s*[\"']?(https?:)?//", r"url\(\s*[\"']?https?://"):
        assert not re.search(pattern, markup, re.I), pattern
    for needle in ('src="http', "src='http", '<link href="http', "@import url(http"):
        assert needle not in html.replace('t.src="https://cdn.jsdelivr.net/npm/mathjax', ""), needle
    assert "<script src" not in html and "<link " not in html


# -- the tests -------------------------------------------------------------------------------

def test_report_of_the_fixtures(fixture_alerts: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = run("report", str(fixture_alerts), "-o", str(page))
    assert result.exit_code == 0, result.output
    html = page.read_text()
    documents = ndjson(fixture_alerts)
    assert_counts(html, documents)
    assert number(html, 'id="total-alerts') == 18
    assert_offline(html)
    for path, count in expected(documents)["inputs"].items():
        assert re.search(rf'<td class="path">{re.escape(path)}</td><td class="n">{count}</td>', html)
    data = embedded(html)
    assert len(data["alerts"]["rows"]) == 18
    assert sum(row[[c["key"] for c in data["groups"]["columns"]].index("alerts")]
               for row in data["groups"]["rows"]) == 18


def test_scan_report_names_profile_allow_entries_and_suppression(sensor_report) -> None:
    documents, html, stats = sensor_report
    assert_counts(html, documents)
    want = expected(documents)
    assert want["rules"][PROTOCOL_RULE] and want["allowed"]
    assert '<td id="profile">elastic-v3</td>' in html
    allow = dict(re.findall(r'<tr><td>([\w-]+)</td><td class="n">([\d,]+)</td></tr>',
                            html.split('id="allow"')[1].split("</table>")[0]))
    assert {k: int(v) for k, v in allow.items()} == {**want["allow"], "never-hit": 0}
    told = dict(re.findall(r"(?m)^([\w-]+) +(\d+)$", stats.split("allow entry")[1]))
    assert {k: int(v) for k, v in told.items()} == {k: int(v) for k, v in allow.items()}  # as --stats says
    windows = [d for d in documents if "kibana" in d]
    folded = sum(d["kibana"]["alert"]["suppression"]["docs_count"] for d in windows)
    assert f"{len(windows)} alert(s) stand for suppression windows that folded\n          {folded} further" in html
    assert "grouped by source.ip, destination.ip, destination.port" in html
    assert re.search(r"Alerts per [\w ]+, by evidence", html)  # zeek_proxy.evidence splits a chart
    assert "destination.domain" in html
    assert_offline(html)


def test_report_from_stdin_and_gzip_agree(sensor_report, tmp_path: Path) -> None:
    documents, _, _ = sensor_report
    plain = write_ndjson(tmp_path / "a.ndjson", documents)
    zipped = tmp_path / "a.ndjson.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    from_stdin = run("report", "-o", "-", stdin=plain.read_bytes())
    assert from_stdin.exit_code == 0
    assert_counts(from_stdin.stdout, documents)
    assert run("report", str(zipped), "-o", str(tmp_path / "z.html")).exit_code == 0
    assert_counts((tmp_path / "z.html").read_text(), documents)


def test_new_terms_are_named(tmp_path: Path) -> None:
    alerts, page = tmp_path / "a.ndjson", tmp_path / "r.html"
    result = run("scan", "--new-terms", "source.ip", "--state", str(tmp_path / "state"), "-o", str(alerts),
                 "--report", str(page), str(FIXTURES))
    assert result.exit_code == 0, result.output
    html = page.read_text()
    novel = [d for d in ndjson(alerts) if d.get("kibana", {}).get("alert", {}).get("new_terms")]
    assert novel and f'<td id="new-terms">{len(novel)} alert(s) raised for a new combination' in html
    assert "new combinations of source.ip over 7d" in html
    again = run("report", str(alerts), "-o", str(tmp_path / "again.html"))  # from the documents alone
    assert again.exit_code == 0 and 'id="new-terms"' in (tmp_path / "again.html").read_text()


def test_flat_dotted_documents_and_other_events(tmp_path: Path) -> None:
    """Documents with dotted keys (as some shippers flatten them) read the same; events
    that are no alert (normalize output) are counted and left out."""
    alert = ndjson_first_alert()

    def flat(node: dict, prefix: str = "") -> dict:
        out: dict = {}
        for key, item in node.items():
            name = f"{prefix}{key}"
            out.update(flat(item, name + ".") if isinstance(item, dict) else {name: item})
        return out

    event = copy.deepcopy(alert)
    event["event"]["kind"] = "event"
    del event["rule"]
    path = write_ndjson(tmp_path / "mixed.ndjson", [flat(alert), event, {"@timestamp": "x"}])
    html = build_report(read_alerts([str(path)]))
    assert number(html, 'id="total-alerts') == 1
    assert "2 document(s) are no alert" in html


def test_values_from_the_logs_are_text_never_markup(tmp_path: Path) -> None:
    """Names and paths come from traffic and logs anyone can shape: they are escaped in
    the page and cannot end the embedded data's <script>."""
    attack = '</script><img src=x onerror="alert(1)"><!--'
    alert = ndjson_first_alert()
    hostile = json.loads(json.dumps(alert))
    hostile["destination"]["domain"] = attack
    hostile["log"]["file"]["path"] = attack
    hostile.setdefault("zeek_proxy", {})["evidence"] = [attack]
    html = build_report([alert, hostile], title=attack)
    assert html.count("</script>") == len(re.findall(r"<script\b", html))  # none closed early
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)
    assert "<img" not in markup and "<!--" not in markup
    assert markup.count("&lt;/script&gt;&lt;img src=x") >= 4  # title, heading, inputs, top destinations
    rows = embedded(html)["alerts"]["rows"]
    assert any(attack in row for row in rows)  # the data keeps the value, as text for the tables


def test_empty_input_is_a_page_without_charts(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n")
    result = run("report", str(empty), "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 0
    html = (tmp_path / "r.html").read_text()
    assert number(html, 'id="total-alerts') == 0 and "no alerts" in html
    assert number(html, f'data-detection="{PORT_RULE}') == 0


@pytest.mark.parametrize("content, line, what", [
    (b'{"rule": {"name": "x"}}\nnot json at all\n', 2, "not JSON"),
    (b'\n[1, 2]\n', 2, "not a JSON object"),
    (b'alert\ttsv\n', 1, "not JSON"),
])
def test_a_line_that_is_not_json_is_one_line_naming_file_and_line(tmp_path: Path, content: bytes, line: int,
                                                                   what: str) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(content)
    result = run("report", str(bad), "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: {bad}:{line}: {what}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_missing_and_truncated_inputs_exit_3(tmp_path: Path, fixture_alerts: Path) -> None:
    missing = run("report", str(tmp_path / "nope.ndjson"), "-o", str(tmp_path / "r.html"))
    assert missing.exit_code == 3 and "nope.ndjson: cannot read" in missing.stderr
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(gzip.compress(fixture_alerts.read_bytes())[:-40])
    truncated = run("report", str(cut), "-o", str(tmp_path / "r.html"))
    assert truncated.exit_code == 3 and "truncated" in truncated.stderr
    same = run("report", str(fixture_alerts), "-o", str(fixture_alerts))
    assert same.exit_code == 2 and "refusing to overwrite" in same.stderr


def test_ten_thousand_alerts_stay_under_five_megabytes(tmp_path: Path) -> None:
    documents = synthetic_alerts(10_000)
    path = write_ndjson(tmp_path / "10k.ndjson", documents)
    html = build_report(read_alerts([str(path)]))
    assert len(html.encode()) < FIVE_MB
    assert_counts(html, documents)
    assert_offline(html)
    data = embedded(html)
    assert len(data["alerts"]["rows"]) == min(MAX_ALERT_ROWS, 10_000)
    assert len(data["groups"]["rows"]) <= MAX_GROUPS


def test_a_hundred_thousand_alerts_build_in_seconds_and_stay_bounded(tmp_path: Path) -> None:
    documents = synthetic_alerts(100_000, seed=4)
    path = write_ndjson(tmp_path / "100k.ndjson", documents)
    del documents[10:]
    start = time.monotonic()
    html = build_report(read_alerts([str(path)]))
    took = time.monotonic() - start
    assert took < 60, f"{took:.1f} s"
    assert len(html.encode()) < FIVE_MB
    data = embedded(html)
    assert len(data["alerts"]["rows"]) == MAX_ALERT_ROWS and data["alerts"]["total"] == 100_000
    assert len(data["groups"]["rows"]) == MAX_GROUPS < data["groups"]["total"]
    assert f"The page holds {MAX_ALERT_ROWS:,} of 100,000 documents" in html
    # every listed group leads to some of its alerts
    keys = lambda table, row: tuple(row[[c["key"] for c in table["columns"]].index(k)]  # noqa: E731
                                    for k in ("src", "dst", "port"))
    shown = {keys(data["alerts"], row) for row in data["alerts"]["rows"]}
    assert all(keys(data["groups"], row) in shown for row in data["groups"]["rows"])


# -- optional libraries ----------------------------------------------------------------------

def _without(modules: tuple[str, ...], *argv: str) -> subprocess.CompletedProcess:
    code = ("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules) +
            f"from zeek_proxy.cli import main\nsys.argv = ['zeek-proxy', *{list(argv)!r}]\nmain()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize("missing", [("bokeh",), ("jinja2",), ("bokeh", "jinja2")])
def test_without_the_report_libraries_is_a_one_line_error(missing, fixture_alerts: Path, tmp_path: Path) -> None:
    for argv in (("report", str(fixture_alerts), "-o", str(tmp_path / "r.html")),
                 ("scan", "-o", str(tmp_path / "a.ndjson"), "--report", str(tmp_path / "r.html"), str(FIXTURES))):
        result = _without(missing, *argv)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (f"Error: the HTML report needs {' and '.join(missing)}: "
                                 "pip install 'zeek-proxy[report]'\n")
        assert not (tmp_path / "r.html").exists() and not (tmp_path / "a.ndjson").exists()


def test_the_command_line_imports_no_report_library_unless_asked(tmp_path: Path) -> None:
    libraries = ("bokeh", "jinja2", "markupsafe")
    code = ("import sys; from zeek_proxy.cli import main; sys.argv=['zeek-proxy','scan','-o','/dev/null',"
            f"{str(FIXTURES)!r}]\ntry: main()\nexcept SystemExit: pass\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {libraries!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    asked = code.replace("'-o','/dev/null',", f"'-o','/dev/null','--report',{str(tmp_path / 'r.html')!r},")
    out = subprocess.run([sys.executable, "-c", asked], capture_output=True, text=True, check=True)
    assert "bokeh" in out.stdout and (tmp_path / "r.html").exists()


def test_the_template_is_package_data() -> None:
    from importlib import resources

    folder = resources.files("zeek_proxy.report")
    for name in ("template.html.j2", "tables.js", "report.css"):
        assert folder.joinpath(name).is_file()
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"zeek_proxy.report" = ["*.j2", "*.js", "*.css"]' in pyproject


# -- in a real browser -----------------------------------------------------------------------

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)
#: Records every error the page meets (script errors, console.error, a resource that
#: fails to load: here any fetch fails) and, once the charts had time to draw, how many
#: Bokeh views exist and which resources the page asked for; put at the top of a copy.
PROBE = """<script>
(function () {
  var errors = [], root = document.documentElement;
  function note(text) { errors.push(String(text)); root.setAttribute("data-errors", JSON.stringify(errors)); }
  window.addEventListener("error", function (e) {
    note(e.message || ("failed to load " + (e.target && (e.target.src || e.target.href))));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { note("unhandled rejection: " + e.reason); });
  var error = console.error;
  console.error = function () { note("console.error: " + Array.prototype.join.call(arguments, " ")); error.apply(console, arguments); };
  setTimeout(function () {
    root.setAttribute("data-bokeh-views", String(window.Bokeh && Bokeh.index ? Object.keys(Bokeh.index).length : -1));
    root.setAttribute("data-resources", JSON.stringify(performance.getEntriesByType("resource").map(function (e) { return e.name; })));
  }, 4000);
})();
</script>"""
#: No request leaves the machine: names resolve to nothing and any fetch goes to a closed
#: local port; the browser's own background traffic is turned off where it can be.
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-default-apps", "--no-first-run", "--no-pings", "--disable-domain-reliability"]


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           f"--user-data-dir={profile}", *OFFLINE, "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=15000", *args],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium)")
def test_chromium_renders_the_report_with_no_error(sensor_report, tmp_path: Path) -> None:
    documents, html, _ = sensor_report
    page = tmp_path / "report.html"
    page.write_text(html.replace("<head>", "<head>" + PROBE, 1))
    anchor = next(row for row in embedded(html)["groups"]["rows"])
    dom = chromium("--dump-dom", f"{page.as_uri()}#group={anchor[0]}|{anchor[1]}|{anchor[2]}", profile=tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr and "ERROR:CONSOLE" not in dom.stderr
    assert 'data-errors=' not in dom.stdout, re.search(r'data-errors="[^"]*"', dom.stdout).group(0)
    assert 'data-resources="[]"' in dom.stdout  # nothing fetched
    views = int(re.search(r'data-bokeh-views="(-?\d+)"', dom.stdout).group(1))
    assert views >= 5  # the charts were drawn
    assert 'data-tables="ready"' in dom.stdout
    # the scripts filled the tables, and the group anchor filtered the alert table
    want = expected(documents)
    assert number(dom.stdout, 'id="total-alerts') == want["total"]
    assert re.search(r'<span class="count muted">1–50 of [\d,]+</span>', dom.stdout)
    assert f'<span class="chip">group {anchor[0]} → {anchor[1]} → {anchor[2]}</span>' in dom.stdout
    assert dom.stdout.count("<td>" + str(anchor[0]) + "</td>") >= 2  # in both tables

    shot = tmp_path / "report.png"
    picture = chromium(f"--screenshot={shot}", "--window-size=1400,2000", page.as_uri(), profile=tmp_path / "p2")
    assert picture.returncode == 0 and shot.stat().st_size > 20_000, picture.stderr[-2000:]
    assert "Uncaught" not in picture.stderr
    from PIL import Image

    colours = {colour: count for count, colour in Image.open(shot).convert("RGB").getcolors(1 << 24)}
    assert colours.get((0x1F, 0x77, 0xB4), 0) > 2_000  # the port detection's bars are drawn
    assert colours.get((0xD6, 0x27, 0x28), 0) > 500  # and the protocol detection's


def test_scan_report_flags_expired_allow_entries(tmp_path: Path) -> None:
    """An entry past its date still judges older connections; the page says it expired."""
    from click.testing import CliRunner

    from zeek_proxy.cli import cli

    config = tmp_path / "site.toml"
    config.write_text('[[allow]]\nname = "old-vendor"\ndestination = ["34.0.0.0/8"]\nexpires = 2026-01-01\n\n'
                      '[[allow]]\nname = "current"\ndestination = ["35.0.0.0/8"]\n')
    page = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["scan", "-c", str(config), "-o", str(tmp_path / "a.ndjson"),
                                      "--report", str(page), str(FIXTURES / "conn.log")])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "old-vendor (expired 2026-01-01)" in html and "<td>current</td>" in html
