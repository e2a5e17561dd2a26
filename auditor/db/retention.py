"""Retention of raw text: prompts and outputs are kept only as long as the setting allows.

Purging blanks the text of old interactions, and the text values of their attributes (what the
log carried beside the prompt), and keeps everything derived from them (detections, decisions,
findings, reviews), which hold no raw values; the interaction is marked as purged.
Blanking a column does not remove the old bytes from the database file: on SQLite the purge
runs with `secure_delete` (freed content is overwritten with zeros) and `reclaim_space` then
rebuilds the file (VACUUM) and empties the write-ahead log, so the text cannot be read back
from the file; on PostgreSQL it runs VACUUM FULL, which rewrites the table without the old row
versions (PostgreSQL's write-ahead log and backups keep them until they are recycled).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, select, text
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.normalize import OVERSIGHT_KEYS
from auditor.policy.input import oversight

BATCH = 5000
PURGED_AT = "purged_at"
_ACCOUNT_TYPE = re.compile(r"[a-z][a-z_]{0,31}")


def purge_raw_text(session: Session, before: datetime, *, now: datetime) -> int:
    """Remove prompt and output text, and the text values of attributes (see
    `purged_attributes`), of interactions that occurred before `before` (naive UTC).

    Batched Core UPDATEs that never load the text (row by row through the ORM took 14 minutes
    for a 1M-interaction month); the purge time is added to each row's attributes as
    `purged_at`. Returns how many interactions were purged. Idempotent. Call `reclaim_space`
    after the transaction commits.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # Freed pages and cells are overwritten with zeros, whatever the compile-time default.
        session.execute(text("PRAGMA secure_delete=ON"))
    session.flush()
    stamp = now.isoformat() + "Z"
    has_text = (Interaction.prompt_text.is_not(None)) | (Interaction.output_text.is_not(None))
    table = cast(Table, Interaction.__table__)
    new_attributes = bindparam("new_attributes", type_=table.c.attributes.type)
    blank_text = (
        table.update()
        .where(table.c.id == bindparam("row_id"))
        .values(
            prompt_text=None,
            output_text=None,
            content_status="not_stored",
            attributes=new_attributes,
        )
    )
    reduce_attributes = (
        table.update().where(table.c.id == bindparam("row_id")).values(attributes=new_attributes)
    )
    connection = session.connection()
    purged = 0
    last_id = 0
    while True:
        # Every old row is looked at (its id, whether it holds text, its attributes; never the
        # text itself): one whose source never stored text can still carry attribute values,
        # and JSON is not queried portably, so the test is made here. Updates go in batches.
        rows = session.execute(
            select(Interaction.id, has_text, Interaction.attributes)
            .where(Interaction.occurred_at < before, Interaction.id > last_id)
            .order_by(Interaction.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last_id = rows[-1][0]
        texts: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        for row_id, had_text, current in rows:
            current = current or {}
            attributes = purged_attributes(current)
            if not had_text and attributes == current:
                continue
            new = {**attributes, PURGED_AT: attributes.get(PURGED_AT, stamp)}
            (texts if had_text else others).append({"row_id": row_id, "new_attributes": new})
        if texts:
            connection.execute(blank_text, texts)
        if others:
            connection.execute(reduce_attributes, others)
        purged += len(texts) + len(others)
    # Interactions already loaded in this session must not show their old text.
    session.expire_all()
    return purged


def months_before(session: Session, before: datetime) -> list[str]:
    """The calendar months ("YYYY-MM") of the interactions that occurred before `before`,
    whose text a purge with that cut-off removes (months without any interaction left out)."""
    from sqlalchemy import func

    from auditor.periods import period_bounds, periods_between

    first, last = session.execute(
        select(func.min(Interaction.occurred_at), func.max(Interaction.occurred_at)).where(
            Interaction.occurred_at < before
        )
    ).one()
    if first is None:
        return []
    months = []
    for period in periods_between(first, last):
        start, end = period_bounds(period)
        found = session.scalar(
            select(Interaction.id)
            .where(Interaction.occurred_at >= start, Interaction.occurred_at < min(end, before))
            .limit(1)
        )
        if found is not None:
            months.append(period)
    return months


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


_NOT_REMOVABLE = re.compile(r"(\d+) dead row versions cannot be removed yet")


def reclaim_space(engine: Engine) -> int:
    """Remove what purged rows leave behind in the database's files: SQLite rebuilds the file
    with secure_delete on and truncates the write-ahead log; PostgreSQL rewrites the table and
    its TOAST table (VACUUM FULL: a plain VACUUM only marks the old row versions reusable, and
    their bytes stay in the files until overwritten). Runs outside any transaction, as VACUUM
    must. Returns how many old row versions PostgreSQL had to keep because a transaction
    still open on the server (in any database) may read them: their text stays in the files
    until a later reclaim; 0 on SQLite. Raises SQLAlchemy's errors."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("PRAGMA secure_delete=ON"))
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            return 0
        if engine.dialect.name != "postgresql":
            return 0
        raw: Any = conn.connection.driver_connection  # psycopg's connection
        notices: list[str] = []

        def keep(diagnostic: Any) -> None:
            notices.append(f"{diagnostic.message_primary or ''} {diagnostic.message_detail or ''}")

        raw.add_notice_handler(keep)
        try:
            conn.execute(text("VACUUM (FULL, VERBOSE, ANALYZE) interactions"))
        finally:
            raw.remove_notice_handler(keep)
        return sum(int(m.group(1)) for n in notices for m in _NOT_REMOVABLE.finditer(n))
