"""Whether the database file is whole: SQLite's own checks, before a run trusts it.

A query only notices damage in the pages it reads, so a damaged page that today's command does
not touch goes unseen until a later one trips over it, perhaps in the middle of a run. The
scheduled job (`auditor run`) therefore starts with `PRAGMA quick_check` (every page and index
structure, O(file size), without cross-checking index contents), and `auditor db check` runs
the full `PRAGMA integrity_check`. PostgreSQL checks its own pages (data checksums, amcheck):
nothing to do here.
"""

from __future__ import annotations

import contextlib
import sqlite3

from sqlalchemy import Engine

from auditor.errors import AuditorError

VERDICT_LINES = 5


class DatabaseDamagedError(AuditorError):
    """The database file failed SQLite's integrity check."""


def sqlite_path(engine: Engine) -> str | None:
    """The SQLite file behind the engine, or None (another database, or in memory)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    return database if database and database != ":memory:" else None


def check(engine: Engine, *, full: bool = False) -> list[str]:
    """SQLite's verdict lines (["ok"] when whole); [] when there is nothing to check. A file
    too damaged to open is its own verdict."""
    path = sqlite_path(engine)
    if path is None:
        return []
    pragma = "integrity_check" if full else "quick_check"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows = conn.execute(f"PRAGMA {pragma}({VERDICT_LINES})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)[:200]]
    return [str(r[0])[:200] for r in rows]


def require_intact(engine: Engine, *, full: bool = False) -> None:
    """Raise DatabaseDamagedError naming the file and SQLite's verdict unless it is "ok"."""
    verdict = check(engine, full=full)
    if verdict and verdict != ["ok"]:
        pragma = "integrity_check" if full else "quick_check"
        raise DatabaseDamagedError(
            f"the database {sqlite_path(engine)} is damaged ({pragma}: {'; '.join(verdict)})",
            hint="restore it from a backup; nothing was run on it",
        )
