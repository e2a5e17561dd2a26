"""`auditor monitor --engine local`: every interaction of the period, the monitored rules only,
population findings marked `monitoring`, resumable, idempotent, and never in the sample's
deviation rate."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from auditor.cli import main
from auditor.config import Settings
from auditor.db.models import (
    Detection,
    Finding,
    Interaction,
    MonitorItem,
    MonitorRun,
    MonitorViolation,
    SampleItem,
    ScanRecord,
)
from auditor.db.session import make_engine, session_scope
from auditor.errors import InputError, PolicyError
from auditor.findings import SOURCE_MONITORING, SOURCE_SAMPLE
from auditor.monitor.core import collect, interaction_of, jobs_of, monitored_rules
from auditor.monitor.local import monitor_local
from auditor.monitor.run import run_monitor
from auditor.policy.engine import build_engine
from auditor.report.context import ReportContext, build_report_context
from auditor.review import list_findings, resolve
from auditor.sample.evaluation import evaluate_plan
from auditor.scan.engine import build_scanner
from auditor.scan.parallel import ScanOutcome
from auditor.scan.stage import ScanStats
from tests.monitor.conftest import PERIOD, copy_demo

CARD = "4111 1111 1111 1111"
CRITICAL = (
    "card-data-outside-pci-scope",
    "client-npi-to-uncontracted-tool",
    "mnpi-to-external-ai",
    "special-category-data-to-external-ai",
)


def _add(session: Session, n: int, prompt: str, *, tool: str = "chatgpt-enterprise") -> None:
    base = session.scalar(select(func.count()).select_from(Interaction)) or 0
    for i in range(n):
        session.add(
            Interaction(
                event_id=f"ev-{base + i}",
                source_format="openai-chat",
                occurred_at=datetime(2026, 10, 1 + (base + i) % 28, 9, 0, 0),
                user_id=f"u{(base + i) % 3}",
                user_email=None,
                tool=tool,
                prompt_text=prompt,
                output_text="Done.",
                content_status="present",
                attributes={},
            )
        )
    session.flush()


def _counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (ScanRecord, Detection, MonitorItem, MonitorViolation, Finding)
    }


def test_monitored_rules_are_the_critical_ones_by_default(settings: Settings) -> None:
    assert monitored_rules(build_engine(settings.policy)) == CRITICAL


def test_a_pack_that_monitors_nothing_is_refused(settings: Settings, tmp_path: Path) -> None:
    import shutil

    pack = tmp_path / "pack"
    shutil.copytree(settings.policy.directory, pack)
    for rego in (pack / "auditor" / "rules").glob("*.rego"):
        rego.write_text(rego.read_text().replace('\t"monitor": true,\n', ""))
    policy = settings.policy.model_copy(update={"directory": pack})
    with pytest.raises(PolicyError, match="marks no rule for monitoring"):
        monitored_rules(build_engine(policy))


@pytest.mark.both_databases
def test_every_interaction_is_monitored_and_findings_are_marked(
    settings: Settings, engine: Engine, session: Session
) -> None:
    _add(session, 3, f"Please charge card {CARD} for the client dinner.")
    _add(session, 4, "Summarise the quarterly offsite agenda in three bullets.")
    _add(session, 1, f"Card {CARD}, out of period.")
    session.execute(
        Interaction.__table__.update()
        .where(Interaction.event_id == "ev-7")
        .values(occurred_at=datetime(2026, 11, 2))
    )
    session.commit()

    result = run_monitor(session, settings, PERIOD)

    stats = result.stats
    assert result.rules == CRITICAL
    assert stats.interactions == 7 == stats.evaluated
    assert stats.by_rule == {"card-data-outside-pci-scope": 3}
    findings = session.scalars(select(Finding)).all()
    assert len(findings) == 3
    assert {f.source for f in findings} == {SOURCE_MONITORING}
    assert {f.rule_id for f in findings} == {"card-data-outside-pci-scope"}
    assert all(CARD not in (f.masked_excerpt or "") for f in findings)
    out_of_period = session.scalar(select(Interaction.id).where(Interaction.event_id == "ev-7"))
    assert (
        session.scalar(select(func.count()).where(ScanRecord.interaction_id == out_of_period)) == 0
    )
    queue = list_findings(session, source=SOURCE_MONITORING)
    assert [q.source for q in queue] == [SOURCE_MONITORING] * 3
    assert list_findings(session, source=SOURCE_SAMPLE) == []
    run = session.scalars(select(MonitorRun)).one()
    assert run.ended_at is not None and run.counts["violations"] == 3

    # Again: nothing new, every interaction already done.
    before = _counts(session)
    again = run_monitor(session, settings, PERIOD)
    assert again.stats.skipped_already_done == 7
    assert again.stats.evaluated == 0
    assert _counts(session) == before


class _Killed(Exception):
    pass


@pytest.mark.both_databases
def test_a_killed_run_resumes_where_it_stopped(
    settings: Settings, engine: Engine, session: Session
) -> None:
    _add(session, 5, f"Card {CARD} please.")
    _add(session, 5, "Nothing sensitive here at all.")
    session.commit()
    scanner = build_scanner(settings.scan, settings.hash_key_bytes())
    policy = build_engine(settings.policy)
    rules = monitored_rules(policy)
    calls = 0

    def die_after_first_batch(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise _Killed()

    with pytest.raises(_Killed):
        monitor_local(
            session,
            settings,
            PERIOD,
            scanner,
            policy,
            rules,
            batch=4,
            progress=die_after_first_batch,
        )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(MonitorItem)) == 4

    resumed = monitor_local(session, settings, PERIOD, scanner, policy, rules, batch=4)
    session.commit()
    assert resumed.skipped_already_done == 4
    assert resumed.evaluated == 6
    assert session.scalar(select(func.count()).select_from(MonitorItem)) == 10
    # One record per field, none twice.
    assert session.scalar(select(func.count()).select_from(ScanRecord)) == 20
    assert session.scalar(select(func.count()).select_from(MonitorViolation)) == 5


def test_a_failed_or_partial_scan_is_recorded_and_the_run_goes_on(settings: Settings) -> None:
    scanner = build_scanner(settings.scan, settings.hash_key_bytes())
    interaction = interaction_of(
        {
            "id": 1,
            "event_id": "e1",
            "source_format": "openai-chat",
            "occurred_at": "2026-10-01T09:00:00",
            "content_status": "present",
            "attributes": "{}",
            "prompt_text": "a prompt the scanner crashed on",
            "output_text": None,
        }
    )
    jobs = jobs_of(interaction, ("prompt", "output", "attributes"))
    assert jobs == [("prompt", "a prompt the scanner crashed on"), ("output", None)]
    stats = ScanStats()
    got = collect(scanner, interaction, jobs, [ScanOutcome.failed(MemoryError())], stats)
    by_field = {r.field: r for r in got.records}
    assert by_field["prompt"].status == "error"
    assert by_field["prompt"].reason == "the scanner raised MemoryError"
    assert by_field["output"].status == "not_stored"
    assert got.fields_scanned == []
    assert stats.fields_failed == 1


@pytest.mark.both_databases
def test_text_over_the_limit_is_partial_and_still_evaluated(
    settings: Settings, engine: Engine, session: Session
) -> None:
    _add(session, 1, f"Card {CARD}. " + "filler words " * 400)
    session.commit()
    short = settings.model_copy(
        update={"scan": settings.scan.model_copy(update={"max_text_chars": 1000})}
    )
    result = run_monitor(session, short, PERIOD)
    record = session.scalars(select(ScanRecord).where(ScanRecord.field == "prompt")).one()
    assert (record.status, record.reason_code) == ("partial", "over_limit")
    assert result.stats.fields_partial == 1
    assert result.stats.by_rule == {"card-data-outside-pci-scope": 1}


def test_input_without_spark_is_refused(settings: Settings, session: Session) -> None:
    with pytest.raises(InputError, match="--input needs --engine spark"):
        run_monitor(session, settings, PERIOD, input_path=Path("lake"))


# --- on the demo month: the sample's figures do not move, the report shows the section ----


def _sample_figures(session: Session) -> tuple[Any, ...]:
    from auditor.db.models import Sample

    sample = session.scalars(select(Sample)).one()
    plan = evaluate_plan(session, sample.id)
    sample_findings = session.scalar(
        select(func.count()).select_from(Finding).where(Finding.source == SOURCE_SAMPLE)
    )
    return sample.id, repr(plan), sample_findings


def test_monitoring_never_moves_the_sample_evaluation(demo_month: Any, tmp_path: Path) -> None:
    settings = copy_demo(demo_month, tmp_path)
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            sample_id, plan_before, sample_findings = _sample_figures(session)
            summary_before = _context(session, settings).summary
            run_monitor(session, settings, PERIOD)
            # Monitoring findings on sampled interactions exist, and one is confirmed.
            on_sample = session.scalars(
                select(Finding)
                .join(SampleItem, SampleItem.interaction_id == Finding.interaction_id)
                .where(Finding.source == SOURCE_MONITORING, SampleItem.sample_id == sample_id)
            ).all()
            assert on_sample
            resolve(session, on_sample[0].id, "confirmed", "seen in a test", "risk")
            session.commit()
            assert _sample_figures(session) == (sample_id, plan_before, sample_findings)
            assert _context(session, settings).summary == summary_before
    finally:
        engine.dispose()


def test_the_report_shows_population_monitoring(demo_month: Any, tmp_path: Path) -> None:
    from tests.report.test_writers import load_schema, validate

    settings = copy_demo(demo_month, tmp_path)
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            assert _context(session, settings).monitoring is None
            result = run_monitor(session, settings, PERIOD)
            session.commit()
            population = session.scalar(select(func.count()).select_from(Interaction))
            section = _context(session, settings).monitoring
            assert section is not None
            assert section.population == population == section.evaluated
            assert section.engine == "local"
            assert section.rules == CRITICAL
            by_rule = {r.rule_id: r.violations for r in section.violations_by_rule}
            assert by_rule == {rule: result.stats.by_rule.get(rule, 0) for rule in CRITICAL}
            assert sum(c.count for c in section.detections_by_type) == session.scalar(
                select(func.count())
                .select_from(Detection)
                .where(Detection.scanner_revision == result.scanner_revision)
            )
            assert sum(c.count for c in section.violations_by_tool) == result.stats.violations
            assert not section.previous_monitored
            assert all(c.previous is None for c in section.detections_by_type)
    finally:
        engine.dispose()
    assert main(["--config", _toml(settings, tmp_path), "report", "-p", PERIOD, "-f", "json"]) == 0
    report = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    assert validate(report, load_schema(), load_schema()) == []
    assert report["monitoring"]["population"] == population
    assert main(["--config", _toml(settings, tmp_path), "report", "-p", PERIOD]) == 0
    page = next((tmp_path / "reports").glob("*.html")).read_text()
    assert '<section id="monitoring">' in page
    assert "9. Population monitoring" in page


def _context(session: Session, settings: Settings) -> ReportContext:
    return build_report_context(
        session,
        PERIOD,
        pseudonymize=lambda user_id: "P-test",
        settings=settings,
        generated_at=datetime(2026, 12, 1),
        auditor_version="test",
        policy_revision=None,
        scanner_revision=None,
    )


def _toml(settings: Settings, tmp_path: Path) -> str:
    path = tmp_path / "auditor.toml"
    lines = [
        f'data_dir = "{settings.data_dir}"',
        "[database]",
        f'url = "{settings.database.url}"',
        "[scan]",
        'hash_key = "monitor-test-key-padded-to-32-bytes"',
        f'client_register = "{settings.scan.client_register}"',
        f'restricted_list = "{settings.scan.restricted_list}"',
        "[report]",
        f'output_dir = "{settings.report.output_dir}"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)
