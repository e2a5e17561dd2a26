"""evaluate_sample on a real migrated database with the real policies."""

from __future__ import annotations

import inspect
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from auditor.db.models import Decision, Interaction, Person, PolicyEvaluation, ScanRecord
from auditor.errors import NotFoundError, PolicyError
from auditor.ingest.stage import ingest_paths
from auditor.policy.engine import EmbeddedEngine, load_bundle
from auditor.policy.evaluate import EvaluateStats, _people_for, coverage_gaps, evaluate_sample
from auditor.policy.input import build_policy_input
from tests.policy.helpers import (
    EXAMPLES_DIR,
    POLICY_DIR,
    SCANNER,
    WHEN,
    add_interaction,
    add_person,
    add_sample,
    add_scan,
    load_example,
)

pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)


def _decisions(session: Session, interaction_id: int) -> list[tuple[str, str, str | None]]:
    rows = session.scalars(
        select(Decision).where(Decision.interaction_id == interaction_id).order_by(Decision.id)
    )
    return [(d.rule_id, d.verdict, d.severity) for d in rows]


def _check_invariant(stats: EvaluateStats) -> None:
    assert stats.items == stats.evaluated + stats.skipped_already_done + stats.not_evaluated


@pytest.fixture
def population(session: Session) -> dict[str, int]:
    """A small sample covering each path through evaluate_sample; name -> interaction id."""
    add_person(session, "u-1001", email="Ann.Lee@bank.example")
    rows = {}

    card = add_interaction(session, "e-card", tool="copilot-business")
    add_scan(session, card, [("CREDIT_CARD", 1.0)])
    rows["card"] = card

    clean = add_interaction(session, "e-clean", tool="atlas-internal", workflow="research")
    add_scan(session, clean, [("CREDIT_CARD", 1.0), ("US_SSN", 0.85)])
    rows["clean"] = clean

    consumer = add_interaction(
        session,
        "e-consumer",
        tool="chatgpt-free",
        prompt=None,
        output=None,
        content_status="not_stored",
        attributes={"account_type": "personal"},
    )
    # The log stored no text, but its attributes hold some: the scan stage scans them.
    add_scan(session, consumer, [], fields=("attributes",))
    rows["consumer"] = consumer

    unscanned = add_interaction(session, "e-unscanned", tool="claude-enterprise")
    rows["unscanned"] = unscanned

    by_email = add_interaction(
        session,
        "e-email",
        tool="chatgpt-enterprise",
        user_id=None,
        user_email="ann.lee@BANK.example",
    )
    add_scan(session, by_email, [])
    rows["by_email"] = by_email

    rescanned = add_interaction(session, "e-rescanned", tool="copilot-business")
    add_scan(session, rescanned, [("US_SSN", 0.85)] * 12, revision="old")
    add_scan(session, rescanned, [("US_SSN", 0.85)], revision="new", at=WHEN + timedelta(days=1))
    rows["rescanned"] = rescanned

    add_sample(session, "s-1", list(rows.values()))
    return {name: row.id for name, row in rows.items()}


def test_decisions_per_interaction(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    stats = evaluate_sample(session, policy_engine, "s-1", now=NOW)
    assert _decisions(session, population["card"]) == [
        ("card-data-outside-pci-scope", "violation", "critical"),
        ("client-npi-to-uncontracted-tool", "violation", "high"),
    ]
    assert _decisions(session, population["clean"]) == [("*", "pass", None)]
    # Tool and account rules still decide; the missing content is recorded, not passed.
    assert _decisions(session, population["consumer"]) == [
        ("personal-account-for-business", "violation", "high"),
        ("unapproved-tool", "violation", "high"),
        ("*", "not_evaluated", None),
    ]
    assert _decisions(session, population["unscanned"]) == [("*", "not_evaluated", None)]
    assert _decisions(session, population["by_email"]) == [("*", "pass", None)]
    # Only the newest scan counts: 1 SSN (high), not 13 (critical).
    assert _decisions(session, population["rescanned"]) == [
        ("client-npi-to-uncontracted-tool", "violation", "high")
    ]
    assert stats == EvaluateStats(
        items=6, evaluated=4, skipped_already_done=0, violations=5, not_evaluated=2
    )
    _check_invariant(stats)


def test_decision_rows_carry_engine_revision_and_time(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    rows = list(session.scalars(select(Decision)))
    assert {d.policy_revision for d in rows} == {policy_engine.revision}
    assert {d.engine for d in rows} == {"embedded"}
    assert {d.evaluated_at for d in rows} == {NOW.replace(tzinfo=None)}
    (card,) = [
        d
        for d in rows
        if d.interaction_id == population["card"] and d.rule_id == "card-data-outside-pci-scope"
    ]
    assert card.entity_types == ["CREDIT_CARD"]
    assert "copilot-business" in card.message
    # Each row names the scan its input came from: the newest one, or none.
    scanner = {(d.interaction_id, d.rule_id): d.scanner_revision for d in rows}
    assert scanner[(population["card"], "card-data-outside-pci-scope")] == SCANNER
    assert scanner[(population["rescanned"], "client-npi-to-uncontracted-tool")] == "new"
    assert scanner[(population["consumer"], "unapproved-tool")] == SCANNER  # its attributes
    assert scanner[(population["unscanned"], "*")] is None


def test_coverage_gaps_are_named(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    (consumer,) = session.scalars(
        select(Decision.message).where(
            Decision.interaction_id == population["consumer"], Decision.rule_id == "*"
        )
    ).all()
    assert consumer.startswith("content not stored at source (prompt and output)")
    (unscanned,) = session.scalars(
        select(Decision.message).where(Decision.interaction_id == population["unscanned"])
    ).all()
    assert unscanned.startswith("prompt and output not scanned: data rules could not be fully")


def test_person_matched_by_email(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    interaction = session.get(Interaction, population["by_email"])
    assert interaction is not None
    people = _people_for(session, [interaction])
    assert isinstance(people[interaction.id], Person)
    assert people[interaction.id].user_id == "u-1001"


def test_second_run_is_a_no_op(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    before = session.scalar(select(Decision.id).order_by(Decision.id.desc()).limit(1))
    count = len(session.scalars(select(Decision)).all())

    again = evaluate_sample(session, policy_engine, "s-1", now=NOW + timedelta(hours=1))
    # Not-evaluated interactions (unscanned, content not stored) are retried; the rest skipped.
    assert again == EvaluateStats(
        items=6, evaluated=0, skipped_already_done=4, violations=2, not_evaluated=2
    )
    _check_invariant(again)
    assert len(session.scalars(select(Decision)).all()) == count
    kept = session.scalars(select(Decision).where(Decision.id <= before)).all()
    assert len(kept) == count - 4, "only the retried rows (1 unscanned + 3 consumer) were replaced"


def test_each_run_records_the_pack_revision_engine_and_rule_count(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    evaluate_sample(session, policy_engine, "s-1", now=NOW + timedelta(hours=1))
    runs = session.execute(
        select(
            PolicyEvaluation.sample_id,
            PolicyEvaluation.policy_revision,
            PolicyEvaluation.engine,
            PolicyEvaluation.rule_count,
            PolicyEvaluation.interactions,
        ).order_by(PolicyEvaluation.id)
    ).all()
    rules = len(policy_engine.rules())
    rule_files = list((POLICY_DIR / "auditor" / "rules").glob("*.rego"))
    assert rules >= len([p for p in rule_files if not p.name.endswith("_test.rego")]) > 0
    # The second run redid only the two not-evaluated interactions.
    assert [tuple(r) for r in runs] == [
        ("s-1", policy_engine.revision, "embedded", rules, 6),
        ("s-1", policy_engine.revision, "embedded", rules, 2),
    ]


def test_a_run_that_decides_nothing_records_no_run(
    session: Session, policy_engine: EmbeddedEngine
) -> None:
    add_sample(session, "s-empty", [])
    evaluate_sample(session, policy_engine, "s-empty", now=NOW)
    assert session.scalars(select(PolicyEvaluation)).all() == []


def test_retry_after_scan_replaces_not_evaluated(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    unscanned = population["unscanned"]
    interaction = session.get(Interaction, unscanned)
    assert interaction is not None
    add_scan(session, interaction, [("US_SSN", 0.55)])
    stats = evaluate_sample(session, policy_engine, "s-1", now=NOW)
    assert stats.evaluated == 1 and stats.not_evaluated == 1  # the content-not-stored one
    assert _decisions(session, unscanned) == [("sensitive-data-grey-zone", "violation", "low")]


def test_new_policy_revision_evaluates_again(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int], policy_copy: Path
) -> None:
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    thresholds = policy_copy / "data" / "thresholds.json"
    thresholds.write_text(
        thresholds.read_text().replace('"critical_at_count": 10', '"critical_at_count": 1')
    )
    stricter = EmbeddedEngine(load_bundle(policy_copy))
    assert stricter.revision != policy_engine.revision
    stats = evaluate_sample(session, stricter, "s-1", now=NOW)
    assert stats.skipped_already_done == 0
    rescanned = session.scalars(
        select(Decision.severity).where(
            Decision.interaction_id == population["rescanned"],
            Decision.policy_revision == stricter.revision,
        )
    ).all()
    assert rescanned == ["critical"]


def test_evaluation_failure_is_recorded_not_evaluated(
    session: Session, population: dict[str, int], policy_copy: Path
) -> None:
    # A real engine whose extra rule fails at evaluation for one tool only.
    (policy_copy / "auditor/rules/fragile.rego").write_text(
        """package auditor.rules.fragile

import data.auditor.lib

metadata := {
\t"id": "fragile-rule",
\t"severity": "low",
\t"title": "t",
\t"description": "d",
\t"remediation": "r",
\t"references": ["x"],
}

deny contains v if {
\tinput.interaction.tool == "atlas-internal"
\t1 / 0 == 1
\tv := lib.violation(metadata, "never", set())
}
"""
    )
    engine = EmbeddedEngine(load_bundle(policy_copy))
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    (row,) = session.scalars(
        select(Decision).where(Decision.interaction_id == population["clean"])
    ).all()
    assert (row.rule_id, row.verdict, row.severity) == ("*", "not_evaluated", None)
    assert row.message.startswith("policy evaluation failed")
    assert "fragile.rego" in row.message
    assert stats.not_evaluated == 3  # the failing one, the unscanned and the not-stored one
    assert row.scanner_revision == SCANNER
    assert _decisions(session, population["card"])[0][1] == "violation"


def test_unknown_sample(session: Session, policy_engine: EmbeddedEngine) -> None:
    with pytest.raises(NotFoundError, match="sample nope does not exist"):
        evaluate_sample(session, policy_engine, "nope")


def test_prompt_text_is_never_read(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", record)
    try:
        evaluate_sample(session, policy_engine, "s-1", now=NOW)
    finally:
        event.remove(bind, "before_cursor_execute", record)
    assert any("FROM interactions" in s for s in statements)
    for statement in statements:
        for column in ("prompt_text", "output_text"):
            # Only "is there text" is asked, never the text.
            for match in re.finditer(column, statement):
                assert statement[match.end() :].lstrip().startswith("IS NOT NULL"), statement


# --- coverage: what the scanner did not see is never a pass -------------------------------

COPILOT_CARD = [
    ("card-data-outside-pci-scope", "violation", "critical"),
    ("client-npi-to-uncontracted-tool", "violation", "high"),
]
NOT_EVALUATED = ("*", "not_evaluated", None)
PASSED = ("*", "pass", None)


def _scan_record(
    session: Session, interaction: Interaction, field: str, status: str, *, revision: str = SCANNER
) -> None:
    session.add(
        ScanRecord(
            interaction_id=interaction.id,
            field=field,
            scanner_revision=revision,
            status=status,
            chars_scanned=0 if status in ("error", "not_stored", "redacted") else 10,
            scanned_at=WHEN,
        )
    )
    session.flush()


# (case, interaction fields, {field: scan status}, prompt detections, require_scanned,
#  expected decisions, start of the not_evaluated message or None)
COVERAGE_CASES = [
    ("both scanned", {}, {"prompt": "scanned", "output": "scanned"}, [], None, [PASSED], None),
    (
        "both scanned, card found",
        {},
        {"prompt": "scanned", "output": "scanned"},
        [("CREDIT_CARD", 1.0)],
        None,
        COPILOT_CARD,
        None,
    ),
    (
        "prompt partial, card in the scanned part",
        {},
        {"prompt": "partial", "output": "scanned"},
        [("CREDIT_CARD", 1.0)],
        None,
        [*COPILOT_CARD, NOT_EVALUATED],
        "prompt scanned only in part",
    ),
    (
        "prompt partial, nothing found",
        {},
        {"prompt": "partial", "output": "scanned"},
        [],
        None,
        [NOT_EVALUATED],
        "prompt scanned only in part",
    ),
    (
        "prompt scan failed",
        {},
        {"prompt": "error", "output": "scanned"},
        [],
        None,
        [NOT_EVALUATED],
        "scan of prompt failed",
    ),
    (
        "both scans failed",
        {},
        {"prompt": "error", "output": "error"},
        [],
        None,
        [NOT_EVALUATED],
        "scan of prompt and output failed",
    ),
    (
        "output never scanned (default requires both)",
        {},
        {"prompt": "scanned"},
        [],
        None,
        [NOT_EVALUATED],
        "output not scanned",
    ),
    (
        "output never scanned, only prompt required",
        {},
        {"prompt": "scanned"},
        [],
        ("prompt",),
        [PASSED],
        None,
    ),
    (
        "failed, missing and partial together",
        {},
        {"prompt": "partial"},
        [],
        None,
        [NOT_EVALUATED],
        "output not scanned; prompt scanned only in part",
    ),
    (
        "content redacted at source",
        {"prompt": None, "output": None, "content_status": "redacted"},
        {"prompt": "redacted", "output": "redacted"},
        [],
        None,
        [NOT_EVALUATED],
        "content not stored at source (prompt and output)",
    ),
    (
        "content not stored, never scanned",
        {"prompt": None, "output": None, "content_status": "not_stored"},
        {},
        [],
        None,
        [NOT_EVALUATED],
        "content not stored at source (prompt and output)",
    ),
    (
        "the reply has no text (tool calls only): nothing to scan, not a gap",
        {"output": None},
        {"prompt": "scanned", "output": "not_stored"},
        [],
        None,
        [PASSED],
        None,
    ),
    (
        "scanned, then the text was purged",
        {"prompt": None, "output": None, "content_status": "not_stored"},
        {"prompt": "scanned", "output": "scanned"},
        [("CREDIT_CARD", 1.0)],
        None,
        COPILOT_CARD,
        None,
    ),
    (
        "text but a stale no-text record",
        {},
        {"prompt": "not_stored", "output": "scanned"},
        [],
        None,
        [NOT_EVALUATED],
        "prompt not scanned",
    ),
]


@pytest.mark.parametrize(
    ("fields", "statuses", "found", "require", "expected", "reason"),
    [case[1:] for case in COVERAGE_CASES],
    ids=[case[0] for case in COVERAGE_CASES],
)
def test_coverage(
    session: Session,
    policy_engine: EmbeddedEngine,
    fields: dict[str, Any],
    statuses: dict[str, str],
    found: list[tuple[str, float]],
    require: tuple[str, ...] | None,
    expected: list[tuple[str, str, str | None]],
    reason: str | None,
) -> None:
    interaction = add_interaction(
        session, "e-cov", attributes={"account_type": "enterprise_sso"}, **fields
    )
    for field, status in statuses.items():
        _scan_record(session, interaction, field, status)
    add_scan(session, interaction, found, fields=())
    add_sample(session, "s-cov", [interaction])
    kwargs = {} if require is None else {"require_scanned": require}
    stats = evaluate_sample(session, policy_engine, "s-cov", now=NOW, **kwargs)

    assert _decisions(session, interaction.id) == expected
    not_evaluated = NOT_EVALUATED in expected
    assert (stats.evaluated, stats.not_evaluated) == ((0, 1) if not_evaluated else (1, 0))
    _check_invariant(stats)
    messages = session.scalars(
        select(Decision.message).where(Decision.verdict == "not_evaluated")
    ).all()
    if reason is None:
        assert messages == []
    else:
        (message,) = messages
        assert message.startswith(reason + ": data rules could not be fully applied")


@pytest.mark.parametrize(
    ("required", "statuses", "has_text", "content_status", "expected"),
    [
        (
            ("prompt", "output"),
            {"prompt": "scanned", "output": "scanned"},
            {"prompt"},
            "present",
            [],
        ),
        (("prompt",), {}, {"prompt", "output"}, "present", ["prompt not scanned"]),
        ((), {}, {"prompt"}, "present", []),
        (
            ("prompt", "output"),
            {"prompt": "error", "output": "partial"},
            {"prompt", "output"},
            "present",
            ["scan of prompt failed", "output scanned only in part"],
        ),
        (
            ("prompt", "output"),
            {},
            set(),
            "redacted",
            ["content not stored at source (prompt and output)"],
        ),
        # Redacted prompt, but the output text is there and was never scanned.
        (
            ("prompt", "output"),
            {"prompt": "redacted"},
            {"output"},
            "redacted",
            ["output not scanned", "content not stored at source (prompt)"],
        ),
        # The prompt was logged but the reply has no text: nothing to scan.
        (("output",), {}, set(), "present", []),
        # No record although there is text: the scanner did not look.
        (("output",), {}, {"output"}, "present", ["output not scanned"]),
        (("prompt",), {"prompt": "weird"}, {"prompt"}, "present", ["prompt not scanned"]),
    ],
)
def test_coverage_gaps_table(
    required: tuple[str, ...],
    statuses: dict[str, str],
    has_text: set[str],
    content_status: str,
    expected: list[str],
) -> None:
    assert coverage_gaps(required, statuses, has_text, content_status=content_status) == expected


def test_default_requires_prompt_output_and_attributes() -> None:
    default = inspect.signature(evaluate_sample).parameters["require_scanned"].default
    assert tuple(default) == ("prompt", "output", "attributes")


def test_unknown_required_field_is_refused(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    with pytest.raises(PolicyError, match="cannot require field 'history'"):
        evaluate_sample(session, policy_engine, "s-1", require_scanned=("prompt", "history"))
    assert session.scalars(select(Decision)).all() == []


# --- a later scan is evaluated again ------------------------------------------------------


def test_rescan_with_a_new_scanner_is_evaluated_again(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    clean = session.get(Interaction, population["clean"])
    assert clean is not None
    assert _decisions(session, clean.id) == [PASSED]

    # A new scanner finds a card the old one missed, in an otherwise passed interaction.
    add_scan(
        session, clean, [("CREDIT_CARD", 1.0)], revision="scan-rev-2", at=WHEN + timedelta(days=2)
    )
    stats = evaluate_sample(session, policy_engine, "s-1", now=NOW + timedelta(hours=1))
    # atlas-internal is in PCI scope with an NPI contract: still a pass, but decided anew.
    assert _decisions(session, clean.id) == [PASSED]
    (row,) = session.scalars(select(Decision).where(Decision.interaction_id == clean.id)).all()
    assert row.scanner_revision == "scan-rev-2"
    assert row.evaluated_at == (NOW + timedelta(hours=1)).replace(tzinfo=None)
    # clean re-evaluated; unscanned and consumer retried; card, by_email, rescanned skipped.
    assert (stats.evaluated, stats.skipped_already_done, stats.not_evaluated) == (1, 3, 2)
    _check_invariant(stats)

    card = session.get(Interaction, population["card"])
    assert card is not None
    add_scan(session, card, [], revision="scan-rev-2", at=WHEN + timedelta(days=2))
    evaluate_sample(session, policy_engine, "s-1", now=NOW + timedelta(hours=2))
    # The newer scan found nothing, so the card violations at this revision are gone.
    assert _decisions(session, card.id) == [PASSED]


def test_failed_scan_retried_under_the_same_scanner_is_evaluated_again(
    session: Session, policy_engine: EmbeddedEngine
) -> None:
    interaction = add_interaction(session, "e-retry", attributes={"account_type": "enterprise_sso"})
    _scan_record(session, interaction, "prompt", "scanned")
    _scan_record(session, interaction, "output", "error")
    _scan_record(session, interaction, "attributes", "scanned")
    add_sample(session, "s-retry", [interaction])
    first = evaluate_sample(session, policy_engine, "s-retry", now=NOW)
    assert first.not_evaluated == 1
    assert _decisions(session, interaction.id) == [NOT_EVALUATED]

    # What the scan stage does on its next run: replace the error record, same revision.
    session.execute(
        delete(ScanRecord).where(
            ScanRecord.interaction_id == interaction.id, ScanRecord.field == "output"
        )
    )
    _scan_record(session, interaction, "output", "scanned")
    second = evaluate_sample(session, policy_engine, "s-retry", now=NOW)
    assert second == EvaluateStats(items=1, evaluated=1)
    assert _decisions(session, interaction.id) == [PASSED]

    third = evaluate_sample(session, policy_engine, "s-retry", now=NOW)
    assert third == EvaluateStats(items=1, skipped_already_done=1)


def test_decisions_without_a_scanner_revision_are_redone(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    # Decisions written before the scanner revision was recorded hold NULL there.
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    session.execute(update(Decision).values(scanner_revision=None))
    stats = evaluate_sample(session, policy_engine, "s-1", now=NOW)
    # The scanned ones no longer match their newest scan; by_email has one too.
    assert stats.skipped_already_done == 0
    assert {d.scanner_revision for d in session.scalars(select(Decision))} == {
        SCANNER,
        "new",
        None,
    }


def test_rescan_keeps_decisions_of_other_policy_revisions(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int], policy_copy: Path
) -> None:
    other = EmbeddedEngine(load_bundle(_stricter(policy_copy)))
    evaluate_sample(session, other, "s-1", now=NOW)
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    old = session.scalars(select(Decision.id).where(Decision.policy_revision == other.revision))
    kept = set(old)
    card = session.get(Interaction, population["card"])
    assert card is not None
    add_scan(session, card, [], revision="scan-rev-2", at=WHEN + timedelta(days=2))
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    still = session.scalars(select(Decision.id).where(Decision.policy_revision == other.revision))
    assert set(still) == kept


def _stricter(policy_copy: Path) -> Path:
    thresholds = policy_copy / "data" / "thresholds.json"
    thresholds.write_text(
        thresholds.read_text().replace('"critical_at_count": 10', '"critical_at_count": 1')
    )
    return policy_copy


# --- a log that names no tool, from the file to the decision ------------------------------


def test_log_without_tool_or_account_end_to_end(
    session: Session, policy_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    record = {
        "timestamp": "2026-10-14T14:03:00Z",
        "user": {"id": "u-1013"},
        "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Tidy this."}]},
        "response": {
            "id": "evt-000013",
            "model": "gpt-4o",
            "choices": [{"message": {"role": "assistant", "content": "Done."}}],
        },
    }
    log = tmp_path / "bare.jsonl"
    log.write_text(json.dumps(record) + "\n")
    (result,) = ingest_paths(session, [log], "openai-chat", max_line_bytes=1 << 20)
    assert result.loaded == 1
    interaction = session.scalars(
        select(Interaction).where(Interaction.event_id == "evt-000013")
    ).one()
    assert interaction.tool is None
    person = add_person(session, "u-1013")
    add_scan(session, interaction, [])
    add_sample(session, "s-bare", [interaction])

    doc = build_policy_input(interaction, person, [], fields_scanned=["prompt", "output"])
    example = load_example("unnamed_tool")
    doc["interaction"]["id"] = example["interaction"]["id"]
    assert doc == example, f"{EXAMPLES_DIR / 'unnamed_tool.json'} is what such a log becomes"

    stats = evaluate_sample(session, policy_engine, "s-bare", now=NOW)
    assert stats == EvaluateStats(items=1, evaluated=1, violations=1)
    (row,) = session.scalars(select(Decision)).all()
    assert (row.rule_id, row.verdict, row.severity) == ("unapproved-tool", "violation", "high")
    assert row.message == "an unnamed tool is not in the tool registry"
    assert row.scanner_revision == SCANNER
