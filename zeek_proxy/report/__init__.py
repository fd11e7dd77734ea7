"""A self-contained HTML triage report of zeek-proxy's ECS alerts (`zeek-proxy report`).

    from zeek_proxy.report import build_report, read_alerts
    html = build_report(read_alerts(["alerts.ndjson"]))

The page holds everything it needs (charts' JavaScript, styles, data): it opens from a
file with no network. Charts are drawn by Bokeh and the page is a Jinja2 template; both
come with the `report` extra (`pip install 'zeek-proxy[report]'`) and are imported only
when a report is built, never by the rest of the package. This is an output: it reads
ECS documents and knows nothing of logs, formats or the pipeline.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Iterable

from zeek_proxy.errors import ConfigError
from zeek_proxy.report.data import RunInfo, collect, read_alerts, summarise

__all__ = ["RunInfo", "build_report", "read_alerts", "require_libraries"]

LIBRARIES = ("bokeh", "jinja2")
INSTALL = "pip install 'zeek-proxy[report]'"


def require_libraries() -> None:
    """Raise ConfigError (exit 2, one line) when the report's libraries are missing."""
    missing = []
    for name in LIBRARIES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a module set to None, or a broken install
            found = False
        if not found:
            missing.append(name)
    if missing:
        raise ConfigError(f"the HTML report needs {' and '.join(missing)}: {INSTALL}")


def build_report(documents: Iterable[dict[str, Any]], info: RunInfo | None = None,
                 title: str | None = None) -> str:
    """The report's HTML for ECS alert documents (nested objects, as `scan` writes them;
    documents that are no alert are counted and left out)."""
    require_libraries()
    try:
        from zeek_proxy.report.render import render
    except ImportError as exc:  # installed but unusable (a broken or too old version)
        raise ConfigError(f"the HTML report's libraries cannot be loaded ({exc}): {INSTALL}") from None
    return render(summarise(collect(documents), info), title)
