"""The monitoring stage: what a run of `auditor monitor` records, whichever engine scanned.

A run is a `MonitorRun` row (engine, revisions, rules, counts). Each interaction evaluated gets
one `MonitorItem` under the scanner and policy revisions (the resume point: a run skips what
has one) and a `MonitorViolation` per monitored rule it broke; the fields' scan records and
detections go to the scan stage's tables under the same keys (interaction, field, scanner
revision), so a field the audit's scan already covered is not scanned again and a result
loaded twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from auditor.db.models import MonitorItem, MonitorRun, MonitorViolation
from auditor.findings import FindingStats
from auditor.monitor.core import EVALUATED, Evaluated, violation_key
from auditor.monitor.findings import build_population_findings
from auditor.periods import period_bounds

ENGINES = ("local", "spark")

MonitorProgress = Callable[[int, int], None]  # (interactions done, interactions in the period)


@dataclass
class MonitorStats:
    """What a run did. `interactions == evaluated + not_evaluated + skipped_already_done`."""

    interactions: int = 0
    skipped_already_done: int = 0
    evaluated: int = 0
    not_evaluated: int = 0
    violations: int = 0
    fields_scanned: int = 0
    fields_partial: int = 0
    fields_failed: int = 0
    fields_not_stored: int = 0
    fields_reused: int = 0  # already scanned at this revision (by the audit or a run before)
    detections: int = 0
    workers: int = 0
    unknown: int = 0  # rows of an --input whose interaction is not in the store
    by_rule: dict[str, int] = field(default_factory=dict)
    findings: FindingStats | None = None

    def counts(self) -> dict[str, object]:
        out = {k: v for k, v in asdict(self).items() if k != "findings"}
        if self.findings is not None:
            out["findings_created"] = self.findings.created
            out["findings_seen_again"] = self.findings.seen_again
            out["findings_superseded"] = self.findings.superseded
        return out


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def store_evaluation(
    session: Session,
    interaction_id: int,
    evaluated: Evaluated,
    scanner_revision: str,
    policy_revision: str,
    stats: MonitorStats,
    *,
    now: datetime,
) -> None:
    """Add the MonitorItem and MonitorViolation rows of one evaluated interaction."""
    session.add(
        MonitorItem(
            interaction_id=interaction_id,
            scanner_revision=scanner_revision,
            policy_revision=policy_revision,
            status=evaluated.status,
            reason=evaluated.reason,
            violations=len(evaluated.violations),
            evaluated_at=now,
        )
    )
    if evaluated.status == EVALUATED:
        stats.evaluated += 1
    else:
        stats.not_evaluated += 1
    seen: set[str] = set()
    for v in evaluated.violations:
        key = violation_key(interaction_id, v, scanner_revision, policy_revision)
        if key in seen:
            continue
        seen.add(key)
        session.add(
            MonitorViolation(
                key=key,
                interaction_id=interaction_id,
                rule_id=v.rule_id,
                severity=v.severity,
                title=v.title[:255],
                message=v.message[:1000],
                entity_types=list(v.entity_types),
                scanner_revision=scanner_revision,
                policy_revision=policy_revision,
            )
        )
        stats.violations += 1
        stats.by_rule[v.rule_id] = stats.by_rule.get(v.rule_id, 0) + 1


def open_run(
    session: Session,
    period: str,
    engine: str,
    scanner_revision: str,
    policy_revision: str,
    rules: list[dict[str, str]],
) -> MonitorRun:
    period_bounds(period)  # validates the period
    run = MonitorRun(
        period=period,
        engine=engine,
        scanner_revision=scanner_revision,
        policy_revision=policy_revision,
        rules=rules,
        started_at=utcnow(),
        counts={},
    )
    session.add(run)
    session.flush()
    return run


def close_run(session: Session, run: MonitorRun, stats: MonitorStats) -> None:
    """Build the period's population findings and record what the run did."""
    stats.findings = build_population_findings(
        session, run.period, run.scanner_revision, run.policy_revision
    )
    run.ended_at = utcnow()
    run.counts = stats.counts()
    session.flush()
