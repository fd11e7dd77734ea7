"""The page: Bokeh charts and a Jinja2 template, everything inline.

Imported only when a report is made (`zeek_proxy.report.build_report`), so the rest of
the command line never loads Bokeh or Jinja2.
"""

from __future__ import annotations

from datetime import datetime, timezone
from importlib import resources as package_files
from typing import Any

import jinja2
from markupsafe import Markup
import orjson
from bokeh.embed import components
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Legend
from bokeh.palettes import Category10_10, Dark2_8
from bokeh.plotting import figure
from bokeh.resources import Resources

from zeek_proxy.lazy import pd
from zeek_proxy import __version__
from zeek_proxy.report.data import ALLOWLISTED, DETECTIONS, MAX_ALERT_ROWS, MAX_GROUPS, NO_EVIDENCE, Summary

COLOURS = {DETECTIONS[0]: "#1f77b4", DETECTIONS[1]: "#d62728", ALLOWLISTED: "#b0b0b0"}
WIDTH = 1200
TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"


def _file(name: str) -> str:
    return package_files.files("zeek_proxy.report").joinpath(name).read_text(encoding="utf-8")


def _finish(plot: Any) -> Any:
    plot.toolbar.logo = None
    plot.sizing_mode = "stretch_width"
    plot.title.text_font_size = "13px"
    return plot


def _over_time(table: pd.DataFrame, bin_name: str, freq_ms: float, title: str,
               colours: dict[str, str], palette: tuple[str, ...] = tuple(Category10_10[2:])) -> Any:
    """Stacked bars of counts per time bin, one colour per column of `table`."""
    names = [str(c) for c in table.columns]
    keys = [f"c{i}" for i in range(len(names))]
    starts = pd.DatetimeIndex(table.index)
    data: dict[str, Any] = {"t": starts.to_numpy(), "mid": (starts + pd.Timedelta(milliseconds=freq_ms / 2)).to_numpy()}
    data.update({key: table[column].to_numpy() for key, column in zip(keys, table.columns)})
    data["total"] = table.sum(axis=1).to_numpy()
    source = ColumnDataSource(data)
    plot = figure(title=title, x_axis_type="datetime", height=300, width=WIDTH, tools=TOOLS,
                  y_axis_label=f"per {bin_name}", x_axis_label="time (UTC)")
    fills = [colours.get(name) or palette[i % len(palette)] for i, name in enumerate(names)]
    renderers = plot.vbar_stack(keys, x="mid", width=freq_ms * 0.9, color=fills, source=source)
    for renderer, key, name in zip(renderers, keys, names):
        plot.add_tools(HoverTool(renderers=[renderer], formatters={"@t": "datetime"},
                                 tooltips=[(f"{bin_name} from", "@t{%F %H:%M:%S}"), (name, f"@{key}"),
                                           ("all", "@total")]))
    legend = Legend(items=[(name, [r]) for name, r in zip(names, renderers)], location="top_left",
                    orientation="horizontal", click_policy="hide")
    plot.add_layout(legend, "above")
    plot.y_range.start = 0
    plot.yaxis.ticker.min_interval = 1
    return _finish(plot)


def _bars(table: pd.DataFrame, title: str, colour: str, axis: str, label: str) -> Any:
    """Horizontal bars, the largest on top."""
    labels = [str(v) for v in table["label"]][::-1]
    counts = list(table["count"])[::-1]
    source = ColumnDataSource({"label": labels, "count": counts})
    plot = figure(title=title, y_range=FactorRange(*labels), height=max(160, 26 * len(labels) + 70),
                  width=WIDTH // 2, tools="save", x_axis_label=label, y_axis_label=axis)
    plot.hbar(y="label", right="count", height=0.7, source=source, color=colour)
    plot.add_tools(HoverTool(tooltips=[(axis, "@label"), ("alerts", "@count")]))
    plot.x_range.start = 0
    plot.xaxis.ticker.min_interval = 1  # counts: no ticks between whole numbers
    plot.ygrid.grid_line_color = None
    return _finish(plot)


def charts(summary: Summary) -> tuple[str, dict[str, str]]:
    """Bokeh's script and one <div> per chart."""
    if summary.first is None:
        return "", {}
    freq_ms = pd.Timedelta(summary.bin_freq).total_seconds() * 1000
    models: dict[str, Any] = {}
    if not summary.over_time.empty:
        models["over_time"] = _over_time(summary.over_time, summary.bin_name, freq_ms,
                                         f"Alerts per {summary.bin_name}, by detection", COLOURS)
    if summary.by_evidence is not None and not summary.by_evidence.empty:
        models["by_evidence"] = _over_time(summary.by_evidence, summary.bin_name, freq_ms,
                                           f"Alerts per {summary.bin_name}, by evidence (zeek_proxy.evidence)",
                                           {NO_EVIDENCE: "#c7c7c7"}, tuple(Dark2_8))
    for key, table, title, colour, axis in (
        ("sources", summary.top_sources, "internal sources", "#1f77b4", "source.ip"),
        ("destinations", summary.top_destinations, "destinations", "#ff7f0e", "destination"),
        ("ports", summary.ports, "destination ports", "#2ca02c", "destination.port"),
    ):
        if len(table):
            others, count = table.attrs.get("others", (0, 0))
            label = f"alerts ({others:,} more: {count:,} alerts)" if others else "alerts"
            title = f"Top {len(table)} {title}" if others else title[0].upper() + title[1:]
            models[key] = _bars(table, title, colour, axis, label)
    if not models:
        return "", {}
    script, divs = components(models)
    return script, divs


def _time(stamp: Any) -> str:
    return "" if stamp is None or pd.isna(stamp) else stamp.strftime("%Y-%m-%d %H:%M:%S")


def _table_data(summary: Summary) -> dict[str, Any]:
    """The two tables as compact JSON: column specs and rows of plain values."""
    shown = summary.columns
    group_columns = [("src", "source", "text"), ("dst", "destination", "text"), ("port", "port", "num")]
    if shown.get("domain"):
        group_columns.append(("domain", "destination.domain", "text"))
    group_columns.append(("alerts", "alerts", "num"))
    if shown.get("folded"):
        group_columns.append(("hits", "hits (with suppressed)", "num"))
    if shown.get("allowed"):
        group_columns += [("allowed", "allowlisted", "num"), ("allowed_by", "allow entry", "text")]
    group_columns += [("first", "first seen", "text"), ("last", "last seen", "text"),
                      ("detections", "detection", "text")]
    if shown.get("evidence"):
        group_columns.append(("evidence", "evidence", "text"))
    groups = summary.groups
    group_rows = []
    for row in groups.itertuples(index=False):
        values = row._asdict()
        out = []
        for key, _, kind in group_columns:
            item = values.get(key)
            if key in ("first", "last"):
                item = _time(item)
            elif key == "port":
                item = None if pd.isna(item) or item < 0 else int(item)
            elif key in ("src", "dst") and item == "-":  # a missing address, as the alert table shows it
                item = ""
            elif kind == "num":
                item = int(item)
            elif item is None or (not isinstance(item, str) and pd.isna(item)):
                item = ""
            out.append(item)
        group_rows.append(out)

    rules = list(dict.fromkeys([*DETECTIONS, *summary.alert_rows["rule"].astype(str)]))
    inputs = list(dict.fromkeys(summary.alert_rows["input"].astype(str)))
    rule_at, input_at = ({value: i for i, value in enumerate(values)} for values in (rules, inputs))
    alert_columns = [("time", "time (UTC)", "text"), ("rule", "detection", "enum"),
                     ("src", "source", "text"), ("sport", "sport", "num"),
                     ("dst", "destination", "text"), ("port", "port", "num")]
    if shown.get("domain"):
        alert_columns.append(("domain", "destination.domain", "text"))
    if shown.get("evidence"):
        alert_columns.append(("evidence", "evidence", "text"))
    if shown.get("folded"):
        alert_columns.append(("folded", "suppressed hits", "num"))
    if shown.get("allowed"):
        alert_columns.append(("allowed_by", "allowlisted by", "text"))
    alert_columns += [("input", "input", "enum"), ("line", "line", "num"), ("session", "uid / flow_id", "text"),
                      ("event_id", "event.id", "text")]
    frame = summary.alert_rows
    picked = {
        "time": [_time(t) for t in frame["ts"]],
        "rule": [rule_at[r] for r in frame["rule"].astype(str)],
        "input": [input_at[p] for p in frame["input"].astype(str)],
        "folded": frame["hits_folded"],
    }
    alert_rows: list[list[Any]] = [[] for _ in range(len(frame))]
    for key, _, kind in alert_columns:
        column = picked.get(key, frame[key] if key in frame.columns else None)
        for out, item in zip(alert_rows, column):  # type: ignore[arg-type]
            if item is None or (not isinstance(item, (str, list)) and pd.isna(item)):
                out.append(None if kind == "num" else "")
            else:
                out.append(int(item) if kind == "num" else item)
    return {
        "groups": {"columns": [{"key": k, "label": l, "type": t} for k, l, t in group_columns],
                   "rows": group_rows, "total": summary.group_count},
        "alerts": {"columns": [{"key": k, "label": l, "type": t} for k, l, t in alert_columns],
                   "rows": alert_rows, "total": summary.alert_total,
                   "enums": {"rule": rules, "input": inputs}},
    }


def _json_for_script(data: Any) -> str:
    """JSON that may sit inside <script>: every "<" escaped, so no "</script" or "<!--"
    in a value can end or confuse the element (JSON.parse reads \\u003c back as "<")."""
    return orjson.dumps(data).decode().replace("<", "\\u003c")


def render(summary: Summary, title: str | None = None) -> str:
    """The whole page."""
    script, divs = charts(summary)
    bokeh = Resources(mode="inline", components=["bokeh"])
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)
    environment.filters["n"] = lambda number: f"{number:,}"
    environment.filters["t"] = _time
    template = environment.from_string(_file("template.html.j2"))
    span = (summary.last - summary.first) if summary.first is not None else None
    return template.render(
        title=title or "zeek-proxy report",
        s=summary,
        span=_span(span),
        detections=DETECTIONS,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        version=__version__,
        bokeh_js=Markup("\n".join(bokeh.js_raw).replace("</script", "<\\/script")),
        chart_script=Markup(script),
        charts={k: Markup(v) for k, v in divs.items()},
        data=Markup(_json_for_script(_table_data(summary))),
        table_js=Markup(_file("tables.js")),
        css=Markup(_file("report.css")),
        max_groups=MAX_GROUPS, max_alert_rows=MAX_ALERT_ROWS,
    )


def _span(span: pd.Timedelta | None) -> str:
    if span is None:
        return ""
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours or days else []
    parts += [f"{minutes} min"] if not days and (minutes or hours) else []
    parts += [f"{seconds} s"] if not days and not hours else []
    return " ".join(parts)
