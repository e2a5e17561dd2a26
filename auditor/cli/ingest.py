"""`auditor ingest` and `auditor formats`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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
from auditor.ingest.litellm_db import DEFAULT_LAG, DatabaseSource, read_spend_logs
from auditor.ingest.litellm_db import DESCRIPTION as DB_DESCRIPTION
from auditor.ingest.litellm_db import NAME as DB_FORMAT
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
            table.add_row(r.name, r.source_format, "-", "-", "-", "-")
            continue
        table.add_row(
            r.name,
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
            _say(f"{r.location}: skipped: {r.skipped}")
        _list_lines(r.location, "warning", "warnings", r.warnings, r.warning_count)
        _list_lines(r.location, "rejected", "rejected records", r.rejections, r.rejected)


def watermark_line(r: FileResult) -> str:
    """Where a database source's read started and ended, and rows late within and beyond
    the lag."""
    w = r.watermark or {}
    after = w.get("after") or {}
    line = (
        f"{r.location}: watermark {after.get('startTime', 'none')} {after.get('request_id', '')}"
        f" (read from {w.get('read_from') or 'the first row'}; {w.get('late_within_lag', 0)} "
        f"late row(s) within the {w.get('lag_minutes')}-minute lag stored)"
    )
    if w.get("beyond_lag"):
        line += (
            f"; {w['beyond_lag']} row(s) arrived beyond the lag and were not read: read them "
            "with --since YYYY-MM-DD"
        )
    if w.get("dated_after_read"):
        line += f"; {w['dated_after_read']} row(s) dated after now left for a later read"
    return line


def _say(text: str) -> None:
    # Paths and reasons are printed as they are: never as Rich markup.
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)


def _list_lines(
    path: Path | str, label: str, plural: str, items: list[tuple[int, str]], total: int
) -> None:
    """The first lines of a kind, then how many more there are (`items` keeps only the
    first ones a file had; `total` counts them all)."""
    for line_no, text in items[:MAX_LINES_SHOWN]:
        _say(f"{path}:{line_no}: {label}: {text}")
    shown = min(len(items), MAX_LINES_SHOWN)
    if max(total, len(items)) > shown:
        _say(f"{path}: … and {max(total, len(items)) - shown} more {plural}")


def _database_sources(
    sources: list[str], fmt: str, paths: list[Path], lag: int, since: str | None
) -> list[DatabaseSource]:
    """The --source databases, checked before anything runs (usage errors, exit 2)."""
    if fmt == DB_FORMAT and not sources:
        raise typer.BadParameter(
            f"{DB_FORMAT} reads a database: give --source postgresql://USER@HOST:5432/DB",
            param_hint="--source",
        )
    if not sources:
        if not paths:
            raise typer.BadParameter("give log files or folders, or --source", param_hint="PATH")
        return []
    if fmt not in ("auto", DB_FORMAT):
        raise typer.BadParameter(
            f"--source is read with --format {DB_FORMAT}, not {fmt}", param_hint="--format"
        )
    if paths:
        raise typer.BadParameter(
            "give either files and folders or --source, not both", param_hint="--source"
        )
    day = None
    if since is not None:
        try:
            day = date.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter("write it as YYYY-MM-DD", param_hint="--since") from None
    return [DatabaseSource(url, lag=timedelta(minutes=lag), since=day) for url in sources]


def ingest_cmd(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Log files or folders.")] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="Log format, or `auto` to detect per file; litellm-db: --source."
        ),
    ] = "auto",
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="A database to read instead of files: postgresql://USER@HOST:5432/DB of the "
            "LiteLLM proxy (format litellm-db), read from where the last read ended.",
        ),
    ] = None,
    lag: Annotated[
        int,
        typer.Option(
            "--lag",
            min=0,
            help="--source: minutes before the watermark to read again, for rows written late.",
        ),
    ] = int(DEFAULT_LAG.total_seconds() // 60),
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="--source: read again from this day (YYYY-MM-DD) instead of the watermark; "
            "rows stored before are duplicates.",
        ),
    ] = None,
) -> None:
    """Read log files, or LiteLLM's spend-log table, into normalized interactions; bad records
    are counted, not fatal."""
    settings = settings_from(ctx)
    require_valid(settings)
    paths = list(paths or [])
    databases = _database_sources(list(source or []), fmt, paths, lag, since)
    arguments = {
        "paths": [str(p) for p in paths],
        "sources": [d.display for d in databases],
        "format": DB_FORMAT if databases else fmt,
        "lag": lag if databases else None,
        "since": since,
    }
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
                mappings = Mappings.from_maps(
                    settings.ingest.tool_map, settings.ingest.workflow_map
                )
                limits = IngestLimits.from_settings(settings.ingest)
                if databases:
                    results = [
                        read_spend_logs(
                            session,
                            database,
                            mappings=mappings,
                            limits=limits,
                            progress=print_progress,
                            commit=session.commit,
                            run_id=record.id,
                        )
                        for database in databases
                    ]
                else:
                    results = ingest_paths(
                        session,
                        paths,
                        fmt,
                        max_line_bytes=settings.ingest.max_line_bytes,
                        mappings=mappings,
                        limits=limits,
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
    for r in results:
        if r.watermark is not None:
            _say(watermark_line(r))
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
    table.add_row(DB_FORMAT, DB_DESCRIPTION)
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
