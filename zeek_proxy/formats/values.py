"""Parsers for the field values logs carry; each raises ValueError with a short reason."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from functools import lru_cache

from zeek_proxy.core.networks import parse_address

_DECIMAL = re.compile(r"^\s*([-+]?)(\d+)(?:\.(\d*))?\s*$")
_MS_THRESHOLD = 100_000_000_000  # epoch values above this (year 5138 in seconds) are ms
_INT64 = 1 << 63
_MAX_TIME_US = 253_402_300_800 * 1_000_000  # year 10000: beyond any log's time
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def in_int64(value: int, what: str) -> int:
    """`value`, checked to fit the frame's 64-bit columns."""
    if not -_INT64 <= value < _INT64:
        raise ValueError(f"{what} {str(value)[:30]}... is out of range")
    return value


def scaled_int(value: object, digits: int, what: str) -> int:
    """A decimal number of seconds as an integer of 10**-digits units, exactly."""
    if isinstance(value, bool):
        raise ValueError(f"bad {what} {value!r}")
    if isinstance(value, int):
        return in_int64(value * 10**digits, what)
    text = repr(value) if isinstance(value, float) else str(value)
    m = _DECIMAL.match(text)
    if m is None:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"bad {what} {text[:40]!r}") from None
        scaled = number * 10**digits
        if not math.isfinite(scaled):
            raise ValueError(f"bad {what} {text[:40]!r}")
        return in_int64(round(scaled), what)
    sign, whole, frac = m.groups()
    frac = (frac or "")[:digits].ljust(digits, "0")
    if len(whole) > 19:
        raise ValueError(f"{what} {text[:40]!r} is out of range")
    result = int(whole) * 10**digits + int(frac or "0")
    return in_int64(-result if sign == "-" else result, what)


def iso_to_us(text: str, what: str = "timestamp") -> int:
    """An ISO 8601 time (Z, +0100 or +01:00; naive means UTC) as epoch microseconds."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"bad {what} {text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def time_to_us(value: object, what: str = "ts") -> int:
    """A log time: epoch seconds (float or string), epoch milliseconds, or ISO 8601."""
    if isinstance(value, str) and ("-" in value[1:] or "T" in value):
        return iso_to_us(value, what)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MS_THRESHOLD:
        micros = value * 1000
    elif isinstance(value, float) and abs(value) > _MS_THRESHOLD:
        micros = scaled_int(value, 3, what)
    else:
        micros = scaled_int(value, 6, what)
    if abs(micros) >= _MAX_TIME_US:
        raise ValueError(f"{what} {str(value)[:40]!r} is out of range")
    return micros


def _integer(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"bad {what} {value!r}")
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"bad {what} {str(value)[:40]!r}") from None


def port(value: object, what: str) -> int:
    """A port number 0..65535 (Zeek may write `80/tcp`)."""
    if type(value) is int and 0 <= value <= 65535:  # what JSON logs hold: no checks left
        return value
    if isinstance(value, str):
        value = value.split("/", 1)[0].strip()
    number = _integer(value, what)
    if not 0 <= number <= 65535:
        raise ValueError(f"{what} {number} outside 0-65535")
    return number


def count(value: object, what: str) -> int | None:
    """A non-negative counter, None when unset."""
    if value is None:
        return None
    if type(value) is int and 0 <= value < _INT64:  # what JSON logs hold: no checks left
        return value
    number = _integer(value, what)
    if number < 0:
        raise ValueError(f"negative {what} {number}")
    return in_int64(number, what)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _canonical(text: str) -> str | None:
    if _CANONICAL_IPV4.fullmatch(text):  # already canonical: most addresses, at regex speed
        return text
    return _canonical_slowly(text)


@lru_cache(maxsize=1 << 16)
def _canonical_slowly(text: str) -> str | None:
    ip = parse_address(text.strip())
    if ip is None:
        return None
    return str(getattr(ip, "ipv4_mapped", None) or ip)  # Elasticsearch stores ::ffff:a.b.c.d as IPv4


def address(value: object, what: str) -> str:
    """An IP address in canonical form (`0000:...:0001` becomes `::1`, `::ffff:10.0.0.1`
    becomes `10.0.0.1`)."""
    canonical = _canonical(value) if isinstance(value, str) else None
    if canonical is None:
        raise ValueError(f"bad address {str(value)[:60]!r} in {what}")
    return canonical


def direction(local_orig: object, local_resp: object) -> str | None:
    """ECS network.direction from Zeek's local_orig/local_resp (unset: None)."""
    orig, resp = _flag(local_orig), _flag(local_resp)
    if orig is None or resp is None:
        return None
    return {(True, True): "internal", (True, False): "outbound",
            (False, True): "inbound", (False, False): "external"}[(orig, resp)]


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"T": True, "F": False}.get(value) if isinstance(value, str) else None


def text(value: object, what: str) -> str | None:
    """A value as text, unset as None."""
    return None if value is None else str(value)
