"""The report's "Population monitoring" section: what `auditor monitor` found on every
interaction of the period (not the sample), beside the previous period's run.

Built by SQL aggregation from the newest finished monitoring run of the period and the rows
stored under its scanner and policy revisions; None when the period was not monitored. It
never feeds the sample's figures: monitoring findings are counted here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from auditor.db.models import (
    Detection,
    Finding,
    Interaction,
    MonitorItem,
    MonitorRun,
    MonitorViolation,
    Person,
    ScanRecord,
)
from auditor.findings import SOURCE_MONITORING
from auditor.periods import period_bounds, previous_period

UNKNOWN = "(unknown)"
NOT_IN_DIRECTORY = "(not in directory)"


@dataclass(frozen=True, slots=True)
class MonitorCount:
    """A labelled count this period and, when the previous period was monitored, then."""

    key: str
    count: int
    previous: int | None


@dataclass(frozen=True, slots=True)
class MonitoredRule:
    rule_id: str
    title: str
    severity: str
    violations: int
    interactions: int
    previous: int | None  # violations in the previous period's run, None if not monitored


@dataclass(frozen=True, slots=True)
class MonitoringSection:
    period: str
    engine: str
    finished_at: str
    scanner_revision: str
    policy_revision: str
    rules: tuple[str, ...]
    population: int  # interactions stored for the period
    evaluated: int
    not_evaluated: int
    not_monitored: int  # stored but without a monitor item under the run's revisions
    fields_scanned: int  # fully
    fields_partial: int
    fields_failed: int
    fields_not_stored: int
    interactions_with_detections: int
    detections_by_type: tuple[MonitorCount, ...]
    detections_by_tool: tuple[MonitorCount, ...]
    detections_by_department: tuple[MonitorCount, ...]
    violations_by_rule: tuple[MonitoredRule, ...]
    violations_by_tool: tuple[MonitorCount, ...]
    violations_by_department: tuple[MonitorCount, ...]
    findings_by_status: tuple[MonitorCount, ...]
    previous_period: str
    previous_monitored: bool


def latest_run(session: Session, period: str) -> MonitorRun | None:
    """The newest finished monitoring run of a period."""
    return session.scalars(
        select(MonitorRun)
        .where(MonitorRun.period == period, MonitorRun.ended_at.is_not(None))
        .order_by(MonitorRun.ended_at.desc(), MonitorRun.id.desc())
        .limit(1)
    ).first()


@dataclass
class _Figures:
    by_type: dict[str, int]
    by_tool: dict[str, int]
    by_department: dict[str, int]
    rules: dict[str, tuple[int, int]]  # rule -> violations, interactions
    violations_by_tool: dict[str, int]
    violations_by_department: dict[str, int]


def _in_period(period: str) -> object:
    start, end = period_bounds(period)
    return select(Interaction.id).where(
        Interaction.occurred_at >= start, Interaction.occurred_at < end
    )


def _figures(session: Session, run: MonitorRun) -> _Figures:
    in_period = _in_period(run.period)
    dets = (
        Detection.interaction_id.in_(in_period),  # type: ignore[arg-type]
        Detection.scanner_revision == run.scanner_revision,
    )
    department = func.coalesce(Person.department, NOT_IN_DIRECTORY)
    tool = func.coalesce(Interaction.tool, UNKNOWN)
    viols = (
        MonitorViolation.interaction_id.in_(in_period),  # type: ignore[arg-type]
        MonitorViolation.scanner_revision == run.scanner_revision,
        MonitorViolation.policy_revision == run.policy_revision,
    )

    def grouped(
        column: object, model: object, where: tuple[object, ...], join: bool
    ) -> dict[str, int]:
        query = select(column, func.count()).select_from(model)  # type: ignore[call-overload]
        query = query.join(Interaction, Interaction.id == model.interaction_id)  # type: ignore[attr-defined]
        if join:
            query = query.outerjoin(Person, Person.user_id == Interaction.user_id)
        return {str(k): int(n) for k, n in session.execute(query.where(*where).group_by(column))}

    rules = {
        rule: (int(n), int(i))
        for rule, n, i in session.execute(
            select(
                MonitorViolation.rule_id,
                func.count(),
                func.count(distinct(MonitorViolation.interaction_id)),
            )
            .where(*viols)
            .group_by(MonitorViolation.rule_id)
        )
    }
    return _Figures(
        by_type={
            str(k): int(n)
            for k, n in session.execute(
                select(Detection.entity_type, func.count())
                .where(*dets)
                .group_by(Detection.entity_type)
            )
        },
        by_tool=grouped(tool, Detection, dets, False),
        by_department=grouped(department, Detection, dets, True),
        rules=rules,
        violations_by_tool=grouped(tool, MonitorViolation, viols, False),
        violations_by_department=grouped(department, MonitorViolation, viols, True),
    )


def _counts(now: dict[str, int], before: dict[str, int] | None) -> tuple[MonitorCount, ...]:
    keys = sorted(now, key=lambda k: (-now[k], k))
    return tuple(
        MonitorCount(k, now[k], None if before is None else before.get(k, 0)) for k in keys
    )


def monitoring_section(session: Session, period: str) -> MonitoringSection | None:
    """The section for `period`, or None if no monitoring run of it has finished."""
    run = latest_run(session, period)
    if run is None:
        return None
    in_period = _in_period(period)
    count_query: Any = select(func.count()).select_from(in_period.subquery())  # type: ignore[attr-defined]
    population = int(session.scalar(count_query) or 0)
    items = dict(
        session.execute(
            select(MonitorItem.status, func.count())
            .where(
                MonitorItem.interaction_id.in_(in_period),  # type: ignore[arg-type]
                MonitorItem.scanner_revision == run.scanner_revision,
                MonitorItem.policy_revision == run.policy_revision,
            )
            .group_by(MonitorItem.status)
        ).all()
    )
    records = dict(
        session.execute(
            select(ScanRecord.status, func.count())
            .where(
                ScanRecord.interaction_id.in_(in_period),  # type: ignore[arg-type]
                ScanRecord.scanner_revision == run.scanner_revision,
            )
            .group_by(ScanRecord.status)
        ).all()
    )
    with_detections = int(
        session.scalar(
            select(func.count(distinct(Detection.interaction_id))).where(
                Detection.interaction_id.in_(in_period),  # type: ignore[arg-type]
                Detection.scanner_revision == run.scanner_revision,
            )
        )
        or 0
    )
    now = _figures(session, run)
    previous = previous_period(period)
    before_run = latest_run(session, previous)
    before = _figures(session, before_run) if before_run is not None else None
    statuses = dict(
        session.execute(
            select(Finding.status, func.count())
            .where(
                Finding.source == SOURCE_MONITORING,
                Finding.interaction_id.in_(in_period),  # type: ignore[arg-type]
            )
            .group_by(Finding.status)
        ).all()
    )
    evaluated = int(items.get("evaluated", 0))
    not_evaluated = int(items.get("not_evaluated", 0))
    return MonitoringSection(
        period=period,
        engine=run.engine,
        finished_at=_iso(run.ended_at),
        scanner_revision=run.scanner_revision,
        policy_revision=run.policy_revision,
        rules=tuple(r["id"] for r in run.rules),
        population=population,
        evaluated=evaluated,
        not_evaluated=not_evaluated,
        not_monitored=max(0, population - evaluated - not_evaluated),
        fields_scanned=int(records.get("scanned", 0)),
        fields_partial=int(records.get("partial", 0)),
        fields_failed=int(records.get("error", 0)),
        fields_not_stored=int(records.get("not_stored", 0)) + int(records.get("redacted", 0)),
        interactions_with_detections=with_detections,
        detections_by_type=_counts(now.by_type, before.by_type if before else None),
        detections_by_tool=_counts(now.by_tool, before.by_tool if before else None),
        detections_by_department=_counts(
            now.by_department, before.by_department if before else None
        ),
        violations_by_rule=tuple(
            MonitoredRule(
                rule_id=rule["id"],
                title=rule["title"],
                severity=rule["severity"],
                violations=now.rules.get(rule["id"], (0, 0))[0],
                interactions=now.rules.get(rule["id"], (0, 0))[1],
                previous=None if before is None else before.rules.get(rule["id"], (0, 0))[0],
            )
            for rule in run.rules
        ),
        violations_by_tool=_counts(
            now.violations_by_tool, before.violations_by_tool if before else None
        ),
        violations_by_department=_counts(
            now.violations_by_department, before.violations_by_department if before else None
        ),
        findings_by_status=_counts({str(k): int(v) for k, v in statuses.items()}, None),
        previous_period=previous,
        previous_monitored=before_run is not None,
    )


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else ""
