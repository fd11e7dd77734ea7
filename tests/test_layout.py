"""The layers import one way: reading drives formats through `formats.base`, formats
never import the reader, the core and the emitters know neither, and no modules of
reading and formats import each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "zeek_proxy"
#: The reading machinery a format must never import (it may use the pre-filter's
#: vocabulary and kernels: `reading.prefilter`, `reading.linescan`, `reading.blocks`).
READER = ("zeek_proxy.reading.reader", "zeek_proxy.reading.workers", "zeek_proxy.reading.sparse",
          "zeek_proxy.reading.inputs")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every zeek_proxy module and the zeek_proxy modules it imports (anywhere in it)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zeek_proxy"):
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("zeek_proxy"))
        graph[module_name(path)] = found
    return {name: {m for m in found if m in graph and m != name} for name, found in graph.items()}


GRAPH = imports()


def importers_of(prefixes: tuple[str, ...], within: str) -> list[tuple[str, str]]:
    return sorted((module, target) for module, targets in GRAPH.items() if module.startswith(within)
                  for target in targets if target.startswith(prefixes))


def test_formats_never_import_the_reader() -> None:
    assert importers_of(READER, "zeek_proxy.formats") == []


def test_core_and_emitters_know_no_log_format_and_no_reading() -> None:
    layers = ("zeek_proxy.reading", "zeek_proxy.formats", "zeek_proxy.pipeline")
    assert importers_of(layers, "zeek_proxy.core") == []
    assert importers_of(layers, "zeek_proxy.emit") == []


def test_reading_and_formats_import_no_circle() -> None:
    inside = {m for m in GRAPH if m.startswith(("zeek_proxy.reading", "zeek_proxy.formats"))}
    for start in inside:
        seen, stack = set(), [start]
        while stack:
            for target in GRAPH[stack.pop()] & inside:
                assert target != start, f"{start} imports itself through {target}"
                if target not in seen:
                    seen.add(target)
                    stack.append(target)


def test_the_graph_is_read() -> None:
    """The checks above look at real imports (a parser that found none would pass them)."""
    assert "zeek_proxy.formats.base" in GRAPH["zeek_proxy.reading.reader"]
    assert "zeek_proxy.reading.prefilter" in GRAPH["zeek_proxy.formats.zeek_tsv"]


def test_the_report_is_an_output() -> None:
    """The HTML report reads ECS documents: it knows no log format, no reading, no
    pipeline and no rule, and only the command line reaches it."""
    layers = ("zeek_proxy.reading", "zeek_proxy.formats", "zeek_proxy.pipeline", "zeek_proxy.core",
              "zeek_proxy.emit")
    assert importers_of(layers, "zeek_proxy.report") == []
    assert "zeek_proxy.report.data" in GRAPH["zeek_proxy.report"]
    users = {module for module, targets in GRAPH.items() if not module.startswith("zeek_proxy.report")
             and any(t.startswith("zeek_proxy.report") for t in targets)}
    assert users <= {"zeek_proxy.cli"}
