"""End to end on small data, air-gapped: ingest -> sample -> scan -> evaluate -> report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from auditor.config import Settings
from auditor.db import models
from auditor.db.session import session_scope
from auditor.pipeline import Components, run_audit
from tests.conftest import DATA, chat_record, write_jsonl
from tests.report.page import executable_scripts, script_admitted

pytestmark = pytest.mark.both_databases

CARD = "4111 1111 1111 1111"
SCRIPT = "<script>x()</script>"


def _logs(tmp_path: Path) -> Path:
    recs = [
        chat_record(
            "e-card",
            f"Refund the client on card {CARD} {SCRIPT} today.",
            user="u00004",
            tool="copilot-business",
            workflow="coding",
        ),
        chat_record(
            "e-card-internal",
            f"Card {CARD} needs a chargeback note.",
            user="u00004",
            tool="atlas-internal",
            workflow="internal_drafting",
        ),
        chat_record(
            "e-banned",
            "Summarise this public article about rates.",
            user="u00002",
            tool="deepseek-chat",
            workflow="research",
        ),
        chat_record(
            "e-script",
            f"Why does {SCRIPT} not run in our page? {{{{ 7*7 }}}}",
            user="u00003",
            tool="chatgpt-enterprise",
            workflow="coding",
        ),
        chat_record("e-clean", "Write a haiku about spreadsheets.", user="u00001"),
        chat_record("e-none", None, user="u00001"),
    ]
    return write_jsonl(tmp_path / "gateway.jsonl", [*recs, b'{"broken": '])


def _counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (
                models.Interaction,
                models.SourceFile,
                models.IngestRejection,
                models.Sample,
                models.SampleItem,
                models.ScanRecord,
                models.Detection,
                models.Decision,
                models.Finding,
                models.ReviewEvent,
                models.UsageTier,
                models.ReportRecord,
                models.Person,
            )
        }


@pytest.fixture(scope="module")
def components_cache() -> dict[str, Components]:
    return {}


def test_end_to_end_and_idempotent(
    engine: Engine, settings: Settings, tmp_path: Path, no_network: list[str]
) -> None:
    logs = _logs(tmp_path)
    people = DATA / "people" / "people.csv"
    components = Components(settings)
    first = run_audit(engine, settings, [logs], people_csv=people, components=components)

    [file] = first.files
    assert (file.total, file.loaded, file.rejected) == (7, 6, 1)
    [period] = first.periods
    assert period.period == "2026-10" and period.sample_size == 6
    assert period.scan.detections >= 2
    report = period.report_path
    assert report is not None and report.exists()

    with session_scope(engine) as s:
        rules = {(f.rule_id, f.entity_type) for f in s.scalars(select(models.Finding))}
    assert ("card-data-outside-pci-scope", "CREDIT_CARD") in rules  # copilot is not PCI scope
    assert ("unapproved-tool", "") in rules  # deepseek is prohibited
    with session_scope(engine) as s:
        internal = s.scalars(
            select(models.Finding)
            .join(models.Interaction)
            .where(models.Interaction.event_id == "e-card-internal")
        ).all()
    assert not [f for f in internal if f.rule_id == "card-data-outside-pci-scope"]
    assert period.open_findings == first.open_findings >= 2

    html = report.read_text()
    for section in ("summary", "usage", "findings", "evidence", "method", "coverage", "provenance"):
        assert f'id="{section}"' in html
    assert CARD not in html and "4111" not in html
    # Two script elements: the sealed report's JSON data block, which never runs, and the
    # page's own filter script, admitted by its hash; the prompt's script is neither.
    scripts = re.findall(r"<script[^>]*>", html, re.IGNORECASE)
    assert scripts == ['<script type="application/json" id="report-data">', "<script>"]
    (own,) = executable_scripts(html)
    assert script_admitted(html, own) and "x()" not in own
    assert SCRIPT not in html
    assert "&lt;script&gt;x()" in html  # the prompt's markup shows as text in the evidence
    assert "http://" not in html and "https://" not in html
    # The plan, the estimate with its upper limit and the conclusion in the auditor's words.
    assert "Upper deviation limit" in html and "tolerable rate" in html
    assert "relied on" in html
    assert no_network == []

    before = _counts(engine)
    second = run_audit(engine, settings, [logs], people_csv=people, components=components)
    assert second.loaded == 0 and second.files[0].already_ingested
    assert not second.periods[0].sample_created
    assert _counts(engine) == before


def test_months_without_logs_are_skipped(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    logs = write_jsonl(
        tmp_path / "gap.jsonl",
        [
            chat_record("sep", "September work.", when="2026-09-10T10:00:00Z"),
            chat_record("nov", "November work.", when="2026-11-10T10:00:00Z"),
        ],
    )
    result = run_audit(engine, settings, [logs])
    assert [p.period for p in result.periods] == ["2026-09", "2026-11"]


def test_another_hash_key_is_refused(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    from auditor.errors import ConfigError

    logs = write_jsonl(tmp_path / "k.jsonl", [chat_record("k1", "Hello.")])
    run_audit(engine, settings, [logs])
    other = settings.model_copy(
        update={"scan": settings.scan.model_copy(update={"hash_key": None})}
    )
    with pytest.raises(ConfigError, match="another HMAC key"):
        run_audit(engine, other, [logs])


def test_stratified_run_reports_both_bounds(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    recs = [
        chat_record(
            f"s{i:03d}",
            "Summarise the memo.",
            user=u,
            tool=tool,
            when=f"2026-10-{1 + i % 27:02d}T10:00:00Z",
        )
        for i, (u, tool) in enumerate(
            [("u00001", "chatgpt-enterprise"), ("u00003", "copilot-business")] * 20
        )
    ]
    logs = write_jsonl(tmp_path / "strat.jsonl", recs)
    stratified = settings.model_copy(
        update={
            "sample": settings.sample.model_copy(
                update={"size": 12, "strata": ["tool"], "min_per_stratum": 2}
            )
        }
    )
    result = run_audit(engine, stratified, [logs], people_csv=DATA / "people" / "people.csv")
    html = result.periods[0].report_path.read_text()  # type: ignore[union-attr]
    assert "Korn–Graubard" in html and "Bonferroni over strata" in html


@pytest.mark.parametrize(
    ("manager", "present", "absent"),
    [
        ("u00012", "card-data-outside-pci-scope", "unapproved-tool"),  # Wealth: u00004's cards
        ("u00010", "unapproved-tool", "card-data-outside-pci-scope"),  # Markets: u00002's tool
    ],
)
def test_manager_packet_shows_only_the_reporting_line(
    engine: Engine, settings: Settings, tmp_path: Path, manager: str, present: str, absent: str
) -> None:
    from auditor.pipeline import make_pseudonymizer, render_report

    run_audit(engine, settings, [_logs(tmp_path)], people_csv=DATA / "people" / "people.csv")
    with session_scope(engine) as s:
        path = render_report(s, "2026-10", settings, manager_id=manager)
    pseudonym = make_pseudonymizer(settings.hash_key_bytes())(manager)
    assert path.name == f"audit-2026-10-manager-{pseudonym}.html"
    evidence = path.read_text().split('id="evidence"', 1)[1].split('id="method"', 1)[0]
    assert present in evidence and absent not in evidence
    assert f"manager {pseudonym}" in path.read_text()


def test_late_logs_never_replace_the_drawn_sample(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """A late file for a period with a sample: the same sample, its findings and its
    conclusion stand; the report states the late population; a re-draw is by name."""
    logs = _logs(tmp_path)
    people = DATA / "people" / "people.csv"
    components = Components(settings)
    first = run_audit(engine, settings, [logs], people_csv=people, components=components)
    sample_id = first.periods[0].sample_id
    late = write_jsonl(
        tmp_path / "late.jsonl",
        [chat_record(f"e-late-{i}", "A late note.", user="u00001") for i in range(3)],
    )
    second = run_audit(engine, settings, [late], people_csv=people, components=components)
    [period] = second.periods
    assert period.sample_id == sample_id and not period.sample_created
    with session_scope(engine) as s:
        assert s.scalar(select(func.count(models.Sample.id))) == 1
        plan = s.get(models.Sample, sample_id).plan
    assert plan["late_arrivals"]["count"] == 3
    assert period.report_path is not None
    page = period.report_path.read_text()
    assert "3 interactions of the period were ingested after this sample was drawn" in page
    assert sample_id in page
