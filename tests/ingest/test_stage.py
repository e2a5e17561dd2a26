from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import IngestRejection, Interaction, SourceFile
from auditor.errors import InputError
from auditor.ingest.registry import available, detect_format, get_reader
from auditor.ingest.stage import ingest_paths
from tests.conftest import DATA, chat_record, write_jsonl

LOGS = DATA / "logs"
MAX = 16 * 1024 * 1024


def test_registry_lists_builtin_reader() -> None:
    assert "openai-chat" in available()
    assert get_reader("openai-chat").name == "openai-chat"


def test_unknown_format_lists_known_ones() -> None:
    with pytest.raises(InputError) as info:
        get_reader("nope")
    assert "openai-chat" in (info.value.hint or "")


def test_auto_detects_openai_chat() -> None:
    assert detect_format(LOGS / "good.jsonl").name == "openai-chat"


def test_auto_refuses_unknown_content(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("hello\n")
    with pytest.raises(InputError, match="cannot tell"):
        detect_format(path)


def test_good_file_loads_everything(session: Session) -> None:
    [res] = ingest_paths(session, [LOGS / "good.jsonl"], "openai-chat", max_line_bytes=MAX)
    assert (res.total, res.loaded, res.rejected, res.duplicate) == (3, 3, 0, 0)
    assert res.periods == {"2026-10"}
    assert session.scalar(select(func.count(Interaction.id))) == 3


# line -> reason fragment, for tests/data/logs/broken.jsonl
BROKEN = {
    2: "not valid JSON",
    3: "not valid UTF-8",
    4: "missing `request`",
    5: "expected a JSON object",
    7: "no user identity",
    9: "timestamp",
    10: None,  # a duplicate event id: counted as duplicate, not rejected
}


def test_broken_file_rejects_bad_lines_and_keeps_the_rest(session: Session) -> None:
    [res] = ingest_paths(session, [LOGS / "broken.jsonl"], "openai-chat", max_line_bytes=MAX)
    rejected = dict(res.rejections)
    assert set(rejected) == {n for n, why in BROKEN.items() if why}
    for line_no, fragment in BROKEN.items():
        if fragment:
            assert fragment in rejected[line_no]
    assert (res.loaded, res.duplicate, res.rejected) == (3, 1, 6)
    assert res.reconciles
    stored = dict(session.execute(select(IngestRejection.line_no, IngestRejection.reason)).all())
    assert stored == rejected
    sf = session.scalars(select(SourceFile)).one()
    assert (sf.records_total, sf.records_loaded, sf.records_duplicate, sf.records_rejected) == (
        10,
        3,
        1,
        6,
    )


def test_rejection_reasons_never_quote_content(session: Session, tmp_path: Path) -> None:
    secret = "4111 1111 1111 1111 belongs to Jane"
    path = write_jsonl(
        tmp_path / "x.jsonl",
        [
            '{"request": {"messages": [{"role": "user", "content": "' + secret + '"}]',
            json.dumps(chat_record("c1", secret, when="not a time")),
        ],
    )
    [res] = ingest_paths(session, [path], "openai-chat", max_line_bytes=MAX)
    assert res.rejected == 2
    assert all(secret not in why and "4111" not in why for _, why in res.rejections)


def test_same_file_twice_adds_nothing(session: Session) -> None:
    ingest_paths(session, [LOGS / "good.jsonl"], "auto", max_line_bytes=MAX)
    [again] = ingest_paths(session, [LOGS / "good.jsonl"], "auto", max_line_bytes=MAX)
    assert again.already_ingested
    assert session.scalar(select(func.count(Interaction.id))) == 3
    assert session.scalar(select(func.count(SourceFile.id))) == 1


def test_same_events_in_another_file_are_duplicates(session: Session, tmp_path: Path) -> None:
    ingest_paths(session, [LOGS / "good.jsonl"], "openai-chat", max_line_bytes=MAX)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes((LOGS / "good.jsonl").read_bytes() + b"\n")  # other digest, same events
    [res] = ingest_paths(session, [copy], "openai-chat", max_line_bytes=MAX)
    assert (res.loaded, res.duplicate) == (0, 3)


def test_huge_prompt_loads_and_overlong_line_is_rejected(session: Session, tmp_path: Path) -> None:
    big = "lorem ipsum " * 400_000  # ~4.8 MB prompt
    path = write_jsonl(
        tmp_path / "big.jsonl",
        [chat_record("big-1", big), chat_record("ok-2", "short")],
    )
    [res] = ingest_paths(session, [path], "openai-chat", max_line_bytes=MAX)
    assert (res.loaded, res.rejected) == (2, 0)
    row = session.scalars(select(Interaction).where(Interaction.event_id == "big-1")).one()
    assert len(row.prompt_text or "") == len(big)
    [small] = ingest_paths(session, [path], "openai-chat", max_line_bytes=1024 * 1024)
    assert small.already_ingested  # same digest: nothing re-read
    other = write_jsonl(
        tmp_path / "big2.jsonl", [chat_record("big-3", big), chat_record("ok-4", "x")]
    )
    [res2] = ingest_paths(session, [other], "openai-chat", max_line_bytes=1024 * 1024)
    assert res2.rejections == [(1, "line is longer than 1048576 bytes")]
    assert res2.loaded == 1


def test_folder_is_expanded_and_missing_path_fails_before_writing(
    session: Session, tmp_path: Path
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [chat_record("a1", "x")])
    write_jsonl(folder / "b.jsonl", [chat_record("b1", "y")])
    results = ingest_paths(session, [folder], "openai-chat", max_line_bytes=MAX)
    assert [r.path.name for r in results] == ["a.jsonl", "b.jsonl"]
    with pytest.raises(InputError, match="no such file"):
        ingest_paths(session, [tmp_path / "absent.jsonl"], "openai-chat", max_line_bytes=MAX)


def test_escaped_lone_surrogate_is_stored(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(chat_record("sur-1", "half a pair: \ud83d end")) + "\n")
    [res] = ingest_paths(session, [path], "openai-chat", max_line_bytes=MAX)
    assert res.loaded == 1
    row = session.scalars(select(Interaction)).one()
    assert row.prompt_text == "half a pair: \ufffd end"
