"""`auditor db`: schema migrations."""

from __future__ import annotations

import typer
from alembic.runtime.migration import MigrationContext

from auditor.cli._common import console, settings_from
from auditor.db.session import make_engine, upgrade

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
