"""Extending a sample whose deviations exceed those expected: the next draws of its own
generator, recorded in the manifest, re-performed by `sample verify`, evaluated at the new
size."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from auditor.errors import InputError
from auditor.sample.evaluation import evaluate_plan
from auditor.sample.selection import (
    SamplePlan,
    draw_sample,
    extend_sample,
    load_manifest,
    reperform,
    replace_item,
    smallest_rescue,
)
from auditor.sample.stats import upper_limit
from tests.sample.test_evaluation import _decide, _finding, _listing_ids, _population

PLAN = SamplePlan(confidence=0.95, tolerable_rate=0.05, expected_deviations=0)


def _sample_with_deviations(session: Session, tmp_path: Path, deviations: int):
    _population(session, tmp_path, n=400)
    sample, _ = draw_sample(session, "2026-10", None, seed=11, plan=PLAN)
    ids = _decide(session, sample, {pos: "violation" for pos in range(deviations)})
    for iid in ids[:deviations]:
        _finding(session, iid, "confirmed")
    return sample


def test_extension_keeps_the_first_items_first_and_reperforms(
    session: Session, tmp_path: Path
) -> None:
    sample = _sample_with_deviations(session, tmp_path, 1)
    before = load_manifest(session, sample.id).listing
    n0 = len(before)
    to = smallest_rescue(400, 1, 0.95, 0.05)
    assert to is not None and to > n0
    added = extend_sample(session, sample.id, to, "one deviation where none was expected")
    after = load_manifest(session, sample.id)
    assert after.listing[:n0] == before
    assert after.listing[n0:] == added and len(after.listing) == to
    assert len(set(after.listing)) == to  # no item drawn twice
    doc = after.as_dict()
    assert doc["size"] == to and doc["requested_size"] == n0
    (ext,) = doc["extensions"]
    assert (ext["from"], ext["to"], ext["deviations_before"]) == (n0, to, 1)
    assert "Bonferroni" in ext["evaluation"]
    check = reperform(session, sample.id)
    assert check.ok and check.extensions == 1, check.changes()
    # The evaluation uses the extended size; the added items are not tested yet.
    ev = evaluate_plan(session, sample.id)
    assert ev.size == to and ev.not_tested == to - n0


def test_a_tampered_extension_does_not_reperform(session: Session, tmp_path: Path) -> None:
    sample = _sample_with_deviations(session, tmp_path, 1)
    to = smallest_rescue(400, 1, 0.95, 0.05)
    extend_sample(session, sample.id, to, "reason")
    plan = dict(sample.plan)
    plan["extensions"] = [{**plan["extensions"][0], "continuation": 2}]
    sample.plan = plan
    session.flush()
    check = reperform(session, sample.id)
    assert not check.ok and not check.listing_matches


def test_replacements_before_and_after_an_extension_reperform(
    session: Session, tmp_path: Path
) -> None:
    sample = _sample_with_deviations(session, tmp_path, 1)
    listing = load_manifest(session, sample.id).listing
    first = replace_item(session, sample.id, listing[5], "purged before review")
    # The replacement is not tested yet, so it counts as a deviation too.
    to = smallest_rescue(400, evaluate_plan(session, sample.id).deviations, 0.95, 0.05)
    added = extend_sample(session, sample.id, to, "reason")
    assert first not in added
    second = replace_item(session, sample.id, added[0], "purged before review")
    assert second not in added and second != first
    check = reperform(session, sample.id)
    assert check.ok, check.changes()
    reps = load_manifest(session, sample.id).as_dict()["replacements"]
    assert [r["continuation"] for r in reps] == [1, 2 + (to - len(listing))]


@pytest.mark.parametrize(
    ("deviations", "to", "message"),
    [
        (0, 120, "not more than the 0 the plan expected"),
        (1, 55, "cannot extend"),  # not larger than the sample (55 items)
        (1, 401, "cannot extend"),  # beyond the population
        (1, 70, "would leave the upper limit above"),  # too small to rescue
        (40, 399, "would leave the upper limit above"),  # lost whatever the size
    ],
)
def test_extension_is_refused_when_the_plan_does_not_allow_it(
    session: Session, tmp_path: Path, deviations: int, to: int, message: str
) -> None:
    sample = _sample_with_deviations(session, tmp_path, deviations)
    with pytest.raises(InputError) as err:
        extend_sample(session, sample.id, to, "reason")
    assert message in err.value.message
    assert len(load_manifest(session, sample.id).listing) == sample.size


def test_the_hint_names_the_smallest_size_that_could_rescue(
    session: Session, tmp_path: Path
) -> None:
    sample = _sample_with_deviations(session, tmp_path, 1)
    rescue = smallest_rescue(400, 1, 0.95, 0.05)
    assert upper_limit(rescue, 1, 0.95, 400) <= 0.05 < upper_limit(rescue - 1, 1, 0.95, 400)
    with pytest.raises(InputError) as err:
        extend_sample(session, sample.id, rescue - 1, "reason")
    assert f"is {rescue} items" in (err.value.hint or "")


def test_stratified_samples_are_not_extended(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path, n=400)
    plan = SamplePlan(strata=("tool",), min_per_stratum=2)
    sample, _ = draw_sample(session, "2026-10", 60, seed=1, plan=plan)
    with pytest.raises(InputError, match="stratified"):
        extend_sample(session, sample.id, 80, "reason")


def test_a_rerun_reuses_the_extended_sample(session: Session, tmp_path: Path) -> None:
    sample = _sample_with_deviations(session, tmp_path, 1)
    extend_sample(session, sample.id, smallest_rescue(400, 1, 0.95, 0.05), "reason")
    again, created = draw_sample(session, "2026-10", None, seed=11, plan=PLAN)
    assert not created and again.id == sample.id
    assert len(_listing_ids(session, again)) == again.size
