"""Times on the command line: ISO 8601, epoch seconds, or Elastic date math (`now-6m`).

Elastic's rule ran every 5 minutes over `now-6m`; operators write the same here.
"""

from __future__ import annotations

import re

from zeek_proxy.lazy import pd

_UNITS = {"y": "years", "M": "months", "w": "weeks", "d": "days", "h": "hours", "H": "hours",
          "m": "minutes", "s": "seconds"}
_FLOOR = {"y": "YS", "M": "MS", "w": "W", "d": "D", "h": "h", "H": "h", "m": "min", "s": "s"}
_MATH = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
_EPOCH = re.compile(r"-?\d+(\.\d+)?")


def parse_time(text: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """A UTC timestamp from ISO 8601 (naive means UTC), epoch seconds, or date math
    such as `now`, `now-6m`, `now-1h/h` (rounded down to the hour).

    Raises:
        ValueError: naming what could not be read.
    """
    text = text.strip()
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    if text.startswith("now"):
        moment, rest = now, text[3:]
        while rest:
            step = _MATH.match(rest)
            if step is None:
                raise ValueError(f"bad date math {text!r} (e.g. now-6m, now-1h/h)")
            sign, amount, unit, floor = step.groups()
            if floor:
                moment = _round_down(moment, floor)
            else:
                offset = pd.DateOffset(**{_UNITS[unit]: int(amount)})
                moment = moment + offset if sign == "+" else moment - offset
            rest = rest[step.end():]
        return moment
    if _EPOCH.fullmatch(text):
        return pd.Timestamp(float(text), unit="s", tz="UTC") if "." in text else pd.Timestamp(int(text), unit="s", tz="UTC")
    try:
        moment = pd.Timestamp(text)
    except ValueError:
        raise ValueError(f"bad time {text!r} (ISO 8601, epoch seconds, or now-6m)") from None
    if pd.isna(moment):
        raise ValueError(f"bad time {text!r}")
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def _round_down(moment: pd.Timestamp, unit: str) -> pd.Timestamp:
    if unit == "w":
        day = moment.normalize()
        return day - pd.Timedelta(days=day.weekday())
    if unit in ("y", "M"):
        return pd.Timestamp(year=moment.year, month=1 if unit == "y" else moment.month, day=1, tz="UTC")
    return moment.floor(_FLOOR[unit])
