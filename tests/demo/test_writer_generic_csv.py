"""The demo month written as generic CSV reads back as the same interactions.

Failures name event ids and fields, never the (synthetic but PII-shaped) text.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.demo.writers import generic_csv as writer
from auditor.ingest.registry import detect_format
from auditor.ingest.stage import ingest_paths
from auditor.normalize import normalize_openai_chat
from tests.demo.helpers import demo_records as _demo_records

COMPARED = (
    "user_id",
    "user_email",
    "tool",
    "model",  # the response's model, as normalize_openai_chat picks it
    "prompt_text",
    "output_text",
    "history_turns",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "session_id",
    "workflow",
    "content_status",
)


def test_every_demo_record_round_trips(session: Session, tmp_path: Path) -> None:
    records = _demo_records(tmp_path)
    assert len(records) > 100
    out = tmp_path / f"interactions{writer.SUFFIX}"
    assert writer.write(records, out) == len(records)

    reader = detect_format(out)
    assert reader is not None and reader.name == writer.FORMAT
    [res] = ingest_paths(session, [out], writer.FORMAT, max_line_bytes=16 * 1024 * 1024)
    assert (res.total, res.loaded, res.rejected, res.duplicate) == (
        len(records),
        len(records),
        0,
        0,
    )
    assert res.reconciles and res.warnings == []

    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    mismatches: list[tuple[str, str]] = []
    multi_turn = parts = 0
    for record in records:
        want = normalize_openai_chat(record, source_format="openai-chat")
        got = rows[want.event_id]
        mismatches += [(want.event_id, f) for f in COMPARED if getattr(got, f) != getattr(want, f)]
        if got.occurred_at.replace(microsecond=0) != want.occurred_at.replace(
            microsecond=0, tzinfo=None
        ):
            mismatches.append((want.event_id, "occurred_at"))
        for key in ("account_type", "gateway", "client_ip"):
            if got.attributes.get(key) != want.attributes.get(key):
                mismatches.append((want.event_id, key))
        multi_turn += want.history_turns > 1
        parts += isinstance(record["request"]["messages"][-1]["content"], list)
    assert mismatches == []
    # The month exercises what the CSV must carry: histories, text parts, line breaks.
    assert multi_turn > 0 and parts > 0
    assert any("\n" in (r.prompt_text or "") for r in rows.values())


def test_written_file_is_plain_rfc4180(tmp_path: Path) -> None:
    records = _demo_records(tmp_path)[:5]
    out = tmp_path / "few.csv"
    writer.write(records, out)
    data = out.read_bytes()
    assert data.startswith(b"event_id,occurred_at,user_id,user_email,")
    assert data.endswith(b"\r\n") and data.count(b"\r\n") >= 6
