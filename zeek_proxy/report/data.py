"""What the report shows, worked out from zeek-proxy's ECS documents with pandas.

Nothing here draws or templates: `summarise` returns plain values (numbers, strings,
small frames) for `render`. Documents are read field by field into columns as they
arrive, so 100,000 alerts cost a few columns, not 100,000 nested dicts.
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable, Iterator

import orjson

from zeek_proxy.lazy import pd
from zeek_proxy.errors import InputError, SourceLocation

#: The two detections, always counted (0 when absent), in this order.
DETECTIONS = ("Proxy Port Activity to the Internet", "Proxy Protocol to the Internet")  # the rules' names
#: The chart's series for hits an allow entry kept from alerting.
ALLOWLISTED = "allowlisted (not alerted)"
#: Shown in the groups table at most; the rest are summed in a note.
MAX_GROUPS = 2_000
#: Rows of the alert table at most (spread over the groups shown); the NDJSON has them all.
MAX_ALERT_ROWS = 10_000
#: Bars of the top-N charts.
TOP = 15
#: The largest number of bars a time chart may have before the next coarser bin is used.
MAX_BINS = 360
BINS = (("second", "1s"), ("10 seconds", "10s"), ("minute", "1min"), ("hour", "1h"), ("day", "1D"))
NO_EVIDENCE = "(none)"


@dataclass
class RunInfo:
    """What the documents cannot tell and the run that made them can (`scan --report`)."""

    profile: str | None = None
    #: hits each allow entry silenced, entries with none included (the documents only
    #: hold the silenced hits under --show-suppressed)
    allow_counts: dict[str, int] | None = None
    suppression: str | None = None  # e.g. "1h, grouped by source.ip, destination.ip"
    new_terms: str | None = None  # e.g. "source.ip, destination.ip over 7d"
    expired: dict[str, str] | None = None  # allow entries expired today, and since when


# -- reading ---------------------------------------------------------------------------------

def read_alerts(paths: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The documents of ECS NDJSON files (plain or gzip; "-" is stdin), in order.

    A line that is no JSON object stops the reading with an InputError (exit 3) naming
    the file and line; blank lines are skipped."""
    for path in paths:
        yield from _read_one(path)


def _open(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", SourceLocation(path)) from None


def _read_one(path: str) -> Iterator[dict[str, Any]]:
    name = "<stdin>" if path == "-" else path
    raw = _open(path)
    buffered = io.BufferedReader(raw) if not hasattr(raw, "peek") else raw  # type: ignore[arg-type]
    stream: BinaryIO = buffered
    try:
        if buffered.peek(2)[:2] == b"\x1f\x8b":  # type: ignore[attr-defined]
            stream = gzip.GzipFile(fileobj=buffered)  # type: ignore[assignment]
        number = 0
        try:
            for number, line in enumerate(stream, 1):
                line = line.strip()
                if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                if not line:
                    continue
                try:
                    document = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise InputError("not JSON: expected ECS NDJSON, one alert a line (zeek-proxy scan's "
                                     "default output)", SourceLocation(name, number)) from None
                if not isinstance(document, dict):
                    raise InputError("not a JSON object: expected one ECS document a line",
                                     SourceLocation(name, number))
                yield document
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(f"truncated or corrupt gzip after line {number}: {exc}",
                             SourceLocation(name)) from None
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", SourceLocation(name)) from None
    finally:
        if path != "-":
            raw.close()


# -- columns ---------------------------------------------------------------------------------

def _nest(document: dict[str, Any]) -> dict[str, Any]:
    """A document with flat dotted keys ("source.ip": ...) as nested objects."""
    nested: dict[str, Any] = {}
    for key, item in document.items():
        parts = key.split(".") if key != "@timestamp" else [key]
        node = nested
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = item
    return nested


def _obj(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else {}


COLUMNS = ("ts", "rule", "src", "sport", "dst", "port", "domain", "evidence", "input",
           "line", "allowed_by", "hits_folded", "window", "window_end", "new_terms",
           "session", "event_id", "sensor")


def _text(item: Any) -> str | None:
    if item is None or isinstance(item, (dict, list)):
        return None if item is None or not item else orjson.dumps(item).decode()
    return str(item)


def _int(item: Any) -> int | None:
    try:
        return int(item) if item is not None and not isinstance(item, bool) else None
    except (TypeError, ValueError):
        return None


def _evidence(item: Any) -> str:
    if isinstance(item, str):
        item = [item]
    if not isinstance(item, list) or not item:
        return NO_EVIDENCE
    return "+".join(sorted({str(kind) for kind in item}))


@dataclass
class Alerts:
    """The documents as a frame of the columns the report uses, and what was set aside."""

    frame: pd.DataFrame
    skipped: int = 0  # documents that are no alert (normalize output, other tools' events)
    group_by: tuple[str, ...] = ()  # kibana.alert.suppression.terms fields, as met
    evidence_seen: bool = False
    domain_seen: bool = False


def collect(documents: Iterable[dict[str, Any]]) -> Alerts:
    """Read the report's columns out of ECS documents; documents that are no alert
    (event.kind other than "alert", and no rule.name) are counted and set aside."""
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    skipped = 0
    group_by: tuple[str, ...] = ()
    evidence_seen = domain_seen = False
    for document in documents:
        if "." in "".join(document):  # flat dotted keys ("@timestamp" has no dot)
            document = _nest(document)
        get = document.get
        event, rule, zeek_proxy = _obj(get("event")), _obj(get("rule")), _obj(get("zeek_proxy"))
        source, destination = _obj(get("source")), _obj(get("destination"))
        kind, name = event.get("kind"), rule.get("name")
        allowed_by = zeek_proxy.get("suppressed_by")  # --show-suppressed: event.kind "event"
        if allowed_by is None and (kind not in (None, "alert") or (kind is None and name is None)):
            skipped += 1
            continue
        alert = _obj(_obj(get("kibana")).get("alert"))
        suppression = _obj(alert.get("suppression"))
        evidence = zeek_proxy.get("evidence")
        evidence_seen |= evidence is not None
        domain = _text(destination.get("domain"))
        domain_seen |= domain is not None
        terms = suppression.get("terms")
        if not group_by and isinstance(terms, list):
            group_by = tuple(str(t.get("field")) for t in terms if isinstance(t, dict))
        new_terms = alert.get("new_terms")
        session = _obj(get("zeek")).get("session_id")
        if session is None:
            session = _obj(_obj(get("suricata")).get("eve")).get("flow_id")
        row = (
            _text(get("@timestamp")), _text(name) or "(no rule.name)",
            _text(source.get("ip")), _int(source.get("port")),
            _text(destination.get("ip")), _int(destination.get("port")),
            domain, _evidence(evidence),
            _text(_obj(_obj(get("log")).get("file")).get("path")) or "(no log.file.path)",
            _int(zeek_proxy.get("line")), _text(allowed_by),
            _int(suppression.get("docs_count")),
            zeek_proxy.get("suppress_for") if suppression else None,
            _text(suppression.get("end")),
            " ".join(map(str, new_terms)) if isinstance(new_terms, list) else _text(new_terms),
            _text(session), _text(event.get("id")), _text(_obj(get("observer")).get("name")),
        )
        for name, item in zip(COLUMNS, row):
            columns[name].append(item)
    frame = pd.DataFrame(columns)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, errors="coerce", format="ISO8601")
    for name in ("sport", "port", "line", "hits_folded"):
        frame[name] = frame[name].astype("Int64")
    frame["window"] = pd.to_numeric(frame["window"], errors="coerce")
    frame["allowed"] = frame["allowed_by"].notna()
    return Alerts(frame, skipped, group_by, evidence_seen, domain_seen)


# -- summary ---------------------------------------------------------------------------------

@dataclass
class Summary:
    """Everything the page shows, as plain values and small frames."""

    total: int  # alerts (documents not silenced by an allow entry)
    allowed: int  # documents silenced by an allow entry (--show-suppressed)
    skipped: int
    detections: dict[str, int]  # rule.name -> alerts, the two detections always present
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    inputs: list[tuple[str, int, int]]  # log.file.path, alerts, allowlisted
    allow: list[tuple[str, int]]  # entry, hits silenced
    suppression: dict[str, Any] | None  # windows, hits folded, group_by, length
    new_terms: dict[str, Any] | None  # alerts, fields
    profile: str | None
    sensors: list[str]
    sources: int
    destinations: int
    bin_name: str  # second, 10 seconds, minute, hour or day
    bin_freq: str  # the same as a pandas frequency
    over_time: pd.DataFrame  # index: bin start; columns: detections (+ allowlisted)
    by_evidence: pd.DataFrame | None  # index: bin start; columns: evidence combinations
    top_sources: pd.DataFrame  # label, count
    top_destinations: pd.DataFrame  # label, count
    ports: pd.DataFrame  # label, count
    groups: pd.DataFrame  # the rows of the groups table
    group_count: int
    alert_rows: pd.DataFrame  # the rows of the alert table
    alert_total: int
    columns: dict[str, bool] = field(default_factory=dict)  # optional columns present


def _bin(first: pd.Timestamp | None, last: pd.Timestamp | None) -> tuple[str, str]:
    if first is None or last is None:
        return BINS[-2]
    span = last - first
    for name, freq in BINS:
        if span / pd.Timedelta(freq) <= MAX_BINS:
            return name, freq
    return BINS[-1]


def _top(series: pd.Series, n: int = TOP) -> pd.DataFrame:
    """The n most frequent values (label, count); `attrs["others"]` holds how many
    values were left out and their count."""
    counts = series.dropna().astype(str).value_counts()
    top = counts.head(n)
    frame = pd.DataFrame({"label": top.index.astype(str), "count": top.to_numpy()})
    frame.attrs["others"] = (len(counts) - len(top), int(counts.iloc[n:].sum()))
    return frame


def _joined(values: set[str], limit: int = 3) -> str:
    ordered = sorted(values)
    text = ", ".join(ordered[:limit])
    return text + (f" (+{len(ordered) - limit})" if len(ordered) > limit else "")


def _evidence_union(combinations: set[str]) -> str:
    kinds = {kind for combination in combinations for kind in combination.split("+")} - {NO_EVIDENCE}
    return ", ".join(sorted(kinds))


def summarise(alerts: Alerts, info: RunInfo | None = None) -> Summary:
    """The numbers, series and tables of the report."""
    info = info or RunInfo()
    frame = alerts.frame
    raised = frame[~frame["allowed"]]
    times = frame["ts"].dropna()
    first = times.min() if len(times) else None
    last = times.max() if len(times) else None

    detections = {name: 0 for name in DETECTIONS}
    detections.update({str(k): int(v) for k, v in raised["rule"].value_counts().items()})

    inputs = frame.groupby("input", sort=True)["allowed"].agg(["size", "sum"])
    input_rows = [(str(path), int(size - hidden), int(hidden)) for path, (size, hidden) in inputs.iterrows()]

    allow_from_docs = frame["allowed_by"].value_counts()
    if info.allow_counts is not None:
        allow = dict(info.allow_counts)
        for name, count in allow_from_docs.items():  # entries the run did not name (merged files)
            allow.setdefault(str(name), int(count))
    else:
        allow = {str(k): int(v) for k, v in allow_from_docs.items()}
    expired = info.expired or {}
    allow_rows = [(f"{name} (expired {expired[name]})" if name in expired else name, count)
                  for name, count in sorted(allow.items(), key=lambda item: (-item[1], item[0]))]

    suppression = None
    windows = raised[raised["hits_folded"].notna()]
    if len(windows) or info.suppression:
        lengths = sorted({float(w) for w in windows["window"].dropna()})
        suppression = {
            "windows": len(windows), "folded": int(windows["hits_folded"].sum()),
            "group_by": list(alerts.group_by), "lengths": lengths, "described": info.suppression,
        }
    new_terms = None
    novel = raised["new_terms"].notna()
    if novel.any() or info.new_terms:
        new_terms = {"alerts": int(novel.sum()), "described": info.new_terms}

    bin_name, freq = _bin(first, last)
    timed = frame.dropna(subset=["ts"])
    bins = timed["ts"].dt.tz_localize(None).dt.floor(freq)
    series = timed["rule"].where(~timed["allowed"], ALLOWLISTED)
    over_time = pd.crosstab(bins, series) if len(timed) else pd.DataFrame()
    order = [c for c in (*DETECTIONS, *sorted(set(over_time.columns) - set(DETECTIONS)))
             if c in over_time.columns and c != ALLOWLISTED]
    if ALLOWLISTED in over_time.columns:
        order.append(ALLOWLISTED)
    over_time = over_time[order] if len(over_time) else over_time

    by_evidence = None
    if alerts.evidence_seen:
        timed_raised = timed[~timed["allowed"]]
        if len(timed_raised):
            combos = timed_raised["evidence"]
            common = combos.value_counts()
            keep = set(common.index[:8])
            combos = combos.where(combos.isin(keep), "other")
            by_evidence = pd.crosstab(bins[~timed["allowed"]], combos)
            by_evidence = by_evidence[[c for c in [*common.index[:8], "other"] if c in by_evidence.columns]]

    top_destinations = _top(raised["dst"])
    if alerts.domain_seen and len(top_destinations):  # each top destination with its most frequent name
        named = raised[raised["dst"].isin(top_destinations["label"]) & raised["domain"].notna()]
        names = named.groupby(["dst", "domain"]).size().sort_values(ascending=False, kind="stable")
        first_name = names.reset_index().drop_duplicates("dst").set_index("dst")["domain"]
        top_destinations["label"] = [f"{ip} ({first_name[ip]})" if ip in first_name.index else ip
                                     for ip in top_destinations["label"]]

    groups, group_count = _groups(frame, alerts)
    rows, total_rows = _alert_rows(frame, groups)
    return Summary(
        total=len(raised), allowed=int(frame["allowed"].sum()), skipped=alerts.skipped,
        detections=detections, first=first, last=last, inputs=input_rows, allow=allow_rows,
        suppression=suppression, new_terms=new_terms, profile=info.profile,
        sensors=sorted(frame["sensor"].dropna().unique().astype(str)),
        sources=int(raised["src"].nunique()), destinations=int(raised["dst"].nunique()),
        bin_name=bin_name, bin_freq=freq, over_time=over_time, by_evidence=by_evidence,
        top_sources=_top(raised["src"]), top_destinations=top_destinations,
        ports=_top(raised["port"].astype("string")), groups=groups, group_count=group_count,
        alert_rows=rows, alert_total=total_rows,
        columns={"domain": alerts.domain_seen, "evidence": alerts.evidence_seen,
                 "allowed": bool(frame["allowed"].any()), "folded": suppression is not None},
    )


GROUP_KEY = ["src", "dst", "port"]


def _groups(frame: pd.DataFrame, alerts: Alerts) -> tuple[pd.DataFrame, int]:
    """One row per (source, destination, port): alerts, hits folded into them,
    allowlisted hits, first and last seen, detections, evidence and names; the
    MAX_GROUPS with the most alerts."""
    if frame.empty:
        return pd.DataFrame(columns=[*GROUP_KEY, "alerts", "hits", "allowed", "first", "last"]), 0
    keyed = frame.assign(src=frame["src"].fillna("-"), dst=frame["dst"].fillna("-"),
                         port=frame["port"].fillna(-1),
                         raised=(~frame["allowed"]).astype(int),
                         folded=frame["hits_folded"].fillna(0).astype(int) * (~frame["allowed"]))
    grouped = keyed.groupby(GROUP_KEY, sort=False)
    table = grouped.agg(alerts=("raised", "sum"), folded=("folded", "sum"), allowed=("allowed", "sum"),
                        first=("ts", "min"), last=("ts", "max"))
    # a folded window's last hit is its end, later than the alert's own time
    ends = pd.to_datetime(keyed["window_end"], utc=True, errors="coerce", format="ISO8601")
    if ends.notna().any():
        table["last"] = pd.concat([table["last"], keyed.assign(end=ends).groupby(GROUP_KEY, sort=False)["end"].max()],
                                  axis=1).max(axis=1)
    table["hits"] = table["alerts"] + table["folded"]
    table = table.sort_values(["alerts", "hits", "allowed", "last"], ascending=[False, False, False, False])
    count = len(table)
    table = table.head(MAX_GROUPS)
    shown = keyed[pd.MultiIndex.from_frame(keyed[GROUP_KEY]).isin(table.index)]  # rows of the shown groups
    # the sets of values per group, in one pass (a pandas aggregation per group costs
    # a Series each: seconds for thousands of groups)
    names = ("rule", "evidence", "domain", "allowed_by")
    sets: dict[tuple[Any, ...], tuple[set[str], ...]] = {key: tuple(set() for _ in names) for key in table.index}
    for key, *values in zip(zip(shown["src"], shown["dst"], shown["port"]),
                            *(shown[name].tolist() for name in names)):
        found = sets[key]
        for bucket, item in zip(found, values):
            if item is not None and item == item:  # not None or NaN
                bucket.add(str(item))
    table["detections"] = [", ".join(sorted({_short(r) for r in sets[k][0]})) for k in table.index]
    if alerts.evidence_seen:
        table["evidence"] = [_evidence_union(sets[k][1]) for k in table.index]
    if alerts.domain_seen:
        table["domain"] = [_joined(sets[k][2]) for k in table.index]
    if frame["allowed"].any():
        table["allowed_by"] = [_joined(sets[k][3]) for k in table.index]
    return table.reset_index(), count


_SHORT = dict(zip(DETECTIONS, ("port", "protocol")))


def _short(rule: str) -> str:
    return _SHORT.get(rule, rule)


def _alert_rows(frame: pd.DataFrame, groups: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The alert table: every document when they fit; else the listed groups' alerts in
    turn (each group's first, then each one's second...), then other groups' alerts, up
    to MAX_ALERT_ROWS, so every listed group leads to some of its alerts."""
    if len(frame) <= MAX_ALERT_ROWS:
        return frame.sort_values("ts", kind="stable"), len(frame)
    keyed = frame.assign(src=frame["src"].fillna("-"), dst=frame["dst"].fillna("-"), port=frame["port"].fillna(-1))
    rank = pd.Series(range(len(groups)), index=pd.MultiIndex.from_frame(groups[GROUP_KEY]), dtype="float64")
    position = rank.reindex(pd.MultiIndex.from_frame(keyed[GROUP_KEY])).to_numpy()
    keyed = keyed.assign(unlisted=pd.isna(position), rank=position).sort_values("ts", kind="stable")
    keyed["turn"] = keyed.groupby(GROUP_KEY, sort=False).cumcount()
    chosen = keyed.sort_values(["unlisted", "turn", "rank"], kind="stable").head(MAX_ALERT_ROWS)
    return frame.loc[chosen.index].sort_values("ts", kind="stable"), len(frame)
