from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from auditor.db.models import Interaction, Sample, SampleItem
from auditor.errors import InputError, NotFoundError
from auditor.ingest.stage import ingest_paths
from auditor.sample.selection import (
    draw,
    draw_sample,
    load_manifest,
    period_bounds,
    population_digest,
    reperform,
)
from tests.conftest import chat_record, write_jsonl

pytestmark = pytest.mark.both_databases


def _population(session: Session, tmp_path: Path, n: int = 40) -> None:
    recs = [
        chat_record(f"ev-{i:03d}", f"prompt {i}", when=f"2026-10-{1 + i % 28:02d}T10:00:00Z")
        for i in range(n)
    ] + [chat_record("ev-nov", "other month", when="2026-11-01T00:00:00Z")]
    ingest_paths(
        session, [write_jsonl(tmp_path / "l.jsonl", recs)], "openai-chat", max_line_bytes=1 << 24
    )


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [("2026-10", "2026-10-01", "2026-11-01"), ("2026-12", "2026-12-01", "2027-01-01")],
)
def test_period_bounds(period: str, start: str, end: str) -> None:
    s, e = period_bounds(period)
    assert (s.date().isoformat(), e.date().isoformat()) == (start, end)


@pytest.mark.parametrize("bad", ["2026-13", "Oct 2026", "2026/10", ""])
def test_bad_period(bad: str) -> None:
    with pytest.raises(InputError):
        period_bounds(bad)


def test_population_digest_is_of_sorted_ids() -> None:
    expected = hashlib.sha256(b"a\nb\nc").hexdigest()
    assert population_digest(["c", "a", "b"]) == expected


@given(
    st.lists(st.text(min_size=1), unique=True, max_size=60),
    st.integers(0, 2**63 - 1),
    st.integers(1, 80),
)
def test_draw_is_reproducible_and_order_independent(keys: list[str], seed: int, k: int) -> None:
    one = draw(keys, k, seed)
    assert one == draw(list(reversed(keys)), k, seed)
    assert len(one) == min(k, len(keys)) and len(set(one)) == len(one)
    assert set(one) <= set(keys)


def test_draw_sample_stores_manifest(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    sample, created = draw_sample(session, "2026-10", 10, seed=123)
    assert created
    assert (sample.population_count, sample.size, sample.seed, sample.seed_source) == (
        40,
        10,
        "123",
        "configured",
    )
    manifest = load_manifest(session, sample.id)
    assert len(manifest.listing) == 10
    assert all(
        k.startswith("openai-chat:ev-") and k != "openai-chat:ev-nov" for k in manifest.listing
    )
    assert manifest.digest() == sample.manifest_sha256
    assert manifest.listing == draw([f"openai-chat:ev-{i:03d}" for i in range(40)], 10, 123)
    orders = session.scalars(select(SampleItem.draw_order).where(SampleItem.sample_id == sample.id))
    assert sorted(orders) == list(range(1, 11))


def test_existing_sample_is_reused_for_same_population(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    first, _ = draw_sample(session, "2026-10", 10)
    again, created = draw_sample(session, "2026-10", 10)
    assert (again.id, created) == (first.id, False)
    assert first.seed_source.startswith("os-entropy")
    assert session.scalar(select(func.count(Sample.id))) == 1
    # A re-draw of a period that has a sample is asked for by name, with a reason on record.
    with pytest.raises(InputError, match="needs a reason"):
        draw_sample(session, "2026-10", 10, reuse=False)
    fresh, created = draw_sample(session, "2026-10", 10, reuse=False, redraw_reason="re-test")
    assert created and fresh.id != first.id
    assert fresh.plan["redraw"] == {"replaces": first.id, "reason": "re-test"}
    assert load_manifest(session, fresh.id).as_dict()["redraw"]["replaces"] == first.id


def test_sample_larger_than_population_takes_all(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path, n=5)
    sample, _ = draw_sample(session, "2026-10", 50, seed=1)
    assert (sample.size, sample.requested_size) == (5, 50)


def test_empty_period(session: Session) -> None:
    with pytest.raises(NotFoundError, match="no interactions"):
        draw_sample(session, "2026-10", 5)


def test_reperformance_detects_tampering(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    sample, _ = draw_sample(session, "2026-10", 10, seed=99)
    assert reperform(session, sample.id).ok
    # Swap one listed item for an unlisted one: the listing no longer re-performs.
    listed = set(
        session.scalars(select(SampleItem.interaction_id).where(SampleItem.sample_id == sample.id))
    )
    outsider = session.scalar(select(Interaction.id).where(Interaction.id.not_in(listed)).limit(1))
    session.execute(
        update(SampleItem)
        .where(SampleItem.sample_id == sample.id, SampleItem.draw_order == 1)
        .values(interaction_id=outsider)
    )
    check = reperform(session, sample.id)
    assert check.population_matches and not check.listing_matches and not check.manifest_matches
    assert check.changes() == []  # nothing in the population changed: the listing did


def test_reperformance_detects_changed_population(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    sample, _ = draw_sample(session, "2026-10", 10, seed=5)
    write_jsonl(
        tmp_path / "late.jsonl", [chat_record("late-1", "late", when="2026-10-20T00:00:00Z")]
    )
    ingest_paths(session, [tmp_path / "late.jsonl"], "openai-chat", max_line_bytes=1 << 24)
    check = reperform(session, sample.id)
    # A late file is not a change of the population the sample was drawn from.
    assert check.ok and check.population_count_now == 40 and check.late_arrivals == 1
    assert check.changes() == [
        "1 interaction(s) of the period arrived after the draw; they are not in the sample's "
        "population (the sample stands)"
    ]
    # An interaction that was there at the draw and has left the period is a change.
    session.execute(
        update(Interaction)
        .where(Interaction.event_id == "ev-000")
        .values(occurred_at=datetime(2026, 9, 30))
    )
    check = reperform(session, sample.id)
    assert not check.population_matches and check.population_count_now == 39
    assert check.changes()[0] == "population changed: 39 interactions now vs 40 then (-1 net)"


def test_unknown_sample(session: Session) -> None:
    with pytest.raises(NotFoundError):
        reperform(session, "S-none")


@pytest.mark.parametrize(
    ("size", "seed", "reused"), [(10, 7, True), (11, 7, False), (10, 8, False)]
)
def test_reuse_needs_same_size_and_configured_seed(
    session: Session, tmp_path: Path, size: int, seed: int, reused: bool
) -> None:
    _population(session, tmp_path)
    first, _ = draw_sample(session, "2026-10", 10, seed=7)
    again, created = draw_sample(session, "2026-10", size, seed=seed)
    assert (again.id == first.id) is reused and created is not reused
