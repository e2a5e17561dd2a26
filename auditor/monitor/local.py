"""Engine `local`: every interaction of a period through the scan stage's worker processes,
streamed from the database in batches, each batch committed when done.

Resumable: a batch's scan records, detections, monitor items and violations are committed
together, and a run skips interactions that already have a monitor item under the same
scanner and policy revisions, and fields that already have a scan record under the scanner
revision (the audit's sample among them). A field whose scan failed is tried again.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from auditor.config import Settings
from auditor.db.models import Detection, Interaction, MonitorItem, Person, ScanRecord
from auditor.monitor.core import (
    COLUMNS,
    Collected,
    People,
    collect,
    evaluate_one,
    interaction_of,
    jobs_of,
)
from auditor.monitor.stage import MonitorProgress, MonitorStats, store_evaluation, utcnow
from auditor.periods import period_bounds
from auditor.policy.engine import PolicyEngine
from auditor.scan.engine import Scanner, build_scanner
from auditor.scan.parallel import ScanPool
from auditor.scan.stage import ScanStats

BATCH = 500  # interactions read, scanned, evaluated and committed at a time


def load_people(session: Session) -> People:
    """The whole people directory, as both engines look people up."""
    return People(
        session.execute(
            select(
                Person.user_id,
                Person.email,
                Person.department,
                Person.region,
                Person.manager_id,
                Person.attributes,
            )
        ).all()
    )


def monitor_local(
    session: Session,
    settings: Settings,
    period: str,
    scanner: Scanner,
    engine: PolicyEngine,
    monitored: Sequence[str],
    *,
    workers: int | None = None,
    progress: MonitorProgress | None = None,
    batch: int = BATCH,
) -> MonitorStats:
    """Scan and evaluate every interaction of `period`; commits after each batch.

    Raises ScanError if the scan workers cannot start or die (what was committed stays).
    """
    start, end = period_bounds(period)
    in_period = (Interaction.occurred_at >= start, Interaction.occurred_at < end)
    total = session.scalar(select(func.count()).select_from(Interaction).where(*in_period)) or 0
    stats = MonitorStats(interactions=total)
    fields = tuple(settings.scan.fields)
    people = load_people(session)
    rules = frozenset(monitored)
    wanted = workers or settings.scan.workers or os.cpu_count() or 1
    stats.workers = max(1, min(wanted, total // 400 or 1))
    columns = [getattr(Interaction, c) for c in COLUMNS]
    done_count = 0
    with ScanPool(
        settings.scan,
        scanner.hash_key,
        workers=stats.workers,
        scanner=scanner,
        build=build_scanner,
    ) as pool:
        last_id = 0
        while True:
            rows = session.execute(
                select(*columns)
                .where(*in_period, Interaction.id > last_id)
                .order_by(Interaction.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            last_id = rows[-1].id
            _batch(session, pool, scanner, engine, rules, people, fields, rows, stats)
            session.commit()
            done_count += len(rows)
            if progress is not None:
                progress(done_count, total)
    return stats


def _batch(
    session: Session,
    pool: ScanPool,
    scanner: Scanner,
    engine: PolicyEngine,
    rules: frozenset[str],
    people: People,
    fields: tuple[str, ...],
    rows: Sequence[object],
    stats: MonitorStats,
) -> None:
    ids = [row.id for row in rows]  # type: ignore[attr-defined]
    revision, policy_revision = scanner.revision, engine.revision
    done_items = set(
        session.scalars(
            select(MonitorItem.interaction_id).where(
                MonitorItem.interaction_id.in_(ids),
                MonitorItem.scanner_revision == revision,
                MonitorItem.policy_revision == policy_revision,
            )
        )
    )
    stats.skipped_already_done += len(done_items)
    todo = [row for row in rows if row.id not in done_items]  # type: ignore[attr-defined]
    if not todo:
        return
    todo_ids = [row.id for row in todo]  # type: ignore[attr-defined]
    existing = session.execute(
        select(ScanRecord.id, ScanRecord.interaction_id, ScanRecord.field, ScanRecord.status).where(
            ScanRecord.interaction_id.in_(todo_ids), ScanRecord.scanner_revision == revision
        )
    ).all()
    scanned_before = {(r.interaction_id, r.field) for r in existing if r.status != "error"}
    failed_before = [r.id for r in existing if r.status == "error"]
    if failed_before:
        session.execute(delete(ScanRecord).where(ScanRecord.id.in_(failed_before)))

    interactions = [interaction_of(row._mapping) for row in todo]  # type: ignore[attr-defined]
    jobs = {}
    texts: list[str] = []
    for interaction in interactions:
        mine = []
        for name, text in jobs_of(interaction, fields):
            if (interaction.id, name) in scanned_before:
                stats.fields_reused += 1
                continue
            mine.append((name, text))
            if text is not None:
                texts.append(text)
        jobs[interaction.id] = mine
    outcomes = iter(list(pool.scan(texts)))
    scan_stats = ScanStats()
    for interaction in interactions:
        mine = jobs[interaction.id]
        count = sum(1 for _, text in mine if text is not None)
        mine_outcomes = [next(outcomes) for _ in range(count)]
        got = collect(scanner, interaction, mine, mine_outcomes, scan_stats)
        session.add_all(got.records)
        session.add_all(got.detections)
    _add_scan_stats(stats, scan_stats)
    session.flush()

    # Evaluate on what is stored under the revision: this run's scans and earlier ones alike.
    stored: dict[int, Collected] = defaultdict(Collected)
    for rec in session.scalars(
        select(ScanRecord).where(
            ScanRecord.interaction_id.in_(todo_ids), ScanRecord.scanner_revision == revision
        )
    ):
        stored[rec.interaction_id].records.append(rec)
    for det in session.scalars(
        select(Detection)
        .where(Detection.interaction_id.in_(todo_ids), Detection.scanner_revision == revision)
        .order_by(Detection.id)
    ):
        stored[det.interaction_id].detections.append(det)
    now = utcnow()
    for interaction in interactions:
        got = stored[interaction.id]
        evaluated = evaluate_one(
            engine,
            rules,
            interaction,
            people.find(interaction),
            got.detections,
            got.fields_scanned,
        )
        store_evaluation(
            session, interaction.id, evaluated, revision, policy_revision, stats, now=now
        )
    session.flush()


def _add_scan_stats(stats: MonitorStats, scan: ScanStats) -> None:
    stats.fields_scanned += scan.fields_scanned
    stats.fields_partial += scan.fields_partial
    stats.fields_failed += scan.fields_failed
    stats.fields_not_stored += scan.fields_not_stored
    stats.detections += scan.detections
