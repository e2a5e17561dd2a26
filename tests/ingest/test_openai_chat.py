from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.ingest.registry import detect_format
from auditor.ingest.stage import ingest_paths
from tests.conftest import DATA

BATCH = DATA / "logs" / "openai_batch" / "output.jsonl"


def test_batch_output_is_detected_and_read(session: Session) -> None:
    reader = detect_format(BATCH)
    assert reader is not None and reader.name == "openai-chat"
    [res] = ingest_paths(session, [BATCH], "auto", max_line_bytes=1 << 20)
    assert (res.total, res.loaded, res.rejected, res.coverage_gaps) == (5, 3, 2, 1)
    assert res.reconciles
    reasons = dict(res.rejections)
    assert "no user identity" in reasons[3]
    assert "neither a response body nor a request" in reasons[5]
    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    full = rows["chatcmpl-b1"]
    assert (full.user_email, full.prompt_text, full.output_text) == (
        "ann.lee@northbridge-bank.example",
        "Summarise the attached note.",
        "Summary ready.",
    )
    assert full.workflow == "research" and full.history_turns == 1
    assert full.occurred_at == datetime(2026, 10, 5, 11, 33, 21, tzinfo=UTC).replace(tzinfo=None)
    gap = rows["chatcmpl-b2"]
    assert (gap.user_id, gap.prompt_text, gap.content_status) == ("u00002", None, "not_stored")
    assert gap.output_text == "Done."
    failed = rows["req-4"]
    assert (failed.user_id, failed.prompt_text, failed.output_text) == (
        "u00003",
        "Translate this memo.",
        None,
    )
    assert failed.attributes["batch_error"] == "batch_expired"
