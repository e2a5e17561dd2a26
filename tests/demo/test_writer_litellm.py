"""The LiteLLM demo writer: every demo record round-trips through the litellm reader.

Compared with `normalize_openai_chat` of the same record; the model is the request model
(the spend-logs `model` column). Text fields are compared without printing them.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.demo.writers import litellm as writer
from auditor.ingest.registry import detect_format, get_reader
from auditor.ingest.stage import ingest_paths
from auditor.normalize import normalize_openai_chat
from tests.demo.helpers import demo_records as _demo_records

FIELDS = (
    "user_id",
    "user_email",
    "prompt_text",
    "output_text",
    "input_tokens",
    "output_tokens",
    "workflow",
    "session_id",
    "tool",
    "history_turns",
    "cost_usd",
)


def test_writer_contract() -> None:
    assert writer.FORMAT == "litellm" and get_reader(writer.FORMAT).name == "litellm"
    assert writer.SUFFIX == ".csv"


def test_every_demo_record_round_trips(session: Session, tmp_path: Path) -> None:
    records = _demo_records(tmp_path)
    path = tmp_path / f"litellm-spend-logs{writer.SUFFIX}"
    assert writer.write(records, path) == len(records) > 100
    assert detect_format(path).name == "litellm"  # type: ignore[union-attr]

    [res] = ingest_paths(session, [path], "auto", max_line_bytes=16 << 20)
    assert (res.total, res.loaded, res.rejected, res.duplicate) == (
        len(records),
        len(records),
        0,
        0,
    )
    assert res.coverage_gaps == 0 and res.reconciles
    rows = {r.event_id: r for r in session.scalars(select(Interaction))}

    differences: list[tuple[str, str]] = []
    for record in records:
        expected = normalize_openai_chat(record, source_format="openai-chat")
        row = rows[expected.event_id]
        for field in FIELDS:
            if getattr(row, field) != getattr(expected, field):
                differences.append((expected.event_id, field))  # names only, never values
        if row.occurred_at.replace(microsecond=0) != expected.occurred_at.replace(
            microsecond=0, tzinfo=None
        ):
            differences.append((expected.event_id, "occurred_at"))
        if row.model != record["request"]["model"]:
            differences.append((expected.event_id, "model"))
        if row.attributes.get("account_type") != record.get("account_type"):
            differences.append((expected.event_id, "account_type"))
        if row.attributes.get("identity_source") != "end_user":
            differences.append((expected.event_id, "identity_source"))
    assert differences == []


def test_multi_turn_and_content_parts_survive(session: Session, tmp_path: Path) -> None:
    records = _demo_records(tmp_path)
    multi = [r for r in records if len(r["request"]["messages"]) > 2]
    parts = [r for r in records if not isinstance(r["request"]["messages"][-1]["content"], str)]
    assert multi and parts  # the demo has both, so the round trip above covers them
    subset = list({r["response"]["id"]: r for r in multi + parts}.values())
    path = tmp_path / "subset.csv"
    writer.write(subset, path)
    [res] = ingest_paths(session, [path], "litellm", max_line_bytes=16 << 20)
    assert (res.loaded, res.rejected) == (len(subset), 0)
    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    assert all(rows[r["response"]["id"]].history_turns >= 2 for r in multi)
