"""Findings: one per policy violation and offending value, with an identity that survives re-runs.

A finding's id hashes the interaction's stable key, the rule id, the entity type and the
value hash — no offsets, scores or run ids — so a re-run finds the same finding and the
review it already has carries over (as detect-secrets merges labels onto a fresh scan).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import (
    Decision,
    Detection,
    Finding,
    Interaction,
    ReviewEvent,
    SampleItem,
)
from auditor.sample.selection import stable_key

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
OPEN = "open"
SUPERSEDED = "superseded"  # the current policy revision no longer produces it
SYSTEM_REVIEWER = "auditor"
# Where a finding came from: the audit sample's evaluation, or population monitoring
# (`auditor monitor`). Only the sample's count towards its deviation rate.
SOURCE_SAMPLE = "sample"
SOURCE_MONITORING = "monitoring"


def finding_id(interaction_key: str, rule_id: str, entity_type: str, value_hash: str) -> str:
    """The stable id: first 32 hex chars of SHA-256 over the identifying fields."""
    material = "\x1f".join((interaction_key, rule_id, entity_type, value_hash))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def monitoring_finding_id(
    interaction_key: str, rule_id: str, entity_type: str, value_hash: str
) -> str:
    """The stable id of a population-monitoring finding: as `finding_id`, with the source in
    the material, so it never takes the id (and the review) of the sample's finding on the
    same interaction."""
    return finding_id(f"{SOURCE_MONITORING}\x1e{interaction_key}", rule_id, entity_type, value_hash)


@dataclass
class FindingStats:
    decisions: int = 0
    created: int = 0
    seen_again: int = 0
    superseded: int = 0
    reopened: int = 0

    @property
    def total(self) -> int:
        return self.created + self.seen_again


def finding_targets(
    entity_types: list[str] | None, detections: dict[str, list[Detection]]
) -> list[tuple[str, str, str | None]]:
    """What one violation makes findings of: (entity type, value hash, masked excerpt) for
    each distinct value of each entity type the rule names, in the order found (the first
    detection of a value gives the excerpt); ("", "", None) once if it names none."""
    targets: list[tuple[str, str, str | None]] = []
    for entity_type in entity_types or []:
        firsts: dict[str, Detection] = {}
        for det in detections.get(entity_type, []):
            firsts.setdefault(det.value_hash, det)
        targets.extend((entity_type, h, d.masked_excerpt) for h, d in firsts.items())
    return targets or [("", "", None)]


def build_findings(session: Session, sample_id: str, policy_revision: str) -> FindingStats:
    """Create or refresh findings from the violation decisions on a sample's interactions.

    A violation that names entity types yields one finding per distinct value of those types
    in the interaction; one that names none (a tool rule) yields one finding for the
    interaction. Existing findings keep their status and review history. An open finding that
    this revision no longer produces (on an interaction it fully evaluated) becomes
    `superseded`; a superseded finding produced again is reopened. Both are recorded in the
    finding's history.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    stats = FindingStats()
    produced: set[str] = set()
    rows = session.execute(
        select(Decision, Interaction.source_format, Interaction.event_id)
        .join(Interaction, Interaction.id == Decision.interaction_id)
        .join(SampleItem, SampleItem.interaction_id == Decision.interaction_id)
        .where(
            SampleItem.sample_id == sample_id,
            Decision.verdict == "violation",
            Decision.policy_revision == policy_revision,
        )
        .order_by(Decision.id)
    )
    decisions = list(rows)
    interaction_ids = {d.interaction_id for d, _, _ in decisions}
    detections: dict[int, dict[str, list[Detection]]] = defaultdict(lambda: defaultdict(list))
    for det in session.scalars(
        select(Detection)
        .where(Detection.interaction_id.in_(interaction_ids))
        .order_by(Detection.interaction_id, Detection.field, Detection.start)
    ):
        detections[det.interaction_id][det.entity_type].append(det)

    for decision, fmt, event_id in decisions:
        stats.decisions += 1
        key = stable_key(fmt, event_id)
        targets = finding_targets(decision.entity_types, detections[decision.interaction_id])
        for entity_type, value_hash, excerpt in targets:
            fid = finding_id(key, decision.rule_id, entity_type, value_hash)
            produced.add(fid)
            existing = session.get(Finding, fid)
            if existing is not None:
                existing.last_seen = now
                existing.severity = decision.severity or existing.severity
                stats.seen_again += 1
                if existing.status == SUPERSEDED:
                    existing.status = OPEN
                    _system_event(session, fid, "reopened", policy_revision, now)
                    stats.reopened += 1
                continue
            session.add(
                Finding(
                    id=fid,
                    interaction_id=decision.interaction_id,
                    rule_id=decision.rule_id,
                    entity_type=entity_type,
                    value_hash=value_hash,
                    severity=decision.severity or "low",
                    title=decision.title or decision.rule_id,
                    message=decision.message,
                    masked_excerpt=excerpt,
                    status=OPEN,
                    first_seen=now,
                    last_seen=now,
                )
            )
            session.flush()
            stats.created += 1
    stats.superseded = _supersede(session, sample_id, policy_revision, produced, now)
    session.flush()
    return stats


def _system_event(
    session: Session, fid: str, disposition: str, policy_revision: str, now: datetime
) -> None:
    note = (
        f"no longer produced by policy revision {policy_revision[:12]}"
        if disposition == SUPERSEDED
        else f"produced again by policy revision {policy_revision[:12]}"
    )
    session.add(
        ReviewEvent(
            finding_id=fid, at=now, reviewer=SYSTEM_REVIEWER, disposition=disposition, note=note
        )
    )


def _supersede(
    session: Session, sample_id: str, policy_revision: str, produced: set[str], now: datetime
) -> int:
    """Mark open findings of fully evaluated sampled interactions that were not produced."""
    evaluated = (
        select(Decision.interaction_id)
        .join(SampleItem, SampleItem.interaction_id == Decision.interaction_id)
        .where(SampleItem.sample_id == sample_id, Decision.policy_revision == policy_revision)
    )
    incomplete = select(Decision.interaction_id).where(
        Decision.policy_revision == policy_revision, Decision.verdict == "not_evaluated"
    )
    stale = session.scalars(
        select(Finding).where(
            Finding.status == OPEN,
            Finding.source == SOURCE_SAMPLE,
            Finding.interaction_id.in_(evaluated),
            Finding.interaction_id.not_in(incomplete),
        )
    )
    count = 0
    for finding in stale:
        if finding.id in produced:
            continue
        finding.status = SUPERSEDED
        _system_event(session, finding.id, SUPERSEDED, policy_revision, now)
        count += 1
    return count
