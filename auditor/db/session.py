"""Engines and sessions. Sessions are opened at the edge (CLI, pipeline) and passed in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from auditor.config import normalise_database_url
from auditor.errors import AuditorError, ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseUnreachableError(AuditorError):
    """The database server could not be reached or refused the login."""


def make_engine(url: str) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL (`postgres://` and `postgresql://` mean
    psycopg 3); a SQLite file's folder is created if missing.

    Raises ConfigError if the URL cannot be parsed or its driver is not installed. A failure to
    connect later raises DatabaseUnreachableError naming the server and the fix.
    """
    url = normalise_database_url(url)
    try:
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            _private_sqlite_file(Path(url.removeprefix("sqlite:///")))
        # hide_parameters: SQL errors must never echo prompt text bound as a parameter.
        engine = create_engine(url, hide_parameters=True)
    except ImportError as exc:
        driver = exc.name or "its driver"
        hint = (
            "install the PostgreSQL driver: pip install 'ai-usage-auditor[postgres]'"
            if url.startswith("postgresql")
            else f"install the Python package that provides {driver}"
        )
        raise ConfigError(
            f"database.url cannot be used: the driver {driver} is not installed", hint
        ) from None
    except ArgumentError as exc:
        raise ConfigError(
            f"database.url cannot be used: {exc}",
            "use sqlite:///path/to/auditor.db or postgresql+psycopg://user@host:5432/db",
        ) from None
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL makes NORMAL durable against application crashes; a larger page cache keeps
            # the indexes of a multi-million-row table in memory while ingesting.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()

    else:
        where = engine.url.render_as_string(hide_password=True)

        @event.listens_for(engine, "handle_error")
        def _unreachable(context):  # type: ignore[no-untyped-def]
            # Only a failure to open a connection (no statement ran, so no bound value can be
            # in the driver's message): say which server and what to check.
            if context.connection is None and context.statement is None:
                detail = " ".join(str(context.original_exception).split())
                detail = (
                    detail.removeprefix("connection failed: ")
                    or type(context.original_exception).__name__
                )
                raise DatabaseUnreachableError(
                    f"cannot connect to the database {where}: {detail[:300]}",
                    "check database.url (host, port, database name, user and password) and that "
                    "the server is running and accepts connections from this machine",
                ) from None

    return engine


def _private_sqlite_file(path: Path) -> None:
    """Create the database file owner-only before SQLite does: it holds raw prompt text.
    SQLite gives its -wal and -shm files the same permissions."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


class SchemaNewerError(AuditorError):
    """The database was migrated by a newer auditor than this one."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against this auditor's migrations."""

    current: str | None  # None: no schema yet
    head: str
    known: bool  # the current revision is one of this auditor's migrations

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    @property
    def is_newer(self) -> bool:
        return self.current is not None and not self.known


def schema_state(engine: Engine) -> SchemaState:
    """The database's Alembic revision against this auditor's head. Raises AuditorError if
    the database cannot be opened (DatabaseUnreachableError for a server)."""
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise AuditorError(f"cannot open the database: {exc.orig}") from None
    known = current is None or current in {s.revision for s in scripts.walk_revisions()}
    return SchemaState(current=current, head=scripts.get_current_head() or "", known=known)


def _refuse_newer(engine: Engine, state: SchemaState) -> None:
    where = engine.url.render_as_string(hide_password=True)
    raise SchemaNewerError(
        f"the database {where} has schema revision {state.current}, newer than this auditor "
        f"(version {_version()}, which knows up to {state.head})",
        "run the auditor version that last migrated it (`auditor runs list` on that version "
        "shows it), or point database.url at another database; never downgrade it by hand",
    )


def _version() -> str:
    import auditor

    return auditor.__version__


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with the Alembic migrations. Raises SchemaNewerError
    for a database that a newer auditor migrated (Alembic would say only that it cannot
    locate the revision)."""
    state = schema_state(engine)
    if state.is_newer:
        _refuse_newer(engine, state)
    command.upgrade(alembic_config(engine), revision)


def ensure_current(engine: Engine) -> None:
    """Raise AuditorError unless the database is at the newest migration: for an older
    schema the hint is `auditor db upgrade`, for a newer one SchemaNewerError."""
    state = schema_state(engine)
    if state.is_newer:
        _refuse_newer(engine, state)
    if not state.is_current:
        raise AuditorError(
            f"database schema is at {state.current or 'nothing'}, expected {state.head}",
            "run `auditor db upgrade` (`auditor run` upgrades it by itself)",
        )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error: the one place that commits."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
