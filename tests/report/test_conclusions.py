"""The demo's conclusion before, during and after review: never a verdict the open review
could reverse, the tipping point in between, and every figure stated the same way in the
sentence, the table and the JSON."""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.config import Settings, load_settings
from auditor.db.models import Finding, Interaction, Person, SampleItem
from auditor.db.session import make_engine
from auditor.pipeline import demo_settings, render_report, run_demo
from auditor.review import resolve
from auditor.sample.evaluation import evaluate_plan

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path, str]:
    """(settings, the demo database file, sample id) after one demo run, nothing reviewed."""
    tmp = tmp_path_factory.mktemp("conclusions")
    settings = load_settings(
        None,
        data_dir=str(tmp / ".auditor"),
        scan={"hash_key": "conclusion-test-key-padded-to-32-bytes"},
        report={"output_dir": str(tmp / "reports")},
    )
    result = run_demo(settings, people=120)
    sample_id = result.periods[-1].sample_id
    settings = demo_settings(settings)
    db = Path(settings.database.url.removeprefix("sqlite:///"))
    return settings, db, sample_id


def _copy(demo: tuple[Settings, Path, str], tmp_path: Path) -> tuple[Settings, str]:
    settings, db, sample_id = demo
    target = tmp_path / "auditor.db"
    shutil.copyfile(db, target)
    copied = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": f"sqlite:///{target}"}),
            "report": settings.report.model_copy(update={"output_dir": tmp_path / "reports"}),
        }
    )
    return copied, sample_id


def _awaiting(session: Session, sample_id: str) -> dict[int, list[str]]:
    """Interaction id -> ids of its open findings, for the sample's interactions."""
    rows = session.execute(
        select(Finding.interaction_id, Finding.id)
        .join(SampleItem, SampleItem.interaction_id == Finding.interaction_id)
        .where(SampleItem.sample_id == sample_id, Finding.status == "open")
        .order_by(Finding.interaction_id, Finding.id)
    )
    out: dict[int, list[str]] = {}
    for iid, fid in rows:
        out.setdefault(iid, []).append(fid)
    return out


def _report(settings: Settings, fmt: str = "html") -> str:
    engine = make_engine(settings.database.url)
    try:
        with Session(engine) as session:
            path = render_report(session, PERIOD, settings, fmt=fmt)
            session.commit()
    finally:
        engine.dispose()
    return path.read_text(encoding="utf-8")


def _summary_section(page: str) -> str:
    return page[page.index('<section id="summary">') : page.index("</section>")]


def _table_value(section: str, label: str) -> str:
    match = re.search(
        r"<th scope=\"row\">" + re.escape(label) + r".*?</th><td[^>]*>(.*?)</td>", section, re.S
    )
    assert match, f"no row {label!r}"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def test_before_review_not_yet_concluded_with_both_ends_and_tipping_point(demo, tmp_path) -> None:
    settings, sample_id = _copy(demo, tmp_path)
    engine = make_engine(settings.database.url)
    with Session(engine) as session:
        ev = evaluate_plan(session, sample_id)
    engine.dispose()
    assert ev.awaiting_review > 0 and ev.status == "not_concluded"
    k = ev.tipping_point
    assert k is not None and 0 < k <= ev.awaiting_review

    page = _report(settings)
    section = _summary_section(page)
    text = html.unescape(re.sub(r"<[^>]+>", "", section))
    assert "Not yet concluded" in text
    assert "can be relied on" not in text.replace("cannot be relied on", "")
    assert (
        f"The control cannot be relied on if {k} or more of the {ev.awaiting_review} sampled "
        "interactions awaiting review are confirmed." in " ".join(text.split())
    )
    # Every figure the sentence states equals the table's, character for character.
    sentence = " ".join(text.split())
    none_rate = _table_value(section, "Sample deviation rate")
    none_limit = _table_value(section, "Upper deviation limit")
    all_rate, all_limit = _table_value(
        section, f"If all {ev.awaiting_review} awaiting are confirmed"
    ).split("; ")
    assert (
        f"If none of them is confirmed, the deviation rate would be {none_rate} and the upper "
        f"deviation limit {none_limit} at" in sentence
    )
    assert (
        f"if all are confirmed, the deviation rate would be {all_rate} and the upper deviation "
        f"limit {all_limit} at" in sentence
    )
    assert _table_value(section, "Tipping point") == f"{k} of {ev.awaiting_review}"

    report = json.loads(_report(settings, "json"))
    e = report["summary"]["evaluation"]
    assert e["status"] == "not_concluded" and e["tipping_point"] == k
    assert e["stated_upper_limit"] == none_limit
    assert e["if_all_confirmed"]["stated_upper_limit"] == all_limit
    assert e["conclusion"] in " ".join(report["summary"]["conclusion"].split())


def _review_all(settings: Settings, sample_id: str, disposition: str, limit: int | None) -> int:
    """Record `disposition` on every open finding of the first `limit` awaiting interactions
    (all when None); returns how many interactions were reviewed."""
    engine = make_engine(settings.database.url)
    try:
        with Session(engine) as session:
            awaiting = _awaiting(session, sample_id)
            chosen = list(awaiting.items())[:limit]
            for _, finding_ids in chosen:
                for fid in finding_ids:
                    resolve(session, fid, disposition, "scripted review in a test", "reviewer-a")
            session.commit()
    finally:
        engine.dispose()
    return len(chosen)


def test_confirming_the_tipping_point_makes_it_unreliable(demo, tmp_path) -> None:
    settings, sample_id = _copy(demo, tmp_path)
    engine = make_engine(settings.database.url)
    with Session(engine) as session:
        k = evaluate_plan(session, sample_id).tipping_point
    engine.dispose()
    assert k is not None
    # One fewer than the tipping point: still not concluded.
    _review_all(settings, sample_id, "confirmed", k - 1)
    engine = make_engine(settings.database.url)
    with Session(engine) as session:
        assert evaluate_plan(session, sample_id).status == "not_concluded"
    engine.dispose()
    _review_all(settings, sample_id, "confirmed", 1)
    engine = make_engine(settings.database.url)
    with Session(engine) as session:
        ev = evaluate_plan(session, sample_id)
    engine.dispose()
    assert ev.status == "not_relied" and ev.tipping_point == 0
    text = " ".join(
        html.unescape(re.sub(r"<[^>]+>", "", _summary_section(_report(settings)))).split()
    )
    assert "The control cannot be relied on at this confidence, whatever the review" in text
    assert "Not yet concluded" not in text


def test_false_positives_everywhere_make_it_reliable(demo, tmp_path) -> None:
    settings, sample_id = _copy(demo, tmp_path)
    reviewed = _review_all(settings, sample_id, "false-positive", None)
    assert reviewed > 0
    engine = make_engine(settings.database.url)
    with Session(engine) as session:
        ev = evaluate_plan(session, sample_id)
    engine.dispose()
    assert ev.awaiting_review == 0 and ev.status == "relied"
    text = " ".join(
        html.unescape(re.sub(r"<[^>]+>", "", _summary_section(_report(settings)))).split()
    )
    assert "the control can be relied on." in text
    assert "Not yet concluded" not in text


def test_precision_from_earlier_reviews_is_shown_and_never_decides(demo, tmp_path) -> None:
    """Reviews of September's findings give each rule a precision in October's method
    section and an expected-confirmations estimate, while the verdict stays not concluded."""
    settings, sample_id = _copy(demo, tmp_path)
    engine = make_engine(settings.database.url)
    with Session(engine) as session:
        awaiting = _awaiting(session, sample_id)
        rules = sorted(
            {
                r
                for (r,) in session.execute(
                    select(Finding.rule_id).where(
                        Finding.id.in_([f for v in awaiting.values() for f in v])
                    )
                )
            }
        )
        # Copy each rule's first October finding onto a September interaction, reviewed.
        template = session.scalar(select(Interaction).limit(1))
        assert template is not None
        for k, rule in enumerate(rules):
            for j in range(6):
                iid = _september_interaction(session, template, f"sept-{k}-{j}")
                session.add(
                    Finding(
                        id=f"sept{k:04d}{j:04d}".ljust(64, "0"),
                        interaction_id=iid,
                        rule_id=rule,
                        entity_type="",
                        severity="high",
                        title="t",
                        message="m",
                        status="false_positive" if k == 0 else "confirmed",
                        first_seen=datetime(2026, 9, 30),
                        last_seen=datetime(2026, 9, 30),
                    )
                )
        session.commit()
        ev = evaluate_plan(session, sample_id)
    engine.dispose()
    assert ev.status == "not_concluded"
    report = json.loads(_report(settings, "json"))
    precision = {p["key"]: p for p in report["method"]["review_precision"] if p["kind"] == "rule"}
    assert set(precision) == set(rules)
    assert precision[rules[0]]["precision"] == 0.0 and precision[rules[0]]["tuning_candidate"]
    assert report["method"]["tuning_candidates"] == [rules[0]]
    e = report["summary"]["evaluation"]
    assert e["status"] == "not_concluded"
    assert e["expected_confirmations"] is not None
    assert e["expected_confirmations_note"].startswith("Estimate, not evidence")
    page = _report(settings)
    assert "Reviewer precision learned from earlier periods" in page and "tuning candidate" in page


def _september_interaction(session: Session, template: Interaction, event_id: str) -> int:
    row = Interaction(
        event_id=event_id,
        source_format=template.source_format,
        occurred_at=datetime(2026, 9, 15, 9, 0),
        user_id=template.user_id,
        tool=template.tool,
        prompt_text=None,
        content_status="purged",
        attributes={},
    )
    session.add(row)
    session.flush()
    return row.id


def test_manager_packets_carry_the_same_bounds(demo, tmp_path) -> None:
    settings, sample_id = _copy(demo, tmp_path)
    engine = make_engine(settings.database.url)
    try:
        with Session(engine) as session:
            manager = session.scalar(
                select(Person.manager_id)
                .where(Person.manager_id.is_not(None))
                .group_by(Person.manager_id)
                .order_by(func.count().desc(), Person.manager_id)
                .limit(1)
            )
            assert manager is not None
            tipping = evaluate_plan(session, sample_id).tipping_point
            path = render_report(session, PERIOD, settings, fmt="json", manager_id=manager)
            session.commit()
    finally:
        engine.dispose()
    packet = json.loads(path.read_text(encoding="utf-8"))
    e = packet["summary"]["evaluation"]
    assert e["status"] == "not_concluded" and e["tipping_point"] == tipping
    assert e["conclusion"].startswith("Not yet concluded")
