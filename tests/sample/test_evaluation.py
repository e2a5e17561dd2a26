"""A sample evaluated against the plan fixed before it was drawn."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Decision, Finding, Interaction, Sample
from auditor.errors import NotFoundError
from auditor.ingest.stage import ingest_paths
from auditor.sample.evaluation import evaluate_plan
from auditor.sample.selection import SamplePlan, draw_sample, load_manifest
from auditor.sample.stats import sample_size, upper_limit
from tests.conftest import chat_record, write_jsonl

NOW = datetime(2026, 11, 1)


def _population(session: Session, tmp_path: Path, n: int = 400) -> None:
    recs = [
        chat_record(f"p{i:04d}", "x", when=f"2026-10-{1 + i % 28:02d}T09:00:00Z") for i in range(n)
    ]
    ingest_paths(
        session, [write_jsonl(tmp_path / "p.jsonl", recs)], "openai-chat", max_line_bytes=1 << 20
    )


def _decide(session: Session, sample: Sample, verdicts: dict[int, str]) -> list[int]:
    """Give every sampled item a decision: verdicts by position in the listing, else pass."""
    ids = [key_id for key_id in _listing_ids(session, sample)]
    for pos, iid in enumerate(ids):
        verdict = verdicts.get(pos, "pass")
        session.add(
            Decision(
                interaction_id=iid,
                rule_id="*" if verdict != "violation" else "r",
                verdict=verdict,
                severity="high" if verdict == "violation" else None,
                message="m",
                entity_types=[],
                policy_revision="p",
                engine="embedded",
                evaluated_at=NOW,
            )
        )
    session.flush()
    return ids


def _listing_ids(session: Session, sample: Sample) -> list[int]:
    keys = load_manifest(session, sample.id).listing
    by_key = {
        f"{f}:{e}": i
        for f, e, i in session.execute(
            select(Interaction.source_format, Interaction.event_id, Interaction.id)
        )
    }
    return [by_key[k] for k in keys]


def _finding(session: Session, iid: int, status: str) -> None:
    session.add(
        Finding(
            id=f"f{iid:031d}",
            interaction_id=iid,
            rule_id="r",
            severity="high",
            title="t",
            message="m",
            status=status,
            first_seen=NOW,
            last_seen=NOW,
        )
    )
    session.flush()


def test_size_comes_from_the_plan_and_the_plan_is_in_the_manifest(
    session: Session, tmp_path: Path
) -> None:
    _population(session, tmp_path)
    plan = SamplePlan(confidence=0.95, tolerable_rate=0.05, expected_deviations=0)
    sample, _ = draw_sample(session, "2026-10", None, seed=3, plan=plan)
    assert sample.size == sample_size(0.95, 0.05, 0, population=400)
    manifest = load_manifest(session, sample.id).as_dict()
    assert manifest["plan"]["tolerable_rate"] == 0.05
    assert manifest["plan"]["deviation"] == "confirmed"
    assert "attribute sampling" in manifest["plan"]["sizing"]
    # A different plan is a different test: a new sample, not a reuse.
    other, created = draw_sample(
        session, "2026-10", None, seed=3, plan=SamplePlan(deviation="flagged")
    )
    assert created and other.id != sample.id


@pytest.mark.parametrize(
    ("definition", "statuses", "not_tested", "deviations"),
    [
        ("confirmed", {0: "confirmed", 1: "open", 2: "false_positive"}, 0, 1),
        ("flagged", {0: "confirmed", 1: "open", 2: "false_positive"}, 0, 3),
        ("confirmed", {0: "superseded"}, 2, 2),  # untested items always count
        ("flagged", {0: "superseded", 1: "open"}, 1, 2),
    ],
)
def test_deviations_follow_the_definition_and_untested_items_count(
    session: Session,
    tmp_path: Path,
    definition: str,
    statuses: dict[int, str],
    not_tested: int,
    deviations: int,
) -> None:
    _population(session, tmp_path)
    sample, _ = draw_sample(session, "2026-10", 60, seed=1, plan=SamplePlan(deviation=definition))
    verdicts = {pos: "violation" for pos in statuses}
    verdicts.update({50 + k: "not_evaluated" for k in range(not_tested)})
    ids = _decide(session, sample, verdicts)
    for pos, status in statuses.items():
        _finding(session, ids[pos], status)
    ev = evaluate_plan(session, sample.id)
    assert (ev.deviations, ev.not_tested) == (deviations, not_tested)
    assert ev.flagged == sum(s != "superseded" for s in statuses.values())
    assert ev.upper_limit == pytest.approx(upper_limit(60, deviations, 0.95, population=400))
    assert ev.provisional == ("open" in statuses.values())
    assert ev.projected_count == pytest.approx(deviations / 60 * 400)


def test_items_never_evaluated_are_not_tested(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    sample, _ = draw_sample(session, "2026-10", 30, seed=2)
    ev = evaluate_plan(session, sample.id)
    assert ev.not_tested == ev.deviations == 30
    assert "cannot be relied on" in ev.conclusion


def test_clean_sample_supports_reliance(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    sample, _ = draw_sample(session, "2026-10", None, seed=4, plan=SamplePlan())
    _decide(session, sample, {})
    ev = evaluate_plan(session, sample.id)
    assert ev.deviations == 0 and ev.upper_limit <= 0.05
    assert "can be relied on" in ev.conclusion and "cannot" not in ev.conclusion


def test_unknown_sample(session: Session) -> None:
    with pytest.raises(NotFoundError):
        evaluate_plan(session, "S-none")
