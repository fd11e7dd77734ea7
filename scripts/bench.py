#!/usr/bin/env python3
"""Benchmark zeek-proxy against DuckDB, zat, mawk and the grep/zcat floors.

Every tool reads the same generated files (scripts/generate.py, seed 7) and applies
the same rule, Elastic's "Proxy Port Activity to the Internet" v3, so the numbers
answer one question: what does zeek-proxy's exactness (address parsing, ECS
normalisation, one alert per connection) cost next to a fast SQL engine and a
one-line awk filter? Each run is a separate process measured by GNU time (`%e %M`:
wall seconds, peak RSS), tools alternate inside every repetition so that drift in
the machine hits all of them alike, and the input is read into the page cache just
before every run.

    python scripts/bench.py                                  # 4M rows, 3 repetitions
    python scripts/bench.py --rows 200000 --repeat 1         # a quick look
    python scripts/bench.py --tools zeek-proxy,duckdb --formats tsv --markdown
    python scripts/bench.py --scaling                        # peak RSS, 1M vs 4M rows
    python scripts/bench.py --mix                            # the second data mix (eve: flow, dns, http, alert)
    python scripts/bench.py --evidence                       # --evidence vs conn only on a sensor folder
    python scripts/bench.py --archives                       # a day of 24 hourly gzip archives vs zcat

Files are cached in WORKDIR/ROWS/ (conn.log, conn.json.log, eve.json, conn.log.gz
compressed with `gzip -6`, gzip's default level, and expected.json holding the
generator's own count of connections the rule must alert on) and reused when present.
The script needs only the standard library; duckdb, zat and pandas are imported by
the measured subprocesses alone. New tools (e.g. a Dask back end of zeek-proxy) are
one more entry in TOOLS.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import importlib.util
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "scripts" / "generate.py"
SEED = 7  # generate.py's default, so files made by its CLI can be reused as-is
GNU_TIME = "/usr/bin/time"
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "zeek-proxy-bench"

FILES = {"tsv": "conn.log", "json": "conn.json.log", "eve": "eve.json", "gzip": "conn.log.gz"}
FORMATS = tuple(FILES)
#: The tool every other tool on a format is compared with ("x faster" = ref_s / tool_s).
REFERENCE = {"tsv": "duckdb", "json": "duckdb", "eve": "duckdb", "gzip": "zcat"}
PROXY_PORTS = (1080, 3128, 8080)
#: Rows above which zat (pandas via zat's reader, ~10x slower) is left out unless named.
ZAT_MAX_ROWS = 2_000_000
#: The expanded form Suricata writes for ::1; the rule excludes it as an address.
LOOPBACK6 = ("::1", "0000:0000:0000:0000:0000:0000:0000:0001")


# --------------------------------------------------------------------------- rule texts
# The same v3 rule in three dialects. Each stays with string tests because duckdb's inet
# extension cannot be downloaded here; the tests are exact for dotted-quad IPv4 (which is
# all the rule's CIDR lists can contain) and never match an IPv6 address.

def sql_internal(col: str) -> str:
    """SQL test for 10/8, 172.16/12 or 192.168/16; the 172 octet is compared as a number
    because a prefix test would let 172.160.x.x or 172.3.x.x through."""
    return (f"({col} LIKE '10.%' OR {col} LIKE '192.168.%' OR ({col} LIKE '172.%' AND "
            f"TRY_CAST(split_part({col}, '.', 2) AS INTEGER) BETWEEN 16 AND 31))")


def sql_rule(src: str, dst: str, port: str, proto: str) -> str:
    """The v3 rule as a SQL predicate over already-selected columns."""
    loopback6 = ", ".join(f"'{a}'" for a in LOOPBACK6)
    return (f"{port} IN {PROXY_PORTS} AND lower({proto}) = 'tcp' AND {sql_internal(src)} "
            f"AND NOT ({sql_internal(dst)} OR {dst} LIKE '127.%' OR lower({dst}) IN ({loopback6}))")


def sql_literal(text: str) -> str:
    """A SQL string literal, so any file name survives being pasted into a query."""
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted SQL identifier: Zeek's column names contain dots (id.orig_h)."""
    return '"' + name.replace('"', '""') + '"'


AWK_INTERNAL = r"/^(10|192\.168|172\.(1[6-9]|2[0-9]|3[01]))\./"
AWK_EXCLUDED = r"/^(10|127|192\.168|172\.(1[6-9]|2[0-9]|3[01]))\./"
PANDAS_INTERNAL = r"^(?:10|192\.168|172\.(?:1[6-9]|2[0-9]|3[01]))\."
PANDAS_EXCLUDED = r"^(?:10|127|192\.168|172\.(?:1[6-9]|2[0-9]|3[01]))\."


# ------------------------------------------------------------------------ subprocesses
# Code run by `python -c`, so this script itself imports neither duckdb nor zat.

DUCKDB_CODE = """\
import sys, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
if int(sys.argv[2]):
    con.execute(f"SET threads = {int(sys.argv[2])}")
print(*con.execute(sys.argv[1]).fetchone())
"""

ZAT_CODE = f"""\
import sys, warnings
warnings.filterwarnings("ignore")
from zat.log_to_dataframe import LogToDataFrame
df = LogToDataFrame().create_dataframe(sys.argv[1])
src, dst = df["id.orig_h"].astype(str), df["id.resp_h"].astype(str)
hit = (df["id.resp_p"].isin({list(PROXY_PORTS)}) & (df["proto"].astype(str).str.lower() == "tcp")
       & src.str.match(r"{PANDAS_INTERNAL}")
       & ~(dst.str.match(r"{PANDAS_EXCLUDED}") | dst.str.lower().isin({list(LOOPBACK6)})))
hit = hit.fillna(False).astype(bool)
print(int(hit.sum()), df.loc[hit.values, "uid"].nunique())
"""


# ------------------------------------------------------------------------- input files

def load_generator() -> ModuleType:
    """scripts/generate.py as a module: the benchmark must read exactly what the tests
    read, so it uses the project's generator rather than a copy of it."""
    spec = importlib.util.spec_from_file_location("generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def _write_format(fmt: str, rows: int, directory: str, mix: bool = False) -> int:
    """Write one format (in a worker process) and return the generator's count of
    connections the rule must alert on, counted on the way instead of in a second pass.

    The file is written under a .part name and renamed when complete, so an interrupted
    run never leaves a truncated file that a later run would trust and reuse."""
    gen = load_generator()
    writer = {"tsv": gen.write_zeek_tsv, "json": gen.write_zeek_json,
              "eve": gen.write_eve_mix if mix else gen.write_eve}[fmt]
    target = Path(directory) / FILES[fmt]
    part = target.with_name(target.name + ".part")
    expected = 0

    def counted():  # type: ignore[no-untyped-def]
        nonlocal expected
        for conn in gen.connections(rows, SEED, mix=mix):
            expected += conn.expected
            yield conn

    with open(part, "w", buffering=1 << 20) as out:
        writer(counted(), out)
    os.replace(part, target)
    return expected


def _count_expected(rows: int, mix: bool = False) -> int:
    """The expected alert count when every file was already there but expected.json was
    not (files written by generate.py's own CLI): one pass of the generator, no writing."""
    return sum(c.expected for c in load_generator().connections(rows, SEED, mix=mix))


def _gzip(directory: Path) -> None:
    """conn.log.gz from conn.log with `gzip -6` (gzip's default, what zeekctl archives
    are usually written with); via .part and rename, like the other files."""
    target = directory / FILES["gzip"]
    part = target.with_name(target.name + ".part")
    with open(part, "wb") as out:
        subprocess.run(["gzip", "-6", "-c", str(directory / FILES["tsv"])], stdout=out, check=True)
    os.replace(part, target)


def prepare_inputs(directory: Path, rows: int, formats: list[str], mix: bool = False) -> int | None:
    """Make sure the files for `formats` exist in `directory`; return the expected
    alert count. Missing formats are generated in parallel (one process per format, as
    many at once as there are cores), since generation dominates a first run."""
    directory.mkdir(parents=True, exist_ok=True)
    needed = {"tsv" if f == "gzip" else f for f in formats}
    missing = sorted(f for f in needed if not (directory / FILES[f]).exists())
    expected_file = directory / "expected.json"
    expected: int | None = None
    if expected_file.exists():
        expected = json.loads(expected_file.read_text())["expected_alerts"]
    if missing:
        log(f"generating {rows} rows of {', '.join(missing)} in {directory} (one time; cached)")
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs: list[Future[int]] = [pool.submit(_write_format, f, rows, str(directory), mix) for f in missing]
        if expected is None and not jobs:
            jobs.append(pool.submit(_count_expected, rows, mix))
        counts = {job.result() for job in jobs}
    if len(counts) > 1:  # every format is made from the same seed: the counts must agree
        raise SystemExit(f"generator gave different expected counts per format: {counts}")
    if counts:
        expected = counts.pop()
        expected_file.write_text(json.dumps({"rows": rows, "seed": SEED, "expected_alerts": expected}) + "\n")
    if "gzip" in formats and not (directory / FILES["gzip"]).exists():
        log(f"compressing {directory / FILES['tsv']} with gzip -6")
        _gzip(directory)
    _dated_back(directory)
    return expected


def _dated_back(directory: Path) -> None:
    """Date the inputs an hour back. zeek-proxy reads a file changed in the last minute
    as a log still being written (into buffers, not mapped), so a run just after the
    files were generated would measure that way instead of an archive's: 224 against
    181 MB peak at 4M rows."""
    hour_ago = time.time() - 3600
    for path in directory.iterdir():
        if path.is_file() and path.stat().st_mtime > hour_ago:
            os.utime(path, (hour_ago, hour_ago))


def tsv_fields(path: Path) -> list[str]:
    """Column names from the #fields line, so the duckdb and mawk queries pick columns
    by name and stay right if the generator adds or reorders columns."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as lines:  # type: ignore[operator]
        for line in lines:
            if line.startswith("#fields\t"):
                return line.rstrip("\n").split("\t")[1:]
            if not line.startswith("#"):
                break
    raise SystemExit(f"{path}: no #fields line in the header")


def warm_page_cache(path: Path) -> None:
    """Read the file (or the files of a folder) once, like `cat FILE > /dev/null`, so
    that the tool run next does not pay for the disk; read in-process so it does not
    depend on /dev/null being the device it should be."""
    buffer = bytearray(1 << 20)
    for file in sorted(path.iterdir()) if path.is_dir() else [path]:
        with open(file, "rb", buffering=0) as f:
            while f.readinto(buffer):
                pass


# ----------------------------------------------------------------------------- tools

@dataclass
class Context:
    """What command builders need besides the file: executables and settings."""

    python: str
    zeek_proxy: str
    duckdb_threads: int


@dataclass
class Tool:
    """A tool and the formats it runs on; `command` builds its argv for one file."""

    name: str
    formats: tuple[str, ...]
    command: Callable[[str, Path, Context], list[str]]
    describe_hits: Callable[[str, "Sample"], str]


def zeek_proxy_command(fmt: str, path: Path, ctx: Context) -> list[str]:
    """`zeek-proxy scan` writing ECS NDJSON to stdout, which the harness drains and
    counts by line (one alert a line). Not `-o /dev/null`: -o writes a temporary file
    beside the target and renames it over the target, which as root replaces the
    /dev/null device with a regular file."""
    return [ctx.zeek_proxy, "scan", "-o", "-", str(path)]


def duckdb_command(fmt: str, path: Path, ctx: Context) -> list[str]:
    """duckdb's own readers over the file, only the rule's columns, printing the number
    of matching records and of distinct connections (uid, or flow_id for eve)."""
    file = sql_literal(str(path))
    if fmt in ("tsv", "gzip"):
        names = tsv_fields(path)
        columns = "{" + ", ".join(f"{sql_literal(n)}: 'VARCHAR'" for n in names) + "}"
        # auto_detect=false: the sniffer trips over Zeek's "#separator \x09" line even with
        # comment='#'; quote/escape off because Zeek TSV has no quoting.
        source = (f"read_csv({file}, delim='\\t', header=false, comment='#', quote='', escape='', "
                  f"auto_detect=false, compression={'gzip' if fmt == 'gzip' else 'none'!r}, "
                  f"columns={columns})")
        src, dst, proto, uid = (sql_ident(n) for n in ("id.orig_h", "id.resp_h", "proto", "uid"))
        port = f"TRY_CAST({sql_ident('id.resp_p')} AS INTEGER)"
        query = f"SELECT count(*), count(DISTINCT {uid}) FROM {source} WHERE {sql_rule(src, dst, port, proto)}"
    elif fmt == "json":
        source = (f"read_json({file}, format='newline_delimited', columns={{'uid': 'VARCHAR', "
                  "'id.orig_h': 'VARCHAR', 'id.resp_h': 'VARCHAR', 'id.resp_p': 'INTEGER', 'proto': 'VARCHAR'})")
        src, dst, port, proto, uid = (sql_ident(n) for n in ("id.orig_h", "id.resp_h", "id.resp_p", "proto", "uid"))
        query = f"SELECT count(*), count(DISTINCT {uid}) FROM {source} WHERE {sql_rule(src, dst, port, proto)}"
    elif fmt == "eve":
        # Suricata 7 logs some events (here the alert events) in the reply direction and
        # names the initiator in flow.src_ip/dest_ip/ports; zeek-proxy orients by those,
        # so this query does too, or it would count reversed flows the rule never sees.
        source = (f"read_json({file}, format='newline_delimited', columns={{'flow_id': 'UBIGINT', "
                  "'src_ip': 'VARCHAR', 'dest_ip': 'VARCHAR', 'dest_port': 'INTEGER', 'proto': 'VARCHAR', "
                  "'flow': 'STRUCT(src_ip VARCHAR, dest_ip VARCHAR, dest_port INTEGER)'})")
        turned = "flow.src_ip IS NOT NULL AND flow.dest_ip IS NOT NULL"
        oriented = (f"SELECT flow_id, proto, CASE WHEN {turned} THEN flow.src_ip ELSE src_ip END AS s, "
                    f"CASE WHEN {turned} THEN flow.dest_ip ELSE dest_ip END AS d, "
                    f"CASE WHEN {turned} THEN flow.dest_port ELSE dest_port END AS p FROM {source}")
        query = f"SELECT count(*), count(DISTINCT flow_id) FROM ({oriented}) WHERE {sql_rule('s', 'd', 'p', 'proto')}"
    else:
        raise ValueError(fmt)
    return [ctx.python, "-c", DUCKDB_CODE, query, str(ctx.duckdb_threads)]


def zat_command(fmt: str, path: Path, ctx: Context) -> list[str]:
    """zat's LogToDataFrame (pandas, Zeek types) and the rule as pandas column tests:
    the usual way Zeek logs get into Python today."""
    return [ctx.python, "-c", ZAT_CODE, str(path)]


def mawk_command(fmt: str, path: Path, ctx: Context) -> list[str]:
    """A mawk one-liner: roughly the fastest a single core can apply the rule as string
    tests. Header lines need no test of their own: they never pass the port test."""
    names = tsv_fields(path)
    col = {n: f"${names.index(n) + 1}" for n in ("id.orig_h", "id.resp_h", "id.resp_p", "proto")}
    src, dst, port, proto = col["id.orig_h"], col["id.resp_h"], col["id.resp_p"], col["proto"]
    ports = "||".join(f'{port}=="{p}"' for p in PROXY_PORTS)
    program = (f'({ports}) && {proto}=="tcp" && {src} ~ {AWK_INTERNAL} && '
               f'!({dst} ~ {AWK_EXCLUDED} || {dst}=="::1") {{n++}} END {{print n+0}}')
    return ["mawk", "-F\t", program, str(path)]


def grep_command(fmt: str, path: Path, ctx: Context) -> list[str]:
    """`grep -c` for a proxy port between tabs: the floor for touching every line, for
    reference only (it also counts source ports and byte counts that equal 8080).
    The tabs are real tab characters: GNU grep -E has no \\t escape."""
    return ["grep", "-c", "-E", "\t(" + "|".join(map(str, PROXY_PORTS)) + ")\t", str(path)]


def zcat_command(fmt: str, path: Path, ctx: Context) -> list[str]:
    """`zcat FILE` with the output discarded: the floor for any reader of a gzip file."""
    return ["zcat", str(path)]


def _numbers(sample: Sample) -> list[int]:
    """The integers a counting tool printed on its one line of output."""
    return [int(x) for x in sample.head.split()]


def hits_lines(fmt: str, sample: Sample) -> str:
    """zeek-proxy: one alert per output line."""
    return str(sample.lines)


def hits_records_distinct(fmt: str, sample: Sample) -> str:
    """duckdb/zat: matching records, and distinct connections when they differ."""
    records, distinct = _numbers(sample)
    if fmt == "eve":
        return f"{distinct} flows ({records} events)"
    return str(distinct) if records == distinct else f"{distinct} ({records} records)"


def hits_first_number(fmt: str, sample: Sample) -> str:
    """mawk prints its count."""
    return str(_numbers(sample)[0])


def hits_grep(fmt: str, sample: Sample) -> str:
    """grep's count is of lines holding a proxy port anywhere, not of rule hits."""
    return f"{_numbers(sample)[0]} lines (not the rule)"


def hits_none(fmt: str, sample: Sample) -> str:
    """zcat only decompresses; it has no count."""
    return "-"


#: Every tool, in the order the table lists them (a Dask back end would be one more line).
TOOLS: dict[str, Tool] = {t.name: t for t in (
    Tool("zeek-proxy", ("tsv", "json", "eve", "gzip"), zeek_proxy_command, hits_lines),
    Tool("duckdb", ("tsv", "json", "eve", "gzip"), duckdb_command, hits_records_distinct),
    Tool("zat", ("tsv",), zat_command, hits_records_distinct),
    Tool("mawk", ("tsv",), mawk_command, hits_first_number),
    Tool("grep", ("tsv",), grep_command, hits_grep),
    Tool("zcat", ("gzip",), zcat_command, hits_none),
)}


# ------------------------------------------------------------------------ measurement

@dataclass
class Sample:
    """One timed run: GNU time's wall seconds and peak RSS, and what stdout said."""

    seconds: float
    rss_kb: int
    returncode: int
    lines: int  # newlines on stdout: zeek-proxy's alert count
    head: str  # the start of stdout: the count the other tools print
    stderr: str


@dataclass
class Result:
    """All repetitions of one tool on one format."""

    fmt: str
    tool: str
    argv: list[str]
    path: Path  # the input: a file, or a folder of them
    samples: list[Sample] = field(default_factory=list)

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.returncode == 0]

    @property
    def median(self) -> float | None:
        return statistics.median(s.seconds for s in self.ok) if self.ok else None

    @property
    def peak_rss_mb(self) -> float | None:
        return max(s.rss_kb for s in self.ok) / 1024 if self.ok else None

    def hits(self) -> str:
        """The tool's count, flagged when repetitions disagreed (they never should)."""
        if not self.ok:
            rc = self.samples[-1].returncode if self.samples else "?"
            return f"FAILED (exit {rc})"
        shown = {TOOLS[self.tool].describe_hits(self.fmt, s) for s in self.ok}
        return " / ".join(sorted(shown)) + (" (varies!)" if len(shown) > 1 else "")

    def distinct(self) -> int | None:
        """The number comparable across tools: distinct connections alerted on."""
        if not self.ok or self.tool in ("grep", "zcat"):
            return None
        sample = self.ok[-1]
        if self.tool == "zeek-proxy":
            return sample.lines
        numbers = _numbers(sample)
        return numbers[-1]


def measure(argv: list[str]) -> Sample:
    """Run `argv` under GNU time and drain its stdout through a pipe.

    The pipe stands in for `> /dev/null` (the drain costs the tool nothing measurable,
    and the other core does it) and lets the harness count zeek-proxy's alert lines
    without a second run or a temporary file; GNU time writes to its own file so the
    tool's stderr stays the tool's."""
    with tempfile.TemporaryDirectory(prefix="zeek-proxy-bench-") as tmp:
        time_file = Path(tmp) / "time"
        err_file = Path(tmp) / "stderr"
        with open(err_file, "wb") as err:
            proc = subprocess.Popen([GNU_TIME, "-f", "%e %M", "-o", str(time_file), *argv],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            lines, head = 0, bytearray()
            while chunk := os.read(fd, 1 << 20):
                lines += chunk.count(b"\n")
                if len(head) < 4096:
                    head += chunk[: 4096 - len(head)]
            proc.stdout.close()
            returncode = proc.wait()
        # On failure GNU time writes "Command exited with non-zero status N" first.
        timing = time_file.read_text().strip().splitlines()
        seconds, rss_kb = (timing[-1].split() + ["0", "0"])[:2] if timing else ("nan", "0")
        return Sample(seconds=float(seconds), rss_kb=int(rss_kb), returncode=returncode, lines=lines,
                      head=head.decode(errors="replace"), stderr=err_file.read_text(errors="replace"))


def run_rounds(plan: list[Result], repeat: int) -> None:
    """Repetition by repetition, every tool once per repetition (not one tool `repeat`
    times in a row), so slow drift in the machine is shared fairly. The input is read
    just before every run: the files together may outgrow the page cache, and a
    machine may drop cached pages at any time, so no tool pays for the disk."""
    for rep in range(1, repeat + 1):
        for result in plan:
            warm_page_cache(result.path)
            sample = measure(result.argv)
            result.samples.append(sample)
            status = "" if sample.returncode == 0 else f"  FAILED exit {sample.returncode}: " + \
                " | ".join(sample.stderr.strip().splitlines()[-3:])
            log(f"[{rep}/{repeat}] {result.fmt:5} {result.tool:10} {sample.seconds:8.2f} s "
                f"{sample.rss_kb / 1024:8.1f} MB{status}")


# ------------------------------------------------------------------------------ report

def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the report (and pastes cleanly)."""
    print(message, file=sys.stderr, flush=True)


def _command_output(argv: list[str]) -> str:
    """First line a version command prints, or "not available": the report header must
    not fail because one optional tool is missing."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    return (out.stdout.strip() or out.stderr.strip() or "not available").splitlines()[0]


def machine_info(ctx: Context) -> list[tuple[str, str]]:
    """What the numbers were measured on; benchmark tables without it mislead."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 ** 2:.1f} GB"
    except OSError:
        pass
    commit = _command_output(["git", "-C", str(ROOT), "describe", "--always", "--dirty"])
    return [
        ("machine", f"{platform.machine()}, {platform.system()} {platform.release()}"),
        ("cpu", f"{cpu}, {os.cpu_count()} cores"),
        ("ram", ram),
        ("python", platform.python_version()),
        ("duckdb", _command_output([ctx.python, "-c", "import duckdb; print(duckdb.__version__)"])
         + (f", {ctx.duckdb_threads} threads" if ctx.duckdb_threads else ", default threads (all cores)")),
        ("zeek-proxy", _command_output([ctx.zeek_proxy, "--version"]) + f" (git {commit})"),
    ]


def render_table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    """A plain aligned table for the terminal, or Markdown for the README."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*r) for r in [header, *rows])


def times(ratio: float) -> str:
    """A speed ratio with enough digits to tell 0.029x from 0.033x, and no more."""
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.2f}x" if ratio >= 1 else f"{ratio:.2g}x"


def result_rows(results: list[Result], rows: int) -> list[list[str]]:
    """Table rows: time, throughput, speed against the format's reference, RSS, hits."""
    median = {(r.fmt, r.tool): r.median for r in results}
    table = []
    for r in results:
        seconds = r.median
        ref_tool = REFERENCE[r.fmt]
        ref = median.get((r.fmt, ref_tool))
        if seconds is None:
            speed, ratio = "-", "-"
        else:
            speed = f"{rows / seconds / 1e6:.3f}" if seconds > 0 else "-"
            if r.tool == ref_tool:
                ratio = "1.00x (ref)"
            elif ref and seconds > 0:
                ratio = f"{times(ref / seconds)} vs {ref_tool}"
            else:
                ratio = "-"
        shown = "-" if seconds is None else f"{seconds:.2f}" if seconds > 0 else "<0.01"
        table.append([r.fmt, r.tool, shown, speed, ratio,
                      "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}", r.hits()])
    return table


def check_counts(results: list[Result], expected: int | None) -> list[str]:
    """Compare every tool's distinct-connection count with the generator's truth, per
    format, so a disagreement is impossible to miss in the report."""
    lines = []
    for fmt in dict.fromkeys(r.fmt for r in results):
        counts = {r.tool: r.distinct() for r in results if r.fmt == fmt}
        counts = {tool: n for tool, n in counts.items() if n is not None}
        if not counts:
            continue
        agree = expected is not None and all(n == expected for n in counts.values())
        shown = ", ".join(f"{tool} {n}" for tool, n in counts.items())
        verdict = "OK" if agree else "MISMATCH" if expected is not None else "(no expected count)"
        lines.append(f"{fmt}: expected {expected}; {shown} -> {verdict}")
    return lines


# ------------------------------------------------------------------------------- modes

def plan_runs(args: argparse.Namespace, directory: Path, ctx: Context, tools: list[str]) -> list[Result]:
    """Every (format, tool) pair to measure, format by format, in TOOLS order."""
    plan = []
    for fmt in args.formats:
        for name in tools:
            tool = TOOLS[name]
            if fmt in tool.formats:
                path = directory / FILES[fmt]
                plan.append(Result(fmt, name, tool.command(fmt, path, ctx), path))
    return plan


def choose_tools(args: argparse.Namespace) -> list[str]:
    """The tools to run: --tools, minus zat when slow runs are unwanted or the file is
    so big that zat alone would take most of the benchmark's time."""
    named = args.tools is not None
    tools = [t for t in TOOLS if not named or t in args.tools]  # TOOLS order: ref first
    if "zat" in tools and not (named and "zat" in args.tools):
        if args.skip_slow:
            tools = [t for t in tools if t != "zat"]
        elif args.rows > ZAT_MAX_ROWS:
            log(f"zat left out above {ZAT_MAX_ROWS} rows; name it in --tools to run it anyway")
            tools = [t for t in tools if t != "zat"]
    if args.skip_slow and named and "zat" in args.tools:
        log("--skip-slow given, but zat named in --tools: running it")
    return tools


def benchmark(args: argparse.Namespace, ctx: Context) -> int:
    """The main table; exit status 1 when a tool failed or the counts disagree."""
    directory = args.workdir / (f"{args.rows}-mix" if args.mix else str(args.rows))
    expected = prepare_inputs(directory, args.rows, args.formats, args.mix)
    plan = plan_runs(args, directory, ctx, choose_tools(args))
    if args.verbose:
        for r in plan:
            log(f"{r.fmt:5} {r.tool:10} {shlex.join(r.argv)}")
    run_rounds(plan, args.repeat)

    info = machine_info(ctx)
    header = ["format", "tool", "median s", "M rows/s", "x faster", "peak RSS MB", "hits"]
    if args.markdown:
        print(f"{args.rows:,} connections, median of {args.repeat}; "
              + "; ".join(f"{k}: {v}" for k, v in info) + "\n")
    else:
        for key, value in info:
            print(f"{key + ':':12}{value}")
        print(f"{'input:':12}{args.rows:,} connections in {directory}, median of {args.repeat} run(s)"
              + (" (second mix)" if args.mix else "") + "\n")
    print(render_table(header, result_rows(plan, args.rows), args.markdown))
    print("\n'x faster' = reference seconds / tool seconds (reference: duckdb; zcat for gzip).")
    checks = check_counts(plan, expected)
    print("\nDistinct connections alerted on:\n" + "\n".join("  " + c for c in checks))
    failed = any(not r.ok for r in plan) or any("MISMATCH" in c for c in checks)
    return 1 if failed else 0


def scaling(args: argparse.Namespace, ctx: Context) -> int:
    """zeek-proxy's peak RSS on a small and a large TSV: memory must stay about flat as
    input grows (streaming), so the ratio is checked against --scaling-target."""
    results = []
    expected: dict[int, int | None] = {}
    for rows in args.scaling_rows:
        directory = args.workdir / str(rows)
        expected[rows] = prepare_inputs(directory, rows, ["tsv"])
        path = directory / FILES["tsv"]
        results.append((rows, Result("tsv", "zeek-proxy", zeek_proxy_command("tsv", path, ctx), path)))
    run_rounds([r for _, r in results], args.repeat)
    rows_table = []
    for rows, r in results:
        rows_table.append([f"{rows:,}", "zeek-proxy", "-" if r.median is None else f"{r.median:.2f}",
                           "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}", r.hits(),
                           str(expected[rows])])
    print(render_table(["rows", "tool", "median s", "peak RSS MB", "alerts", "expected"], rows_table,
                       args.markdown))
    small, large = results[0][1].peak_rss_mb, results[-1][1].peak_rss_mb
    if small is None or large is None:
        print("\nscaling: a run failed")
        return 1
    ratio = large / small
    verdict = "OK" if ratio <= args.scaling_target else "OVER TARGET"
    print(f"\npeak RSS {results[-1][0]:,} / {results[0][0]:,} rows = {ratio:.2f}x "
          f"(target <= {args.scaling_target}x): {verdict}")
    return 0 if verdict == "OK" else 1


HTTP_FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri referrer version "
               "user_agent origin request_body_len response_body_len status_code status_msg info_code info_msg "
               "tags username password proxied orig_fuids orig_filenames orig_mime_types resp_fuids "
               "resp_filenames resp_mime_types").split()
SSL_FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p version cipher curve server_name resumed "
              "last_alert next_protocol established ssl_history cert_chain_fps client_cert_chain_fps "
              "sni_matches_cert").split()
#: One CONNECT (on a port that is not a proxy port) per this many http records.
CONNECT_EVERY = 2000


def _zeek_header(path: str, fields: list[str]) -> str:
    return ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
            f"#path\t{path}\n#open\t2026-11-27-10-00-00\n#fields\t" + "\t".join(fields)
            + "\n#types\t" + "\t".join(["time"] + ["string"] * (len(fields) - 1)) + "\n")


def evidence_folder(directory: Path, rows: int) -> Path:
    """A sensor folder: the benchmark's conn.log, and the http.log (one record per 4
    connections, now and then a CONNECT to an Internet proxy on 8888) and ssl.log (one
    per 3) of the same connections, as Zeek writes them. Made once, cached."""
    folder = directory / "evidence"
    if (folder / "ssl.log").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "conn.log").exists():
        os.symlink(directory / FILES["tsv"], folder / "conn.log")
    generator = load_generator()
    with open(folder / "http.log.part", "w", buffering=1 << 20) as http, \
            open(folder / "ssl.log.part", "w", buffering=1 << 20) as ssl:
        http.write(_zeek_header("http", HTTP_FIELDS))
        ssl.write(_zeek_header("ssl", SSL_FIELDS))
        for i, c in enumerate(generator.connections(rows, SEED)):
            ends = f"{c.ts + 0.01:.6f}\t{c.uid}\t{c.orig_h}\t{c.orig_p}\t{c.resp_h}\t{c.resp_p}"
            if i % 4 == 0:
                connect = i % (4 * CONNECT_EVERY) == 0
                method, uri = ("CONNECT", f"t{i}.example.net:443") if connect else ("GET", f"/api/v1/items/{i}?page=2")
                resp = "203.0.113.80\t8888" if connect else f"{c.resp_h}\t{c.resp_p}"
                http.write(f"{c.ts + 0.01:.6f}\t{c.uid}\t{c.orig_h}\t{c.orig_p}\t{resp}\t1\t{method}\t"
                           f"www{i % 97}.example.com\t{uri}\thttp://www{i % 97}.example.com/\t1.1\t"
                           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36\t-\t0\t5120\t200\tOK\t"
                           "-\t-\t(empty)\t-\t-\t-\t-\t-\t-\tFq3ie92nXlb1\t-\ttext/html\n")
            if i % 3 == 0:
                ssl.write(f"{ends}\tTLSv13\tTLS_AES_128_GCM_SHA256\tx25519\tsni{i % 89}.example.org\tF\t-\th2\tT\t"
                          "CsiI\t(empty)\t(empty)\tT\n")
    for name in ("http.log", "ssl.log"):
        os.replace(folder / f"{name}.part", folder / name)
    _dated_back(folder)
    return folder


def evidence_benchmark(args: argparse.Namespace, ctx: Context) -> int:
    """An --evidence scan of a sensor folder against the conn-only scan of the same
    folder (targets: at most 1.5x the time, under 300 MB peak RSS)."""
    directory = args.workdir / str(args.rows)
    prepare_inputs(directory, args.rows, ["tsv"])
    folder = evidence_folder(directory, args.rows)
    base = [ctx.zeek_proxy, "scan", "-o", "-", str(folder)]
    plan = [Result("conn only", "zeek-proxy", base, folder),
            Result("--evidence", "zeek-proxy", base + ["--evidence"], folder)]
    run_rounds(plan, args.repeat)
    conn_only = plan[0].median
    rows = [[r.fmt, "-" if r.median is None else f"{r.median:.2f}",
             "-" if r.median is None or conn_only is None else f"{r.median / conn_only:.2f}x",
             "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}", r.hits()] for r in plan]
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.0f} MB" for p in sorted(folder.iterdir()))
    for key, value in machine_info(ctx):
        print(f"{key + ':':12}{value}")
    print(f"{'input:':12}{sizes}, median of {args.repeat}\n")
    print(render_table(["scan", "median s", "vs conn only", "peak RSS MB", "alerts"], rows, args.markdown))
    evidence = plan[1]
    ok = (conn_only is not None and evidence.median is not None and evidence.median <= 1.5 * conn_only
          and (evidence.peak_rss_mb or 0) < 300)
    print(f"\ntargets (<= 1.5x conn only, < 300 MB): {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


def hourly_archives(directory: Path, rows: int, hours: int, name: str) -> Path:
    """`hours` hourly zeekctl gzip archives (gzip -6) of rows/hours connections each, as
    zeekctl leaves a day of conn logs (made once, cached)."""
    folder = directory / name
    if len(list(folder.glob("*.log.gz"))) == hours:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    generator = load_generator()
    for hour in range(hours):
        target = folder / f"conn.{hour:02d}:00:00-{hour + 1:02d}:00:00.log.gz"
        tmp = target.with_suffix(".tmp")
        with gzip.open(tmp, "wt", compresslevel=6) as out:
            generator.write_zeek_tsv(generator.connections(rows // hours, seed=300 + hour), out)
        tmp.rename(target)
    return folder


def dask_archives(directory: Path, rows: int) -> Path:
    """8 hourly zeekctl gzip archives of rows/8 connections each."""
    return hourly_archives(directory, rows, 8, "dask-archives")


def archives_benchmark(args: argparse.Namespace, ctx: Context) -> int:
    """A zeekctl day, 24 hourly gzip archives, scanned as a folder, against zcat over the
    same files (target: 2x zcat)."""
    folder = hourly_archives(args.workdir / str(args.rows), args.rows, 24, "day-archives")
    files = sorted(str(p) for p in folder.glob("*.log.gz"))
    plan = [Result("24 gzip archives", "zeek-proxy", [ctx.zeek_proxy, "scan", "-o", "-", str(folder)], folder),
            Result("24 gzip archives", "zcat", ["zcat", *files], folder)]
    run_rounds(plan, args.repeat)
    zcat = plan[1].median
    for key, value in machine_info(ctx):
        print(f"{key + ':':12}{value}")
    print(f"{'input:':12}{args.rows:,} connections in 24 archives, {folder}, median of {args.repeat}\n")
    rows = [[r.tool, "-" if r.median is None else f"{r.median:.2f}",
             "-" if r.median is None or zcat is None else f"{zcat / r.median:.2f}x",
             "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}"] for r in plan]
    print(render_table(["tool", "median s", "vs zcat", "peak RSS MB"], rows, args.markdown))
    ours = plan[0].median
    ok = ours is not None and zcat is not None and zcat / ours >= 2
    print(f"\ntarget (>= 2x zcat): {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


def dask_benchmark(args: argparse.Namespace, ctx: Context) -> int:
    """The local engine against Dask with 1 and 2 worker processes (LocalCluster, started
    by each run, so its start-up is counted) on 8 gzip archives: gzip files cannot be
    split, so each is one partition."""
    folder = dask_archives(args.workdir / str(args.rows), args.rows)
    base = [ctx.zeek_proxy, "scan", "-o", "-", str(folder)]
    plan = [Result("local", "zeek-proxy", base, folder),  # fmt holds the engine: the hit counter reads lines
            Result("dask, 1 worker", "zeek-proxy", base + ["--engine", "dask", "-j", "1"], folder),
            Result("dask, 2 workers", "zeek-proxy", base + ["--engine", "dask", "-j", "2"], folder)]
    run_rounds(plan, args.repeat)
    local = plan[0].median
    rows = [["8 gzip archives", r.fmt, "-" if r.median is None else f"{r.median:.2f}",
             "-" if r.median is None or local is None else f"{local / r.median:.2f}x",
             "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}", r.hits()] for r in plan]
    print(render_table(["input", "engine", "median s", "vs local", "peak RSS MB (client)", "alerts"], rows,
                       args.markdown))
    return 0 if all(r.median is not None for r in plan) else 1


# -------------------------------------------------------------------------------- main

def _csv(allowed: tuple[str, ...] | list[str], what: str) -> Callable[[str], list[str]]:
    """An argparse type for a comma list checked against its allowed values."""
    def parse(text: str) -> list[str]:
        items = [s.strip() for s in text.split(",") if s.strip()]
        unknown = [s for s in items if s not in allowed]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}")
        return items
    return parse


def _rows_list(text: str) -> list[int]:
    """An argparse type for --scaling-rows: at least two sizes, or there is no ratio."""
    values = [int(s) for s in text.split(",")]
    if len(values) < 2 or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError("give at least two positive row counts, smallest first")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; every option says what it changes and its default."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=4_000_000, help="connections per file (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; the table shows medians (default: %(default)s)")
    parser.add_argument("--tools", type=_csv(tuple(TOOLS), "tool"),
                        help=f"comma list of tools to run (default: all of {','.join(TOOLS)}; "
                             f"zat only up to {ZAT_MAX_ROWS:,} rows unless named here)")
    parser.add_argument("--formats", type=_csv(FORMATS, "format"), default=list(FORMATS),
                        help=f"comma list of inputs (default: {','.join(FORMATS)})")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="generated files are cached in WORKDIR/ROWS/ and reused (default: %(default)s)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown, for the README")
    parser.add_argument("--skip-slow", action="store_true", help="leave out zat (unless named in --tools)")
    parser.add_argument("--duckdb-threads", type=int, default=0,
                        help="SET threads for duckdb; 0 keeps its default, all cores (default: %(default)s)")
    parser.add_argument("--archives", action="store_true",
                        help="a zeekctl day: 24 hourly gzip archives of ROWS/24 connections, against zcat")
    parser.add_argument("--dask", action="store_true",
                        help="local engine vs --engine dask with 1 and 2 workers on 8 gzip archives")
    parser.add_argument("--mix", action="store_true",
                        help="the second data mix: eve 49%% flow, 24%% dns, 17%% http, 10%% alert events, "
                             "about 3%% of connections on a proxy port (files in WORKDIR/ROWS-mix/)")
    parser.add_argument("--evidence", action="store_true",
                        help="--evidence against conn only, on a folder of conn.log, http.log and ssl.log")
    parser.add_argument("--scaling", action="store_true",
                        help="instead of the table: zeek-proxy's peak RSS on TSV at --scaling-rows, and their ratio")
    parser.add_argument("--scaling-rows", type=_rows_list, default=[1_000_000, 4_000_000],
                        help="row counts for --scaling, smallest first (default: 1000000,4000000)")
    parser.add_argument("--scaling-target", type=float, default=1.3,
                        help="largest acceptable peak RSS ratio for --scaling (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every command line before running")
    args = parser.parse_args(argv)
    if args.rows <= 0 or args.repeat <= 0:
        parser.error("--rows and --repeat must be positive")
    return args


def find_zeek_proxy() -> str:
    """The zeek-proxy beside this interpreter (the venv being benchmarked), else PATH."""
    beside = Path(sys.executable).parent / "zeek-proxy"
    found = str(beside) if beside.exists() else shutil.which("zeek-proxy")
    if not found:
        raise SystemExit("zeek-proxy not found next to the interpreter or on PATH; install the project")
    return found


def byte_compile_package() -> None:
    """Compile the package's modules, as installing a wheel does: an editable install
    leaves that to the first run, and where PYTHONDONTWRITEBYTECODE is set every run
    would compile them again (about 60 ms of each run's start-up, measured here)."""
    compileall.compile_dir(ROOT / "zeek_proxy", quiet=1)


def main(argv: list[str] | None = None) -> None:
    """Entry point: check the measuring tools exist, then run the chosen mode."""
    args = parse_args(argv)
    byte_compile_package()
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"{GNU_TIME} (GNU time) is required for wall time and peak RSS")
    if not Path("/dev/null").is_char_device():
        log("warning: /dev/null is not a character device on this machine (something replaced it); "
            "the benchmark does not write to it, but other programs will fill it")
    ctx = Context(python=sys.executable, zeek_proxy=find_zeek_proxy(), duckdb_threads=args.duckdb_threads)
    if args.archives:
        sys.exit(archives_benchmark(args, ctx))
    if args.dask:
        sys.exit(dask_benchmark(args, ctx))
    if args.evidence:
        sys.exit(evidence_benchmark(args, ctx))
    sys.exit(scaling(args, ctx) if args.scaling else benchmark(args, ctx))


if __name__ == "__main__":
    main()
