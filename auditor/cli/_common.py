"""Shared CLI plumbing: settings from the context, consoles, opening the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from auditor.config import Settings, load_settings
from auditor.db.session import ensure_current, make_engine, session_scope

console = Console()
err_console = Console(stderr=True)

# Exit codes (ARCHITECTURE.md): 0 done, 1 error, 2 usage, 3 done and findings await review.
EXIT_FINDINGS = 3
# The run finished but the policy engine failed on sampled interactions: the control was not
# tested for them (a broken pack, an unreachable OPA server). A scheduler must not read this
# as success.
EXIT_NOT_EVALUATED = 4

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file (default: ./auditor.toml if present).",
        envvar="AUDITOR_CONFIG",
        dir_okay=False,
    ),
]
PeriodOption = Annotated[str, typer.Option("--period", "-p", help="Calendar month, YYYY-MM.")]


def settings_from(ctx: typer.Context) -> Settings:
    """The settings loaded once by the main callback."""
    obj = ctx.find_root().obj
    if not isinstance(obj, dict) or "settings" not in obj:
        obj = {"settings": load_settings(None)}
        ctx.find_root().obj = obj
    settings: Settings = obj["settings"]
    return settings


def open_engine(settings: Settings, *, migrate: bool = False) -> Engine:
    """An engine on the configured database; checks (or brings) the schema up to date."""
    engine = make_engine(settings.database.url)
    if migrate:
        from auditor.db.session import upgrade

        upgrade(engine)
    else:
        ensure_current(engine)
    return engine


@contextmanager
def db_session(settings: Settings, *, migrate: bool = False) -> Iterator[Session]:
    engine = open_engine(settings, migrate=migrate)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()
