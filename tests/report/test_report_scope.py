"""The report is about one sample and the newest policy evaluation, never a mix.

The store below is what a re-run leaves behind: one record appended to October made the
next run draw a new sample (s-2) after s-1, and a new policy revision (pol-B) was evaluated on
interactions that pol-A had already judged. Old verdicts, old findings and old scan records
stay in the store; the report must count only s-2, pol-B and the newest scan.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from auditor.config import Settings
from auditor.db.models import (
    Decision,
    Detection,
    Finding,
    IngestRejection,
    Interaction,
    ReviewEvent,
    Sample,
    SampleItem,
    ScanRecord,
    SourceFile,
    UsageTier,
)
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.report.context import ReportContext, build_report_context
from auditor.report.render import make_environment, render_html

PERIOD = "2026-10"
T_A = datetime(2026, 11, 1, 8, 0)  # pol-A evaluated, scan-r1
T_B_EARLY = datetime(2026, 11, 2, 8, 0)  # pol-B, a first run on a4 (before a rescan)
T_B = datetime(2026, 11, 3, 8, 0)  # pol-B, the newest run


def fid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def _populate(session: Session) -> None:
    t0 = datetime(2026, 11, 1)
    files = {
        # One file spans October and November: it must not count in full in each report.
        "multi": SourceFile(path="/logs/multi.jsonl", sha256="1a" * 32, size_bytes=1,
                            source_format="litellm", ingested_at=t0, records_total=7,
                            records_loaded=5, records_duplicate=1, records_rejected=1),
        "append": SourceFile(path="/logs/append.jsonl", sha256="2b" * 32, size_bytes=1,
                             source_format="litellm", ingested_at=t0, records_total=3,
                             records_loaded=3, records_duplicate=0, records_rejected=0),
        "dead": SourceFile(path="/logs/dead.csv", sha256="3c" * 32, size_bytes=1,
                           source_format="csv", ingested_at=t0, records_total=3,
                           records_loaded=0, records_duplicate=0, records_rejected=3),
    }  # fmt: skip
    session.add_all(files.values())
    session.flush()
    session.add_all(
        [IngestRejection(source_file_id=files["multi"].id, line_no=4, reason="no user")]
        + [IngestRejection(source_file_id=files["dead"].id, line_no=n, reason="bad header")
           for n in (1, 2, 3)]
    )  # fmt: skip

    def interaction(ev: str, at: datetime, source: str) -> Interaction:
        return Interaction(event_id=ev, source_format="litellm", source_file_id=files[source].id,
                           occurred_at=at, user_id="u1", tool="ChatGPT", content_status="present",
                           prompt_text=None, output_text=None)  # fmt: skip

    ia = {
        "a1": interaction("a1", datetime(2026, 10, 2), "multi"),
        "a2": interaction("a2", datetime(2026, 10, 3), "multi"),
        "a3": interaction("a3", datetime(2026, 10, 4), "multi"),
        "a4": interaction("a4", datetime(2026, 10, 20), "append"),
        "a5": interaction("a5", datetime(2026, 10, 21), "append"),
        "a6": interaction("a6", datetime(2026, 10, 22), "append"),
        "b1": interaction("b1", datetime(2026, 11, 2), "multi"),
        "b2": interaction("b2", datetime(2026, 11, 3), "multi"),
    }
    session.add_all(ia.values())
    session.flush()
    iid = {k: v.id for k, v in ia.items()}

    def sample(sid: str, at: datetime, keys: list[str]) -> list[Any]:
        head = Sample(id=sid, period=PERIOD, created_at=at, method="simple_random", seed="1",
                      seed_source="config", generator="g", population_count=6,
                      population_sha256="0" * 64, requested_size=len(keys), size=len(keys),
                      manifest_sha256="9" * 64)  # fmt: skip
        items = [SampleItem(sample_id=sid, draw_order=n, interaction_id=iid[k])
                 for n, k in enumerate(keys, start=1)]  # fmt: skip
        return [head, *items]

    session.add_all(sample("s-1", datetime(2026, 11, 1, 7), ["a1", "a2", "a3"]))
    session.flush()
    session.add_all(sample("s-2", datetime(2026, 11, 2, 7), ["a2", "a4", "a5", "a6"]))

    def scan(key: str, field: str, revision: str, status: str, at: datetime) -> ScanRecord:
        return ScanRecord(interaction_id=iid[key], field=field, scanner_revision=revision,
                          status=status, scanned_at=at)  # fmt: skip

    session.add_all(
        [
            scan("a1", "prompt", "scan-r1", "error", T_A),  # s-1 only
            scan("a2", "prompt", "scan-r1", "error", T_A),  # rescanned below: not counted
            scan("a2", "prompt", "scan-r2", "scanned", T_B),
            scan("a4", "prompt", "scan-r2", "scanned", T_B),
            scan("a4", "output", "scan-r2", "partial", T_B),
            scan("a5", "prompt", "scan-r2", "scanned", T_B),
            scan("a6", "prompt", "scan-r2", "scanned", T_B),
        ]
    )

    def detection(key: str, revision: str) -> Detection:
        return Detection(interaction_id=iid[key], field="prompt", entity_type="PERSON", start=0,
                         end=1, score=0.9, recognizer="t", value_hash="h",
                         masked_excerpt="<PERSON>", scanner_revision=revision)  # fmt: skip

    # a2's old scan found something its rescan did not; a4's current scan found something.
    session.add_all([detection("a2", "scan-r1"), detection("a4", "scan-r2")])

    def decision(key: str, rule: str, verdict: str, revision: str, at: datetime) -> Decision:
        return Decision(interaction_id=iid[key], rule_id=rule, verdict=verdict,
                        severity="high" if verdict == "violation" else None, message=rule,
                        policy_revision=revision, engine="embedded", evaluated_at=at)  # fmt: skip

    session.add_all(
        [
            decision("a1", "R1", "violation", "pol-A", T_A),  # s-1 only
            decision("a2", "R6", "violation", "pol-A", T_A),  # replaced by pol-B's pass
            decision("a2", "R14", "not_evaluated", "pol-A", T_A),  # replaced too
            decision("a2", "*", "pass", "pol-B", T_B),
            decision("a4", "*", "pass", "pol-A", T_A),
            decision("a4", "R9", "violation", "pol-B", T_B_EARLY),  # an earlier run: replaced
            decision("a4", "R12", "not_evaluated", "pol-B", T_B_EARLY),  # replaced too
            decision("a4", "R3", "violation", "pol-B", T_B),
            decision("a5", "R14", "not_evaluated", "pol-B", T_B),
            # a6 has no decision at all: not evaluated, so not covered
        ]
    )

    def finding(name: str, key: str, rule: str, status: str) -> Finding:
        return Finding(id=fid(name), interaction_id=iid[key], rule_id=rule, severity="high",
                       title=f"title {rule}", message=rule, status=status, first_seen=T_A,
                       last_seen=T_A)  # fmt: skip

    session.add_all(
        [
            finding("old-sample", "a1", "R1", "open"),  # s-1's: not this report's
            finding("superseded-open", "a2", "R6", "superseded"),
            finding("superseded-reviewed", "a4", "R9", "superseded"),
            finding("current", "a4", "R3", "open"),
            finding("november", "b1", "R1", "open"),
        ]
    )
    session.flush()
    session.add(
        ReviewEvent(
            finding_id=fid("superseded-reviewed"),
            at=T_B_EARLY,
            reviewer="r",
            disposition="accepted-risk",
            note="ok",
        )  # fmt: skip
    )
    session.add_all(
        UsageTier(period=PERIOD, user_id=u, department="D", tier="light", active_days=1,
                  interactions=1, department_median=1.0, window_start=datetime(2026, 10, 1),
                  window_end=datetime(2026, 11, 1))
        for u in ("u1", "u2")
    )  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'scope.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        _populate(session)
    yield engine
    engine.dispose()


def build(engine: Engine, period: str = PERIOD) -> ReportContext:
    with session_scope(engine) as session:
        return build_report_context(
            session,
            period,
            pseudonymize=lambda u: f"P-{u}",
            settings=Settings(),
            generated_at=datetime(2026, 11, 5, tzinfo=UTC),
            auditor_version="0.1.0",
            policy_revision="pol-B",
            scanner_revision="scan-r2",
        )


def test_open_findings_are_those_the_run_reports_for_its_sample(engine) -> None:
    """The reproduced defect: the run says N open in its sample; the report must agree."""
    with session_scope(engine) as session:
        open_in_sample = session.scalar(
            select(func.count())
            .select_from(Finding)
            .join(SampleItem, SampleItem.interaction_id == Finding.interaction_id)
            .where(SampleItem.sample_id == "s-2", Finding.status == "open")
        )
    s = build(engine).summary
    assert s.sample_id == "s-2"
    assert s.findings_open == open_in_sample == 1


EXPECTED: list[tuple[str, Any, Any]] = [
    ("sample", lambda c: c.summary.sample_id, "s-2"),
    ("sampled with a detection: newest scan only", lambda c: c.summary.items_with_detection, 1),
    ("sampled with a violation: pol-B's only", lambda c: c.summary.items_with_violation, 1),
    ("raw flag rate", lambda c: c.summary.raw_flag_rate, pytest.approx(0.25)),
    ("findings total: superseded left out", lambda c: c.summary.findings_total, 1),
    ("findings open", lambda c: c.summary.findings_open, 1),
    ("findings superseded", lambda c: c.summary.findings_superseded, 2),
    (
        "status table shows superseded as its own row",
        lambda c: {x.key: x.count for x in c.summary.findings_by_status},
        {"open": 1, "confirmed": 0, "false_positive": 0, "accepted_risk": 0, "superseded": 2},
    ),
    (
        "severity table counts the non-superseded",
        lambda c: {x.key: x.count for x in c.summary.findings_by_severity if x.count},
        {"high": 1},
    ),
    ("findings section covers s-2", lambda c: c.findings.sample_id, "s-2"),
    ("findings section total", lambda c: c.findings.total, 1),
    ("findings section superseded", lambda c: c.findings.superseded, 2),
    (
        "by rule: non-superseded only",
        lambda c: [(r.rule_id, r.count, r.open) for r in c.findings.by_rule],
        [("R3", 1, 1)],
    ),
    ("by tool", lambda c: [(x.key, x.count) for x in c.findings.by_tool], [("ChatGPT", 1)]),
    (
        "by department",
        lambda c: [(x.key, x.count) for x in c.findings.by_department],
        [("unknown", 1)],
    ),
    (
        "severity x status: superseded in its own column",
        lambda c: [(r.label, r.counts) for r in c.findings.severity_status.rows if r.total],
        [("high", (1, 0, 0, 0, 2))],
    ),
    (
        "evidence: the current finding only",
        lambda c: [f.id for f in c.evidence.findings],
        [fid("current")],
    ),
    ("evidence total", lambda c: c.evidence.total, 1),
    ("policy revisions counted", lambda c: c.method.policy_revisions_current, ("pol-B",)),
    ("older policy revisions", lambda c: c.method.policy_revisions_replaced, ("pol-A",)),
    ("scanner revisions counted", lambda c: c.method.scanner_revisions_current, ("scan-r2",)),
    ("older scanner revisions", lambda c: c.method.scanner_revisions_replaced, ("scan-r1",)),
    ("not-evaluated decisions: a5's pol-B row", lambda c: c.method.not_evaluated_decisions, 1),
    ("not-evaluated interactions", lambda c: c.method.not_evaluated_interactions, 1),
    (
        "scan status: newest scan only",
        lambda c: {x.key: x.count for x in c.method.scan_status},
        {"scanned": 4, "partial": 1},
    ),
    (
        "fields not scanned: a2's old error is not counted",
        lambda c: {x.key: x.count for x in c.coverage.fields_not_scanned},
        {"partial": 1},
    ),
    ("interactions not evaluated", lambda c: c.coverage.interactions_not_evaluated, 1),
    ("sampled without a decision", lambda c: c.coverage.sampled_without_decision, 1),
    ("sampled without a scan record", lambda c: c.coverage.sampled_without_scan, 0),
    ("fully covered: a2 only", lambda c: c.coverage.fully_covered, 1),
    (
        "listing is s-2's",
        lambda c: [x.event_id for x in c.method.listing],
        ["a2", "a4", "a5", "a6"],
    ),
]


@pytest.mark.parametrize(
    ("read", "expected"), [e[1:] for e in EXPECTED], ids=[e[0] for e in EXPECTED]
)
def test_only_the_newest_sample_and_evaluation_count(engine, read, expected) -> None:
    assert read(build(engine)) == expected


def test_conclusion_counts_the_sample_only(engine) -> None:
    text = build(engine).summary.conclusion
    assert (
        "A sample of 4 interactions was examined; 1 of them broke at least one policy rule" in text
    )
    assert "1 finding awaits review (1 high)." in text
    assert "1 sampled interaction could not be evaluated" in text
    assert "1 sampled interaction has no policy decision yet" in text


@pytest.mark.parametrize(
    ("period", "fed", "nothing", "total"),
    [
        # October: 3 of multi.jsonl's 5 loaded records, all 3 of append.jsonl's.
        (PERIOD, [("append.jsonl", 3, 3), ("multi.jsonl", 3, 7)], ["dead.csv"], 6),
        # November: the other 2 of multi.jsonl's; the same file totals, said to be the file's.
        ("2026-11", [("multi.jsonl", 2, 7)], ["dead.csv"], 2),
    ],
)
def test_files_table_is_per_period(engine, period, fed, nothing, total) -> None:
    cov = build(engine, period).coverage
    assert [(f.name, f.period_interactions, f.records_total) for f in cov.source_files] == fed
    assert [f.name for f in cov.files_loaded_nothing] == nothing
    assert cov.period_interactions == total
    assert cov.interactions_without_file == 0
    # Rejections of the files listed: multi.jsonl's one (if listed) and dead.csv's three.
    assert cov.rejections_logged == 1 + 3
    prov = build(engine, period).provenance
    assert [d.name for d in prov.data_sources] == [name for name, _, _ in fed]


def test_a_multi_month_file_is_counted_once_across_reports(engine) -> None:
    months = [build(engine, p).coverage for p in (PERIOD, "2026-11")]
    per_month = [
        sum(f.period_interactions for f in cov.source_files if f.name == "multi.jsonl")
        for cov in months
    ]
    assert per_month == [3, 2] and sum(per_month) == 5  # multi.jsonl loaded 5 records


def _section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">.*?</section>', page, re.S)
    assert match is not None
    return match.group(0)


def test_rendered_report_scopes_and_labels(engine) -> None:
    page = render_html(build(engine))
    summary, findings = _section(page, "summary"), _section(page, "findings")
    assert "1 finding on the interactions of sample <code>s-2</code>" in summary
    assert "1 awaiting review" in summary and "2 superseded findings" in summary
    assert '<span class="badge st st-superseded">superseded</span>' in summary
    assert "Figures cover sample <code>s-2</code>" in findings
    assert "2 superseded findings" in findings
    # Superseded findings and the older sample's are never shown as evidence.
    evidence = _section(page, "evidence")
    shown = {fid(n)[:12] for n in ("current",)}
    hidden = {fid(n)[:12] for n in ("old-sample", "superseded-open", "superseded-reviewed")}
    assert all(s in evidence for s in shown) and not any(h in page for h in hidden)
    method = _section(page, "method")
    assert "Older policy revisions, not counted</th><td><code>pol-A</code>" in method
    # A file that loaded nothing is listed once, under its own heading, not in the totals.
    coverage = _section(page, "coverage")
    assert page.count("dead.csv") == coverage.count("dead.csv") == 1
    assert "<h3>Files that loaded nothing</h3>" in coverage
    assert coverage.index("multi.jsonl") < coverage.index("Files that loaded nothing")
    assert coverage.index("Files that loaded nothing") < coverage.index("dead.csv")


def test_usage_window_is_read_from_the_tier_rows(engine) -> None:
    ctx = build(engine)
    assert (ctx.usage.window_start, ctx.usage.window_end, ctx.usage.window_days) == (
        datetime(2026, 10, 1),
        datetime(2026, 11, 1),
        31,
    )
    assert "2026-10-01 to 2026-10-31 (31 days, the calendar month)" in _section(
        render_html(ctx), "usage"
    )


def test_usage_window_that_differs_between_people_says_so(engine) -> None:
    with session_scope(engine) as session:
        row = session.scalars(select(UsageTier).where(UsageTier.user_id == "u2")).one()
        row.window_start = datetime(2026, 10, 4)
    ctx = build(engine)
    assert ctx.usage.window_start == datetime(2026, 10, 1)
    assert ctx.usage.window_label is not None
    assert ctx.usage.window_label.startswith("2026-10-01 to 2026-10-31 (31 days, the calendar")
    assert "differs between people" in ctx.usage.window_label


@pytest.mark.parametrize(
    ("value", "key", "label"),
    [
        ("false-positive", "false_positive", "false positive"),
        ("accepted-risk", "accepted_risk", "accepted risk"),
        ("false_positive", "false_positive", "false positive"),
        ("confirmed", "confirmed", "confirmed"),
        ("superseded", "superseded", "superseded"),
        ('x" onclick="y', "x__onclick__y", "x  onclick  y"),
    ],
)
def test_status_badge_maps_dispositions_to_status_classes(value, key, label) -> None:
    env = make_environment()
    html = env.from_string('{% import "_macros.html" as m %}{{ m.status(v) }}').render(v=value)
    assert html == f'<span class="badge st st-{key}">{label}</span>'


@pytest.mark.parametrize(
    "key", ["open", "confirmed", "false_positive", "accepted_risk", "superseded"]
)
def test_every_status_badge_class_is_styled(key) -> None:
    css = files("auditor.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    assert f".st-{key} {{" in css
