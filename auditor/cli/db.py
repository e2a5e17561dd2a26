"""`auditor db`: schema migrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from alembic.runtime.migration import MigrationContext

from auditor.cli._common import console, err_console, open_engine, settings_from
from auditor.db.retention import months_before, purge_raw_text, reclaim_space
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.ops.ledger import recorded_run
from auditor.ops.lock import run_lock

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(ctx: typer.Context) -> None:
    """Create or migrate the database schema to the newest revision."""
    settings = settings_from(ctx)
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    url = engine.url.render_as_string(hide_password=True)
    console.print(f"database at revision {revision} ({url})")


@app.command("check")
def check_cmd(ctx: typer.Context) -> None:
    """Run SQLite's full integrity check on the database file; exit 1, naming the file and the
    verdict, if it is damaged (PostgreSQL checks its own pages: nothing to do)."""
    from auditor.db.integrity import require_intact, sqlite_path

    settings = settings_from(ctx)
    engine = make_engine(settings.database.url)
    try:
        require_intact(engine, full=True)
        path = sqlite_path(engine)
    finally:
        engine.dispose()
    console.print(
        f"database {path}: integrity_check ok"
        if path
        else "not a SQLite file: the database server checks its own pages",
        highlight=False,
        markup=False,
    )


@app.command("purge")
def purge_cmd(
    ctx: typer.Context,
    days: Annotated[
        int | None,
        typer.Option(help="Keep raw text this many days (default: ingest.retention_days)."),
    ] = None,
) -> None:
    """Delete raw prompt and output text, and attribute text values, older than the retention
    period (findings stay)."""
    settings = settings_from(ctx)
    keep = days if days is not None else settings.ingest.retention_days
    now = datetime.now(UTC).replace(tzinfo=None)
    with run_lock(settings, "db purge"):
        engine = open_engine(settings)
        try:
            with recorded_run(engine, settings, "db purge", {"days": keep}) as record:
                with session_scope(engine) as session:
                    count = purge_raw_text(session, now - timedelta(days=keep), now=now)
                kept_versions = reclaim_space(engine)
                # The months whose text it removed (the rows stay, blanked), so the ledger
                # lists the purge under them (`auditor runs list --period`, the report's
                # Control operation). Read after VACUUM, in a transaction of its own.
                with session_scope(engine) as session:
                    record.periods = months_before(session, now - timedelta(days=keep))
                record.counts = {
                    "purged": count,
                    "before": (now - timedelta(days=keep)).isoformat(),
                    "old_versions_kept": kept_versions,
                }
        finally:
            engine.dispose()
    console.print(f"purged raw text of {count} interaction(s) older than {keep} days")
    if kept_versions:
        err_console.print(
            f"warning: {kept_versions} old row version(s) of purged interactions are still in "
            "the table's files: a transaction open on the database server (in any database) "
            "may still read them. Run `auditor db purge` again once it has ended.",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
