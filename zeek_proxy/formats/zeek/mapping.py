"""What every Zeek log mapping does the same way: recognise its log by `_path` or by
its fields, and read a record through its table of Zeek field -> ECS field."""

from __future__ import annotations

from typing import Any, Callable, Iterable

#: A mapping table: Zeek field, ECS field, and how the value is read.
Table = tuple[tuple[str, str, Callable[[Any, str], Any]], ...]


def path_names(path: str, word: str) -> bool:
    """`word` is one of the words of a log path (conn, conn_long, open_conn…)."""
    return word in path.replace("-", "_").lower().split("_")


def has_fields(names: Iterable[str], required: tuple[str, ...], markers: tuple[str, ...]) -> bool:
    """A log without a path is this log when it has the required fields and a marker."""
    present = set(names)
    return all(f in present for f in required) and any(f in present for f in markers)


def mapped(get: Callable[[str], Any], required: tuple[str, ...], table: Table) -> dict[str, Any]:
    """One record as an ECS row through `table`; ValueError when a required field is unset."""
    for name in required:
        if get(name) is None:
            raise ValueError(f"{name} is unset")
    return {ecs: read(get(zeek), zeek) for zeek, ecs, read in table}
