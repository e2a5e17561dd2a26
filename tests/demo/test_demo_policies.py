"""The demo month exercises the rule pack: a demo run's sample breaks at least ten rules.

Runs the demo's own generation, ingest and sample draw (its seed and size), then evaluates
every sampled interaction's policy input without detections: the rules that need no scanner
(tools, accounts, workflows, directory, oversight, retention, MNPI by workflow and barrier)
must already reach ten; the data rules (card, NPI, grey zone) come on top in a real run.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.config import Settings
from auditor.db.models import Interaction, SampleItem
from auditor.demo.formats import DEMO_TOOL_MAP, write_sources
from auditor.demo.generator import generate_demo
from auditor.demo.reference import REGISTER_HEADER, RESTRICTED_HEADER
from auditor.directory import link_identities, load_people
from auditor.ingest.stage import Mappings, ingest_paths
from auditor.pipeline import DEMO_SAMPLE_SIZE, DEMO_SEED, demo_settings, plan_from
from auditor.policy.engine import EmbeddedEngine, load_bundle
from auditor.policy.evaluate import _people_for
from auditor.policy.input import build_policy_input
from auditor.sample.selection import draw_sample


@pytest.fixture
def demo_rules(session: Session, tmp_path: Path, settings: Settings) -> tuple[Counter[str], Path]:
    policy_engine = EmbeddedEngine(load_bundle(settings.policy.directory))
    files = generate_demo(tmp_path / "demo", period="2026-10", seed=7, people=300)
    sources = write_sources(files, tmp_path / "demo" / "sources")
    load_people(session, files.people_csv)
    ingest_paths(
        session,
        [s.path for s in sources],
        "auto",
        max_line_bytes=16 << 20,
        mappings=Mappings.from_maps(DEMO_TOOL_MAP, {}),
    )
    link_identities(session)
    sample, _ = draw_sample(
        session,
        "2026-10",
        DEMO_SAMPLE_SIZE,
        DEMO_SEED,
        plan=plan_from(demo_settings(settings).sample),
    )
    ids = list(
        session.scalars(select(SampleItem.interaction_id).where(SampleItem.sample_id == sample.id))
    )
    interactions = list(session.scalars(select(Interaction).where(Interaction.id.in_(ids))))
    people = _people_for(session, interactions)
    fired: Counter[str] = Counter()
    for row in interactions:
        doc = build_policy_input(row, people.get(row.id), [])
        fired.update({v.rule_id for v in policy_engine.evaluate(doc)})
    return fired, tmp_path / "demo"


def test_demo_sample_breaks_ten_rules_without_the_scanner(
    demo_rules: tuple[Counter[str], Path],
) -> None:
    fired, _ = demo_rules
    assert len(fired) >= 10, sorted(fired)
    for rule in (
        "agent-action-without-approval",
        "client-communication-without-review",
        "ai-literacy-training-missing",
        "mnpi-to-external-ai",
        "decision-use-on-uninventoried-tool",
        "ai-for-employee-evaluation",
    ):
        assert fired[rule] >= 1, rule


def test_demo_writes_the_reference_lists(demo_rules: tuple[Counter[str], Path]) -> None:
    _, out = demo_rules
    with (out / "reference" / "client_register.csv").open(encoding="utf-8") as fh:
        register = list(csv.reader(fh))
    assert tuple(register[0]) == REGISTER_HEADER
    assert len(register) > 20
    assert any(row[3] for row in register[1:]), "some clients have accounts"
    with (out / "reference" / "restricted_list.csv").open(encoding="utf-8") as fh:
        restricted = list(csv.reader(fh))
    assert tuple(restricted[0]) == RESTRICTED_HEADER
    assert {row[1] for row in restricted[1:]} == {"codename"}


def test_demo_settings_point_the_scanner_at_the_lists(settings: Settings) -> None:
    scan = demo_settings(settings).scan
    for key, name in (
        ("client_register", "client_register.csv"),
        ("restricted_list", "restricted_list.csv"),
    ):
        if key in type(scan).model_fields:
            assert getattr(scan, key) == settings.data_dir / "demo" / "data" / "reference" / name
