"""evaluate_sample on a real migrated database with the real policies."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from auditor.db.models import Decision, Interaction, Person
from auditor.errors import NotFoundError
from auditor.policy.engine import EmbeddedEngine, load_bundle
from auditor.policy.evaluate import EvaluateStats, _people_for, evaluate_sample
from tests.policy.helpers import WHEN, add_interaction, add_person, add_sample, add_scan

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
    assert _decisions(session, population["consumer"]) == [
        ("personal-account-for-business", "violation", "high"),
        ("unapproved-tool", "violation", "high"),
    ]
    assert _decisions(session, population["unscanned"]) == [("*", "not_evaluated", None)]
    assert _decisions(session, population["by_email"]) == [("*", "pass", None)]
    # Only the newest scan counts: 1 SSN (high), not 13 (critical).
    assert _decisions(session, population["rescanned"]) == [
        ("client-npi-to-uncontracted-tool", "violation", "high")
    ]
    assert stats == EvaluateStats(
        items=6, evaluated=5, skipped_already_done=0, violations=5, not_evaluated=1
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


def test_notes_on_content_not_stored_and_unscanned(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    consumer = session.scalars(
        select(Decision.message).where(Decision.interaction_id == population["consumer"])
    ).all()
    assert all("content not_stored" in m for m in consumer)
    (unscanned,) = session.scalars(
        select(Decision.message).where(Decision.interaction_id == population["unscanned"])
    ).all()
    assert unscanned.startswith("prompt not scanned: data rules could not apply")


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
    # The unscanned interaction is retried (its decision was not_evaluated); all else skipped.
    assert again == EvaluateStats(
        items=6, evaluated=0, skipped_already_done=5, violations=0, not_evaluated=1
    )
    _check_invariant(again)
    assert len(session.scalars(select(Decision)).all()) == count
    kept = session.scalars(select(Decision).where(Decision.id <= before)).all()
    assert len(kept) == count - 1, "only the retried not_evaluated row was replaced"


def test_retry_after_scan_replaces_not_evaluated(
    session: Session, policy_engine: EmbeddedEngine, population: dict[str, int]
) -> None:
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    unscanned = population["unscanned"]
    interaction = session.get(Interaction, unscanned)
    assert interaction is not None
    add_scan(session, interaction, [("US_SSN", 0.55)])
    stats = evaluate_sample(session, policy_engine, "s-1", now=NOW)
    assert stats.evaluated == 1 and stats.not_evaluated == 0
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
    assert stats.not_evaluated == 2  # the failing one and the unscanned one
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
