"""Retention of raw text: prompts and outputs are kept only as long as the setting allows.

Purging blanks the text of old interactions and keeps everything derived from it (detections,
decisions, findings, reviews), which hold no raw values; the interaction is marked as purged.
Blanking a column does not remove the old bytes from the database file: on SQLite the purge
runs with `secure_delete` (freed content is overwritten with zeros) and `reclaim_space` then
rebuilds the file (VACUUM) and empties the write-ahead log, so the text cannot be read back
from the file; on PostgreSQL it runs VACUUM FULL, which rewrites the table without the old row
versions (PostgreSQL's write-ahead log and backups keep them until they are recycled).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from auditor.errors import AuditorError


def purge_raw_text(session: Session, before: datetime, *, now: datetime) -> int:
    """Remove prompt and output text of interactions that occurred before `before` (naive UTC).

    One set-based UPDATE (a 1M-interaction month in seconds, where row by row took minutes);
    the purge time is added to each row's attributes as `purged_at`. Returns how many
    interactions were purged. Idempotent. Call `reclaim_space` after the transaction commits.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # Freed pages and cells are overwritten with zeros, whatever the compile-time default.
        session.execute(text("PRAGMA secure_delete=ON"))
        stamp = "json_set(COALESCE(attributes, '{}'), '$.purged_at', :stamp)"
    elif dialect == "postgresql":
        stamp = (
            "(COALESCE(attributes::jsonb, '{}'::jsonb) "
            "|| jsonb_build_object('purged_at', CAST(:stamp AS text)))::json"
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise AuditorError(f"purge is not supported on {dialect}")
    session.flush()
    result = session.execute(
        text(
            "UPDATE interactions SET prompt_text = NULL, output_text = NULL, "
            f"content_status = 'not_stored', attributes = {stamp} "
            "WHERE occurred_at < :before "
            "AND (prompt_text IS NOT NULL OR output_text IS NOT NULL)"
        ),
        {"before": before, "stamp": now.isoformat() + "Z"},
    )
    # Interactions already loaded in this session must not show their old text.
    session.expire_all()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def reclaim_space(engine: Engine) -> None:
    """Remove what purged rows leave behind in the database's files: SQLite rebuilds the file
    with secure_delete on and truncates the write-ahead log; PostgreSQL rewrites the table and
    its TOAST table (VACUUM FULL: a plain VACUUM only marks the old row versions reusable, and
    their bytes stay in the files until overwritten). Runs outside any transaction, as VACUUM
    must. Raises SQLAlchemy's errors."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("PRAGMA secure_delete=ON"))
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        elif engine.dialect.name == "postgresql":
            conn.execute(text("VACUUM (FULL, ANALYZE) interactions"))
