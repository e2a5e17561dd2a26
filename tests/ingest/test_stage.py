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

pytestmark = pytest.mark.both_databases

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


def test_auto_skips_unknown_files_and_reads_the_rest(session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "README.txt").write_text("hello\n")
    write_jsonl(folder / "a.jsonl", [chat_record("a1", "x")])
    assert detect_format(folder / "README.txt") is None
    results = ingest_paths(session, [folder], "auto", max_line_bytes=MAX)
    by_name = {r.path.name: r for r in results}
    assert by_name["README.txt"].skipped and by_name["README.txt"].total == 0
    assert by_name["a.jsonl"].loaded == 1


def test_auto_survives_a_bad_first_line_and_a_byte_order_mark(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + b'{"request": {"mess\n'
        + json.dumps(chat_record("ok-1", "x")).encode()
        + b"\n"
    )
    assert detect_format(path) is not None
    [res] = ingest_paths(session, [path], "auto", max_line_bytes=MAX)
    assert (res.loaded, res.rejected) == (1, 1)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda o: o.update(tool={"name": "x"}), "`tool` is not text"),
        (lambda o: o["response"].update(model=["a"]), "`model` is not text"),
        (lambda o: o["response"]["usage"].update(prompt_tokens=10**30), "out of range"),
        (lambda o: o["response"].update(id="x" * 400), "longer than 255"),
        (lambda o: o.update(session_id=3.5), "`session_id` is not text"),
        (lambda o: o.update(cost_usd=-1), "cost_usd"),
    ],
)
def test_wrongly_typed_fields_reject_only_that_record(
    session: Session,
    tmp_path: Path,
    mutate,
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    bad = chat_record("bad-1", "x")
    mutate(bad)
    path = write_jsonl(
        tmp_path / "t.jsonl", [chat_record("ok-1", "x"), bad, chat_record("ok-2", "y")]
    )
    [res] = ingest_paths(session, [path], "openai-chat", max_line_bytes=MAX)
    assert (res.loaded, res.rejected) == (2, 1)
    assert res.rejections[0][0] == 2 and reason in res.rejections[0][1]


def test_unknown_fields_are_named_in_a_warning(session: Session, tmp_path: Path) -> None:
    rec = chat_record("u-1", "x", department_code="FX-7", extra_obj={"k": "SECRET"})
    [res] = ingest_paths(
        session, [write_jsonl(tmp_path / "u.jsonl", [rec])], "openai-chat", max_line_bytes=MAX
    )
    assert res.loaded == 1
    assert res.warnings == [(1, "unknown fields kept by name only: department_code, extra_obj")]
    row = session.scalars(select(Interaction)).one()
    assert row.attributes["unknown_fields"] == ["department_code", "extra_obj"]
    assert "SECRET" not in json.dumps(row.attributes)


def test_good_file_loads_everything(session: Session) -> None:
    [res] = ingest_paths(session, [LOGS / "good.jsonl"], "openai-chat", max_line_bytes=MAX)
    assert (res.total, res.loaded, res.rejected, res.duplicate) == (3, 3, 0, 0)
    assert res.periods == {"2026-10"}
    assert session.scalar(select(func.count(Interaction.id))) == 3


# line -> reason fragment, for tests/data/logs/broken.jsonl
BROKEN = {
    2: "not valid JSON",
    3: None,  # invalid UTF-8: kept with the bad byte replaced, and a warning
    4: "missing `request`",
    5: "expected a JSON object",
    7: "no user identity",
    9: "timestamp",
    # The event id of line 1 with another prompt: a conflict, rejected (case 10), not a
    # duplicate; the first record is kept.
    10: "conflict: same event id as line 1, different content",
}


def test_broken_file_rejects_bad_lines_and_keeps_the_rest(session: Session) -> None:
    [res] = ingest_paths(session, [LOGS / "broken.jsonl"], "openai-chat", max_line_bytes=MAX)
    rejected = dict(res.rejections)
    assert set(rejected) == {n for n, why in BROKEN.items() if why}
    for line_no, fragment in BROKEN.items():
        if fragment:
            assert fragment in rejected[line_no]
    assert (res.loaded, res.duplicate, res.rejected) == (4, 0, 6)
    assert dict(res.warnings) == {
        3: "invalid UTF-8 replaced (first at byte 238 of the line)",
        8: "empty prompt (kept)",
    }
    assert res.reconciles
    stored = dict(session.execute(select(IngestRejection.line_no, IngestRejection.reason)).all())
    assert stored == rejected
    sf = session.scalars(select(SourceFile)).one()
    assert (sf.records_total, sf.records_loaded, sf.records_duplicate, sf.records_rejected) == (
        10,
        4,
        0,
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


def test_gzip_is_read_transparently_and_a_truncated_stream_is_reported(
    session: Session, tmp_path: Path
) -> None:
    import gzip
    import random

    rng = random.Random(1)
    recs = [
        chat_record(f"gz-{i}", "".join(rng.choice("abcdefgh ") for _ in range(300)))
        for i in range(200)
    ]
    payload = b"".join(json.dumps(r).encode() + b"\n" for r in recs)
    good = tmp_path / "good.jsonl.gz"
    good.write_bytes(gzip.compress(payload))
    assert detect_format(good) is not None
    [res] = ingest_paths(session, [good], "auto", max_line_bytes=MAX)
    assert (res.loaded, res.rejected) == (200, 0)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(payload.replace(b'"gz-', b'"cut-'))[:20000])
    [res] = ingest_paths(session, [cut], "openai-chat", max_line_bytes=MAX)
    assert 0 < res.loaded < 200 and res.rejected == 1
    assert res.rejections[-1][0] == 0 and "compressed stream is damaged" in res.rejections[-1][1]
    assert res.reconciles


def test_tool_and_workflow_names_are_mapped(session: Session, tmp_path: Path) -> None:
    from auditor.ingest.stage import Mappings

    recs = [
        chat_record("m1", "x", tool="Claude-Code", workflow="Client Comms"),
        chat_record("m2", "y", tool="chatgpt-enterprise", workflow="coding"),
    ]
    mappings = Mappings.from_maps(
        {"claude-code": "claude-enterprise"}, {"client_comms": "client_comm"}
    )
    ingest_paths(
        session,
        [write_jsonl(tmp_path / "m.jsonl", recs)],
        "openai-chat",
        max_line_bytes=MAX,
        mappings=mappings,
    )
    rows = dict(session.execute(select(Interaction.event_id, Interaction.tool)).all())
    assert rows == {"m1": "claude-enterprise", "m2": "chatgpt-enterprise"}
    flows = dict(session.execute(select(Interaction.event_id, Interaction.workflow)).all())
    assert flows == {"m1": "client_comm", "m2": "coding"}


def test_reconciliation_line_counts_coverage_gaps(session: Session, tmp_path: Path) -> None:
    recs = [chat_record("g1", "x"), chat_record("g2", None), chat_record("g1", "x")]
    [res] = ingest_paths(
        session,
        [write_jsonl(tmp_path / "g.jsonl", [*recs, "{"])],
        "openai-chat",
        max_line_bytes=MAX,
    )
    assert res.coverage_gaps == 1
    assert res.reconciliation == (
        "g.jsonl: read 4 = stored 1 + duplicates 1 + rejected 1 + coverage gaps 1 (reconciles)"
    )


def test_with_commit_each_finished_file_survives_an_interrupted_ingest(
    engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import auditor.ingest.stage as stage
    from auditor.db.session import session_scope
    from auditor.ops.ledger import Terminated

    a = write_jsonl(tmp_path / "a.jsonl", [chat_record("a1", "First file.")])
    b = write_jsonl(tmp_path / "b.jsonl", [chat_record("b1", "Second file.")])
    real, calls = stage.ingest_file, []

    def stopped_on_the_second(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[1])
        if len(calls) == 2:
            raise Terminated()  # SIGTERM while reading b.jsonl
        return real(*args, **kwargs)

    monkeypatch.setattr(stage, "ingest_file", stopped_on_the_second)
    with pytest.raises(Terminated), session_scope(engine) as s:
        ingest_paths(s, [a, b], "openai-chat", max_line_bytes=1 << 20, commit=s.commit)
    with session_scope(engine) as s:
        assert list(s.scalars(select(Interaction.event_id))) == ["a1"]
    monkeypatch.setattr(stage, "ingest_file", real)
    with session_scope(engine) as s:
        again = ingest_paths(s, [a, b], "openai-chat", max_line_bytes=1 << 20, commit=s.commit)
    assert [(r.already_ingested, r.loaded) for r in again] == [(True, 0), (False, 1)]


def test_an_unchanged_file_is_recognised_without_reading_it_again(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import auditor.ingest.stage as stage

    logs = write_jsonl(tmp_path / "l.jsonl", [chat_record("m1", "Hello.")])
    [first] = ingest_paths(session, [logs], "openai-chat", max_line_bytes=1 << 20)

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path.name} was hashed again")

    with monkeypatch.context() as m:
        m.setattr(stage, "file_sha256", no_hashing)
        [again] = ingest_paths(session, [logs], "openai-chat", max_line_bytes=1 << 20)
    assert again.already_ingested and again.sha256 == first.sha256

    # Touched (same content, new modification time): hashed, and known by its digest.
    st = logs.stat()
    os.utime(logs, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    [touched] = ingest_paths(session, [logs], "openai-chat", max_line_bytes=1 << 20)
    assert touched.already_ingested and touched.sha256 == first.sha256

    # Changed content: read as a new file.
    write_jsonl(logs, [chat_record("m1", "Hello."), chat_record("m2", "More.")])
    [changed] = ingest_paths(session, [logs], "openai-chat", max_line_bytes=1 << 20)
    assert not changed.already_ingested and (changed.loaded, changed.duplicate) == (1, 1)
