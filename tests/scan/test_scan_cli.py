"""`auditor scan --workers N` and `auditor run --workers N`: a progress bar on stderr, the same
stored results whatever N."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from auditor.cli import main
from auditor.config import Settings
from auditor.db.models import Detection
from auditor.db.session import make_engine, session_scope
from tests.conftest import chat_record, write_jsonl


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _detections(settings: Settings) -> list[tuple[object, ...]]:
    engine = make_engine(settings.database.url)
    with session_scope(engine) as s:
        rows = s.execute(
            select(
                Detection.interaction_id,
                Detection.field,
                Detection.entity_type,
                Detection.start,
                Detection.end,
                Detection.value_hash,
            )
        ).all()
    engine.dispose()
    return sorted(tuple(r) for r in rows)


def test_scan_with_workers_shows_progress_and_stores_the_same(  # type: ignore[no-untyped-def]
    cli, settings: Settings, tmp_path: Path
) -> None:
    prompts = ["Card 4111 1111 1111 1111 for John Smith", "hello", "Mail jane@example.com"]
    logs = write_jsonl(
        tmp_path / "l.jsonl",
        [
            chat_record(f"e{i}", prompts[i % 3], when=f"2026-10-{i % 28 + 1:02d}T09:00:00Z")
            for i in range(12)
        ],
    )
    assert cli("ingest", str(logs))[0] == 0
    code, out, _ = cli("sample", "draw", "--period", "2026-10", "--size", "12", "--seed", "1")
    sample_id = out.split("sample ", 1)[1].split(":", 1)[0]
    code, out, err = cli("scan", "--sample", sample_id, "--workers", "2")
    assert code == 0, err
    assert "scanning fields" in err and "fields_reused=" in out
    first = _detections(settings)
    assert {d[2] for d in first} >= {"CREDIT_CARD", "PERSON", "EMAIL_ADDRESS"}
    assert cli("scan", "--sample", sample_id, "--workers", "0")[0] == 2  # a usage error
    code, _, err = cli("run", str(logs), "--workers", "1", "--period", "2026-10")
    assert code in (0, 3), err
    assert _detections(settings) == first  # nothing new: the same revision already scanned
