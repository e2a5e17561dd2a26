"""The Method section shows the measured accuracy of the scanner revision behind the findings,
and says so when that revision was not measured (auditor/report/sections_accuracy.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.db.models import Meta
from auditor.db.session import session_scope
from auditor.report.render import render_html
from auditor.report.sections_accuracy import revision_accuracy
from auditor.report.writers import to_json_dict
from auditor.scan.accuracy_record import detection_revision, load_records, save_record

from .test_report_context import build
from .test_writers import load_schema, validate

PARTS = {
    "model": "a1b2c3d4e5f6",
    "entities": "0f0f0f0f0f0f",
    "threshold": "123456789abc",
    "key_id": "k" * 12,
    "recognizer PaymentCardRecognizer": "c0ffee000001",
    "recognizer ClientNameRecognizer": "d00d00000001",
}
FIGURES: dict[str, Any] = {
    "texts": 349,
    "independent": True,
    "scanner_revision": "scan-r1",
    "core": {"precision": 0.93, "recall": 0.87, "f1": 0.9, "f1_ci": [0.87, 0.92], "labels": 368},
    "types": {},
    "stock_core": {"precision": 0.64, "recall": 0.73, "f1": 0.68},
}


def _store_inputs(store: Any, revision: str, parts: dict[str, str]) -> None:
    with session_scope(store.engine) as session:
        for n, (name, digest) in enumerate(sorted(parts.items())):
            session.add(Meta(key=f"scanrev {revision} {n:04d}", value=f"{digest} {name}"))


def _record(path: Path, parts: dict[str, str]) -> None:
    save_record(
        detection_revision(parts),
        {
            "measured_at": "2026-12-08",
            "command": "benchmarks/accuracy.py --record",
            "sets": {"heldout": FIGURES},
        },
        path,
    )


def test_firm_inputs_do_not_change_the_detection_revision() -> None:
    other_firm = {**PARTS, "key_id": "z" * 12, "recognizer ClientNameRecognizer": "e" * 12}
    assert detection_revision(other_firm) == detection_revision(PARTS)
    changed = {**PARTS, "recognizer PaymentCardRecognizer": "c0ffee000002"}
    assert detection_revision(changed) != detection_revision(PARTS)


@pytest.mark.parametrize(
    ("stored", "recorded", "measured", "known"),
    [
        (PARTS, PARTS, True, True),  # the revision that was measured
        ({**PARTS, "key_id": "q" * 12}, PARTS, True, True),  # another firm's key and register
        ({**PARTS, "threshold": "000000000000"}, PARTS, False, True),  # another threshold
        (None, PARTS, False, False),  # inputs never stored
    ],
)
def test_revision_accuracy_matches_by_detection_revision(
    store: Any, tmp_path: Path, stored: Any, recorded: dict[str, str], measured: bool, known: bool
) -> None:
    path = tmp_path / "accuracy.json"
    _record(path, recorded)
    if stored is not None:
        _store_inputs(store, "scan-r1", stored)
    with session_scope(store.engine) as session:
        (got,) = revision_accuracy(session, ("scan-r1",), path)
    assert got.scanner_revision == "scan-r1"
    assert got.measured is measured
    assert (got.detection_revision is not None) is known
    if measured:
        (s,) = got.sets
        assert (s.name, s.texts, s.labels, s.f1, s.f1_low, s.stock_f1) == (
            "heldout",
            349,
            368,
            0.9,
            0.87,
            0.68,
        )
    else:
        assert got.sets == ()


def test_the_method_section_shows_the_figures_or_says_not_measured(
    store: Any, settings: Any, pseudonymize: Any, tmp_path: Path
) -> None:
    ctx = build(store, settings, pseudonymize)
    # The shipped record has no entry for the test store's revision "scan-r1".
    (ra,) = ctx.method.detection_accuracy
    assert not ra.measured
    html = render_html(ctx)
    assert "Accuracy for scanner revision <code>scan-r1</code> was not" in html
    schema = load_schema()
    assert validate(to_json_dict(ctx), schema, schema) == []

    path = tmp_path / "accuracy.json"
    _record(path, PARTS)
    _store_inputs(store, "scan-r1", PARTS)
    with session_scope(store.engine) as session:
        measured = revision_accuracy(session, ("scan-r1",), path)
    ctx = dataclasses.replace(
        ctx, method=dataclasses.replace(ctx.method, detection_accuracy=measured)
    )
    html = render_html(ctx)
    assert "Accuracy for scanner revision" not in html
    assert "Detection accuracy, core types" in html
    assert "0.90 (0.87–0.92)" in html and "0.68" in html
    assert validate(to_json_dict(ctx), schema, schema) == []


def test_the_shipped_record_is_readable() -> None:
    for revision, record in load_records().items():
        assert len(revision) == 16
        assert record["sets"] and all("core" in s for s in record["sets"].values())


def test_a_broken_record_names_its_file(tmp_path: Path) -> None:
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps({"nope": 1}), encoding="utf-8")
    with pytest.raises(ValueError, match="accuracy.json"):
        load_records(path)
