"""What every Zeek log mapping is: the log's path word, the fields that identify it
when it has no path, and its table of Zeek field -> ECS field. A new Zeek log is one
`ZeekLog` value in a module of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from zeek_proxy.formats import values

#: A mapping table: Zeek field, ECS field, and how the value is read.
Table = tuple[tuple[str, str, Callable[[Any, str], Any]], ...]
Get = Callable[[str], Any]
#: The record time and the connection's 4-tuple, which every Zeek log maps alike.
ENDPOINTS: Table = (
    ("ts", "@timestamp", values.time_to_us),
    ("id.orig_h", "source.ip", values.address),
    ("id.orig_p", "source.port", values.port),
    ("id.resp_h", "destination.ip", values.address),
    ("id.resp_p", "destination.port", values.port),
)



def _sensor(value: Any, what: str) -> str | None:
    return str(value) if value not in (None, "") else None


#: The sensor that wrote the record: zeekctl clusters add `_node_name` to every log, and
#: Security Onion (as ECS) names it `observer.name`.
SENSOR: Table = (("_node_name", "observer.name", _sensor),)

#: What a record of a connection must have set: its time and 4-tuple.
REQUIRED: tuple[str, ...] = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")


@dataclass(frozen=True)
class ZeekLog:
    """One Zeek log and its mapping to ECS rows.

    `finish(row, get)` sets what the table cannot (fields read from several Zeek
    fields, constants); `extra` names the Zeek fields it reads.
    """

    name: str  # the word of its path: conn (conn_long, open_conn…), socks
    required: tuple[str, ...]
    markers: tuple[str, ...]  # fields only this log has: a log without a path is judged by them
    table: Table
    extra: tuple[str, ...] = ()
    finish: Callable[[dict[str, Any], Get], None] | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """Every Zeek field the mapping reads."""
        return (*(zeek for zeek, _, _ in self.table), *self.extra)

    def is_path(self, path: str) -> bool:
        return self.name in path.replace("-", "_").lower().split("_")

    def looks_like(self, names: Iterable[str]) -> bool:
        present = set(names)
        return all(f in present for f in self.required) and any(f in present for f in self.markers)

    def row(self, get: Get) -> dict[str, Any]:
        """One record as an ECS row; `get(name)` gives the value or None when unset."""
        for name in self.required:
            if get(name) is None:
                raise ValueError(f"{name} is unset")
        row = {ecs: read(get(zeek), zeek) for zeek, ecs, read in self.table}
        if self.finish is not None:
            self.finish(row, get)
        return row
