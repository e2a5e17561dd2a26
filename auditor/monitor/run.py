"""One `auditor monitor` of a period: build the audit's scanner and policy engine, run the
chosen engine, load what it found, build the population findings, record the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.config import Settings
from auditor.db.keys import check_hash_key
from auditor.db.models import Interaction
from auditor.errors import InputError
from auditor.monitor.core import monitored_rules
from auditor.monitor.stage import (
    ENGINES,
    MonitorProgress,
    MonitorStats,
    close_run,
    open_run,
)
from auditor.periods import period_bounds

DEFAULT_MASTER = "local[2]"


@dataclass
class MonitorResult:
    run_id: int
    period: str
    engine: str
    rules: tuple[str, ...]
    scanner_revision: str
    policy_revision: str
    stats: MonitorStats
    output: Path | None = None  # the Spark job's Parquet results


def run_monitor(
    session: Session,
    settings: Settings,
    period: str,
    *,
    engine: str = "local",
    spark_master: str = DEFAULT_MASTER,
    input_path: Path | None = None,
    output: Path | None = None,
    workers: int | None = None,
    progress: MonitorProgress | None = None,
) -> MonitorResult:
    """Scan and evaluate every interaction of `period` with `engine` (local or spark).

    Commits as it goes (the local engine per batch, the Spark load per batch), so a killed
    run resumes where it stopped. Raises InputError for an unknown engine or an `input_path`
    without Spark, SparkUnavailable when Spark cannot run, PolicyError when the pack cannot
    be loaded or marks no rule for monitoring, ScanError when the scanner cannot be built.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown monitoring engine {engine!r}", "use local or spark")
    if input_path is not None and engine != "spark":
        raise InputError("--input needs --engine spark", "the local engine reads the database")
    start, end = period_bounds(period)
    spark = None
    if engine == "spark":
        from auditor.monitor.spark import spark_session

        spark = spark_session(spark_master)  # first: no Java, no master -> fail before spaCy
    try:
        from auditor.policy.engine import build_engine
        from auditor.scan.engine import build_scanner

        key = settings.hash_key_bytes()
        check_hash_key(session, key)
        scanner = build_scanner(settings.scan, key)
        policy = build_engine(settings.policy)
        rules = monitored_rules(policy)
        catalogue = [
            {"id": r.rule_id, "title": r.title, "severity": r.severity}
            for r in sorted(policy.rules(), key=lambda r: r.rule_id)
            if r.rule_id in rules
        ]
        run = open_run(session, period, engine, scanner.revision, policy.revision, catalogue)
        session.commit()
        if spark is None:
            from auditor.monitor.local import monitor_local

            stats = monitor_local(
                session,
                settings,
                period,
                scanner,
                policy,
                rules,
                workers=workers,
                progress=progress,
            )
            out = None
        else:
            from auditor.monitor.local import load_people
            from auditor.monitor.spark import export_period, load_results, run_job, shipment

            out = output or Path(settings.data_dir) / "monitor" / period
            source = input_path
            exported = None
            if source is None:
                source = out / "input"
                exported = export_period(spark, session, period, source)
            stats = MonitorStats(
                interactions=session.scalar(
                    select(func.count())
                    .select_from(Interaction)
                    .where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
                )
                or 0
            )
            if exported != 0:  # an empty month has nothing to scan (and no Parquet to read)
                payload = shipment(
                    settings, key, load_people(session), rules, scanner.revision, policy.revision
                )
                run_job(spark, source, out, period, payload)
                load_results(
                    spark, session, out, scanner.revision, policy.revision, stats, progress
                )
        close_run(session, run, stats)
        session.commit()
        return MonitorResult(
            run_id=run.id,
            period=period,
            engine=engine,
            rules=rules,
            scanner_revision=scanner.revision,
            policy_revision=policy.revision,
            stats=stats,
            output=out,
        )
    finally:
        if spark is not None:
            spark.stop()
