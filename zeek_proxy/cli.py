"""The `zeek-proxy` command line: argument parsing, one library call, exit codes.

Errors from the library arrive as ZeekProxyError and leave as one line on stderr with
exit 2 (usage, config) or 3 (input); nothing else prints a traceback.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

import click

from zeek_proxy import __version__
from zeek_proxy.choices import (
    DEFAULT_GROUP_BY, DEFAULT_HISTORY, EVIDENCE_KINDS, FORMATS, MAX_RECORD, OUTPUTS, PROFILES,
)
from zeek_proxy.errors import ConfigError, MalformedRecordError, SourceLocation, ZeekProxyError
from zeek_proxy.interrupts import Interrupted, Interrupts
from zeek_proxy.progress import Progress
from zeek_proxy.reading.inputs import LOG_NAME_PATTERNS
from zeek_proxy.state import State
from zeek_proxy.stats import InputStats, render, render_allow

# pandas, numpy and pyarrow take half a second to import: the modules that need them are
# imported where a command runs, so that --help, --version and usage errors answer at
# once (tests/test_startup.py pins this).
if TYPE_CHECKING:
    import pandas as pd

    from zeek_proxy.config import Settings
    from zeek_proxy.core.new_terms import NewTerms
    from zeek_proxy.core.suppression import Suppression
    from zeek_proxy.pipeline import ScanResult

logger = logging.getLogger("zeek_proxy")
#: The run's signal handling: installed by `main`, held while alerts and state are written.
INTERRUPTS = Interrupts()
INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug, never an input or config problem
CLOSED_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a filter whose reader left


class CLIError(click.ClickException):
    """A library error shown as `Error: <file:line>: <message>` with its exit code."""

    def __init__(self, error: ZeekProxyError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("zeek-proxy: %(levelname)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def input_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options every reading command shares, so they look the same everywhere."""
    for option in reversed((
        click.argument("paths", nargs=-1, metavar="[PATH]..."),
        click.option("-f", "--format", "input_format", type=click.Choice(FORMATS), default="auto",
                     show_default=True, help="Input format; auto sniffs each input."),
        click.option("-o", "--output", default="-", show_default=True, metavar="PATH",
                     help="Output file; written to a temporary name and renamed when complete."),
        click.option("--strict", is_flag=True,
                     help="Stop with exit 3 at the first malformed record instead of counting it."),
        click.option("--stats/--no-stats", default=None,
                     help="Per-input counts on stderr [default: on when stderr is a terminal]."),
        click.option("--progress/--no-progress", default=None,
                     help="A progress line on stderr [default: on when stderr is a terminal]."),
        click.option("--max-record-size", "max_record", type=click.IntRange(min=1024), default=MAX_RECORD,
                     show_default=True, metavar="BYTES",
                     help="Longer records are counted as malformed, never held in memory."),
    )):
        command = option(command)
    return command


class TimeParam(click.ParamType):
    """ISO 8601, epoch seconds, or Elastic date math, as a UTC timestamp."""

    name = "time"

    def convert(self, value: Any, param: Any, ctx: Any) -> pd.Timestamp:
        import pandas as pd

        from zeek_proxy.timespec import parse_time

        if isinstance(value, pd.Timestamp):
            return value
        try:
            return parse_time(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class AddressParam(click.ParamType):
    """An IPv4 or IPv6 address: `explain --src foo` is a usage error, not a verdict."""

    name = "address"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        text = str(value).strip()
        try:
            ipaddress.ip_address(text)
        except ValueError:
            self.fail(f"{value!r} is not an IP address", param, ctx)
        return text


def _window(since: pd.Timestamp | None, until: pd.Timestamp | None) -> None:
    """--since must come before --until: the window is since <= time < until."""
    if since is not None and until is not None and since >= until:
        raise click.UsageError(f"--since ({since.isoformat()}) is not before --until ({until.isoformat()}): "
                               "no connection can be in that window")


def config_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """-c, -a and --profile, shared by every command that applies the rule (`_settings`
    reads them all)."""
    command = click.option("--profile", type=click.Choice(PROFILES), default=None,
                           expose_value=False, callback=_keep, is_eager=True,
                           help="Which Elastic version of the rule (replaces the config's "
                                "[rule] profile) [default: elastic-v3].")(command)
    command = click.option("-a", "--allowlist", "allowlists", multiple=True, metavar="PATH",
                           help="Extra allowlist: TOML [[allow]] entries, a Zeek table with an ip or "
                                "subnet column, or one address/CIDR per line. Repeatable.")(command)
    return click.option("-c", "--config", metavar="PATH",
                        help="TOML config: [rule], [networks], [[allow]].")(command)


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Options that change the settings wait in the context for `_settings`."""
    ctx.meta[f"zeek_proxy.{param.name}"] = value


def _fields(text: str) -> tuple[str, ...]:
    """A comma list of alert fields (--group-by, --new-terms), blanks left out."""
    return tuple(f.strip() for f in text.split(",") if f.strip())


def _suppression(meta: dict[str, Any], configured: Suppression | None) -> Suppression | None:
    """--suppress-for, --group-by and --no-suppress-missing over the config's [suppression]."""
    from zeek_proxy.core.suppression import Suppression, check_group_by, parse_duration
    text, fields, no_missing = (meta.get(f"zeek_proxy.{n}") for n in ("suppress_for", "group_by", "no_suppress_missing"))
    if text is None and fields is None and not no_missing:
        return configured
    if text is None and configured is None:
        raise click.UsageError("--group-by and --no-suppress-missing go with --suppress-for (or a [suppression] table)")
    try:
        seconds = parse_duration(text) if text is not None else configured.seconds  # type: ignore[union-attr]
        group_by = check_group_by(_fields(fields)) if fields is not None \
            else configured.group_by if configured else DEFAULT_GROUP_BY
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    missing = not no_missing and (configured.missing_suppress if configured else True)
    return Suppression(seconds, group_by, missing, text or (configured.text if configured else ""))


def _settings(config: str | None, allowlists: tuple[str, ...]) -> Settings:
    """Effective settings; warns about allow entries that no longer apply today."""
    from zeek_proxy.config import build_settings
    meta = click.get_current_context().meta
    try:
        settings = build_settings(config, allowlists, meta.get("zeek_proxy.profile"))
    except ZeekProxyError as exc:
        raise CLIError(exc) from None
    if meta.get("zeek_proxy.evidence"):  # --evidence, or --security-onion
        settings = replace(settings, evidence=True)
    settings = replace(settings, suppression=_suppression(meta, settings.suppression),
                       new_terms=_new_terms(meta), sensor_override=meta.get("zeek_proxy.sensor"))
    for entry in settings.expired_entries():
        logger.warning("allow entry %r (%s) expired on %s: it still applies to connections "
                       "before that day, not to newer ones", entry.name, entry.origin, entry.expires)
    return settings


def _security_onion(paths: tuple[str, ...], output: str, state_path: str | None, no_state: bool,
                    root: str, since: pd.Timestamp | None) -> tuple[list[str], str, str | None]:
    """Inputs, output and state of the Security Onion preset; explicit values win, and
    --no-state leaves the preset's state alone. Security Onion keeps every Zeek log, so
    the preset reads the evidence too."""
    from zeek_proxy.security_onion import Preset, without_flow_events
    click.get_current_context().meta["zeek_proxy.evidence"] = True
    preset = Preset(root)
    inputs = list(paths) or preset.inputs(since, evidence=True)
    state_path = None if no_state else state_path or preset.state
    output = preset.alerts if output == "-" else output
    for path in inputs:
        if "eve" in os.path.basename(path) and os.path.isfile(path) and without_flow_events(path):
            logger.warning("%s holds no flow events (Security Onion's metadata engine is Zeek): "
                           "connections Suricata did not alert on are invisible there; scan Zeek's "
                           "conn.log for those", path)
    return inputs, output, state_path


def _state(state_path: str | None, no_state: bool) -> State | None:
    """The checkpoint named by --state, locked, with what a killed run left unwritten
    written now; None under --no-state."""
    from zeek_proxy.output import settle
    if no_state and state_path:
        raise click.UsageError("--state and --no-state exclude each other")
    if not state_path:
        return None
    state = State.load(state_path)
    settle(state)
    return state


def _interrupted(exc: Interrupted) -> None:
    click.echo(f"zeek-proxy: {exc}", err=True)
    sys.exit(exc.exit_code)


def _report_max_signals(result: ScanResult, max_signals: int) -> None:
    if result.carried:
        logger.warning("--max-signals %d: %d alert(s) carried to the next run", max_signals, result.carried)
    if result.dropped:
        logger.warning("--max-signals %d: %d alert(s) dropped (with --state they would wait for the next run)",
                       max_signals, result.dropped)


def _new_terms(meta: dict[str, Any]) -> NewTerms | None:
    """--new-terms FIELDS and --history DURATION."""
    from zeek_proxy.core.new_terms import NewTerms
    from zeek_proxy.core.suppression import check_group_by, parse_duration
    fields, history = meta.get("zeek_proxy.new_terms"), meta.get("zeek_proxy.history")
    if fields is None:
        if history is not None:
            raise click.UsageError("--history goes with --new-terms")
        return None
    try:
        chosen = check_group_by(_fields(fields))
        seconds = parse_duration(history) if history is not None else DEFAULT_HISTORY
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return NewTerms(chosen, seconds, history or "7d")


def _needs_state(settings: Settings, state_path: str | None, no_state: bool) -> None:
    if settings.new_terms is not None and (no_state or not state_path):
        raise click.UsageError("--new-terms needs --state: the combinations seen before are kept there")


def _quiet_line(result: ScanResult, settings: Settings) -> str:
    """How much quieter allow entries, new terms and suppression made the run."""
    allowed = result.hits - sum(result.allow_counts.values())
    line = f"hits: {result.hits}, after allow entries: {allowed}"
    if settings.new_terms is not None:
        allowed -= result.known
        line += f", after new terms: {allowed}"
    if settings.suppression is not None:
        line += (f", after suppression: {allowed - result.grouped - result.grouped_earlier} "
                 f"(suppressed into earlier alerts: {result.grouped_earlier})")
    return line


def _progress(flag: bool | None, paths: list[str], settings: Settings | None = None) -> Progress | None:
    from zeek_proxy.pipeline import input_size, log_names
    if not (flag if flag is not None else sys.stderr.isatty()):
        return None
    return Progress(*input_size(paths, log_names(settings) if settings else LOG_NAME_PATTERNS))


def _finish(stats_flag: bool | None, inputs: list[InputStats], errors: list[ZeekProxyError],
            allow_counts: dict[str, int] | None = None) -> None:
    """Counts and input errors on stderr; exit 3 (or 2) when an input failed."""
    if stats_flag if stats_flag is not None else sys.stderr.isatty():
        click.echo(render(inputs), err=True)
        if allow_counts:
            click.echo(render_allow(allow_counts), err=True)
    for error in errors:
        click.echo(f"Error: {error}", err=True)
    if errors:
        sys.exit(max(e.exit_code for e in errors))


def _counted(result: ScanResult) -> bool:
    """Whether a watch batch counted anything: an idle batch's table of zeros, every
    --interval, would bury the ones that matter."""
    return any(getattr(stats, name) for stats in result.inputs for name in InputStats.COUNTERS)


class _Commands(click.Group):
    """The command group; a reader that closes our stdout early ends the run quietly
    (click itself would exit 1, which --fail-on-alert gives to "alerts found")."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # nothing more reaches the closed pipe at exit
            sys.exit(CLOSED_PIPE)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zeek-proxy")
def cli() -> None:
    """Detect proxy-port activity to the Internet in Zeek and Suricata logs.

    Implements Elastic's rule "Proxy Port Activity to the Internet" (ad0e5e75, v3)
    offline: TCP from an internal address to an Internet address on port 1080, 3128
    or 8080.
    """
    _setup_logging()


def _leave_out(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Drop shared options a command does not take (listed above the shared decorators),
    so that its --help offers only what it accepts."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        params = getattr(command, "__click_params__", [])
        command.__click_params__ = [p for p in params if p.name not in names]  # type: ignore[attr-defined]
        return command
    return decorate


def detect_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of the commands that detect (scan, watch), so they stay alike."""
    for option in reversed((
        click.option("--evidence", is_flag=True, expose_value=False, callback=_keep,
                     help="Also read Zeek's socks, http, ssl and tunnel logs (and eve http/tls "
                          "events): alert on SOCKS, HTTP CONNECT and proxy requests to the "
                          "Internet on any port, and say what each connection was."),
        click.option("--suppress-for", expose_value=False, callback=_keep, metavar="DURATION",
                     help="Alert suppression: one alert per group (--group-by) and window of DURATION "
                          "(30s, 10m, 1h, 24h), the window's other hits counted into it."),
        click.option("--group-by", expose_value=False, callback=_keep, metavar="FIELDS",
                     help="1 to 3 alert fields, comma-separated [default: source.ip,destination.ip,destination.port]."),
        click.option("--no-suppress-missing", is_flag=True, expose_value=False, callback=_keep,
                     help="A hit missing a --group-by field alerts alone (default: such hits form their own group)."),
        click.option("--new-terms", expose_value=False, callback=_keep, metavar="FIELDS",
                     help="Alert only on hits whose combination of these 1 to 3 fields was not seen in "
                          "the --history before them (kept in --state, which it needs)."),
        click.option("--history", expose_value=False, callback=_keep, metavar="DURATION",
                     help="With --new-terms: how far back a combination counts as seen [default: 7d]."),
        click.option("--sensor", expose_value=False, callback=_keep, metavar="NAME",
                     help="observer.name of every alert [default: the log's _node_name column, else the "
                          "config's [sensor] name]."),
        click.option("--show-suppressed", is_flag=True,
                     help="Also write allowlisted hits, each marked with the entry that suppressed it."),
        click.option("-t", "--to", "to", type=click.Choice(sorted(OUTPUTS)), default="ecs",
                     show_default=True, help="Output format."),
        click.option("--fail-on-alert", is_flag=True, help="Exit 1 when at least one alert was produced."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Workers that pre-filter raw lines: threads, or processes for large files; "
                          "two or more gzip files are read one per process [default: all cores]."),
        click.option("--since", type=TimeParam(), default=None, metavar="TIME",
                     help="Only connections at or after TIME: ISO 8601, epoch seconds, or now-6m."),
        click.option("--until", type=TimeParam(), default=None, metavar="TIME",
                     help="Only connections before TIME."),
        click.option("--max-signals", type=click.IntRange(min=0), default=0, metavar="N",
                     help="At most N alerts per run (watch: per batch), oldest first; the rest wait "
                          "in --state for the next runs (dropped without it). 0 = no cap."),
        click.option("--state", "state_path", default=None, metavar="PATH",
                     help="Checkpoint file: read only what is new since the last run, alert once "
                          "(-o is appended to)."),
        click.option("--no-state", is_flag=True,
                     help="Read everything and keep no checkpoint, even under --security-onion."),
        click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                     help="dask: partitions of the inputs on a Dask cluster (pip install 'zeek-proxy[dask]')."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="With --engine dask: an existing cluster (tcp://host:8786) instead of a "
                          "LocalCluster of --jobs processes."),
        click.option("--security-onion", is_flag=True,
                     help="Security Onion's paths: /nsm/zeek/logs/current/conn.log and /nsm/suricata/eve*.json "
                          "(PATHs replace them), state /nsm/zeek-proxy/state (unless --state or "
                          "--no-state), alerts appended to /nsm/zeek-proxy/alerts.ndjson unless -o."),
        click.option("--so-root", default="/", show_default=True, metavar="DIR",
                     help="With --security-onion: the directory that stands for / (tests, chroots)."),
    )):
        command = option(command)
    return command


@cli.command()
@input_options
@config_options
@detect_options
@click.option("--report", "report_path", default=None, metavar="PATH",
              help="Also write an HTML report of the alerts written (with --show-suppressed, of the "
                   "allowlisted hits too) to PATH; needs the report extra.")
def scan(paths: tuple[str, ...], input_format: str, output: str, strict: bool,
         stats: bool | None, progress: bool | None, config: str | None,
         allowlists: tuple[str, ...], show_suppressed: bool, to: str, fail_on_alert: bool,
         jobs: int | None, since: pd.Timestamp | None, until: pd.Timestamp | None,
         max_signals: int, state_path: str | None, no_state: bool, max_record: int, engine: str,
         scheduler: str | None, security_onion: bool, so_root: str, report_path: str | None) -> None:
    """Scan logs and write one alert per matching connection.

    PATH is a file, a folder (searched for *conn*.log* and *eve*.json*; its other *.log*
    and *.json* files are read when their content is such a log), a glob, or - for
    stdin (the default). Plain or gzip; Zeek TSV or JSON, or Suricata eve.json.
    With --state, each run reads what is new since the last and writes each alert once;
    SIGINT and SIGTERM end a run with 130 and 143, its output complete or not written.

    \b
    Example:
        zeek-proxy scan /nsm/zeek/logs/2026-11-27/
        zeek-proxy scan -t notice -o notice.log conn.log eve.json
        zeek-proxy scan -c site.toml -a proxies.txt --show-suppressed conn.log
        zeek-proxy scan --state state.json -o alerts.ndjson /opt/zeek/logs/
        zeek-proxy scan --security-onion --no-state --since now-7d -o hunt.ndjson
        zeek-proxy scan --show-suppressed -o alerts.ndjson --report report.html conn.log
    """
    from zeek_proxy.output import deliver, refuse_inputs
    from zeek_proxy.pipeline import scan as run_scan, with_suppressed
    if report_path:
        _report_ready(report_path, output)
    _window(since, until)
    inputs = list(paths) or ["-"]
    if security_onion:
        inputs, output, state_path = _security_onion(paths, output, state_path, no_state, so_root, since)
    elif not paths and sys.stdin.isatty():
        logger.warning("reading a log from standard input (end it with Ctrl-D; --help for usage)")
    settings = _settings(config, allowlists)
    _needs_state(settings, state_path, no_state)
    state = None
    try:
        refuse_inputs(output, inputs)
        if report_path:
            refuse_inputs(report_path, inputs)
        state = _state(state_path, no_state)
        if engine == "dask":
            if state is not None or "-" in inputs:
                raise click.UsageError("--engine dask reads files, without --state or stdin")
            if settings.evidence:
                raise click.UsageError("--evidence runs on the local engine (its join reads the logs twice)")
            from zeek_proxy.engine_dask import scan_dask

            result = scan_dask(inputs, settings, scheduler, jobs, input_format=input_format,
                               strict=strict, since=since, until=until, max_signals=max_signals,
                               max_record=max_record)
        else:
            if scheduler:
                raise click.UsageError("--scheduler goes with --engine dask")
            meter = _progress(progress, inputs, settings)
            try:
                result = run_scan(inputs, settings, input_format=input_format, strict=strict,
                                  jobs=jobs, progress=meter, since=since, until=until,
                                  max_signals=max_signals, state=state, max_record=max_record)
            finally:
                if meter:
                    meter.close()
        written = with_suppressed(result) if show_suppressed else result.alerts
        with INTERRUPTS.held():  # the alerts and the checkpoint together, or neither
            deliver(written, output, to, state)
        if report_path:
            _scan_report(written, report_path, settings, result.allow_counts)
    except ZeekProxyError as exc:
        raise CLIError(exc) from None
    except Interrupted as exc:
        _interrupted(exc)
    finally:
        if state is not None:
            state.release()
    for warning in result.warnings:
        logger.warning("%s", warning)
    _report_max_signals(result, max_signals)
    if stats if stats is not None else sys.stderr.isatty():
        if since is not None or until is not None:
            click.echo(f"outside --since/--until: {result.outside_window} connection(s)", err=True)
        if max_signals:
            click.echo(f"beyond --max-signals {max_signals}: {result.carried} carried to the next run, "
                       f"{result.dropped} dropped", err=True)
        if settings.suppression is not None or settings.new_terms is not None:
            click.echo(_quiet_line(result, settings), err=True)
    _finish(stats, result.inputs, result.errors, result.allow_counts)  # type: ignore[arg-type]
    if fail_on_alert and len(result.alerts):
        sys.exit(1)


@cli.command()
@_leave_out("progress", "engine", "scheduler")  # a live run: no end to show progress to, one engine
@input_options
@config_options
@detect_options
@click.option("--interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              metavar="SECONDS", help="Seconds between two looks at the logs.")
def watch(paths: tuple[str, ...], input_format: str, output: str, strict: bool,
          stats: bool | None, config: str | None,
          allowlists: tuple[str, ...], show_suppressed: bool, to: str, fail_on_alert: bool,
          jobs: int | None, since: pd.Timestamp | None, until: pd.Timestamp | None,
          max_signals: int, state_path: str | None, no_state: bool, max_record: int,
          security_onion: bool, so_root: str, interval: float) -> None:
    """Follow live logs through rotation and write alerts as they are found.

    Files and folders are looked at every --interval seconds (new files in a folder
    included). A followed file is kept open: when rotation renames it (and compresses
    it), what was written to it before is still read, then the new file. With --state a
    restart resumes where it stopped and writes no alert twice; follow the archive
    folder too (watch current/ archive/) to survive a restart in the middle of a
    rotation. SIGTERM finishes the batch in hand, saves the state and exits 0 (SIGINT:
    130).

    \b
    Example:
        zeek-proxy watch --state /var/lib/zeek-proxy/state -o alerts.ndjson \\
            /opt/zeek/logs/current/ /opt/zeek/logs/ /var/log/suricata/
    """
    from zeek_proxy.security_onion import Preset
    from zeek_proxy.output import deliver, refuse_inputs
    from zeek_proxy.watch import follow
    from zeek_proxy.pipeline import with_suppressed
    _window(since, until)
    inputs = list(paths)
    if security_onion:
        inputs, output, state_path = _security_onion(paths, output, state_path, no_state, so_root, since)
        if not paths:
            inputs = Preset(so_root).followed()
    if not inputs:
        raise click.UsageError("watch needs at least one PATH")
    settings = _settings(config, allowlists)
    _needs_state(settings, state_path, no_state)
    stop = threading.Event()
    stopped_by: list[int] = []

    def request_stop(signum: int, frame: object) -> None:
        stopped_by.append(signum)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    alerted = False
    first = True
    stats = stats if stats is not None else sys.stderr.isatty()  # as --help says, as scan does
    shown = False  # a --stats table printed yet (the first one shows the watch is alive)
    try:
        refuse_inputs(output, inputs)
        state = _state(state_path, no_state) or State("")

        def write(result: ScanResult) -> None:
            nonlocal alerted, first, shown
            deliver(with_suppressed(result) if show_suppressed else result.alerts, output, to, state, first)
            first = False
            alerted |= len(result.alerts) > 0
            _report_max_signals(result, max_signals)
            if stats and (_counted(result) or not shown):
                shown = True
                click.echo(render(result.inputs), err=True)
                if settings.suppression is not None or settings.new_terms is not None:
                    click.echo(_quiet_line(result, settings), err=True)
            broken = [e for e in result.errors if isinstance(e, MalformedRecordError)]
            if broken:  # --strict: the alerts before it are written; then stop
                raise broken[0]

        try:
            follow(inputs, settings, state, write, stop, interval,
                   warn=lambda text: logger.warning("%s (still watching)", text),
                   input_format=input_format, strict=strict, jobs=jobs, since=since,
                   until=until, max_signals=max_signals, max_record=max_record)
        finally:
            state.release()
    except ZeekProxyError as exc:
        raise CLIError(exc) from None
    if stopped_by and stopped_by[0] == signal.SIGINT:
        click.echo("zeek-proxy: interrupted", err=True)
        sys.exit(130)
    if fail_on_alert and alerted:
        sys.exit(1)


@cli.command()
@input_options
def normalize(paths: tuple[str, ...], input_format: str, output: str, strict: bool,
              stats: bool | None, progress: bool | None, max_record: int) -> None:
    """Write every connection record as an ECS document (NDJSON), without the rule.

    \b
    Example:
        zeek-proxy normalize conn.log.gz > conn.ecs.ndjson
    """
    from zeek_proxy.emit import ECSEventEmitter
    from zeek_proxy.core import fill_community_id
    from zeek_proxy.output import open_output, refuse_inputs
    from zeek_proxy.pipeline import read_frames
    inputs = list(paths) or ["-"]
    counts: list[InputStats] = []
    errors: list[ZeekProxyError] = []
    warnings: list[str] = []
    try:
        refuse_inputs(output, inputs)
        meter = _progress(progress, inputs)
        with open_output(output) as out:
            emitter = ECSEventEmitter(out)
            frames = read_frames(inputs, input_format, strict, counts, errors,  # type: ignore[arg-type]
                                 progress=meter, max_record=max_record, warnings=warnings)
            try:
                for frame in frames:
                    emitter.write(fill_community_id(frame))
            finally:
                if meter:
                    meter.close()
    except ZeekProxyError as exc:
        raise CLIError(exc) from None
    for warning in warnings:
        logger.warning("%s", warning)
    _finish(stats, counts, errors)


@cli.command()
@click.option("--src", "source", type=AddressParam(), required=True, metavar="IP",
              help="Source (originator) address.")
@click.option("--dst", "destination", type=AddressParam(), required=True, metavar="IP",
              help="Destination (responder) address.")
@click.option("--port", type=click.IntRange(0, 65535), required=True, metavar="N", help="Destination port.")
@click.option("--sport", type=click.IntRange(0, 65535), default=None, metavar="N", help="Source port.")
@click.option("--transport", default="tcp", show_default=True, help="tcp, udp, icmp...")
@click.option("--time", "when", type=TimeParam(), default=None, metavar="TIME",
              help="Connection time, for allow entries that expire [default: now].")
@click.option("--evidence", "kind", type=click.Choice(EVIDENCE_KINDS), default=None,
              help="What the logs say the connection was (as zeek_proxy.evidence names it); "
                   "judges the Proxy Protocol detection too.")
@click.option("--domain", default=None, metavar="NAME", help="With --evidence: the name asked for.")
@config_options
def explain(source: str, destination: str, port: int, sport: int | None, transport: str,
            when: pd.Timestamp | None, kind: str | None, domain: str | None, config: str | None,
            allowlists: tuple[str, ...]) -> None:
    """Say whether a connection would alert, and why.

    The first line is the verdict: ALERT, ALERT: Proxy Protocol to the Internet,
    SUPPRESSED by <entry>, or NO MATCH: <reason>; the steps behind it follow.

    \b
    Example:
        zeek-proxy explain --src 10.1.2.3 --dst 203.0.113.9 --port 8080 -c site.toml
        zeek-proxy explain --src 10.0.0.55 --dst 60.190.189.214 --port 8124 --evidence socks
    """
    from zeek_proxy.core.explain import explain as explain_connection
    if domain and not kind:
        raise click.UsageError("--domain goes with --evidence")
    settings = replace(_settings(config, allowlists), evidence=True)
    click.echo(str(explain_connection(settings, source, destination, port, sport, transport, when,
                                      kind, domain)))


@cli.command()
@config_options
def rule(config: str | None, allowlists: tuple[str, ...]) -> None:
    """Print the effective rule and allow entries as TOML that -c accepts.

    \b
    Example:
        zeek-proxy rule -c site.toml -a proxies.txt > effective.toml
    """
    from zeek_proxy.config import PROFILES as PROFILE_TABLE, to_toml
    from zeek_proxy.core import PROTOCOL_RULE, RULE
    settings = _settings(config, allowlists)
    meta = (
        f"{RULE.name} (Elastic rule {RULE.id}, version {RULE.version})",
        f"profile {settings.profile}: {PROFILE_TABLE[settings.profile].query}",
        f"severity {RULE.severity}, risk score {RULE.risk_score:g}; "
        f"{RULE.tactic_id} {RULE.tactic_name} / {RULE.technique_id} {RULE.technique_name}",
        "known false positives: " + "; ".join(RULE.false_positives),
    )
    if settings.evidence:
        meta += (f"evidence on: also {PROTOCOL_RULE.name} (rule {PROTOCOL_RULE.id}, version "
                 f"{PROTOCOL_RULE.version}): SOCKS, HTTP CONNECT or an absolute-form request from an "
                 "internal source to the Internet, on any port",)
    click.echo(to_toml(settings, meta), nl=False)


@cli.group()
def export() -> None:
    """Write the same detection for Security Onion's other engines: Sigma, Zeek, Suricata.

    One config (ports, networks, allow entries) drives them all, so the offline scan,
    the live sensor and the SIEM agree.

    \b
    Example:
        zeek-proxy export sigma -c site.toml
        zeek-proxy export zeek -c site.toml --package ./zeek-proxy-policy
        zeek-proxy export suricata -c site.toml --sid-base 9300000
    """


def _write_text(text: str, output: str) -> None:
    from zeek_proxy.output import open_output
    try:
        with open_output(output) as out:
            out.write(text)
    except ZeekProxyError as exc:
        raise CLIError(exc) from None


def _exportable(settings: Settings, target: str) -> Settings:
    """The settings, unless their profile has a branch the exports cannot express; warns
    about a part the `target` export leaves out (Suricata has no SOCKS parser)."""
    if settings.outbound:
        raise CLIError(ConfigError(f"cannot export profile {settings.profile}: its branch on Zeek's "
                                   "network direction (local_orig/local_resp) is not exported; use "
                                   "elastic-v3 or later"))
    if target == "suricata" and (settings.socks or settings.evidence):
        logger.warning("%s alerts on SOCKS (Zeek socks.log records) on any port; Suricata cannot "
                       "tell SOCKS, so the rules leave it out: export it with `export zeek` or "
                       "`export sigma`", f"profile {settings.profile}" if settings.socks else "--evidence")
    return settings


def _exported(build: Callable[[], Any]) -> Any:
    """`build()`, with a config the target cannot express (ValueError) or a package folder
    that cannot be written (OSError) as one exit-2 line instead of a traceback."""
    try:
        return build()
    except ValueError as exc:
        raise CLIError(ConfigError(f"cannot export: {exc}")) from None
    except OSError as exc:
        where = SourceLocation(exc.filename) if exc.filename else None
        raise CLIError(ConfigError(f"cannot write: {exc.strerror or exc}", where)) from None


@export.command("sigma")
@config_options
@click.option("--evidence", is_flag=True, expose_value=False, callback=_keep,
              help="Also the Proxy Protocol rules: SOCKS, HTTP CONNECT and absolute-form requests to the Internet on any port.")
@click.option("-o", "--output", default="-", show_default=True, metavar="PATH", help="Output file.")
@click.option("--fields", type=click.Choice(["zeek", "ecs"]), default="zeek", show_default=True,
              help="Zeek's field names (id.orig_h…) or ECS names (source.ip…).")
def export_sigma(config: str | None, allowlists: tuple[str, ...], output: str, fields: str) -> None:
    """Sigma rules for Security Onion's Detections module (and any Sigma pipeline).

    One YAML stream: the conn rule, and a socks.log rule under elastic-v4 and later;
    with --evidence also http.log rules (CONNECT, absolute-form requests).

    \b
    Example:
        zeek-proxy export sigma -c site.toml -o proxy-port-activity.yml
    """
    from zeek_proxy.export.sigma import to_sigma

    settings = _exportable(_settings(config, allowlists), "sigma")
    _write_text(_exported(lambda: to_sigma(settings, fields=fields)), output)


@export.command("zeek")
@config_options
@click.option("--evidence", is_flag=True, expose_value=False, callback=_keep,
              help="Also Protocol_Activity notices: SOCKS, HTTP CONNECT and absolute-form requests to the Internet on any port.")
@click.option("-o", "--output", default="-", show_default=True, metavar="PATH", help="Output file (the script).")
@click.option("--package", "package", default=None, metavar="DIR",
              help="Write a zkg package (zkg.meta, scripts/, README) into DIR instead.")
def export_zeek(config: str | None, allowlists: tuple[str, ...], output: str, package: str | None) -> None:
    """A Zeek policy script raising ProxyPort::Internet_Activity notices live.

    Under elastic-v4 and later (SOCKS) and with --evidence (SOCKS, HTTP CONNECT,
    absolute-form requests) also ProxyPort::Protocol_Activity notices, on any port.

    \b
    Example:
        zeek-proxy export zeek -c site.toml --package ./zeek-proxy-policy
    """
    from zeek_proxy.export.zeek import to_zeek_script, write_package

    settings = _exportable(_settings(config, allowlists), "zeek")
    if package:
        for path in _exported(lambda: write_package(settings, package)):
            click.echo(str(path), err=True)
    else:
        _write_text(_exported(lambda: to_zeek_script(settings)), output)


@export.command("suricata")
@config_options
@click.option("--evidence", is_flag=True, expose_value=False, callback=_keep,
              help="Also the Proxy Protocol rules: HTTP CONNECT and absolute-form requests to the Internet on any port.")
@click.option("-o", "--output", default="-", show_default=True, metavar="PATH", help="Output file.")
@click.option("--sid-base", type=click.IntRange(min=1), default=9_300_000, show_default=True, metavar="N",
              help="The first rule's sid.")
def export_suricata(config: str | None, allowlists: tuple[str, ...], output: str, sid_base: int) -> None:
    """Suricata rules for the same logic (Security Onion's NIDS rules).

    With --evidence also HTTP CONNECT and absolute-form request rules on any port
    (SOCKS cannot be told by Suricata and is left out).

    \b
    Example:
        zeek-proxy export suricata -c site.toml -o proxy-port.rules
    """
    from zeek_proxy.export.suricata import to_suricata_rules

    settings = _exportable(_settings(config, allowlists), "suricata")
    _write_text(_exported(lambda: to_suricata_rules(settings, sid_base=sid_base)), output)


def _report_ready(report_path: str, output: str) -> None:
    """Fail before any work when the report cannot be made (libraries missing)."""
    from zeek_proxy.report import require_libraries

    if report_path == output and output != "-":
        raise click.UsageError("--report and --output name the same file")
    try:
        require_libraries()
    except ZeekProxyError as exc:
        raise CLIError(exc) from None


def _scan_report(alerts: pd.DataFrame, path: str, settings: Settings, allow_counts: dict[str, int]) -> None:
    """`scan --report`: the page of the alerts just written, with what the run knows."""
    from zeek_proxy.emit import documents
    from zeek_proxy.report import RunInfo, build_report

    suppression, new_terms = settings.suppression, settings.new_terms
    info = RunInfo(
        profile=settings.profile, allow_counts=allow_counts,
        suppression=(f"windows of {suppression.text or f'{suppression.seconds}s'}, grouped by "
                     f"{', '.join(suppression.group_by)}") if suppression else None,
        new_terms=(f"new combinations of {', '.join(new_terms.fields)} over {new_terms.text}")
        if new_terms else None,
        expired={entry.name: str(entry.expires) for entry in settings.expired_entries()},
    )
    _write_text(build_report(documents(alerts), info), path)


@cli.command()
@click.argument("paths", nargs=-1, metavar="[ALERTS]...")
@click.option("-o", "--output", default="report.html", show_default=True, metavar="PATH",
              help="The HTML file; written to a temporary name and renamed when complete (- for stdout).")
@click.option("--title", default=None, help="The page's title [default: zeek-proxy report].")
def report(paths: tuple[str, ...], output: str, title: str | None) -> None:
    """Write a self-contained HTML triage report of ECS alert files.

    ALERTS are files of scan's ECS NDJSON output (plain or gzip), or - for stdin (the
    default); allowlisted hits kept by --show-suppressed are shown as such. The page
    has the alerts over time, top sources, destinations and ports, and a sortable table
    of groups leading to their alerts; it opens with no network (everything is inside).
    Needs the report extra (docs/report.md).

    \b
    Example:
        zeek-proxy report alerts.ndjson -o report.html
        zeek-proxy scan --show-suppressed -c site.toml /nsm/zeek/logs/ | zeek-proxy report -o today.html
    """
    from zeek_proxy.output import refuse_inputs
    from zeek_proxy.report import build_report, read_alerts, require_libraries

    inputs = list(paths) or ["-"]
    if not paths and sys.stdin.isatty():
        logger.warning("reading alerts from standard input (end it with Ctrl-D; --help for usage)")
    try:
        require_libraries()
        refuse_inputs(output, inputs)
        html = build_report(read_alerts(inputs), title=title)
    except ZeekProxyError as exc:
        raise CLIError(exc) from None
    _write_text(html, output)


def main() -> None:
    """Console entry point: the CLI, with SIGINT and SIGTERM as one line and 130 or 143,
    a quiet 141 when stdout is closed early (`| head`), and one line instead of a
    traceback for a bug (ZEEK_PROXY_DEBUG=1 shows the traceback).

    Everything alive at start (the imported modules) and at the end is frozen out of
    the garbage collector: it would only walk them, during the run and again at exit."""
    gc.freeze()
    INTERRUPTS.install()
    try:
        cli(prog_name="zeek-proxy", standalone_mode=True)
    except Interrupted as exc:
        _interrupted(exc)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("ZEEK_PROXY_DEBUG"):
            raise
        click.echo(f"Error: internal error: {type(exc).__name__}: {exc} "
                   "(rerun with ZEEK_PROXY_DEBUG=1 for details)", err=True)
        sys.exit(INTERNAL_ERROR)
    finally:
        gc.freeze()
