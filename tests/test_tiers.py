from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.config import Settings, TierSettings
from auditor.db.models import Finding, Interaction, Person, Sample, SampleItem, UsageTier
from auditor.directory import load_people
from auditor.errors import PolicyError
from auditor.ingest.stage import ingest_paths
from auditor.tiers import (
    COMPONENTS,
    EffectivenessFigures,
    UserUsage,
    assess,
    classify,
    compute_tiers,
    effective_use,
    effectiveness_score,
    load_approved_workflows,
    quadrant,
    score_components,
    window_for,
)
from tests.conftest import DATA, chat_record, write_jsonl

pytestmark = pytest.mark.both_databases

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


# --------------------------------------------------------------------------- window


@pytest.mark.parametrize(
    ("window_days", "start", "end"),
    [
        (28, datetime(2026, 10, 4), datetime(2026, 11, 1)),  # the default: rolling 28 days
        (None, datetime(2026, 10, 1), datetime(2026, 11, 1)),  # unset: the calendar month
        (45, datetime(2026, 9, 17), datetime(2026, 11, 1)),
    ],
)
def test_window(window_days: int | None, start: datetime, end: datetime) -> None:
    assert TierSettings().window_days == 28
    assert window_for("2026-10", TierSettings(window_days=window_days)) == (start, end)


# --------------------------------------------------------------------------- effective use


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        # (approved workflow, policy clean, breadth, review completion)
        (EffectivenessFigures(), (None, None, None, None)),
        (
            EffectivenessFigures(interactions=10, approved_interactions=5, approved_workflows=1),
            (0.5, None, 1 / 3, None),
        ),
        (
            EffectivenessFigures(interactions=4, approved_interactions=4, approved_workflows=7),
            (1.0, None, 1.0, None),  # breadth is capped
        ),
        (
            EffectivenessFigures(interactions=8, sampled=4, sampled_confirmed=1),
            (0.0, 0.75, 0.0, None),
        ),
        (
            EffectivenessFigures(interactions=8, sampled=2, findings=4, findings_reviewed=1),
            (0.0, 1.0, 0.0, 0.25),  # findings without a confirmation: still clean
        ),
        (EffectivenessFigures(sampled=3, sampled_confirmed=3), (None, 0.0, None, None)),
    ],
)
def test_score_components(
    figures: EffectivenessFigures, expected: tuple[float | None, ...]
) -> None:
    parts = score_components(figures, CFG)
    assert tuple(parts) == COMPONENTS
    assert tuple(parts.values()) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("parts", "weights", "score"),
    [
        ((1.0, 0.5, 0.0, None), {}, 0.5),  # unknown components are left out of the mean
        ((1.0, None, 0.0, None), {}, 0.5),
        ((None, None, None, None), {}, None),
        ((1.0, 0.0, 0.0, 0.0), {"weight_approved_workflow": 3.0}, 0.5),
        ((0.2, 1.0, 1.0, 1.0), {"weight_policy_clean": 0, "weight_breadth": 0}, 0.6),
        ((None, 1.0, None, None), {"weight_policy_clean": 0}, None),  # only zero weights known
    ],
)
def test_effectiveness_score(
    parts: tuple[float | None, ...], weights: dict[str, float], score: float | None
) -> None:
    cfg = TierSettings(**weights)
    got = effectiveness_score(dict(zip(COMPONENTS, parts, strict=True)), cfg)
    assert got == (None if score is None else pytest.approx(score))


def test_weights_cannot_all_be_zero() -> None:
    with pytest.raises(ValueError, match="weight"):
        TierSettings(
            weight_approved_workflow=0,
            weight_policy_clean=0,
            weight_breadth=0,
            weight_review_completion=0,
        )


@pytest.mark.parametrize(
    ("tier", "score", "place"),
    [
        ("heavy", 0.6, "champion"),  # the threshold itself counts as effective
        ("heavy", 0.59, "review_candidate"),
        ("heavy", 1.0, "champion"),
        ("light", 0.6, "no_action"),
        ("light", 0.0, "training"),
        ("regular", 0.9, None),
        ("regular", 0.1, None),
        ("non_user", None, None),
        ("heavy", None, None),
    ],
)
def test_quadrant(tier: str, score: float | None, place: str | None) -> None:
    assert quadrant(tier, score, CFG) == place


def test_threshold_is_configurable() -> None:
    assert TierSettings().effective_threshold == 0.6
    assert quadrant("heavy", 0.7, TierSettings(effective_threshold=0.8)) == "review_candidate"


def test_assess_is_pure_over_figures() -> None:
    figures = EffectivenessFigures(interactions=4, approved_interactions=3, approved_workflows=3)
    use = assess("u", "D", "light", figures, CFG)
    assert (use.approved_workflow, use.breadth, use.policy_clean) == (0.75, 1.0, None)
    assert use.score == pytest.approx(0.875) and use.quadrant == "no_action"


def test_load_approved_workflows_from_the_policy_pack() -> None:
    approved = load_approved_workflows(Settings().policy.directory)
    registry = json.loads((Settings().policy.directory / "data" / "tools.json").read_text())
    assert set(approved) == {t.lower() for t in registry}
    for tool, entry in registry.items():
        assert approved[tool.lower()] == {w.lower() for w in entry["approved_workflows"]}


@pytest.mark.parametrize(
    "content",
    [None, "{not json", "[1, 2]", '{"t": {"approved_workflows": "coding"}}', '{"t": 3}'],
)
def test_load_approved_workflows_errors(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "tools.json").write_text(content)
    with pytest.raises(PolicyError) as err:
        load_approved_workflows(tmp_path)
    assert "tools.json" in err.value.message and err.value.hint


def _interaction(
    ev: str, user: str, when: datetime, tool: str, workflow: str | None
) -> Interaction:
    return Interaction(
        event_id=ev,
        source_format="test",
        occurred_at=when,
        user_id=user,
        tool=tool,
        workflow=workflow,
    )


def test_effective_use_from_the_store(session: Session, settings: Settings) -> None:
    t0 = datetime(2026, 11, 2)
    session.add(Person(user_id="u4", department="Ops", loaded_at=t0))
    u1 = [
        _interaction(f"a{d}", "u1", datetime(2026, 10, d, 9), "chatgpt-enterprise", flow)
        for d, flow in zip(
            range(5, 21), ["research"] * 8 + ["coding"] * 4 + ["hr_eval"] * 4, strict=True
        )
    ]
    others = [
        # Perplexity has no approved workflow at all.
        _interaction("b1", "u2", datetime(2026, 10, 6, 9), "perplexity", "research"),
        _interaction("b2", "u2", datetime(2026, 10, 7, 9), "perplexity", "research"),
        # Tool and workflow compare case-insensitively; October 2 is outside the 28-day window.
        _interaction("c1", "u3", datetime(2026, 10, 9, 9), "Copilot-Business", "CODING"),
        _interaction("c0", "u3", datetime(2026, 10, 2, 9), "copilot-business", "marketing"),
    ]
    session.add_all([*u1, *others])
    session.flush()
    session.add(
        Sample(
            id="s1", period="2026-10", created_at=t0, method="simple_random", seed="1",
            seed_source="fixed", generator="g", population_count=20, population_sha256="0" * 64,
            requested_size=5, size=5, manifest_sha256="1" * 64,
        )
    )  # fmt: skip
    session.flush()
    sampled = [*u1[:4], others[2]]
    session.add_all(
        SampleItem(sample_id="s1", draw_order=i, interaction_id=x.id)
        for i, x in enumerate(sampled, start=1)
    )

    def finding(name: str, target: Interaction, status: str) -> Finding:
        return Finding(
            id=name, interaction_id=target.id, rule_id="R1", severity="high", title="t",
            message="m", status=status, first_seen=t0, last_seen=t0,
        )  # fmt: skip

    session.add_all(
        [
            finding("f1", u1[0], "confirmed"),
            finding("f2", u1[0], "confirmed"),  # same interaction: counted once as unclean
            finding("f3", u1[1], "open"),
            finding("f4", u1[2], "superseded"),  # no longer produced: not counted
            finding("f5", u1[10], "confirmed"),  # not sampled: not counted
        ]
    )
    session.flush()
    compute_tiers(session, "2026-10", settings.tiers)

    uses = effective_use(session, "2026-10", settings)
    assert set(uses) == {"u1", "u2", "u3", "u4"}
    u1_use = uses["u1"]
    assert u1_use.tier == "heavy"
    # approved 12/16, clean 1 - 1/4, breadth 2/3, reviewed 2/3 (f1, f2 decided; f3 open)
    assert (
        u1_use.approved_workflow,
        u1_use.policy_clean,
        u1_use.breadth,
        u1_use.review_completion,
    ) == pytest.approx((0.75, 0.75, 2 / 3, 2 / 3))
    assert u1_use.score == pytest.approx((0.75 + 0.75 + 2 / 3 + 2 / 3) / 4)
    assert u1_use.quadrant == "champion"
    assert (uses["u2"].tier, uses["u2"].score, uses["u2"].quadrant) == ("light", 0.0, "training")
    u3 = uses["u3"]
    assert (u3.approved_workflow, u3.policy_clean, u3.review_completion) == (1.0, 1.0, None)
    assert u3.quadrant == "no_action"
    assert (uses["u4"].tier, uses["u4"].department) == ("non_user", "Ops")
    assert (uses["u4"].score, uses["u4"].quadrant) == (None, None)


def test_effective_use_without_tiers_is_empty(session: Session, settings: Settings) -> None:
    assert effective_use(session, "2026-10", settings) == {}
