"""`auditor directory`: the people directory (HR extract)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.cli._common import console, db_session, err_console, settings_from
from auditor.directory import DirectoryResult, link_identities, load_people

app = typer.Typer(help="People directory.", no_args_is_help=True)


@app.command("load")
def load_cmd(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="CSV with user_id,email,name,department,manager_id,region.")
    ],
) -> None:
    """Load (upsert) people from a CSV extract."""
    with db_session(settings_from(ctx), migrate=True) as session:
        result = load_people(session, path)
        linked = link_identities(session)
    print_directory_result(result)
    if linked:
        console.print(f"{linked} interaction(s) matched to people by e-mail")


def print_directory_result(result: DirectoryResult) -> None:
    path = result.path
    console.print(
        f"{path}: {result.rows} rows: {result.inserted} new, {result.updated} updated, "
        f"{result.unchanged} unchanged, {len(result.rejected)} rejected",
        markup=False,
        highlight=False,
    )
    if result.extra_columns:
        console.print(
            f"extra columns kept as attributes: {', '.join(result.extra_columns)}",
            markup=False,
        )
    if result.unknown_managers:
        err_console.print(f"warning: {result.unknown_managers} manager_id(s) not in the directory")
    for line_no, reason in result.rejected:
        err_console.print(f"{path}:{line_no}: rejected: {reason}", markup=False, highlight=False)
