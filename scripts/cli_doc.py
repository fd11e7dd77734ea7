#!/usr/bin/env python3
"""Write docs/cli.md, the reference of every command and option, from the command
line's own help, so that the reference cannot drift from the program.

    python scripts/cli_doc.py            # rewrite docs/cli.md
    python scripts/cli_doc.py --check    # exit 1 when docs/cli.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from zeek_proxy.cli import cli  # noqa: E402

TARGET = ROOT / "docs" / "cli.md"
PIPE = "\\|"  # a | inside a table cell


def commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
        else:
            found.append((f"{prefix} {name}", command))
    return found


def reference() -> str:
    lines = ["# Command reference", "",
             "Every command and option, as `--help` gives them (written by `scripts/cli_doc.py`).", ""]
    context = click.Context(cli, info_name="zeek-proxy")
    for name, command in commands(cli, "zeek-proxy"):
        lines += [f"## {name}", "", (command.help or "").split("\n\n")[0].replace("\n", " ").strip(), "",
                  "| option | meaning |", "|---|---|"]
        for param in command.params:
            record = param.get_help_record(context) if isinstance(param, click.Option) else None
            if record is None:
                continue
            flags, meaning = record
            cells = [text.replace("|", PIPE) for text in (flags, meaning)]
            lines.append(f"| `{cells[0]}` | {cells[1]} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    text = reference()
    if "--check" in sys.argv:
        sys.exit(0 if TARGET.read_text() == text else 1)
    TARGET.write_text(text)


if __name__ == "__main__":
    main()
