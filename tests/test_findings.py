from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import Decision, Detection, Finding, Interaction, ReviewEvent
from auditor.findings import build_findings, finding_id
from auditor.ingest.stage import ingest_paths
from auditor.review import resolve
from auditor.sample.selection import draw_sample
from tests.conftest import chat_record, write_jsonl

pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 11, 1)


def _setup(session: Session, tmp_path: Path) -> tuple[str, dict[str, int]]:
    recs = [chat_record(f"e{i}", f"p{i}", when="2026-10-07T10:00:00Z") for i in range(3)]
    ingest_paths(
        session, [write_jsonl(tmp_path / "l.jsonl", recs)], "openai-chat", max_line_bytes=1 << 24
    )
    sample, _ = draw_sample(session, "2026-10", 10, seed=1)
    ids = dict(session.execute(select(Interaction.event_id, Interaction.id)).all())
    return sample.id, ids


def _detection(iid: int, entity: str, value_hash: str, start: int = 0) -> Detection:
    return Detection(
        interaction_id=iid,
        field="prompt",
        entity_type=entity,
        start=start,
        end=start + 4,
        score=0.9,
        recognizer="R",
        value_hash=value_hash,
        masked_excerpt=f"… [{entity}] …",
        scanner_revision="s1",
    )


def _decision(
    iid: int, rule: str, entities: list[str], sev: str = "high", rev: str = "p1"
) -> Decision:
    return Decision(
        interaction_id=iid,
        rule_id=rule,
        verdict="violation",
        severity=sev,
        title=rule.title(),
        message="m",
        entity_types=entities,
        policy_revision=rev,
        engine="embedded",
        evaluated_at=NOW,
    )


def test_finding_id_is_stable_and_ignores_offsets() -> None:
    a = finding_id("openai-chat:e1", "rule", "CREDIT_CARD", "h1")
    assert a == finding_id("openai-chat:e1", "rule", "CREDIT_CARD", "h1")
    assert len(a) == 32
    assert a != finding_id("openai-chat:e1", "rule", "CREDIT_CARD", "h2")


def test_one_finding_per_value_and_per_tool_violation(session: Session, tmp_path: Path) -> None:
    sample_id, ids = _setup(session, tmp_path)
    e0, e1 = ids["e0"], ids["e1"]
    session.add_all(
        [
            _detection(e0, "CREDIT_CARD", "h1"),
            _detection(e0, "CREDIT_CARD", "h1", start=40),
            _detection(e0, "CREDIT_CARD", "h2", start=80),
            _detection(e0, "PERSON", "h3"),
            _decision(e0, "card-data-outside-pci-scope", ["CREDIT_CARD"], "critical"),
            _decision(e1, "unapproved-tool", []),
            Decision(
                interaction_id=ids["e2"],
                rule_id="*",
                verdict="pass",
                severity=None,
                message="",
                entity_types=[],
                policy_revision="p1",
                engine="embedded",
                evaluated_at=NOW,
            ),
        ]
    )
    session.flush()
    stats = build_findings(session, sample_id, "p1")
    assert (stats.decisions, stats.created) == (2, 3)
    rows = {(f.rule_id, f.entity_type, f.value_hash) for f in session.scalars(select(Finding))}
    assert rows == {
        ("card-data-outside-pci-scope", "CREDIT_CARD", "h1"),
        ("card-data-outside-pci-scope", "CREDIT_CARD", "h2"),
        ("unapproved-tool", "", ""),
    }
    card = session.get(
        Finding, finding_id("openai-chat:e0", "card-data-outside-pci-scope", "CREDIT_CARD", "h1")
    )
    assert (
        card is not None
        and card.severity == "critical"
        and card.masked_excerpt == "… [CREDIT_CARD] …"
    )


@pytest.mark.parametrize("disposition", ["confirmed", "false-positive", "accepted-risk"])
def test_rerun_keeps_reviews(session: Session, tmp_path: Path, disposition: str) -> None:
    sample_id, ids = _setup(session, tmp_path)
    session.add(_decision(ids["e1"], "unapproved-tool", []))
    session.flush()
    build_findings(session, sample_id, "p1")
    [finding] = session.scalars(select(Finding))
    resolve(session, finding.id, disposition, "checked with the desk head", "risk.officer")
    # A new policy revision re-evaluates; the same violation maps to the same finding.
    session.add(_decision(ids["e1"], "unapproved-tool", [], rev="p2"))
    session.flush()
    stats = build_findings(session, sample_id, "p2")
    assert (stats.created, stats.seen_again) == (0, 1)
    assert session.scalar(select(func.count(Finding.id))) == 1
    assert session.get(Finding, finding.id).status == disposition.replace("-", "_")  # type: ignore[union-attr]


def test_finding_no_longer_produced_is_superseded_then_reopened(
    session: Session, tmp_path: Path
) -> None:
    sample_id, ids = _setup(session, tmp_path)
    session.add(_decision(ids["e1"], "unapproved-tool", [], rev="p1"))
    session.flush()
    build_findings(session, sample_id, "p1")
    [finding] = session.scalars(select(Finding))
    # Revision p2 evaluates e1 cleanly: the finding is superseded, with a recorded reason.
    session.add(
        Decision(
            interaction_id=ids["e1"],
            rule_id="*",
            verdict="pass",
            severity=None,
            message="",
            entity_types=[],
            policy_revision="p2",
            engine="embedded",
            evaluated_at=NOW,
        )
    )
    session.flush()
    assert build_findings(session, sample_id, "p2").superseded == 1
    assert finding.status == "superseded"
    # Revision p3 produces it again: reopened, history kept.
    session.add(_decision(ids["e1"], "unapproved-tool", [], rev="p3"))
    session.flush()
    assert build_findings(session, sample_id, "p3").reopened == 1
    assert finding.status == "open"
    events = [(e.reviewer, e.disposition) for e in session.scalars(select(ReviewEvent))]
    assert events == [("auditor", "superseded"), ("auditor", "reopened")]


def test_not_evaluated_interaction_keeps_its_findings_open(
    session: Session, tmp_path: Path
) -> None:
    sample_id, ids = _setup(session, tmp_path)
    session.add(_decision(ids["e1"], "unapproved-tool", [], rev="p1"))
    session.flush()
    build_findings(session, sample_id, "p1")
    session.add(
        Decision(
            interaction_id=ids["e1"],
            rule_id="*",
            verdict="not_evaluated",
            severity=None,
            message="scan failed",
            entity_types=[],
            policy_revision="p2",
            engine="embedded",
            evaluated_at=NOW,
        )
    )
    session.flush()
    assert build_findings(session, sample_id, "p2").superseded == 0
    assert session.scalars(select(Finding)).one().status == "open"
