"""`auditor ingest` and `auditor formats`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from auditor.cli._common import console, db_session, err_console, settings_from
from auditor.ingest.registry import available
from auditor.ingest.stage import FileResult, ingest_paths

MAX_REJECTIONS_SHOWN = 20


def print_file_results(results: list[FileResult]) -> None:
    """One row per file (records = loaded + duplicate + rejected), then each rejection with
    its file and line."""
    table = Table("file", "records", "loaded", "dupl.", "rejected", title="ingest")
    for r in results:
        if r.already_ingested or r.skipped:
            table.add_row(r.path.name, "-", "-", "-", "-")
            continue
        table.add_row(r.path.name, str(r.total), str(r.loaded), str(r.duplicate), str(r.rejected))
    console.print(table)
    skipped = sum(r.already_ingested for r in results)
    if skipped:
        console.print(f"{skipped} file(s) skipped: already ingested (same SHA-256)")
    for r in results:
        if r.skipped:
            err_console.print(
                f"{r.path}: skipped: {r.skipped}", highlight=False, markup=False, soft_wrap=True
            )
        for line_no, note in r.warnings[:MAX_REJECTIONS_SHOWN]:
            err_console.print(
                f"{r.path}:{line_no}: warning: {note}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        if len(r.warnings) > MAX_REJECTIONS_SHOWN:
            more = len(r.warnings) - MAX_REJECTIONS_SHOWN
            err_console.print(
                f"{r.path}: … and {more} more warnings", highlight=False, markup=False
            )
        for line_no, reason in r.rejections[:MAX_REJECTIONS_SHOWN]:
            err_console.print(
                f"{r.path}:{line_no}: rejected: {reason}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        if len(r.rejections) > MAX_REJECTIONS_SHOWN:
            more = len(r.rejections) - MAX_REJECTIONS_SHOWN
            err_console.print(
                f"{r.path}: … and {more} more rejected records", highlight=False, markup=False
            )


def ingest_cmd(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Log files or folders.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Log format, or `auto` to detect per file.")
    ] = "auto",
) -> None:
    """Read log files into normalized interactions; bad records are counted, not fatal."""
    settings = settings_from(ctx)
    with db_session(settings, migrate=True) as session:
        results = ingest_paths(session, paths, fmt, max_line_bytes=settings.ingest.max_line_bytes)
    print_file_results(results)


def formats_cmd() -> None:
    """List the log formats the ingest understands."""
    table = Table("format", "description")
    for name, cls in available().items():
        table.add_row(name, cls.description)
    console.print(table)
