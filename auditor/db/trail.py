"""The review trail's hash chain: every review event stores the SHA-256 of the event before it
in the whole trail (`prev_hash`, zeros for the first) and of its own content with that link
(`event_hash`), so an edited, deleted, inserted or reordered row breaks the chain at a place
`verify` names.

The chain is kept here, at flush, for every new ReviewEvent whoever adds it (the pipeline's
own events, the CLI, the web application), so no caller can forget it. `prev_hash` is unique:
two transactions that both read the same head cannot both append (the second is refused
rather than forking the trail).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from auditor.db.models import ReviewEvent

GENESIS = "0" * 64


def event_digest(
    prev_hash: str,
    finding_id: str,
    reviewer: str,
    role: str | None,
    disposition: str,
    note: str,
    at: Any,
) -> str:
    """SHA-256 of an event's content and its link, over canonical JSON. Migration 0008 holds
    a frozen copy of this function (tests/db/test_trail.py checks they agree)."""
    material = json.dumps(
        [
            prev_hash,
            finding_id,
            reviewer,
            role,
            disposition,
            note,
            at.isoformat(timespec="microseconds"),
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _digest_of(e: ReviewEvent) -> str:
    return event_digest(
        e.prev_hash, e.finding_id, e.reviewer, e.role, e.disposition, e.note or "", e.at
    )


@event.listens_for(Session, "before_flush")
def _chain_new_events(session: Session, _context: Any, _instances: Any) -> None:
    new = [o for o in session.new if isinstance(o, ReviewEvent) and not o.event_hash]
    if not new:
        return
    # The order they are inserted (and numbered).
    new.sort(key=lambda o: inspect(o).insert_order or 0)
    with session.no_autoflush:
        head = session.scalar(
            select(ReviewEvent.event_hash).order_by(ReviewEvent.id.desc()).limit(1)
        )
    prev = head or GENESIS
    for e in new:
        e.note = e.note or ""
        e.prev_hash = prev
        e.event_hash = _digest_of(e)
        prev = e.event_hash


@dataclass(frozen=True)
class TrailCheck:
    events: int
    head: str | None  # the last event's hash: compare it with the one a signed report states
    broken_id: int | None = None
    broken_finding: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(session: Session) -> TrailCheck:
    """Walk the trail in id order, recomputing each link and hash; stop at the first event
    that does not match and say why. Deleting the newest events leaves a shorter valid
    chain: compare the head with one recorded elsewhere (a report) to catch that."""
    prev = GENESIS
    count = 0
    for e in session.scalars(select(ReviewEvent).order_by(ReviewEvent.id)).yield_per(1000):
        count += 1
        if e.prev_hash != prev:
            return TrailCheck(
                count,
                None,
                e.id,
                e.finding_id,
                "its link does not match the event before it: an event before it was deleted, "
                "inserted, reordered or re-hashed",
            )
        if _digest_of(e) != e.event_hash:
            return TrailCheck(
                count,
                None,
                e.id,
                e.finding_id,
                "its content does not match its hash: it was edited",
            )
        prev = e.event_hash
    return TrailCheck(count, prev if count else None)
