"""Retention of raw text: prompts and outputs are kept only as long as the setting allows.

Purging blanks the text of old interactions and keeps everything derived from it (detections,
decisions, findings, reviews), which hold no raw values; the interaction is marked as purged.
Blanking a column does not remove the old bytes from the database file: on SQLite the purge
runs with `secure_delete` (freed content is overwritten with zeros) and `reclaim_space` then
rebuilds the file (VACUUM) and empties the write-ahead log, so the text cannot be read back
from the file; on PostgreSQL it runs VACUUM, which frees the dead rows for reuse.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, or_, select, text
from sqlalchemy.orm import Session

from auditor.db.models import Interaction

BATCH = 1000


def purge_raw_text(session: Session, before: datetime, *, now: datetime) -> int:
    """Remove prompt and output text of interactions that occurred before `before` (naive UTC).

    Returns how many interactions were purged. Idempotent. Call `reclaim_space` after the
    transaction commits.
    """
    if session.get_bind().dialect.name == "sqlite":
        # Freed pages and cells are overwritten with zeros, whatever the compile-time default.
        session.execute(text("PRAGMA secure_delete=ON"))
    purged = 0
    query = (
        select(Interaction)
        .where(Interaction.occurred_at < before)
        .where(or_(Interaction.prompt_text.is_not(None), Interaction.output_text.is_not(None)))
        .limit(BATCH)
    )
    while True:
        rows = list(session.scalars(query))
        if not rows:
            return purged
        for row in rows:
            row.prompt_text = None
            row.output_text = None
            row.content_status = "not_stored"
            row.attributes = {**row.attributes, "purged_at": now.isoformat() + "Z"}
        purged += len(rows)
        session.flush()


def reclaim_space(engine: Engine) -> None:
    """Remove what purged rows leave behind in the database's files: SQLite rebuilds the file
    with secure_delete on and truncates the write-ahead log; PostgreSQL vacuums the table.
    Runs outside any transaction. Raises SQLAlchemy's errors."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("PRAGMA secure_delete=ON"))
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        elif engine.dialect.name == "postgresql":
            conn.execute(text("VACUUM interactions"))
