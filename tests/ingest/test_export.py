from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from auditor.errors import InputError
from auditor.ingest.export import EXPORT_FIELDS, export_interactions
from auditor.ingest.stage import ingest_paths
from tests.conftest import chat_record, write_jsonl


def _load(session: Session, tmp_path: Path) -> None:
    recs = [
        chat_record("x1", "first, with a comma\nand a newline", when="2026-10-02T08:00:00Z"),
        chat_record("x2", None, when="2026-10-01T08:00:00Z"),
        chat_record("x3", "november", when="2026-11-01T08:00:00Z"),
    ]
    ingest_paths(
        session, [write_jsonl(tmp_path / "l.jsonl", recs)], "openai-chat", max_line_bytes=1 << 20
    )


def test_jsonl_export_has_every_field_in_time_order(session: Session, tmp_path: Path) -> None:
    _load(session, tmp_path)
    out = tmp_path / "out.jsonl"
    assert export_interactions(session, out, "jsonl") == 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["event_id"] for r in rows] == ["x2", "x1", "x3"]
    assert all(tuple(r) == EXPORT_FIELDS for r in rows)
    assert rows[0]["content_status"] == "not_stored" and rows[0]["prompt_text"] is None
    assert rows[1]["occurred_at"] == "2026-10-02T08:00:00.000000Z"
    assert rows[1]["prompt_text"] == "first, with a comma\nand a newline"
    assert out.stat().st_mode & 0o077 == 0


def test_csv_export_round_trips_text_and_filters_period(session: Session, tmp_path: Path) -> None:
    _load(session, tmp_path)
    out = tmp_path / "out.csv"
    assert export_interactions(session, out, "csv", period="2026-10") == 2
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["event_id"] for r in rows] == ["x2", "x1"]
    assert rows[1]["prompt_text"] == "first, with a comma\nand a newline"


@pytest.mark.parametrize("fmt", ["xml"])
def test_unknown_format(session: Session, tmp_path: Path, fmt: str) -> None:
    with pytest.raises(InputError):
        export_interactions(session, tmp_path / "o", fmt)  # type: ignore[arg-type]
