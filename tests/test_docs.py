"""The README documents every command, and documents no command that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from auditor.cli import app

README = (Path(__file__).parents[1] / "README.md").read_text()


def _commands() -> set[str]:
    root = typer.main.get_command(app)
    names: set[str] = set()
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        if sub:
            names.update(f"{name} {s}" for s in sub)
        else:
            names.add(name)
    return names


def test_every_command_is_in_the_readme() -> None:
    missing = [c for c in sorted(_commands()) if f"`auditor {c}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_readme_names_only_real_commands() -> None:
    commands = _commands()
    groups = {c.split()[0] for c in commands if " " in c}
    for match in re.finditer(r"`auditor ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", README):
        first, second = match.group(1), match.group(2)
        if first in groups:
            assert f"{first} {second}" in commands, match.group(0)
        else:
            assert first in commands, match.group(0)


def test_quick_start_has_exactly_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split()[0:2] for line in block.strip().splitlines()] == [
        ["make", "demo"],
        ["make", "test"],
    ]
