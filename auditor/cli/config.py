"""`auditor config check`: the configuration checked before any work, and where each setting
came from."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from auditor.cli._common import console, err_console, settings_from
from auditor.config import config_file_in_use, setting_sources
from auditor.ops.preflight import ERROR, check_all, effective_settings

app = typer.Typer(help="Check the configuration.", no_args_is_help=True)


class CheckFormat(StrEnum):
    text = "text"
    json = "json"


@app.command("check")
def check_cmd(
    ctx: typer.Context,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="text or json.")] = (
        CheckFormat.text
    ),
    database: Annotated[
        bool,
        typer.Option("--database/--no-database", help="Also open the database (never creates it)."),
    ] = True,
) -> None:
    """Check every path, list, key, the policy pack, the ingest maps and the database, and
    print the effective settings with their source (default, file, environment variable or
    command line), secrets masked. Exits 1 when something must be fixed before a run."""
    settings = settings_from(ctx)
    obj = ctx.find_root().obj or {}
    config_file: Path | None = obj.get("config_file")
    in_use = config_file_in_use(config_file)
    sources = setting_sources(config_file, obj.get("overrides"))
    rows = effective_settings(settings, sources)
    problems = check_all(settings, database=database)
    errors = [p for p in problems if p.level == ERROR]
    if fmt is CheckFormat.json:
        doc = {
            "config_file": str(in_use.resolve()) if in_use else None,
            "settings": [asdict(r) for r in rows],
            "problems": [asdict(p) for p in problems],
            "ok": not errors,
        }
        console.print_json(json.dumps(doc))
    else:
        shown = in_use.resolve() if in_use else "(none: defaults and environment)"
        console.print(
            f"configuration file: {shown}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        width = max(len(r.key) for r in rows)
        # One line a setting, never wrapped or cut: it is read, grepped and diffed.
        for row in rows:
            console.print(
                f"{row.key:<{width}} = {row.value}  [{row.source}]",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        for p in problems:
            err_console.print(
                f"{p.level}: {p.line()}", markup=False, highlight=False, soft_wrap=True
            )
        if errors:
            err_console.print(
                f"configuration check failed: {len(errors)} problem(s) to fix",
                markup=False,
                highlight=False,
            )
        else:
            console.print("configuration ok", markup=False, highlight=False)
    if errors:
        raise typer.Exit(1)
