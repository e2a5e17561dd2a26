"""The review queue: list findings, record dispositions. History is append-only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from auditor.db.models import Finding, Interaction, Person, ReviewEvent
from auditor.directory import reporting_line
from auditor.errors import InputError, NotFoundError

DISPOSITIONS = ("confirmed", "false-positive", "accepted-risk")
STATUSES = ("open", "confirmed", "false_positive", "accepted_risk", "superseded")
SEVERITIES = ("critical", "high", "medium", "low")


def status_for(disposition: str) -> str:
    return disposition.replace("-", "_")


@dataclass(frozen=True)
class QueueItem:
    """A finding as the review queue shows it: no prompt text, only the masked excerpt."""

    id: str
    rule_id: str
    severity: str
    status: str
    title: str
    user_id: str | None
    department: str | None
    tool: str | None
    occurred_at: datetime
    entity_type: str
    masked_excerpt: str | None


_SEVERITY_RANK = case(
    {"critical": 0, "high": 1, "medium": 2, "low": 3}, value=Finding.severity, else_=4
)


def list_findings(
    session: Session,
    *,
    statuses: Sequence[str] = ("open",),
    severity: str | None = None,
    manager_id: str | None = None,
    rule_id: str | None = None,
    limit: int | None = None,
) -> list[QueueItem]:
    """Findings in review order (severity, then first seen), filtered as asked.

    Statuses may be given as dispositions (`false-positive`). Raises InputError for an unknown
    status or severity, NotFoundError for a manager with nobody reporting to them.
    """
    statuses = [status_for(s) for s in statuses]
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise InputError(f"unknown status {unknown[0]!r}", f"use one of {', '.join(STATUSES)}")
    if severity is not None and severity not in SEVERITIES:
        raise InputError(f"unknown severity {severity!r}", f"use one of {', '.join(SEVERITIES)}")
    query = (
        select(
            Finding,
            Interaction.user_id,
            Interaction.tool,
            Interaction.occurred_at,
            Person.department,
        )
        .join(Interaction, Interaction.id == Finding.interaction_id)
        .outerjoin(Person, Person.user_id == Interaction.user_id)
        .order_by(_SEVERITY_RANK, Finding.first_seen, Finding.id)
    )
    if statuses:
        query = query.where(Finding.status.in_(list(statuses)))
    if severity:
        query = query.where(Finding.severity == severity)
    if rule_id:
        query = query.where(Finding.rule_id == rule_id)
    if manager_id:
        team = reporting_line(session, manager_id)
        if not team:
            raise NotFoundError(
                f"nobody in the directory reports to {manager_id}",
                "load the directory with `auditor directory load` or check the id",
            )
        query = query.where(Interaction.user_id.in_(sorted(team)))
    if limit:
        query = query.limit(limit)
    return [
        QueueItem(
            id=f.id,
            rule_id=f.rule_id,
            severity=f.severity,
            status=f.status,
            title=f.title,
            user_id=uid,
            department=dept,
            tool=tool,
            occurred_at=at,
            entity_type=f.entity_type,
            masked_excerpt=f.masked_excerpt,
        )
        for f, uid, tool, at, dept in session.execute(query)
    ]


def resolve_id(session: Session, id_or_prefix: str) -> Finding:
    """The finding with this id, or the only one starting with this prefix (≥ 6 characters)."""
    finding = session.get(Finding, id_or_prefix)
    if finding is not None:
        return finding
    if len(id_or_prefix) < 6:
        raise InputError(f"finding id {id_or_prefix!r} is too short", "give at least 6 characters")
    matches = list(
        session.scalars(select(Finding).where(Finding.id.startswith(id_or_prefix)).limit(2))
    )
    if not matches:
        raise NotFoundError(f"no finding {id_or_prefix}", "see `auditor review list`")
    if len(matches) > 1:
        raise InputError(f"finding id {id_or_prefix!r} is ambiguous", "give more characters")
    return matches[0]


def resolve(
    session: Session, finding_id: str, disposition: str, note: str, reviewer: str
) -> ReviewEvent:
    """Record a disposition on a finding and set its status. Raises InputError or NotFoundError."""
    if disposition not in DISPOSITIONS:
        raise InputError(
            f"unknown disposition {disposition!r}", f"use one of {', '.join(DISPOSITIONS)}"
        )
    if not reviewer.strip():
        raise InputError("reviewer is empty", "pass --reviewer")
    if not note.strip():
        raise InputError("a disposition needs a note", "say why, with --note")
    finding = resolve_id(session, finding_id)
    event = ReviewEvent(
        finding_id=finding.id,
        at=datetime.now(UTC).replace(tzinfo=None),
        reviewer=reviewer.strip(),
        disposition=disposition,
        note=note.strip()[:2000],
    )
    session.add(event)
    finding.status = status_for(disposition)
    session.flush()
    return event


def history(session: Session, finding_id: str) -> list[ReviewEvent]:
    finding = resolve_id(session, finding_id)
    return list(
        session.scalars(
            select(ReviewEvent).where(ReviewEvent.finding_id == finding.id).order_by(ReviewEvent.id)
        )
    )
