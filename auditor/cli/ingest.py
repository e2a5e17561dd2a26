"""`auditor ingest` and `auditor formats`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from auditor.cli._common import (
    console,
    db_session,
    err_console,
    events,
    open_engine,
    settings_from,
)
from auditor.db.session import session_scope
from auditor.ingest.export import export_interactions
from auditor.ingest.registry import available
from auditor.ingest.stage import FileResult, IngestLimits, Mappings, ingest_paths
from auditor.ops.ledger import FAILED, file_entries, ingest_counts, recorded_run
from auditor.ops.lock import run_lock
from auditor.ops.preflight import require_valid


def print_progress(message: str) -> None:
    """A progress line on stderr, with a UTC timestamp: a scheduler's log then shows when each
    stage ran and how long it took. With `--log-format json`: a progress event of its stage."""
    log = events()
    if log is not None:
        log.progress(message)
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    err_console.print(f"{stamp} {message}", markup=False, highlight=False, style="dim")


MAX_LINES_SHOWN = 20  # per file and kind; every rejection is also stored in the database


def print_file_results(results: list[FileResult]) -> None:
    """One row per file (records = loaded + duplicate + rejected), then each rejection with
    its file and line."""
    table = Table("file", "format", "records", "loaded", "dupl.", "rejected", title="ingest")
    for r in results:
        if r.already_ingested or r.skipped:
            table.add_row(r.path.name, r.source_format, "-", "-", "-", "-")
            continue
        table.add_row(
            r.path.name,
            r.source_format,
            str(r.total),
            str(r.loaded),
            str(r.duplicate),
            str(r.rejected),
        )
    console.print(table)
    skipped = sum(r.already_ingested for r in results)
    if skipped:
        console.print(f"{skipped} file(s) skipped: already ingested (same SHA-256)")
    for r in results:
        if not (r.already_ingested or r.skipped):
            console.print(r.reconciliation, highlight=False, markup=False, soft_wrap=True)
        if r.skipped:
            _say(f"{r.path}: skipped: {r.skipped}")
        _list_lines(r.path, "warning", "warnings", r.warnings, r.warning_count)
        _list_lines(r.path, "rejected", "rejected records", r.rejections, r.rejected)


def _say(text: str) -> None:
    # Paths and reasons are printed as they are: never as Rich markup.
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)


def _list_lines(
    path: Path, label: str, plural: str, items: list[tuple[int, str]], total: int
) -> None:
    """The first lines of a kind, then how many more there are (`items` keeps only the
    first ones a file had; `total` counts them all)."""
    for line_no, text in items[:MAX_LINES_SHOWN]:
        _say(f"{path}:{line_no}: {label}: {text}")
    shown = min(len(items), MAX_LINES_SHOWN)
    if max(total, len(items)) > shown:
        _say(f"{path}: … and {max(total, len(items)) - shown} more {plural}")


def ingest_cmd(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Log files or folders.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Log format, or `auto` to detect per file.")
    ] = "auto",
) -> None:
    """Read log files into normalized interactions; bad records are counted, not fatal."""
    settings = settings_from(ctx)
    require_valid(settings)
    arguments = {"paths": [str(p) for p in paths], "format": fmt}
    with run_lock(settings, "ingest"):
        engine = open_engine(settings, migrate=True)
        try:
            # The ledger's record ends after the session has committed the ingest.
            with (
                recorded_run(engine, settings, "ingest", arguments) as record,
                session_scope(engine) as session,
            ):
                log = events()
                if log is not None:
                    log.run_id = record.id
                    log.event("run_started", command="ingest", arguments=arguments)
                results = ingest_paths(
                    session,
                    paths,
                    fmt,
                    max_line_bytes=settings.ingest.max_line_bytes,
                    mappings=Mappings.from_maps(
                        settings.ingest.tool_map, settings.ingest.workflow_map
                    ),
                    limits=IngestLimits.from_settings(settings.ingest),
                    progress=print_progress,
                )
                record.files = file_entries(results)
                record.counts = ingest_counts(results)
                record.periods = sorted({p for r in results for p in r.periods})
                if any(r.unreadable for r in results):
                    record.outcome, record.exit_code = FAILED, 1
        finally:
            engine.dispose()
    log = events()
    if log is not None:
        log.leave()
        log.event(
            "run_finished",
            outcome=record.outcome,
            exit_code=record.exit_code,
            duration_s=log.elapsed(),
            counts=record.counts,
        )
    print_file_results(results)
    unreadable = [r for r in results if r.unreadable]
    if unreadable:
        err_console.print(
            f"{len(unreadable)} file(s) could not be read; the others were loaded",
            highlight=False,
        )
        raise typer.Exit(1)


def formats_cmd() -> None:
    """List the log formats the ingest understands."""
    table = Table("format", "description")
    for name, cls in available().items():
        table.add_row(name, cls.description)
    console.print(table)


export_app = typer.Typer(help="Export normalized data.", no_args_is_help=True)


@export_app.command("interactions")
def export_interactions_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.", dir_okay=False)],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")] = "jsonl",
    period: Annotated[str | None, typer.Option(help="Only this month, YYYY-MM.")] = None,
) -> None:
    """Write the normalized interactions (with their raw text: the file is owner-only)."""
    with db_session(settings_from(ctx)) as session:
        count = export_interactions(session, out, fmt, period=period)  # type: ignore[arg-type]
    console.print(f"{count} interaction(s) written to {out}", markup=False, highlight=False)
