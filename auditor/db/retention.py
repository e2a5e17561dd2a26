"""Retention of raw text: prompts and outputs are kept only as long as the setting allows.

Purging blanks the text of old interactions, and the text values of their attributes (what the
log carried beside the prompt), and keeps everything derived from them (detections, decisions,
findings, reviews), which hold no raw values; the interaction is marked as purged.
Blanking a column does not remove the old bytes from the database file: on SQLite the purge
runs with `secure_delete` (freed content is overwritten with zeros) and `reclaim_space` then
rebuilds the file (VACUUM) and empties the write-ahead log, so the text cannot be read back
from the file; on PostgreSQL it runs VACUUM, which frees the dead rows for reuse.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.normalize import OVERSIGHT_KEYS
from auditor.policy.input import oversight

BATCH = 1000
PURGED_AT = "purged_at"
_ACCOUNT_TYPE = re.compile(r"[a-z][a-z_]{0,31}")


def purge_raw_text(session: Session, before: datetime, *, now: datetime) -> int:
    """Remove prompt and output text, and the text values of attributes (see
    `purged_attributes`), of interactions that occurred before `before` (naive UTC).

    Returns how many interactions were purged. Idempotent. Call `reclaim_space` after the
    transaction commits.
    """
    if session.get_bind().dialect.name == "sqlite":
        # Freed pages and cells are overwritten with zeros, whatever the compile-time default.
        session.execute(text("PRAGMA secure_delete=ON"))
    purged = 0
    last_id = 0
    stamp = now.isoformat() + "Z"
    while True:
        # Every old row is looked at: one whose source never stored text can still carry
        # attribute values (JSON is not portably queryable, so the test is made here).
        rows = list(
            session.scalars(
                select(Interaction)
                .where(Interaction.occurred_at < before, Interaction.id > last_id)
                .order_by(Interaction.id)
                .limit(BATCH)
            )
        )
        if not rows:
            return purged
        last_id = rows[-1].id
        for row in rows:
            had_text = row.prompt_text is not None or row.output_text is not None
            attributes = purged_attributes(row.attributes or {})
            if not had_text and attributes == (row.attributes or {}):
                continue
            if had_text:
                row.prompt_text = None
                row.output_text = None
                row.content_status = "not_stored"
            row.attributes = {**attributes, PURGED_AT: attributes.get(PURGED_AT, stamp)}
            purged += 1
        session.flush()


def purged_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """What an interaction's attributes keep after purge: numbers and flags (counts, never
    text), the account type when it is spelled as one (lower-case letters and `_`), the
    oversight facts the policies read, reduced to their decided values (so a later
    evaluation decides as before), and the purge time. Every other text value, and every
    list, is dropped: they came from the log and may hold what a prompt holds."""
    kept: dict[str, Any] = {
        key: value
        for key, value in attributes.items()
        if isinstance(value, bool | int | float) and key not in OVERSIGHT_KEYS
    }
    account_type = attributes.get("account_type")
    if isinstance(account_type, str) and _ACCOUNT_TYPE.fullmatch(account_type):
        kept["account_type"] = account_type
    for key, value in oversight(attributes).items():
        if value is not None and value != "none":
            kept[key] = value
    if isinstance(attributes.get(PURGED_AT), str):
        kept[PURGED_AT] = attributes[PURGED_AT]
    return kept


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
