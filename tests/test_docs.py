"""The README and docs/ hold together: every relative link resolves, and every option
of every command is described somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from zeek_proxy.cli import cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    checked = 0
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):  # http(s)://, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.name}: {target} does not exist"
        if anchor and file.suffix == ".md":
            headings = {_slug(h) for h in re.findall(r"(?m)^#+ (.*)$", file.read_text())}
            assert anchor in headings, f"{page.name}: no heading #{anchor} in {file.name}"
        checked += 1
    assert checked or page.name not in ("README.md",)


def options(group: click.Group) -> set[str]:
    """Every long option (and short-only option) of every command."""
    found: set[str] = set()
    for command in group.commands.values():
        if isinstance(command, click.Group):
            found |= options(command)
            continue
        for param in command.params:
            if isinstance(param, click.Option):
                longs = [o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")]
                found.update(longs or param.opts)
    return found - {"--help"}


def test_every_option_is_described() -> None:
    text = "\n".join(page.read_text() for page in PAGES)
    missing = sorted(o for o in options(cli) if not re.search(re.escape(o) + r"(?![\w-])", text))
    assert missing == [], f"options described nowhere: {missing}"
    assert len(options(cli)) > 40


def test_the_command_reference_is_current() -> None:
    """docs/cli.md is written from the program's own help: rerun scripts/cli_doc.py
    after changing an option."""
    import subprocess
    import sys

    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "cli_doc.py"), "--check"])
    assert check.returncode == 0, "docs/cli.md is out of date: run python scripts/cli_doc.py"
