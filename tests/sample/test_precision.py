"""Reviewer precision learned from earlier periods, and the estimate it gives (never a verdict)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from scipy.stats import beta
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Finding, Interaction
from auditor.ingest.stage import ingest_paths
from auditor.sample.precision import (
    Precision,
    clopper_pearson,
    expected_confirmations,
    review_precision,
)
from tests.conftest import chat_record, write_jsonl

OCTOBER = datetime(2026, 10, 1)


def _interactions(session: Session, tmp_path: Path, month: str, n: int) -> list[int]:
    recs = [
        chat_record(f"{month}-{i}", "x", when=f"{month}-{1 + i % 28:02d}T09:00:00Z")
        for i in range(n)
    ]
    ingest_paths(
        session,
        [write_jsonl(tmp_path / f"{month}.jsonl", recs)],
        "openai-chat",
        max_line_bytes=1 << 20,
    )
    return list(
        session.scalars(
            select(Interaction.id)
            .where(Interaction.event_id.startswith(month))
            .order_by(Interaction.id)
        )
    )


def _finding(session: Session, iid: int, rule: str, entity: str, status: str) -> None:
    session.add(
        Finding(
            id=f"{rule[:8]}{entity[:8]}{iid:048d}"[:64],
            interaction_id=iid,
            rule_id=rule,
            entity_type=entity,
            severity="high",
            title="t",
            message="m",
            status=status,
            first_seen=OCTOBER,
            last_seen=OCTOBER,
        )
    )


@pytest.mark.parametrize(("x", "n"), [(0, 10), (3, 10), (10, 10), (7, 40)])
def test_clopper_pearson_matches_beta_quantiles(x: int, n: int) -> None:
    low, high = clopper_pearson(x, n, 0.95)
    assert low == (0.0 if x == 0 else pytest.approx(beta.ppf(0.025, x, n - x + 1)))
    assert high == (1.0 if x == n else pytest.approx(beta.ppf(0.975, x + 1, n - x)))


def test_precision_per_rule_and_type_from_earlier_periods_only(
    session: Session, tmp_path: Path
) -> None:
    september = _interactions(session, tmp_path, "2026-09", 20)
    october = _interactions(session, tmp_path, "2026-10", 5)
    # noisy-rule: 1 of 10 confirmed -> a tuning candidate; card-rule: 4 of 5 confirmed.
    for k, iid in enumerate(september[:10]):
        _finding(session, iid, "noisy-rule", "URL", "confirmed" if k == 0 else "false_positive")
    for k, iid in enumerate(september[10:15]):
        _finding(
            session, iid, "card-rule", "CREDIT_CARD", "accepted_risk" if k == 0 else "confirmed"
        )
    _finding(session, september[15], "card-rule", "CREDIT_CARD", "open")  # not reviewed
    _finding(session, september[16], "card-rule", "CREDIT_CARD", "superseded")
    for iid in october:  # this period's reviews never count
        _finding(session, iid, "noisy-rule", "URL", "confirmed")
    session.flush()

    rows = {(p.kind, p.key): p for p in review_precision(session, OCTOBER)}
    noisy, card = rows[("rule", "noisy-rule")], rows[("rule", "card-rule")]
    assert (noisy.reviewed, noisy.confirmed) == (10, 1) and noisy.tuning_candidate
    assert (card.reviewed, card.confirmed) == (5, 4) and not card.tuning_candidate
    assert card.precision == pytest.approx(0.8)
    assert (card.low, card.high) == pytest.approx(clopper_pearson(4, 5, 0.95))
    assert rows[("entity_type", "URL")].reviewed == 10
    assert not rows[("entity_type", "URL")].tuning_candidate  # only rules are candidates
    assert review_precision(session, datetime(2026, 9, 1)) == []


def _p(rule: str, precision: float) -> Precision:
    return Precision("rule", rule, 10, int(precision * 10), precision, 0.0, 1.0, False)


def test_expected_confirmations_is_an_estimate_over_known_rules() -> None:
    est = expected_confirmations(
        {1: ["a"], 2: ["a", "b"], 3: ["unknown"]}, [_p("a", 0.5), _p("b", 0.2)]
    )
    # 0.5 + (1 - 0.5 * 0.8) = 1.1 over the two interactions whose rules have a history.
    assert (est.awaiting, est.estimated) == (3, 2)
    assert est.expected == pytest.approx(1.1)
