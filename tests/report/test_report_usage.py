"""The usage section: tier window, tier × effectiveness view, and small-group suppression."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from auditor.config import Settings
from auditor.db.models import Interaction, Person
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.report.context import (
    ReportContext,
    _group_table,
    _suppressed_groups,
    build_report_context,
)
from auditor.report.render import render_html
from auditor.tiers import compute_tiers

PERIOD = "2026-10"


def _add_people(session, dept: str, prefix: str, n: int) -> list[str]:
    ids = [f"{prefix}{i}" for i in range(n)]
    session.add_all(
        Person(user_id=u, department=dept, loaded_at=datetime(2026, 11, 2)) for u in ids
    )
    return ids


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """Big (6: 3 heavy effective, 3 light not), Mid (5 non-users), Small (3) and Tiny (2) light
    users on an approved workflow. Tiers computed with the default 28-day window."""
    eng = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    upgrade(eng)
    with session_scope(eng) as session:
        big = _add_people(session, "Big", "b", 6)
        _add_people(session, "Mid", "m", 5)
        small = _add_people(session, "Small", "s", 3)
        tiny = _add_people(session, "Tiny", "t", 2)
        rows = []
        for u in big[:3]:
            rows += [(u, datetime(2026, 10, d, 9), "chatgpt-enterprise", "research")
                     for d in range(5, 20)]  # fmt: skip
        rows += [(u, datetime(2026, 10, 6, 9), "perplexity", "research") for u in big[3:]]
        rows += [(u, datetime(2026, 10, 7, 9), "copilot-business", "coding") for u in small + tiny]
        session.add_all(
            Interaction(
                event_id=f"e{i}", source_format="test", occurred_at=at, user_id=u, tool=tool,
                workflow=flow,
            )
            for i, (u, at, tool, flow) in enumerate(rows)
        )  # fmt: skip
        session.flush()
        compute_tiers(session, PERIOD, Settings().tiers)
    yield eng
    eng.dispose()


def build(engine: Engine) -> ReportContext:
    with session_scope(engine) as session:
        return build_report_context(
            session,
            PERIOD,
            pseudonymize=lambda u: "P-x",
            settings=Settings(),
            generated_at=datetime(2026, 11, 5, tzinfo=UTC),
            auditor_version="0.1.0",
            policy_revision=None,
            scanner_revision=None,
        )


def usage_html(ctx: ReportContext) -> str:
    page = render_html(ctx)  # the report environment is StrictUndefined
    match = re.search(r'<section id="usage">.*?</section>', page, re.S)
    assert match is not None
    return match.group(0)


def rows_of(table) -> dict[str, tuple[tuple[str, ...], str]]:
    return {r.label: (r.cells, r.total) for r in table.rows}


def test_window_is_the_28_days_ending_with_the_period(engine) -> None:
    u = build(engine).usage
    assert (u.window_start, u.window_end, u.window_days) == (
        datetime(2026, 10, 4),
        datetime(2026, 11, 1),
        28,
    )
    assert u.window_label == "2026-10-04 to 2026-10-31 (28 days)"


def test_tier_by_effectiveness_totals(engine) -> None:
    u = build(engine).usage
    assert {c.key: c.count for c in u.quadrants} == {
        "champion": 3,
        "review_candidate": 0,
        "no_action": 5,
        "training": 3,
    }
    assert u.not_placed == 5  # Mid's non-users
    assert u.effective_threshold == 0.6


def test_department_figures_of_small_groups_are_suppressed(engine) -> None:
    u = build(engine).usage
    assert u.min_group_size == 5
    tiers = rows_of(u.department_tiers)
    assert tiers["Small"] == (("< 5",) * 4, "< 5")  # 3 people: never the count
    assert tiers["Tiny"] == (("< 5",) * 4, "< 5")
    assert tiers["Big"] == (("0", "3", "0", "3"), "6")
    assert tiers["Mid"] == (("5", "0", "0", "0"), "5")
    assert u.department_tiers.column_totals == ("5", "8", "0", "3")
    assert u.department_tiers.suppressed_groups == 2
    quads = rows_of(u.department_quadrants)
    assert u.department_quadrants.columns[-1] == "not_placed"
    assert quads["Small"] == (("< 5",) * 5, "< 5")
    assert quads["Big"] == (("3", "0", "0", "3", "0"), "6")
    assert quads["Mid"] == (("0", "0", "0", "0", "5"), "5")
    assert u.suppression_note is not None and "fewer than 5 people" in u.suppression_note


def test_mean_score_per_tier_hides_small_tiers(engine) -> None:
    scores = {t.tier: t for t in build(engine).usage.tier_scores}
    # 3 heavy users only: a mean of so few is not shown.
    assert (scores["heavy"].suppressed, scores["heavy"].mean) == (True, None)
    # Light: Big's three score 0, Small's and Tiny's five score (1 + 1/3) / 2 each.
    assert scores["light"].people_scored == 8 and not scores["light"].suppressed
    assert scores["light"].mean == pytest.approx(5 * (2 / 3) / 8)
    assert (scores["non_user"].people_scored, scores["non_user"].mean) == (0, None)
    assert scores["regular"].suppressed is False


def test_usage_section_renders(engine) -> None:
    section = usage_html(build(engine))
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", section))
    assert "2026-10-04 to 2026-10-31 (28 days)" in text
    assert "Frequency alone never triggers a review" in text
    assert "People by usage tier and effectiveness" in text
    assert "champion: 3" in text and "training: 3" in text and "no action: 5" in text
    assert "Mean effective-use score per tier" in text and "0.42" in text
    small_rows = re.findall(r"<tr class=\"suppressed\">.*?</tr>", section, re.S)
    assert len(small_rows) == 4  # Small and Tiny, in both department tables
    for row in small_rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        assert cells and set(cells) == {"&lt; 5"}
    # No person is listed: neither ids nor names appear in the section.
    assert not re.search(r"\b[bmst]\d\b", text)


@pytest.mark.parametrize(
    ("sizes", "min_size", "hidden"),
    [
        ({"A": 10, "B": 7}, 5, set()),
        ({"A": 10, "B": 3}, 5, {"A", "B"}),  # A alone would give B away via the totals
        ({"A": 10, "B": 6, "C": 3}, 5, {"B", "C"}),  # the smallest other joins C
        ({"A": 10, "B": 3, "C": 2}, 5, {"B", "C"}),  # together large enough
        ({"A": 4}, 5, {"A"}),
        ({"A": 1, "B": 1}, 1, set()),
        ({}, 5, set()),
    ],
)
def test_suppressed_groups(sizes: dict[str, int], min_size: int, hidden: set[str]) -> None:
    assert _suppressed_groups(sizes, min_size) == hidden


def test_group_table_below_minimum_everywhere_hides_totals() -> None:
    table = _group_table(
        {("A", "x"): 2, ("B", "y"): 1},
        {"A": 2, "B": 1},
        {"A", "B"},
        row_header="Department",
        columns=("x", "y"),
        min_size=5,
    )
    assert [r.cells for r in table.rows] == [("< 5", "< 5"), ("< 5", "< 5")]
    assert (table.column_totals, table.total) == (("< 5", "< 5"), "< 5")
