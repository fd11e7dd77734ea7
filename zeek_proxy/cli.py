"""The `zeek-proxy` command line: argument parsing, one library call, exit codes.

Errors from the library arrive as ZeekProxyError and leave as one line on stderr with
exit 2 (usage, config) or 3 (input); nothing else prints a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable

import click

from zeek_proxy import __version__
from zeek_proxy.adapters.sniff import FORMATS
from zeek_proxy.emit import EMITTERS, ECSEventEmitter
from zeek_proxy.errors import ZeekProxyError
from zeek_proxy.output import open_output, refuse_inputs
from zeek_proxy.progress import Progress
from zeek_proxy.scan import input_size, read_frames, scan as run_scan
from zeek_proxy.core import fill_community_id
from zeek_proxy.stats import InputStats, render

logger = logging.getLogger("zeek_proxy")


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
    )):
        command = option(command)
    return command


def _progress(flag: bool | None, paths: list[str]) -> Progress | None:
    if not (flag if flag is not None else sys.stderr.isatty()):
        return None
    return Progress(*input_size(paths))


def _finish(stats_flag: bool | None, inputs: list[InputStats], errors: list[ZeekProxyError]) -> None:
    """Counts and input errors on stderr; exit 3 (or 2) when an input failed."""
    if stats_flag if stats_flag is not None else sys.stderr.isatty():
        click.echo(render(inputs), err=True)
    for error in errors:
        click.echo(f"Error: {error}", err=True)
    if errors:
        sys.exit(max(e.exit_code for e in errors))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zeek-proxy")
def cli() -> None:
    """Detect proxy-port activity to the Internet in Zeek and Suricata logs.

    Implements Elastic's rule "Proxy Port Activity to the Internet" (ad0e5e75, v3)
    offline: TCP from an internal address to an Internet address on port 1080, 3128
    or 8080.
    """
    _setup_logging()


@cli.command()
@input_options
@click.option("-t", "--to", "to", type=click.Choice(sorted(EMITTERS)), default="ecs",
              show_default=True, help="Output format.")
@click.option("--fail-on-alert", is_flag=True, help="Exit 1 when at least one alert was produced.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Threads that pre-filter raw lines [default: all cores].")
def scan(paths: tuple[str, ...], input_format: str, output: str, strict: bool,
         stats: bool | None, progress: bool | None, to: str, fail_on_alert: bool,
         jobs: int | None) -> None:
    """Scan logs and write one alert per matching connection.

    PATH is a file, a folder (searched for *conn*.log* and *eve*.json*), a glob, or -
    for stdin (the default). Plain or gzip; Zeek TSV or JSON, or Suricata eve.json.

    \b
    Example:
        zeek-proxy scan /nsm/zeek/logs/2026-11-27/
        zeek-proxy scan -t notice -o notice.log conn.log eve.json
    """
    inputs = list(paths) or ["-"]
    try:
        refuse_inputs(output, inputs)
        meter = _progress(progress, inputs)
        try:
            result = run_scan(inputs, input_format=input_format, strict=strict, jobs=jobs,
                              progress=meter)
        finally:
            if meter:
                meter.close()
        with open_output(output) as out:
            emitter = EMITTERS[to](out)
            emitter.begin()
            emitter.write(result.alerts)
            emitter.end()
    except ZeekProxyError as exc:
        raise CLIError(exc) from None
    _finish(stats, result.inputs, result.errors)  # type: ignore[arg-type]
    if fail_on_alert and len(result.alerts):
        sys.exit(1)


@cli.command()
@input_options
def normalize(paths: tuple[str, ...], input_format: str, output: str, strict: bool,
              stats: bool | None, progress: bool | None) -> None:
    """Write every connection record as an ECS document (NDJSON), without the rule.

    \b
    Example:
        zeek-proxy normalize conn.log.gz > conn.ecs.ndjson
    """
    inputs = list(paths) or ["-"]
    counts: list[InputStats] = []
    errors: list[ZeekProxyError] = []
    try:
        refuse_inputs(output, inputs)
        meter = _progress(progress, inputs)
        with open_output(output) as out:
            emitter = ECSEventEmitter(out)
            frames = read_frames(inputs, input_format, strict, counts, errors, progress=meter)  # type: ignore[arg-type]
            try:
                for frame in frames:
                    emitter.write(fill_community_id(frame))
            finally:
                if meter:
                    meter.close()
    except ZeekProxyError as exc:
        raise CLIError(exc) from None
    _finish(stats, counts, errors)


INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug, never an input or config problem


def main() -> None:
    """Console entry point: the CLI, with a quiet exit when stdout is closed early and
    one line instead of a traceback for a bug (ZEEK_PROXY_DEBUG=1 shows the traceback)."""
    try:
        cli(prog_name="zeek-proxy", standalone_mode=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("ZEEK_PROXY_DEBUG"):
            raise
        click.echo(f"Error: internal error: {type(exc).__name__}: {exc} "
                   "(rerun with ZEEK_PROXY_DEBUG=1 for details)", err=True)
        sys.exit(INTERNAL_ERROR)
