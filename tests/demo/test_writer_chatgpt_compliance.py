"""The chatgpt-compliance demo writer: every demo record comes back through the reader.

Assertions compare ids, counts and equality of fields, and never print prompt text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.demo import generate_demo
from auditor.demo.writers import chatgpt_compliance as writer
from auditor.ingest.registry import detect_format, get_reader
from auditor.ingest.stage import ingest_paths
from auditor.normalize import normalize_openai_chat
from tests.conftest import chat_record

MAX = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def demo_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    files = generate_demo(tmp_path_factory.mktemp("demo"), people=30, bad_lines=False)
    records = []
    for path in files.log_files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    assert len(records) == files.interactions
    return records


def _event_id(rec: dict[str, Any]) -> str:
    return f"{rec['session_id']}:{rec['response']['id']}"


def test_writer_declares_its_reader() -> None:
    assert get_reader(writer.FORMAT).name == "chatgpt-compliance"
    assert writer.SUFFIX == ".jsonl"


def test_every_demo_record_round_trips(
    session: Session, tmp_path: Path, demo_records: list[dict[str, Any]]
) -> None:
    path = tmp_path / f"compliance{writer.SUFFIX}"
    expected_count = writer.write(demo_records, path)
    assert expected_count == len(demo_records)
    assert detect_format(path).name == writer.FORMAT

    [res] = ingest_paths(session, [path], "auto", max_line_bytes=MAX)
    assert res.rejections == []
    assert (res.loaded, res.rejected, res.duplicate) == (expected_count, 0, 0)
    assert res.reconciles

    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    assert len(rows) == len(demo_records)
    multi_turn = 0
    for rec in demo_records:
        want = normalize_openai_chat(rec, source_format="openai-chat")
        got = rows[_event_id(rec)]
        ident = got.event_id
        assert got.user_id == want.user_id, ident
        assert got.user_email == want.user_email, ident
        assert got.occurred_at.replace(microsecond=0) == want.occurred_at.replace(
            tzinfo=None, microsecond=0
        ), ident
        # Equality only: a failure names the event, never the text.
        assert got.prompt_text == want.prompt_text, ident
        assert got.output_text == want.output_text, ident
        assert got.model == want.model, ident  # the response model, as openai-chat prefers
        assert got.workflow == want.workflow, ident
        assert got.session_id == want.session_id, ident
        assert got.content_status == want.content_status, ident
        assert got.tool == "chatgpt", ident
        assert (got.input_tokens, got.output_tokens, got.cost_usd) == (None, None, None)
        multi_turn += got.history_turns > 1
    assert multi_turn > 0  # follow-ups land in their conversation, after its earlier turns


def test_turns_of_a_session_share_one_conversation(session: Session, tmp_path: Path) -> None:
    first = chat_record("r-1", "Opening question", when="2026-10-05T10:00:00Z", session_id="s-1")
    second = chat_record("r-2", "Follow-up", when="2026-10-05T10:05:00Z", session_id="s-1")
    other = chat_record("r-3", "Elsewhere", user="u00002", email=None, session_id="s-2")
    parts = chat_record(
        "r-4",
        [{"type": "text", "text": "head"}, {"type": "image_url", "image_url": {"url": "x"}}],
        session_id="s-3",
        output=None,
    )
    path = tmp_path / "c.jsonl"
    # Out of time order on purpose: the writer orders each conversation's turns.
    assert writer.write([second, first, other, parts], path) == 4
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [c["id"] for c in lines] == ["s-1", "s-2", "s-3"]
    roles = [m["author"]["role"] for m in lines[0]["messages"]["data"]]
    assert roles == ["system", "user", "assistant", "user", "assistant"]

    [res] = ingest_paths(session, [path], "chatgpt-compliance", max_line_bytes=MAX)
    assert (res.loaded, res.rejected) == (4, 0)
    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    assert rows["s-1:r-1"].history_turns == 1
    assert rows["s-1:r-2"].history_turns == 3
    assert rows["s-2:r-3"].user_email is None and rows["s-2:r-3"].user_id == "u00002"
    assert rows["s-3:r-4"].prompt_text == "head"
    assert rows["s-3:r-4"].output_text is None
    assert rows["s-3:r-4"].model == "gpt-4o-2024-08-06"
