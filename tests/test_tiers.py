from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.config import TierSettings
from auditor.db.models import UsageTier
from auditor.directory import load_people
from auditor.ingest.stage import ingest_paths
from auditor.tiers import UserUsage, classify, compute_tiers
from tests.conftest import DATA, chat_record, write_jsonl

CFG = TierSettings()


@pytest.mark.parametrize(
    ("days", "count", "median", "tier"),
    [
        (0, 0, 10, "non_user"),
        (1, 1, 10, "light"),
        (5, 80, 10, "light"),  # a burst on few days is not heavy use
        (6, 10, 10, "regular"),
        (6, 4, 10, "light"),  # below half the department median
        (6, 20, 10, "heavy"),  # twice the department median
        (15, 15, 100, "heavy"),  # many active days
        (10, 12, 0, "regular"),  # no median to compare with
    ],
)
def test_classify(days: int, count: int, median: float, tier: str) -> None:
    assert classify(UserUsage("u", "D", days, count), median, CFG) == tier


def test_compute_tiers_over_directory_and_logs(session: Session, tmp_path: Path) -> None:
    load_people(session, DATA / "people" / "people.csv")
    recs = []
    # u00001: 16 active days -> heavy; u00002: 2 days -> light; u00003 (Technology): 8 days;
    # "stranger" is not in the directory but used a tool.
    recs += [
        chat_record(f"a{d}", "x", user="u00001", when=f"2026-10-{d:02d}T09:00:00Z")
        for d in range(5, 21)
    ]
    recs += [
        chat_record(f"b{d}", "x", user="u00002", when=f"2026-10-{d:02d}T09:00:00Z") for d in (6, 7)
    ]
    recs += [
        chat_record(f"c{d}", "x", user="u00003", when=f"2026-10-{d:02d}T09:00:00Z")
        for d in range(10, 18)
    ]
    recs += [chat_record("s1", "x", user="stranger", when="2026-10-12T09:00:00Z")]
    recs += [chat_record("old", "x", user="u00004", when="2026-09-30T09:00:00Z")]  # outside window
    ingest_paths(
        session, [write_jsonl(tmp_path / "l.jsonl", recs)], "openai-chat", max_line_bytes=1 << 24
    )

    counts = compute_tiers(session, "2026-10", CFG)
    tiers = {
        t.user_id: t
        for t in session.scalars(select(UsageTier).where(UsageTier.period == "2026-10"))
    }
    assert tiers["u00001"].tier == "heavy" and tiers["u00001"].active_days == 16
    assert tiers["u00002"].tier == "light"
    assert tiers["u00003"].tier == "regular"
    assert tiers["u00004"].tier == "non_user"
    assert tiers["stranger"].department is None and tiers["stranger"].tier == "light"
    assert counts == {"non_user": 5, "light": 2, "regular": 1, "heavy": 1}
    assert sum(counts.values()) == len(tiers) == 9

    # Recomputing replaces, never duplicates.
    assert compute_tiers(session, "2026-10", CFG) == counts
    assert len(list(session.scalars(select(UsageTier)))) == 9
