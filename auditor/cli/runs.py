"""`auditor runs`: the run ledger, to show which runs happened, what they read, how they ended."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from auditor.cli._common import console, open_engine, settings_from
from auditor.ops.ledger import get_run, list_runs, run_document

app = typer.Typer(
    help="The run ledger: every run, what it read and how it ended.", no_args_is_help=True
)


class ListFormat(StrEnum):
    table = "table"
    json = "json"


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    period: Annotated[
        str | None, typer.Option("--period", "-p", help="Only runs that covered this month.")
    ] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="table or json.")] = (
        ListFormat.table
    ),
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
) -> None:
    """List recorded runs, newest first."""
    engine = open_engine(settings_from(ctx))
    try:
        runs = [run_document(r) for r in list_runs(engine, period=period, limit=limit)]
    finally:
        engine.dispose()
    if fmt is ListFormat.json:
        typer.echo(json.dumps(runs, indent=2))
        return
    table = Table("id", "command", "periods", "started (UTC)", "ended", "outcome", "exit", "new")
    for r in runs:
        table.add_row(
            r["id"],
            r["command"],
            " ".join(r["periods"]) or "-",
            (r["started_at"] or "")[:19].replace("T", " "),
            (r["ended_at"] or "-")[11:19],
            r["outcome"],
            "-" if r["exit_code"] is None else str(r["exit_code"]),
            str(r["counts"].get("records_stored", "-")),
        )
    console.print(table)
    console.print(f"{len(runs)} run(s)", highlight=False)


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix of it).")],
) -> None:
    """Show one run as JSON: arguments, host, versions, files read with digests, counts."""
    engine = open_engine(settings_from(ctx))
    try:
        doc = run_document(get_run(engine, run_id))
    finally:
        engine.dispose()
    typer.echo(json.dumps(doc, indent=2))
