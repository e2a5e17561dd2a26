"""A drawn sample stays drawn: logs that arrive late are recorded, never swapped in."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import Sample
from auditor.ingest.stage import ingest_paths
from auditor.sample.selection import (
    SamplePlan,
    draw_sample,
    load_manifest,
    reperform,
    replace_item,
)
from tests.conftest import chat_record, write_jsonl


def _ingest(session: Session, path: Path, start: int, count: int) -> None:
    recs = [
        chat_record(f"p{i:04d}", "x", when=f"2026-10-{1 + i % 28:02d}T09:00:00Z")
        for i in range(start, start + count)
    ]
    ingest_paths(session, [write_jsonl(path, recs)], "openai-chat", max_line_bytes=1 << 20)
    session.flush()


@pytest.mark.parametrize("size", [None, 40])  # sized from the plan, or fixed
def test_late_logs_are_recorded_and_the_sample_stands(
    session: Session, tmp_path: Path, size: int | None
) -> None:
    _ingest(session, tmp_path / "a.jsonl", 0, 3000)
    first, created = draw_sample(session, "2026-10", size, plan=SamplePlan())
    assert created
    listing = load_manifest(session, first.id).listing
    _ingest(session, tmp_path / "late.jsonl", 3000, 238)

    again, created = draw_sample(session, "2026-10", size, plan=SamplePlan())
    assert (again.id, created) == (first.id, False)
    assert session.scalar(select(func.count(Sample.id))) == 1
    manifest = load_manifest(session, first.id)
    assert manifest.listing == listing and manifest.population_count == 3000
    late = manifest.as_dict()["late_arrivals"]
    assert (late["count"], late["population_then"], late["population_now"]) == (238, 3000, 3238)
    assert manifest.digest() == again.manifest_sha256
    # Re-performance draws from the population the sample saw, and names the late ones.
    check = reperform(session, first.id)
    assert check.ok, check.changes()
    assert check.late_arrivals == 238
    assert any("arrived after the draw" in c for c in check.changes())
    # Replacements still come from that population.
    pick = replace_item(session, first.id, listing[0], "purged")
    assert int(pick.split(":p")[1]) < 3000

    # A third run with nothing new changes nothing.
    digest = again.manifest_sha256
    draw_sample(session, "2026-10", size, plan=SamplePlan())
    assert (
        session.get(Sample, first.id).manifest_sha256 == load_manifest(session, first.id).digest()
    )
    assert digest  # recorded


def test_a_changed_plan_still_draws_a_new_sample(session: Session, tmp_path: Path) -> None:
    _ingest(session, tmp_path / "a.jsonl", 0, 500)
    first, _ = draw_sample(session, "2026-10", None, plan=SamplePlan())
    _ingest(session, tmp_path / "late.jsonl", 500, 20)
    other, created = draw_sample(session, "2026-10", None, plan=SamplePlan(tolerable_rate=0.04))
    assert created and other.id != first.id


def test_a_redraw_by_name_covers_the_late_logs(session: Session, tmp_path: Path) -> None:
    _ingest(session, tmp_path / "a.jsonl", 0, 500)
    first, _ = draw_sample(session, "2026-10", 50, plan=SamplePlan())
    _ingest(session, tmp_path / "late.jsonl", 500, 20)
    fresh, created = draw_sample(
        session, "2026-10", 50, plan=SamplePlan(), reuse=False, redraw_reason="late logs"
    )
    assert created and fresh.population_count == 520
    assert fresh.plan["redraw"] == {"replaces": first.id, "reason": "late logs"}
    assert reperform(session, fresh.id).ok
    # Later runs reuse the re-drawn sample.
    again, created = draw_sample(session, "2026-10", 50, plan=SamplePlan())
    assert (again.id, created) == (fresh.id, False)
