"""One JSON object per line, the shape of Zeek JSON logs and Suricata eve."""

from __future__ import annotations

from typing import Any

import orjson


def load_object(line: bytes) -> dict[str, Any] | None:
    """The object on a line, None for a blank line; ValueError when it is not one."""
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    if not line.strip():
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if "utf-8" not in str(exc).lower():
            raise ValueError(f"not valid JSON ({str(exc)[:80]})") from None
        try:  # bad bytes are replaced, as in Zeek's own output and in TSV logs
            obj = orjson.loads(line.decode("utf-8", "replace"))
        except (orjson.JSONDecodeError, RecursionError) as again:
            raise ValueError(f"not valid JSON ({str(again)[:80]})") from None
    except RecursionError as exc:
        raise ValueError(f"not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(obj, dict):
        raise ValueError("JSON value is not an object")
    return obj
