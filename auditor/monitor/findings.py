"""Population findings: the monitored violations of a period in the review queue, marked
`source = monitoring`, one per violation and offending value as for the sample's findings
(`auditor.findings`), with ids of their own so they never merge with the sample's."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Detection, Finding, Interaction, MonitorItem, MonitorViolation
from auditor.findings import (
    OPEN,
    SOURCE_MONITORING,
    SUPERSEDED,
    FindingStats,
    _system_event,
    finding_targets,
    monitoring_finding_id,
)
from auditor.periods import period_bounds
from auditor.sample.selection import stable_key


def build_population_findings(
    session: Session, period: str, scanner_revision: str, policy_revision: str
) -> FindingStats:
    """Create or refresh the monitoring findings of a period from its monitored violations
    under these revisions. Existing findings keep their status and reviews; an open one this
    run no longer produces, on an interaction it evaluated, becomes superseded (and one
    produced again is reopened), recorded in its history. Flushes, does not commit."""
    start, end = period_bounds(period)
    now = datetime.now(UTC).replace(tzinfo=None)
    stats = FindingStats()
    in_period = select(Interaction.id).where(
        Interaction.occurred_at >= start, Interaction.occurred_at < end
    )
    rows = session.execute(
        select(MonitorViolation, Interaction.source_format, Interaction.event_id)
        .join(Interaction, Interaction.id == MonitorViolation.interaction_id)
        .where(
            MonitorViolation.interaction_id.in_(in_period),
            MonitorViolation.scanner_revision == scanner_revision,
            MonitorViolation.policy_revision == policy_revision,
        )
        .order_by(MonitorViolation.interaction_id, MonitorViolation.key)
    ).all()
    produced: set[str] = set()
    ids = sorted({v.interaction_id for v, _, _ in rows})
    detections: dict[int, dict[str, list[Detection]]] = defaultdict(lambda: defaultdict(list))
    for offset in range(0, len(ids), 500):
        for det in session.scalars(
            select(Detection)
            .where(
                Detection.interaction_id.in_(ids[offset : offset + 500]),
                Detection.scanner_revision == scanner_revision,
            )
            .order_by(Detection.interaction_id, Detection.field, Detection.start, Detection.id)
        ):
            detections[det.interaction_id][det.entity_type].append(det)
    for violation, fmt, event_id in rows:
        stats.decisions += 1
        key = stable_key(fmt, event_id)
        targets = finding_targets(violation.entity_types, detections[violation.interaction_id])
        for entity_type, value_hash, excerpt in targets:
            fid = monitoring_finding_id(key, violation.rule_id, entity_type, value_hash)
            if fid in produced:
                continue
            produced.add(fid)
            existing = session.get(Finding, fid)
            if existing is not None:
                existing.last_seen = now
                stats.seen_again += 1
                if existing.status == SUPERSEDED:
                    existing.status = OPEN
                    _system_event(session, fid, "reopened", policy_revision, now)
                    stats.reopened += 1
                continue
            session.add(
                Finding(
                    id=fid,
                    interaction_id=violation.interaction_id,
                    rule_id=violation.rule_id,
                    entity_type=entity_type,
                    value_hash=value_hash,
                    severity=violation.severity,
                    title=violation.title,
                    message=violation.message,
                    masked_excerpt=excerpt,
                    status=OPEN,
                    first_seen=now,
                    last_seen=now,
                    source=SOURCE_MONITORING,
                )
            )
            stats.created += 1
    session.flush()
    evaluated = select(MonitorItem.interaction_id).where(
        MonitorItem.interaction_id.in_(in_period),
        MonitorItem.scanner_revision == scanner_revision,
        MonitorItem.policy_revision == policy_revision,
        MonitorItem.status == "evaluated",
    )
    for finding in session.scalars(
        select(Finding).where(
            Finding.source == SOURCE_MONITORING,
            Finding.status == OPEN,
            Finding.interaction_id.in_(evaluated),
        )
    ):
        if finding.id not in produced:
            finding.status = SUPERSEDED
            _system_event(session, finding.id, SUPERSEDED, policy_revision, now)
            stats.superseded += 1
    session.flush()
    return stats
