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
from auditor.sample.stats import (
    Stratum,
    conclusion,
    sample_size,
    stratified_estimate,
    upper_limit,
)
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
    # Under "flagged" an open finding already makes its item a deviation: nothing awaits.
    assert ev.provisional == ("open" in statuses.values() and definition == "confirmed")
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


def _workflow_population(session: Session, tmp_path: Path) -> None:
    workflows = ["a"] * 5 + ["b"] * 3 + [None] * 2  # strata of 200, 120 and 80
    recs = [
        chat_record(
            f"w{i:04d}", "x", workflow=workflows[i % 10], when=f"2026-10-{1 + i % 28:02d}T09:00:00Z"
        )
        for i in range(400)
    ]
    ingest_paths(
        session, [write_jsonl(tmp_path / "w.jsonl", recs)], "openai-chat", max_line_bytes=1 << 20
    )


@pytest.mark.parametrize(
    ("confirmed_at", "untested_at", "deviations"),
    [
        ((), (), 0),  # clean: the bound still reflects the unequal weights
        ((0,), (), 1),  # one confirmed deviation in the first stratum
        ((0, 40, 55), (), 3),  # deviations in all three strata
        ((1,), (50,), 2),  # an untested item counts
    ],
)
def test_stratified_sample_is_evaluated_by_stratified_estimate(
    session: Session,
    tmp_path: Path,
    confirmed_at: tuple[int, ...],
    untested_at: tuple[int, ...],
    deviations: int,
) -> None:
    _workflow_population(session, tmp_path)
    plan = SamplePlan(strata=("workflow",), min_per_stratum=2)
    sample, _ = draw_sample(session, "2026-10", 60, seed=9, plan=plan)
    ids = _decide(
        session,
        sample,
        {pos: "violation" for pos in confirmed_at} | {pos: "not_evaluated" for pos in untested_at},
    )
    for pos in confirmed_at:
        _finding(session, ids[pos], "confirmed")
    ev = evaluate_plan(session, sample.id)

    # The same counts, tallied independently from the listing and fed to stratified_estimate.
    strata_of = load_manifest(session, sample.id).strata
    deviating = {ids[p] for p in (*confirmed_at, *untested_at)}
    table = sample.plan["stratification"]["strata"]
    expected = stratified_estimate(
        [
            Stratum(
                name,
                table[name]["population"],
                strata_of.count(name),
                sum(1 for i, h in zip(ids, strata_of, strict=True) if h == name and i in deviating),
            )
            for name in sorted(table)
        ],
        0.95,
    )
    assert sorted(table) == ["a", "b", "none"]
    assert [table[h]["size"] for h in ("a", "b", "none")] == [30, 18, 12]
    assert ev.stratified and ev.deviations == deviations
    assert ev.deviation_rate == pytest.approx(expected.rate)
    assert ev.upper_limit == pytest.approx(expected.upper_korn_graubard)
    assert ev.upper_bonferroni == pytest.approx(expected.upper_bonferroni)
    assert ev.projected_count == pytest.approx(expected.projected_count)
    assert ev.projected_upper == pytest.approx(expected.projected_upper_korn_graubard)
    assert ev.interval[0] <= ev.deviation_rate <= ev.interval[1] <= 1.0
    assert ev.conclusion == conclusion(expected.upper_korn_graubard, 0.05, 0.95, expected.rate)
    assert [(s.name, s.size) for s in ev.strata] == [("a", 30), ("b", 18), ("none", 12)]
