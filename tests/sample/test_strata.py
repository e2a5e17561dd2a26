"""Stratified samples: allocation, a deterministic draw per stratum, re-performance that names
what changed, and replacements drawn by the same generator."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auditor.cli import main
from auditor.config import Settings, TierSettings
from auditor.db.models import Interaction, Person, Sample, SampleItem
from auditor.errors import InputError, NotFoundError
from auditor.ingest.stage import ingest_paths
from auditor.sample.selection import (
    SamplePlan,
    allocate,
    draw_sample,
    load_manifest,
    reperform,
    replace_item,
    replacement_draws,
    stratum_keys,
)
from auditor.tiers import compute_tiers
from tests.conftest import chat_record, write_jsonl

LOADED = datetime(2026, 10, 1)
DEPARTMENTS = {"u1": "Markets", "u2": "Markets", "u3": "Ops", "u4": "Ops", "u5": "Technology"}
USERS = ["u1", "u2", "u3", "u4", "u5", "u6"]  # u6 is not in the directory
PLAN = SamplePlan(strata=("department", "workflow"), min_per_stratum=2)


def _people(session: Session) -> None:
    for uid, dept in DEPARTMENTS.items():
        session.add(Person(user_id=uid, department=dept, loaded_at=LOADED))
    session.flush()


def _ingest(session: Session, path: Path, records: list[dict[str, object]]) -> None:
    ingest_paths(session, [write_jsonl(path, records)], "openai-chat", max_line_bytes=1 << 20)


def _population(session: Session, tmp_path: Path, n: int = 120) -> None:
    _people(session)
    recs = [
        chat_record(
            f"e{i:04d}",
            "x",
            user=USERS[i % len(USERS)],
            workflow=None if i % 5 == 0 else "drafting",
            when=f"2026-10-{1 + i % 28:02d}T09:00:00Z",
        )
        for i in range(n)
    ]
    _ingest(session, tmp_path / "p.jsonl", recs)


# --- allocation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "total", "rule", "minimum", "expected"),
    [
        # Exactly proportional.
        ({"a": 600, "b": 300, "c": 100}, 50, "proportional", 0, {"a": 30, "b": 15, "c": 5}),
        # Quotas 3.5 / 1.0 / 0.5: one seat left, a and c tie on remainder, a comes first.
        ({"a": 7, "b": 2, "c": 1}, 5, "proportional", 0, {"a": 4, "b": 1, "c": 0}),
        # Minimum 2 raises b and c, capped at N_c = 1: the total grows to 7.
        ({"a": 7, "b": 2, "c": 1}, 5, "proportional", 2, {"a": 4, "b": 2, "c": 1}),
        # Quotas 1.98 / 1.98 / 0.04 + remainders: largest remainders win.
        ({"a": 99, "b": 99, "c": 2}, 4, "proportional", 0, {"a": 2, "b": 2, "c": 0}),
        # More asked than there is: every stratum in full.
        ({"a": 3, "b": 2}, 10, "proportional", 0, {"a": 3, "b": 2}),
        # Minimum rule: minimums first (capped), nothing left to share.
        ({"a": 7, "b": 2, "c": 1}, 5, "minimum", 2, {"a": 2, "b": 2, "c": 1}),
        # Minimum rule: 10 each, the other 20 shared by spare capacity 590/290/90 -> 12/6/2.
        ({"a": 600, "b": 300, "c": 100}, 50, "minimum", 10, {"a": 22, "b": 16, "c": 12}),
        # Minimum rule with no minimum is proportional.
        ({"a": 600, "b": 300, "c": 100}, 50, "minimum", 0, {"a": 30, "b": 15, "c": 5}),
    ],
)
def test_allocation_table(
    counts: dict[str, int], total: int, rule: str, minimum: int, expected: dict[str, int]
) -> None:
    assert allocate(counts, total, rule, minimum) == expected


@given(
    st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.integers(1, 500), min_size=1),
    st.integers(0, 2000),
    st.integers(0, 20),
)
def test_allocation_adds_up_and_respects_caps(counts: dict[str, int], total: int, m: int) -> None:
    population = sum(counts.values())
    proportional = allocate(counts, total, "proportional", 0)
    assert sum(proportional.values()) == min(total, population)
    for rule in ("proportional", "minimum"):
        sizes = allocate(counts, total, rule, m)
        assert all(min(m, counts[h]) <= sizes[h] <= counts[h] for h in counts)
    minimum = allocate(counts, total, "minimum", m)
    floors = sum(min(m, n) for n in counts.values())
    assert sum(minimum.values()) == max(min(total, population), floors)


@pytest.mark.parametrize(("rule", "total", "minimum"), [("neyman", 5, 0), ("minimum", -1, 0)])
def test_allocation_rejects(rule: str, total: int, minimum: int) -> None:
    with pytest.raises(InputError):
        allocate({"a": 3}, total, rule, minimum)


# --- the draw ---------------------------------------------------------------------------------


def test_stratum_keys_from_directory_and_fields(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path, n=12)
    keys = stratum_keys(session, "2026-10", ["department", "workflow"])
    assert keys["openai-chat:e0000"] == "Markets|none"  # u1, workflow null
    assert keys["openai-chat:e0005"] == "unknown|none"  # u6 is not in the directory
    assert keys["openai-chat:e0002"] == "Ops|drafting"
    assert stratum_keys(session, "2026-10", ["tool"])["openai-chat:e0001"] == "chatgpt-enterprise"
    with pytest.raises(InputError):
        stratum_keys(session, "2026-10", ["colour"])


def test_stratified_draw_is_deterministic_and_reperforms(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    sample, created = draw_sample(session, "2026-10", 20, seed=11, plan=PLAN)
    assert created
    manifest = load_manifest(session, sample.id)
    doc = manifest.as_dict()
    table = doc["strata"]
    assert isinstance(table, dict)
    keys = stratum_keys(session, "2026-10", ["department", "workflow"])
    # N_h from the population, n_h as allocated, every stratum at least 2.
    for name, row in table.items():
        assert row["population"] == sum(1 for h in keys.values() if h == name)
        assert row["size"] == manifest.strata.count(name) >= 2
    assert sample.size == sum(r["size"] for r in table.values()) >= 20
    assert doc["allocation"]["rule"] == "proportional"
    assert "stratum ascending" in str(doc["pre_selection_sort"])
    assert doc["plan"]["stratification"]["fields"] == ["department", "workflow"]
    # The listing is each stratum's generator, strata in sorted order: re-derived by hand.
    expected: list[str] = []
    for name in sorted(table):
        members = sorted(k for k, h in keys.items() if h == name)
        expected += random.Random(f"11:{name}").sample(members, table[name]["size"])
    assert manifest.listing == expected
    assert manifest.strata == sorted(manifest.strata)
    assert manifest.digest() == sample.manifest_sha256
    check = reperform(session, sample.id)
    assert check.ok and check.changes() == []
    # The same configuration reuses it; a fresh draw with the same seed lists the same items.
    again, created = draw_sample(session, "2026-10", 20, seed=11, plan=PLAN)
    assert (again.id, created) == (sample.id, False)
    fresh, created = draw_sample(
        session, "2026-10", 20, seed=11, plan=PLAN, reuse=False, redraw_reason="same seed again"
    )
    assert created and load_manifest(session, fresh.id).listing == manifest.listing
    # Other strata are another test: a new sample.
    other, created = draw_sample(
        session, "2026-10", 20, seed=11, plan=SamplePlan(strata=("department",), min_per_stratum=2)
    )
    assert created and other.id not in (sample.id, fresh.id)


def test_simple_sample_manifest_is_unchanged_by_strata_support(
    session: Session, tmp_path: Path
) -> None:
    _population(session, tmp_path, n=30)
    sample, _ = draw_sample(session, "2026-10", 5, seed=1)
    doc = load_manifest(session, sample.id).as_dict()
    assert "strata" not in doc and "replacements" not in doc
    assert "stratification" not in sample.plan
    assert {i["stratum"] for i in doc["listing"]} == {"all"}  # type: ignore[index,union-attr]


def test_thin_strata_are_refused(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    with pytest.raises(InputError, match="fewer than two items") as err:
        draw_sample(session, "2026-10", 6, seed=1, plan=SamplePlan(strata=("department",)))
    assert "min_per_stratum" in str(err.value.hint)


def test_tier_strata_need_tiers(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    plan = SamplePlan(strata=("tier",), min_per_stratum=2)
    with pytest.raises(InputError, match="no usage tiers"):
        draw_sample(session, "2026-10", 10, seed=1, plan=plan)
    compute_tiers(session, "2026-10", TierSettings())
    sample, _ = draw_sample(session, "2026-10", 10, seed=1, plan=plan)
    names = set(sample.plan["stratification"]["strata"])
    assert names and "unknown" not in names
    assert reperform(session, sample.id).ok


# --- a changed population is named ------------------------------------------------------------


def test_changed_population_is_named(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    sample, _ = draw_sample(session, "2026-10", 20, seed=3, plan=PLAN)
    then = sample.plan["stratification"]["strata"]["Ops|drafting"]["population"]
    late = [
        chat_record(f"late{i}", "x", user="u3", workflow="drafting", when="2026-10-20T00:00:00Z")
        for i in range(2)
    ]
    _ingest(session, tmp_path / "late.jsonl", late)
    check = reperform(session, sample.id)
    # Late logs are not in the population the sample was drawn from: its strata stand.
    assert check.ok and check.population_matches and check.strata_changes == {}
    assert check.late_arrivals == 2 and then > 0
    assert check.changes() == [
        "2 interaction(s) of the period arrived after the draw; they are not in the sample's "
        "population (the sample stands)"
    ]


def test_moved_people_are_named(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path)
    sample, _ = draw_sample(session, "2026-10", 20, seed=3, plan=PLAN)
    session.execute(update(Person).where(Person.user_id == "u5").values(department="Ops"))
    check = reperform(session, sample.id)
    assert check.population_matches and not check.assignment_matches and not check.ok
    assert any("other strata" in line for line in check.changes())
    assert any(line.startswith("stratum Technology|drafting: 0 now") for line in check.changes())


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    monkeypatch.setenv("COLUMNS", "200")
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_draws_stratified_and_verify_names_the_change(
    session: Session,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _population(session, tmp_path)
    session.commit()
    monkeypatch.setenv("AUDITOR_SAMPLE__STRATA", '["department"]')
    monkeypatch.setenv("AUDITOR_SAMPLE__MIN_PER_STRATUM", "2")
    code, out, err = _cli(
        settings, monkeypatch, capsys, "sample", "draw", "-p", "2026-10", "--size", "12"
    )
    assert code == 0, err
    assert "4 strata" in out
    sample_id = out.split("sample ", 1)[1].split(":", 1)[0]
    assert _cli(settings, monkeypatch, capsys, "sample", "verify", sample_id)[0] == 0
    code, out, _ = _cli(settings, monkeypatch, capsys, "sample", "show", sample_id)
    first = json.loads(out)["listing"][0]["id"]
    code, out, err = _cli(
        settings,
        monkeypatch,
        capsys,
        "sample",
        "replace",
        sample_id,
        "--item",
        first,
        "--reason",
        "purged",
    )
    assert code == 0, err
    assert f"replaced {first} with openai-chat:" in out
    code, out, _ = _cli(settings, monkeypatch, capsys, "sample", "verify", sample_id)
    assert code == 0 and "after 1 replacement(s): re-drawn alike" in out
    _ingest(session, tmp_path / "late.jsonl", [chat_record("late", "x", user="u6")])
    session.commit()
    code, out, err = _cli(settings, monkeypatch, capsys, "sample", "verify", sample_id)
    # A late log is named, and the sample as drawn still re-performs.
    assert code == 0, err
    assert "1 interaction(s) of the period arrived after the draw" in out


# --- replacements -----------------------------------------------------------------------------


def _all_keys(session: Session) -> list[str]:
    rows = session.execute(
        select(Interaction.source_format, Interaction.event_id).order_by(Interaction.event_id)
    )
    return [f"{f}:{e}" for f, e in rows if e != "late"]


def _stratum_keys_of(session: Session, sample: Sample, name: str) -> list[str]:
    keys = stratum_keys(session, sample.period, sample.plan["stratification"]["fields"])
    return [k for k, h in keys.items() if h == name]


def test_replacement_is_the_generators_next_draw_and_reperforms(
    session: Session, tmp_path: Path
) -> None:
    _population(session, tmp_path)
    sample, _ = draw_sample(session, "2026-10", 20, seed=5, plan=PLAN)
    before = load_manifest(session, sample.id)
    order = 2
    gone, stratum = before.listing[order - 1], before.strata[order - 1]
    size = sample.plan["stratification"]["strata"][stratum]["size"]
    members = _stratum_keys_of(session, sample, stratum)
    expected = replacement_draws(f"5:{stratum}", members, size, 2)

    first = replace_item(session, sample.id, gone, "purged", now=datetime(2026, 11, 2))
    assert first == expected[0] and first not in before.listing
    second = replace_item(session, sample.id, first, "content not stored")
    assert second == expected[1]

    after = load_manifest(session, sample.id)
    assert after.listing[order - 1] == second and after.strata[order - 1] == stratum
    assert len(after.listing) == len(before.listing)
    doc = after.as_dict()
    reps = doc["replacements"]
    assert isinstance(reps, list)
    assert [(r["replaced"], r["replacement"], r["reason"]) for r in reps] == [
        (gone, first, "purged"),
        (first, second, "content not stored"),
    ]
    assert reps[0]["at"] == "2026-11-02T00:00:00Z"
    assert after.digest() == session.get(Sample, sample.id).manifest_sha256  # type: ignore[union-attr]
    check = reperform(session, sample.id)
    assert check.ok and check.replacements == 2
    # A sample with replacements is still the one a re-run reuses.
    again, created = draw_sample(session, "2026-10", 20, seed=5, plan=PLAN)
    assert (again.id, created) == (sample.id, False)

    # A recorded replacement the generator would not draw is caught.
    plan = dict(sample.plan)
    plan["replacements"] = [dict(r) for r in plan["replacements"]]
    plan["replacements"][1]["replacement"] = next(
        k for k in members if k not in (*before.listing, first, second)
    )
    session.execute(update(Sample).where(Sample.id == sample.id).values(plan=plan))
    session.expire_all()
    check = reperform(session, sample.id)
    assert not check.replacements_match and not check.ok


def test_replacement_in_a_simple_sample(session: Session, tmp_path: Path) -> None:
    _population(session, tmp_path, n=30)
    sample, _ = draw_sample(session, "2026-10", 5, seed=8)
    listing = load_manifest(session, sample.id).listing
    keys = [f"openai-chat:e{i:04d}" for i in range(30)]
    new = replace_item(session, sample.id, listing[0], "purged")
    assert new == replacement_draws(8, keys, 5, 1)[0]
    assert reperform(session, sample.id).ok


@pytest.mark.parametrize(
    ("key", "reason", "error"),
    [
        ("openai-chat:nope", "purged", NotFoundError),
        (None, "  ", InputError),
    ],
)
def test_replacement_refusals(
    session: Session, tmp_path: Path, key: str | None, reason: str, error: type[Exception]
) -> None:
    _population(session, tmp_path, n=30)
    sample, _ = draw_sample(session, "2026-10", 5, seed=8)
    listed = load_manifest(session, sample.id).listing[0]
    with pytest.raises(error):
        replace_item(session, sample.id, key or listed, reason)


def test_no_replacement_from_a_changed_population_or_an_exhausted_stratum(
    session: Session, tmp_path: Path
) -> None:
    _population(session, tmp_path, n=30)
    full, _ = draw_sample(session, "2026-10", 30, seed=2)
    with pytest.raises(InputError, match="no unlisted item"):
        replace_item(session, full.id, load_manifest(session, full.id).listing[0], "purged")
    sample, _ = draw_sample(session, "2026-10", 5, seed=8)
    _ingest(session, tmp_path / "late.jsonl", [chat_record("late", "x")])
    listing = load_manifest(session, sample.id).listing
    # A late log is not in the sample's population: the replacement never picks it.
    assert not replace_item(session, sample.id, listing[0], "purged").endswith(":late")
    # An interaction present at the draw that left the period is a changed population.
    gone = next(k for k in _all_keys(session) if k not in load_manifest(session, sample.id).listing)
    session.execute(
        update(Interaction)
        .where(Interaction.event_id == gone.split(":", 1)[1])
        .values(occurred_at=datetime(2026, 9, 30))
    )
    with pytest.raises(InputError, match="29 interactions now vs 30 then"):
        replace_item(session, sample.id, listing[1], "purged")
    items = session.scalars(select(SampleItem.stratum).where(SampleItem.sample_id == sample.id))
    assert set(items) == {"all"}
