from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.db.retention import purge_raw_text
from auditor.ingest.stage import ingest_paths
from tests.conftest import chat_record, write_jsonl

pytestmark = pytest.mark.both_databases


def test_purge_removes_old_text_only_and_is_idempotent(session: Session, tmp_path: Path) -> None:
    logs = write_jsonl(
        tmp_path / "l.jsonl",
        [
            chat_record("old", "old text", when="2025-01-05T10:00:00Z"),
            chat_record("new", "new text", when="2026-10-05T10:00:00Z"),
        ],
    )
    ingest_paths(session, [logs], "openai-chat", max_line_bytes=1 << 20)
    now = datetime(2026, 11, 1)
    assert purge_raw_text(session, datetime(2026, 1, 1), now=now) == 1
    assert purge_raw_text(session, datetime(2026, 1, 1), now=now) == 0
    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    assert (rows["old"].prompt_text, rows["old"].output_text) == (None, None)
    assert rows["old"].content_status == "not_stored"
    assert rows["old"].attributes["purged_at"].startswith("2026-11-01")
    assert rows["new"].prompt_text == "new text"
