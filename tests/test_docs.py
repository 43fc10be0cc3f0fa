"""The docs that are generated from the code are what the code generates now."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_what_the_click_commands_generate() -> None:
    """docs/reference/cli.md equals scripts/docs_cli.py's rendering of the `unioncard` commands:
    a command, option or help text changed without running scripts/docs-cli fails here."""
    render = runpy.run_path(str(ROOT / "scripts" / "docs_cli.py"))["render"]
    committed = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/reference/cli.md is stale: run scripts/docs-cli"


def test_cli_reference_names_every_command() -> None:
    """Every command and subcommand of the `unioncard` group has its section."""
    import click

    from app.cli import cli

    text = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")

    def names(group: click.Group, prefix: str) -> list[str]:
        found = []
        for name, command in group.commands.items():
            found.append(f"{prefix} {name}")
            if isinstance(command, click.Group):
                found += names(command, f"{prefix} {name}")
        return found

    every = names(cli, "unioncard")
    assert len(every) > 40
    missing = [name for name in every if f"`{name}`" not in text]
    assert missing == []
