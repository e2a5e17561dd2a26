"""Retention of raw text: prompts and outputs are kept only as long as the setting allows.

Purging blanks the text of old interactions and keeps everything derived from it (detections,
decisions, findings, reviews), which hold no raw values; the interaction is marked as purged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction

BATCH = 1000


def purge_raw_text(session: Session, before: datetime, *, now: datetime) -> int:
    """Remove prompt and output text of interactions that occurred before `before` (naive UTC).

    Returns how many interactions were purged. Idempotent.
    """
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
